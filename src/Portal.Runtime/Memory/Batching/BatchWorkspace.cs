using System.Collections.Concurrent;

namespace Portal.Memory.Batching;

/// <summary>
/// The buffers a planner packs and unpacks exchanges in (entries, results, a copy of the response,
/// the read-your-writes overlay): about 37 KB, too much to allocate for every handled syscall. A
/// planner rents one when it first needs it and returns it when its handler is finished, so a
/// handler that touches no memory takes none and a busy session reuses a few.
/// </summary>
internal sealed class BatchWorkspace
{
    /// <summary>Reads up to this size may be answered from staged writes.</summary>
    public const int MaxLocalRead = 512;

    /// <summary>Workspaces kept for reuse: one per concurrently handled syscall is all a session needs.</summary>
    private const int PoolLimit = 16;

    private static readonly ConcurrentBag<BatchWorkspace> Pool = [];

    private BatchWorkspace() => Results = new BatchResults(Batch);

    public BatchBuilder Batch { get; } = new();

    public BatchResults Results { get; }

    public byte[] Overlay { get; } = new byte[MaxLocalRead];

    public bool[] Covered { get; } = new bool[MaxLocalRead];

    public static BatchWorkspace Rent() => Pool.TryTake(out var workspace) ? workspace : new BatchWorkspace();

    /// <summary>Only for a workspace no exchange is still using.</summary>
    public static void Return(BatchWorkspace workspace)
    {
        if (Pool.Count < PoolLimit)
            Pool.Add(workspace);
    }
}
