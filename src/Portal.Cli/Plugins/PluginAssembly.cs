using System.Reflection;
using Microsoft.Extensions.Logging;
using Portal.FunctionHooks;
using Portal.Hypersyscalls;

namespace Portal.Cli.Plugins;

/// <summary>
/// A <c>--plugin</c> argument: an assembly path, optionally followed by <c>#TypeName</c> to pick one
/// plugin class out of several. A plugin class is any class with <c>[Hypersyscall]</c> or <c>[Uprobe]</c> methods; portal
/// creates it with a public constructor taking nothing, an <see cref="ILogger"/> or an <see cref="ILoggerFactory"/>.
/// </summary>
internal sealed record PluginAssembly(string Path, string? TypeName)
{
    private const BindingFlags AnyMethod = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Parses "path/to/Plugins.dll" or "path/to/Plugins.dll#MyPlugin"; the file must exist.</summary>
    /// <exception cref="ArgumentException">The argument is empty or the file does not exist.</exception>
    public static PluginAssembly Parse(string argument)
    {
        var hash = argument.LastIndexOf('#');
        var (path, type) = hash < 0 ? (argument, null) : (argument[..hash], argument[(hash + 1)..]);
        if (path.Length == 0 || type is { Length: 0 })
            throw new ArgumentException($"--plugin '{argument}' is not <assembly> or <assembly>#<type>.");
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new ArgumentException($"--plugin: no such file: {path}");
        return new PluginAssembly(full, type);
    }

    /// <summary>Loads the assembly and creates its plugin (or every plugin it has when no type was named).</summary>
    /// <exception cref="PluginLoadException">Not a .NET assembly, no plugin class, no usable constructor, or the constructor threw.</exception>
    public IReadOnlyList<object> CreatePlugins(ILoggerFactory loggerFactory)
    {
        var name = System.IO.Path.GetFileName(Path);
        Assembly assembly;
        try
        {
            assembly = new PluginLoadContext(Path).LoadFromAssemblyPath(Path);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
        {
            throw new PluginLoadException($"{name} is not a .NET assembly portal can load: {e.Message}", e);
        }

        var pluginTypes = PluginTypes(assembly, name);
        if (pluginTypes.Count == 0)
            throw new PluginLoadException($"{name} has no plugin: no class with [Hypersyscall] or [Uprobe] methods.");
        if (TypeName is not null)
        {
            var chosen = pluginTypes.Where(t => t.Name == TypeName || t.FullName == TypeName).ToList();
            if (chosen.Count != 1)
                throw new PluginLoadException(chosen.Count == 0
                    ? $"{name} has no plugin class '{TypeName}'; its plugins: {string.Join(", ", pluginTypes.Select(t => t.FullName))}."
                    : $"'{TypeName}' names several plugin classes in {name}: use the full name ({string.Join(", ", chosen.Select(t => t.FullName))}).");
            pluginTypes = chosen;
        }
        return [.. pluginTypes.Select(type => Create(type, loggerFactory))];
    }

    private static List<Type> PluginTypes(Assembly assembly, string name)
    {
        Type[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            var reason = e.LoaderExceptions.FirstOrDefault(x => x is not null)?.Message ?? e.Message;
            throw new PluginLoadException($"{name}: its types cannot be loaded ({reason}). Was it built against this version of Portal?", e);
        }
        return [.. types
            .Where(t => t is { IsClass: true, IsAbstract: false, ContainsGenericParameters: false })
            .Where(t => t.GetMethods(AnyMethod).Any(m => m.IsDefined(typeof(HypersyscallAttribute), inherit: false) || m.IsDefined(typeof(UprobeAttribute), inherit: false)))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)];
    }

    private static object Create(Type type, ILoggerFactory loggerFactory)
    {
        var constructors = type.GetConstructors();
        object?[]? arguments = null;
        ConstructorInfo? constructor = null;
        foreach (var candidate in constructors.OrderBy(c => c.GetParameters().Length))
        {
            var parameters = candidate.GetParameters();
            arguments = parameters.Length switch
            {
                0 => [],
                1 when parameters[0].ParameterType == typeof(ILogger) => [loggerFactory.CreateLogger(type.Name)],
                1 when parameters[0].ParameterType == typeof(ILoggerFactory) => [loggerFactory],
                _ => null,
            };
            if (arguments is not null)
            {
                constructor = candidate;
                break;
            }
        }
        if (constructor is null)
            throw new PluginLoadException(
                $"{type.FullName} has no constructor portal can call: give it a public constructor taking nothing, an ILogger or an ILoggerFactory.");
        try
        {
            return constructor.Invoke(arguments);
        }
        catch (Exception e) when (e is TargetInvocationException or TypeInitializationException)
        {
            var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
            // Its own static constructor: TypeInitializationException's message only says "the type initializer threw".
            if (cause is TypeInitializationException { InnerException: { } initializer } own && own.TypeName == type.FullName)
                throw new PluginLoadException($"{type.FullName}'s static constructor threw {PluginErrors.Describe(initializer)}", initializer);
            throw new PluginLoadException(cause is TypeInitializationException
                ? $"{type.FullName}'s constructor failed: {PluginErrors.Describe(cause)}"
                : $"{type.FullName}'s constructor threw {PluginErrors.Describe(cause)}", cause);
        }
    }
}
