using Portal.Abi;
using Portal.Channels;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Hypersyscalls;

/// <summary>
/// Everything a handler gets: the syscall (number, arguments, return value), the process that made
/// it, the memory API bound to that process, and the verdict (skip, return value, rewritten arguments).
/// Valid only while the handler runs.
/// </summary>
public sealed class SyscallContext
{
    private readonly SlotLease _lease;
    private long _retval;
    private bool _skip;

    internal SyscallContext(PortalSession session, HookRegistration hook, in SyscallEventRecord record, SlotLease lease,
        CancellationToken cancellationToken)
    {
        Session = session;
        Hook = hook;
        _lease = lease;
        Abi = session.Abi;
        Phase = record.Phase;
        SyscallNumber = record.IsFunction ? -1 : record.Number;
        FunctionAddress = record.IsFunction ? (ulong)record.Number : 0;
        Pid = record.Pid;
        Tid = record.Tid;
        Comm = record.Comm;
        OriginalRetval = record.Retval;
        _retval = record.Phase == SyscallPhase.Return ? record.Retval : 0;
        Args = new SyscallArguments(record.Arguments, Abi, writable: record.Phase == SyscallPhase.Enter);
        Memory = new GuestMemory(lease, Abi, session.Guest.Features, cancellationToken);
        Scratch = new GuestScratch(Memory, record.ScratchAddress, record.ScratchSize,
            record.Phase != SyscallPhase.Enter ? "A scratch area exists on enter only: on return the syscall has already used its arguments."
            : record.ScratchSize == 0 ? "The guest offers no scratch area for this event: its portal.ko predates it, or the calling thread's stack below its stack pointer is not resident."
            : null);
        CancellationToken = cancellationToken;
    }

    /// <summary>Memory in the calling thread to place new data in and point an argument at, on enter (see <see cref="GuestScratch"/>).</summary>
    public GuestScratch Scratch { get; }

    /// <summary>The session the event came through.</summary>
    public PortalSession Session { get; }

    /// <summary>The hook that matched.</summary>
    public HookRegistration Hook { get; }

    /// <summary>The guest's ABI.</summary>
    public GuestAbi Abi { get; }

    /// <summary>The syscall's name (as registered); for a function hook, the function (symbol or offset) and its binary.</summary>
    public string SyscallName => Hook.Spec.Subject;

    /// <summary>The syscall's number in the guest's numbering; −1 for a function hook.</summary>
    public long SyscallNumber { get; }

    /// <summary>For a function hook: the probed instruction's address in the process (on return, the function's); 0 for a syscall.</summary>
    public ulong FunctionAddress { get; }

    /// <summary>The hook is on a user-space function (a uprobe): <see cref="Args"/> are the function's arguments by the calling convention.</summary>
    public bool IsFunctionHook => Hook.Spec.Function is not null;

    /// <summary>Enter or return.</summary>
    public SyscallPhase Phase { get; }

    /// <summary>Process id (tgid) of the caller.</summary>
    public int Pid { get; }

    /// <summary>Thread id of the caller.</summary>
    public int Tid { get; }

    /// <summary>The caller's comm (process name, at most 15 bytes).</summary>
    public string Comm { get; }

    /// <summary>The argument registers; writable on enter.</summary>
    public SyscallArguments Args { get; }

    /// <summary>The guest memory and process API, bound to the caller.</summary>
    public GuestMemory Memory { get; }

    /// <summary>Exchanges this invocation has spent so far.</summary>
    public long Exchanges => _lease.Exchanges;

    /// <summary>Cancelled when the session ends.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The value the syscall returned (return phase; 0 on enter).</summary>
    public long OriginalRetval { get; }

    /// <summary>
    /// The return value the caller will see (negative = −errno). On return: starts as the real value;
    /// setting it replaces it. On enter: only meaningful with <see cref="SkipSyscall"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit a 32-bit guest's register.</exception>
    public long Retval
    {
        get => _retval;
        set
        {
            if (Abi.PointerSize == 4 && value is < int.MinValue or > uint.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit a 32-bit {Abi.Name} register.");
            _retval = Abi.SignExtendRegister((ulong)value);
            RetvalSet = true;
        }
    }

    /// <summary>Enter only: do not run the syscall; the caller sees <see cref="Retval"/>.</summary>
    /// <exception cref="InvalidOperationException">Set on the return phase.</exception>
    public bool SkipSyscall
    {
        get => _skip;
        set
        {
            if (Phase != SyscallPhase.Enter)
                throw new InvalidOperationException("SkipSyscall only works on the Enter phase; the syscall has already run.");
            if (IsFunctionHook)
                throw new InvalidOperationException(
                    "A function cannot be skipped (the guest would need its prototype); hook its return and set Retval instead.");
            _skip = value;
        }
    }

    internal bool RetvalSet { get; private set; }

    internal SlotLease Lease => _lease;

    /// <summary>Turns what the handler set into a verdict.</summary>
    /// <exception cref="InvalidOperationException">The settings contradict each other.</exception>
    internal Verdict BuildVerdict()
    {
        var verdict = Verdict.Untouched;
        if (Phase == SyscallPhase.Enter)
        {
            if (RetvalSet && IsFunctionHook)
                throw new InvalidOperationException(
                    "Retval was set at a function's entry: the function would overwrite it. Hook the function's Return phase to change what it returns.");
            if (RetvalSet && !_skip)
                throw new InvalidOperationException(
                    "Retval was set on Enter without SkipSyscall: the syscall would overwrite it. Set SkipSyscall = true, or hook the Return phase.");
            if (_skip)
            {
                verdict.Flags |= VerdictFlags.Skip;
                verdict.Retval = _retval;
            }
            if (Args.ChangedMask != 0 && !_skip)
            {
                verdict.Flags |= VerdictFlags.SetArgs;
                verdict.ArgMask = Args.ChangedMask;
                verdict.Arguments = Args.Values;
            }
        }
        else if (RetvalSet)
        {
            verdict.Flags |= VerdictFlags.SetRetval;
            verdict.Retval = _retval;
        }
        return verdict;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{SyscallName} {Phase} pid={Pid} comm={Comm}";
}
