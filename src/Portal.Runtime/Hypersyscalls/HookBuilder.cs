using Portal.Abi;
using Portal.Typed;

namespace Portal.Hypersyscalls;

/// <summary>
/// Fluent hook registration: <c>session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(0x89F1)).RegisterAsync(handler)</c>.
/// </summary>
public sealed class HookBuilder
{
    private readonly PortalSession _session;
    private readonly List<(int, ArgFilter)> _argFilters = [];
    private readonly List<(int, MemoryFilter)> _memoryFilters = [];
    private readonly List<AbiDependentFilter> _abiDependent = [];
    private string? _comm;
    private int? _pid;
    private ArgFilter? _retval;
    private GuestScope? _scope;
    private bool _ignoresSessionScope;

    internal HookBuilder(PortalSession session, string syscall, SyscallPhase phase)
    {
        _session = session;
        Syscall = syscall;
        Phase = phase;
    }

    internal HookBuilder(PortalSession session, FunctionHooks.FunctionTarget function, SyscallPhase phase)
        : this(session, "", phase) => Function = function;

    /// <summary>For a function hook: the function (null for a syscall hook).</summary>
    public FunctionHooks.FunctionTarget? Function { get; }

    /// <summary>The syscall name.</summary>
    public string Syscall { get; }

    /// <summary>Enter or return.</summary>
    public SyscallPhase Phase { get; }

    /// <summary>The spec as built so far.</summary>
    public HookSpec Spec => new(Syscall, Phase, [.. _argFilters], _comm, _pid, _retval)
    {
        MemoryFilters = [.. _memoryFilters],
        AbiDependentFilters = [.. _abiDependent],
        Scope = _scope,
        IgnoresSessionScope = _ignoresSessionScope,
        Function = Function,
    };

    /// <summary>Adds a condition on argument <paramref name="index"/> (0..5).</summary>
    public HookBuilder WhereArg(int index, ArgFilter filter)
    {
        _argFilters.Add((index, filter));
        return this;
    }

    /// <summary>
    /// Adds a condition made for the guest's ABI when the hook is registered, e.g.
    /// <c>WhereArg(1, abi =&gt; ArgFilter.Equal(Rtc.RTC_RD_TIME(abi)), "RTC_RD_TIME")</c> (an <c>_IOR</c>
    /// number differs between ABIs).
    /// </summary>
    public HookBuilder WhereArg(int index, Func<GuestAbi, ArgFilter> filter, string description)
    {
        ArgumentNullException.ThrowIfNull(filter);
        _abiDependent.Add(new AbiDependentFilter(index, description, filter, null));
        return this;
    }

    /// <summary>
    /// Adds a condition on the memory argument <paramref name="index"/> points to, tested in the guest:
    /// <c>WhereArgMemory(1, MemoryFilter.StringStartsWith("/dev/"))</c>.
    /// </summary>
    public HookBuilder WhereArgMemory(int index, MemoryFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        _memoryFilters.Add((index, filter));
        return this;
    }

    /// <summary>
    /// Adds a condition on a member of the record argument <paramref name="index"/> points to, placed at
    /// the member's offset on the guest's ABI: <c>WhereArgMember&lt;Ifreq&gt;(2, nameof(Ifreq.IfrName), MemoryFilter.StringEquals("eth0"))</c>.
    /// </summary>
    public HookBuilder WhereArgMember<TRecord>(int index, string member, MemoryFilter filter) where TRecord : struct, IGuestRecord<TRecord>
    {
        ArgumentNullException.ThrowIfNull(filter);
        _abiDependent.Add(new AbiDependentFilter(index, $"{typeof(TRecord).Name}.{member} {filter.Describe(index)}", null,
            abi => filter.At(filter.Offset + GeneratedConstants.OffsetOf(typeof(TRecord), member, abi))));
        return this;
    }

    /// <summary>
    /// Adds a condition on a member of the record that a pointer member of the argument's record points
    /// to (one hop, followed by the guest): <c>WhereArgMember&lt;Ifreq, EswReg&gt;(2, nameof(Ifreq.IfrData), nameof(EswReg.Off), MemoryFilter.BytesEqual(…))</c>.
    /// </summary>
    public HookBuilder WhereArgMember<TRecord, TTarget>(int index, string pointerMember, string member, MemoryFilter filter)
        where TRecord : struct, IGuestRecord<TRecord> where TTarget : struct, IGuestRecord<TTarget>
    {
        ArgumentNullException.ThrowIfNull(filter);
        _abiDependent.Add(new AbiDependentFilter(index, $"{typeof(TRecord).Name}.{pointerMember}->{member} {filter.Describe(index)}", null,
            abi => filter.At(filter.Offset + GeneratedConstants.OffsetOf(typeof(TTarget), member, abi))
                .ThroughPointerAt(GeneratedConstants.OffsetOf(typeof(TRecord), pointerMember, abi))));
        return this;
    }

    /// <summary>
    /// Adds a condition on what a pointer member of the record argument <paramref name="index"/> points
    /// to (one hop, followed by the guest), e.g. a <c>char *</c>:
    /// <c>WhereArgThrough&lt;Named&gt;(2, nameof(Named.Alias), MemoryFilter.StringContains("lan"))</c>.
    /// </summary>
    public HookBuilder WhereArgThrough<TRecord>(int index, string pointerMember, MemoryFilter filter) where TRecord : struct, IGuestRecord<TRecord>
    {
        ArgumentNullException.ThrowIfNull(filter);
        _abiDependent.Add(new AbiDependentFilter(index, $"{typeof(TRecord).Name}.{pointerMember}-> {filter.Describe(index)}", null,
            abi => filter.ThroughPointerAt(GeneratedConstants.OffsetOf(typeof(TRecord), pointerMember, abi))));
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

    /// <summary>
    /// Only syscalls of the processes in <paramref name="scope"/>, tested by the guest:
    /// <c>WithinScope(GuestScope.Subtree(1).Excluding(agentPid))</c>. Called again, both scopes must hold.
    /// The session's <see cref="PortalSession.Scope"/>, if any, applies as well unless <see cref="IgnoringSessionScope"/>.
    /// </summary>
    public HookBuilder WithinScope(GuestScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        _scope = GuestScope.AllOf([_scope, scope]);
        return this;
    }

    /// <summary>
    /// The session's <see cref="PortalSession.Scope"/> does not apply to this hook (its own
    /// <see cref="WithinScope"/> still does): e.g. a hook on what Portal's agent itself runs.
    /// </summary>
    public HookBuilder IgnoringSessionScope()
    {
        _ignoresSessionScope = true;
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
