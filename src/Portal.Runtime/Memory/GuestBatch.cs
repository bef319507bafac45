using Portal.Memory.Batching;

namespace Portal.Memory;

/// <summary>
/// An explicit batch scope (<see cref="GuestMemory.BeginBatch"/>): while it is open, writes through
/// the memory API are staged — they complete at once, merge with neighbouring writes, and ride on
/// the next exchange or on the syscall's verdict, costing no round trip of their own. Reads work as
/// always (queued until awaited; answered from the staged bytes when those cover them).
/// </summary>
/// <example>
/// <code>
/// using (var batch = syscall.Memory.BeginBatch())
/// {
///     await memory.WriteStrAsync(arg, "test");            // staged
///     var back = await memory.ReadStrAsync(arg);          // "test", from the staged bytes
/// }                                                       // the write goes with the next exchange or the verdict
/// </code>
/// </example>
public sealed class GuestBatch : IDisposable
{
    private readonly BatchPlanner _planner;
    private bool _disposed;

    internal GuestBatch(BatchPlanner planner)
    {
        _planner = planner;
        planner.StagingDepth++;
    }

    /// <summary>Sends everything queued and staged now (one exchange if it fits) and throws the first write fault not yet observed.</summary>
    /// <exception cref="GuestFaultException">A staged write faulted.</exception>
    public ValueTask CommitAsync(CancellationToken cancellationToken = default) => _planner.FlushAsync(cancellationToken);

    /// <summary>Ends staging; what is staged still goes out with the next exchange or the verdict.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _planner.StagingDepth--;
    }
}
