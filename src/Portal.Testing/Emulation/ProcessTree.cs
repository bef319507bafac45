using Portal.Testing.Processes;

namespace Portal.Testing.Emulation;

/// <summary>
/// The emulated guest's process tree: who is whose parent, for getppid and the scope filters
/// (docs/protocol.md §4.3, kinds 11 to 13). PID 1 stands for the guest's init, which has no
/// <see cref="EmulatedProcess"/> of its own: commands the host runs are its children. As in Linux,
/// when a process exits its children are reparented to init.
/// </summary>
internal sealed class ProcessTree
{
    /// <summary>The init process's pid: the parent of commands, and of orphans.</summary>
    public const int InitPid = 1;

    /// <summary>Generations below a subtree's root still in it (the module's PORTAL_SCOPE_MAX_DEPTH).</summary>
    public const int MaxDepth = 64;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, EmulatedProcess> _live = [];

    public void Add(EmulatedProcess process)
    {
        lock (_lock)
            _live.Add(process.Pid, process);
    }

    /// <summary>The process exec'd: <paramref name="image"/> holds its pid now (its children stay its children).</summary>
    public void Replace(EmulatedProcess image)
    {
        lock (_lock)
            _live[image.Pid] = image;
    }

    /// <summary>The process exited (also the program an exec replaced, which exits with it): it leaves the tree, and init adopts its children.</summary>
    public void Exit(EmulatedProcess process)
    {
        lock (_lock)
        {
            _live.Remove(process.Pid);
            foreach (var orphan in _live.Values.Where(p => p.ParentPid == process.Pid))
                orphan.ParentPid = InitPid;
        }
    }

    /// <summary>
    /// Whether <paramref name="process"/> is <paramref name="root"/> or one of its descendants at most
    /// <see cref="MaxDepth"/> generations below it, as portal.ko's task_in_subtree walks real_parent:
    /// compare, stop at init (1) or the idle task (0), go up one generation.
    /// </summary>
    public bool InSubtree(EmulatedProcess process, ulong root)
    {
        lock (_lock)
        {
            var pid = process.Pid;
            for (var generation = 0; generation <= MaxDepth; generation++)
            {
                if ((ulong)pid == root)
                    return true;
                if (pid <= InitPid)
                    return false;
                // init's parent is the idle task; a pid that is not live cannot happen (exits reparent)
                pid = _live.TryGetValue(pid, out var live) ? live.ParentPid : 0;
            }
            return false;
        }
    }
}
