using Portal.Testing.Processes;

namespace Portal.Testing.Emulation;

/// <summary>
/// The emulated kernel's processes by pid, what PROCESSES lists and what MAPPINGS, FILES and PATHS look
/// up (docs/protocol.md §3.4): the permanent pid 1 (init) and pid 2 (kthreadd), and every program's
/// process while it runs. Programs run on their own tasks while the host queries on the control slot,
/// hence the lock.
/// </summary>
internal sealed class ProcessTable
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<int, EmulatedProcess> _processes = [];

    public void Add(EmulatedProcess process)
    {
        lock (_lock)
            _processes.Add(process.Pid, process);
    }

    /// <summary>The process has exited: it disappears from the table (there are no zombies to reap here).</summary>
    public void Remove(EmulatedProcess process)
    {
        lock (_lock)
            _processes.Remove(process.Pid);
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
}
