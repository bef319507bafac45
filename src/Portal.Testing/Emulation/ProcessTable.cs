using Portal.Testing.Processes;

namespace Portal.Testing.Emulation;

/// <summary>
/// The emulated kernel's processes by pid, what PROCESSES lists and what MAPPINGS, FILES and PATHS look
/// up (docs/protocol.md §3.4): the permanent pid 1 (init) and pid 2 (kthreadd), and every program's
/// process while it runs. It is also the process tree that getppid and the scope filters (§4.3, kinds
/// 11 to 13) follow: as in Linux, when a process exits init adopts its children. Programs run on their
/// own tasks while the host queries on the control slot, hence the lock.
/// </summary>
internal sealed class ProcessTable
{
    /// <summary>Init's pid: the parent of the commands the host runs, and of orphans.</summary>
    public const int InitPid = 1;

    /// <summary>Generations below a subtree's root still in it (the module's PORTAL_SCOPE_MAX_DEPTH).</summary>
    public const int MaxSubtreeDepth = 64;

    private readonly Lock _lock = new();
    private readonly SortedDictionary<int, EmulatedProcess> _processes = [];

    public void Add(EmulatedProcess process)
    {
        lock (_lock)
            _processes.Add(process.Pid, process);
    }

    /// <summary>
    /// The process has exited: it disappears from the table (there are no zombies to reap here), and init
    /// adopts its children.
    /// </summary>
    public void Remove(EmulatedProcess process)
    {
        lock (_lock)
        {
            _processes.Remove(process.Pid);
            foreach (var orphan in _processes.Values.Where(p => p.ParentPid == process.Pid))
                orphan.ParentPid = InitPid;
        }
    }

    /// <summary>The process exec'd: <paramref name="image"/> holds its pid now (its children stay its children).</summary>
    public void Replace(EmulatedProcess image)
    {
        lock (_lock)
            _processes[image.Pid] = image;
    }

    public EmulatedProcess? Find(long pid)
    {
        lock (_lock)
            return pid is > 0 and <= int.MaxValue ? _processes.GetValueOrDefault((int)pid) : null;
    }

    /// <summary>Every process, by pid ascending.</summary>
    public EmulatedProcess[] Snapshot()
    {
        lock (_lock)
            return [.. _processes.Values];
    }

    /// <summary>
    /// Whether <paramref name="process"/> is <paramref name="root"/> or one of its descendants at most
    /// <see cref="MaxSubtreeDepth"/> generations below it, as portal.ko's task_in_subtree walks
    /// real_parent: compare, stop at init (1) or the idle task (0), go up one generation.
    /// </summary>
    public bool InSubtree(EmulatedProcess process, ulong root)
    {
        lock (_lock)
        {
            var pid = process.Pid;
            var parent = process.ParentPid;
            for (var generation = 0; generation <= MaxSubtreeDepth; generation++)
            {
                if ((ulong)pid == root)
                    return true;
                if (pid <= InitPid)
                    return false;
                // a process's parent is in the table: exits reparent their children to init
                pid = parent;
                parent = _processes.GetValueOrDefault(pid)?.ParentPid ?? 0;
            }
            return false;
        }
    }
}
