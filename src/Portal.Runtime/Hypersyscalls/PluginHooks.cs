using Portal.Abi;

namespace Portal.Hypersyscalls;

/// <summary>A hook a plugin method declares: the handler's name and what it selects.</summary>
/// <param name="Name">The handler's name (<see cref="HypersyscallAttribute.Name"/>, or Type.Method), as statistics show it.</param>
/// <param name="Spec">The syscall, phase and filters.</param>
public sealed record PluginHook(string Name, HookSpec Spec)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Spec}";
}

/// <summary>
/// The checks <see cref="PortalSession.LoadPluginAsync"/> makes, without a guest: a host can refuse a plugin
/// with a wrong handler signature or an unknown syscall before it boots one.
/// </summary>
public static class PluginHooks
{
    /// <summary>
    /// The hooks of <paramref name="plugin"/>'s <see cref="HypersyscallAttribute"/> methods, every one checked;
    /// with <paramref name="abi"/>, also against that ABI (syscall names, operands that fit its registers).
    /// </summary>
    /// <exception cref="ArgumentException">A method cannot be a handler, the plugin has none, or a hook cannot work on the ABI; the message says which.</exception>
    public static IReadOnlyList<PluginHook> Check(object plugin, GuestAbi? abi)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        return [.. Discover(plugin, abi).Select(hook => new PluginHook(hook.Name, hook.Spec))];
    }

    /// <summary>The hooks with their handlers, all checked before any is used: what registering a plugin installs, all or nothing.</summary>
    internal static List<(HookSpec Spec, string Name, Func<SyscallContext, ValueTask> Handler)> Discover(object plugin, GuestAbi? abi)
    {
        var discovered = PluginLoader.Discover(plugin);
        if (abi is not null)
        {
            foreach (var (spec, _, _) in discovered)
                spec.ForAbi(abi).Validate(abi);
        }
        return discovered;
    }
}
