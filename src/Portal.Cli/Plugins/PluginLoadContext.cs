using System.Reflection;
using System.Runtime.Loader;

namespace Portal.Cli.Plugins;

/// <summary>
/// Loads a plugin assembly and its private dependencies (from its deps.json) in a context of its own,
/// while sharing every assembly portal itself ships (Portal.Runtime, the logging abstractions...):
/// the plugin's <c>SyscallContext</c> must be the very type the session hands it.
/// </summary>
internal sealed class PluginLoadContext(string pluginPath) : AssemblyLoadContext($"plugin:{Path.GetFileName(pluginPath)}")
{
    private static readonly HashSet<string> HostAssemblies = FindHostAssemblies();
    private readonly AssemblyDependencyResolver _resolver = new(pluginPath);

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is { } name && HostAssemblies.Contains(name))
            return null;                                    // the default context's copy
        return _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
        _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;

    /// <summary>The simple names of the assemblies the host resolves itself (framework and portal's own).</summary>
    private static HashSet<string> FindHostAssemblies()
    {
        var trusted = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "";
        return new HashSet<string>(
            trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Select(Path.GetFileNameWithoutExtension).OfType<string>(),
            StringComparer.OrdinalIgnoreCase);
    }
}
