using System.Reflection;

namespace Portal.Cli.Plugins;

/// <summary>Says what went wrong in a plugin's code, through the wrappers reflection and type initialisation put around it.</summary>
internal static class PluginErrors
{
    /// <summary>
    /// "InvalidOperationException: no licence file", or "the static constructor of Acme.Settings threw
    /// InvalidOperationException: no configuration file": a <see cref="TargetInvocationException"/> is
    /// unwrapped, and a <see cref="TypeInitializationException"/> (whose own message only says "the type
    /// initializer threw an exception") names its type and says what its static constructor threw.
    /// </summary>
    public static string Describe(Exception error) => error switch
    {
        TargetInvocationException { InnerException: { } inner } => Describe(inner),
        TypeInitializationException { InnerException: { } inner } e => $"the static constructor of {e.TypeName} threw {Describe(inner)}",
        _ => $"{error.GetType().Name}: {error.Message}",
    };
}
