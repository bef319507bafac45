using Portal.Diagnostics;

namespace Portal.Hypersyscalls;

/// <summary>A hook installed in the guest with its handler. Dispose or unregister to remove it.</summary>
public sealed class HookRegistration : IAsyncDisposable
{
    private readonly PortalSession _session;
    private int _registered = 1;

    internal HookRegistration(PortalSession session, uint id, HookSpec spec, string name, Func<SyscallContext, ValueTask> handler)
    {
        _session = session;
        Id = id;
        Spec = spec;
        Name = name;
        Handler = handler;
        Statistics = session.Statistics.ForHandler(name);
    }

    /// <summary>The guest's id for the hook.</summary>
    public uint Id { get; }

    /// <summary>What the hook selects.</summary>
    public HookSpec Spec { get; }

    /// <summary>The handler's name (used for statistics and logs).</summary>
    public string Name { get; }

    /// <summary>Counters of the handler.</summary>
    public HandlerStatistics Statistics { get; }

    /// <summary>True until unregistered.</summary>
    public bool IsRegistered => Volatile.Read(ref _registered) == 1;

    internal Func<SyscallContext, ValueTask> Handler { get; }

    /// <summary>Removes the hook from the guest. Idempotent.</summary>
    public ValueTask UnregisterAsync(CancellationToken cancellationToken = default) =>
        Interlocked.Exchange(ref _registered, 0) == 1 ? _session.UnregisterAsync(this, cancellationToken) : ValueTask.CompletedTask;

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => UnregisterAsync();

    internal void MarkUnregistered() => Volatile.Write(ref _registered, 0);

    /// <inheritdoc/>
    public override string ToString() => $"hook {Id} {Name}: {Spec}";
}
