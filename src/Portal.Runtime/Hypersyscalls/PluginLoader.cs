using System.Reflection;

namespace Portal.Hypersyscalls;

/// <summary>A plugin's hooks, removed together on dispose.</summary>
public sealed class PluginRegistration : IAsyncDisposable
{
    internal PluginRegistration(object plugin, IReadOnlyList<HookRegistration> hooks)
    {
        Plugin = plugin;
        Hooks = hooks;
    }

    /// <summary>The plugin instance.</summary>
    public object Plugin { get; }

    /// <summary>The hooks its methods registered.</summary>
    public IReadOnlyList<HookRegistration> Hooks { get; }

    /// <summary>Removes every hook of the plugin.</summary>
    public async ValueTask UnregisterAsync(CancellationToken cancellationToken = default)
    {
        foreach (var hook in Hooks)
            await hook.UnregisterAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => UnregisterAsync();
}

/// <summary>Finds <see cref="HypersyscallAttribute"/> methods on a plugin object and turns them into hook specs.</summary>
internal static class PluginLoader
{
    private const BindingFlags Methods = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;

    public static List<(HookSpec Spec, string Name, Func<SyscallContext, ValueTask> Handler)> Discover(object plugin)
    {
        var type = plugin.GetType();
        var found = new List<(HookSpec, string, Func<SyscallContext, ValueTask>)>();
        var classScopes = type.GetCustomAttributes<ScopeAttribute>(inherit: true).ToList();
        foreach (var method in type.GetMethods(Methods))
        {
            var hooks = method.GetCustomAttributes<HypersyscallAttribute>().ToList();
            var functions = method.GetCustomAttributes<FunctionHooks.UprobeAttribute>().ToList();
            var args = method.GetCustomAttributes<ArgAttribute>().ToList();
            var constants = method.GetCustomAttributes<ArgConstAttribute>().ToList();
            var memory = method.GetCustomAttributes<ArgMemoryAttribute>().ToList();
            var retval = method.GetCustomAttribute<RetvalAttribute>();
            var scopes = method.GetCustomAttributes<ScopeAttribute>().ToList();
            if (hooks.Count == 0 && functions.Count == 0)
            {
                if (args.Count > 0 || constants.Count > 0 || memory.Count > 0 || retval is not null || scopes.Count > 0)
                    throw new ArgumentException($"{type.Name}.{method.Name} has [Arg]/[ArgConst]/[ArgMemory]/[Retval]/[Scope] but no [Hypersyscall] or [Uprobe].");
                continue;
            }
            var handler = CreateHandler(plugin, method);
            var argFilters = args.SelectMany(a => a.Filters().Select(f => (a.Index, f))).ToList();
            // made for the guest's ABI at registration (HookSpec.ForAbi)
            List<AbiDependentFilter> abiDependent = [.. constants.Select(c => c.Filter()), .. memory.Select(m => m.Filter($"{type.Name}.{method.Name}"))];
            // the class's [Scope] first, then the method's: all of their conditions hold
            List<ScopeAttribute> allScopes = [.. classScopes, .. scopes];
            var scope = GuestScope.AllOf(allScopes.Select(s => s.Scope($"{type.Name}.{method.Name}")));
            foreach (var hook in hooks)
            {
                var spec = new HookSpec(hook.Syscall, hook.Phase, argFilters, hook.Comm, hook.Pid == 0 ? null : hook.Pid, retval?.Filter())
                {
                    AbiDependentFilters = abiDependent,
                    Scope = scope,
                    IgnoresSessionScope = allScopes.Any(s => s.IgnoreSessionScope),
                };
                found.Add((spec, hook.Name ?? $"{type.Name}.{method.Name}", handler));
            }
            foreach (var function in functions)
            {
                var spec = new HookSpec("", function.Phase, argFilters, function.Comm, function.Pid == 0 ? null : function.Pid, retval?.Filter())
                {
                    AbiDependentFilters = abiDependent,
                    Function = function.Target(),
                    Scope = scope,
                    IgnoresSessionScope = allScopes.Any(s => s.IgnoreSessionScope),
                };
                found.Add((spec, function.Name ?? $"{type.Name}.{method.Name}", handler));
            }
        }
        if (found.Count == 0)
            throw new ArgumentException($"{type.FullName} has no [Hypersyscall] or [Uprobe] methods.", nameof(plugin));
        return found;
    }

    private static Func<SyscallContext, ValueTask> CreateHandler(object plugin, MethodInfo method)
    {
        var parameters = method.GetParameters();
        if (parameters.Length != 1 || parameters[0].ParameterType != typeof(SyscallContext) || method.IsGenericMethodDefinition)
            throw new ArgumentException($"{plugin.GetType().Name}.{method.Name} must take exactly one SyscallContext parameter.");
        var target = method.IsStatic ? null : plugin;
        if (method.ReturnType == typeof(ValueTask))
            return method.CreateDelegate<Func<SyscallContext, ValueTask>>(target);
        if (method.ReturnType == typeof(Task))
        {
            var task = method.CreateDelegate<Func<SyscallContext, Task>>(target);
            return context => new ValueTask(task(context));
        }
        throw new ArgumentException($"{plugin.GetType().Name}.{method.Name} must return ValueTask or Task (handlers are async).");
    }
}
