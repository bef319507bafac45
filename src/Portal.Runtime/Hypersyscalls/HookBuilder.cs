namespace Portal.Hypersyscalls;

/// <summary>
/// Fluent hook registration: <c>session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(0x89F1)).RegisterAsync(handler)</c>.
/// </summary>
public sealed class HookBuilder
{
    private readonly PortalSession _session;
    private readonly List<(int, ArgFilter)> _argFilters = [];
    private string? _comm;
    private int? _pid;
    private ArgFilter? _retval;

    internal HookBuilder(PortalSession session, string syscall, SyscallPhase phase)
    {
        _session = session;
        Syscall = syscall;
        Phase = phase;
    }

    /// <summary>The syscall name.</summary>
    public string Syscall { get; }

    /// <summary>Enter or return.</summary>
    public SyscallPhase Phase { get; }

    /// <summary>The spec as built so far.</summary>
    public HookSpec Spec => new(Syscall, Phase, [.. _argFilters], _comm, _pid, _retval);

    /// <summary>Adds a condition on argument <paramref name="index"/> (0..5).</summary>
    public HookBuilder WhereArg(int index, ArgFilter filter)
    {
        _argFilters.Add((index, filter));
        return this;
    }

    /// <summary>Only processes with this comm (the kernel's process name: first 15 bytes compared).</summary>
    public HookBuilder WhereComm(string comm)
    {
        _comm = comm;
        return this;
    }

    /// <summary>Only the process with this id (tgid).</summary>
    public HookBuilder WherePid(int pid)
    {
        _pid = pid;
        return this;
    }

    /// <summary>Only returns whose value matches (Return phase only; compared signed).</summary>
    public HookBuilder WhereRetval(ArgFilter filter)
    {
        _retval = filter;
        return this;
    }

    /// <summary>Installs the hook in the guest and routes its events to <paramref name="handler"/>.</summary>
    /// <param name="handler">Runs for every matching syscall.</param>
    /// <param name="name">Name for statistics and logs (default: derived from the handler or the syscall).</param>
    /// <param name="cancellationToken">Cancels the registration exchange.</param>
    /// <exception cref="ArgumentException">The spec cannot work on this guest's ABI; the message lists why.</exception>
    public ValueTask<HookRegistration> RegisterAsync(Func<SyscallContext, ValueTask> handler, string? name = null,
        CancellationToken cancellationToken = default) =>
        _session.RegisterAsync(Spec, handler, name, cancellationToken);
}
