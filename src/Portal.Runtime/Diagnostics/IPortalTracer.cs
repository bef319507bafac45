using Portal.Hypersyscalls;
using Portal.Protocol;

namespace Portal.Diagnostics;

/// <summary>
/// Observes a session's timeline: each held syscall, the handler that answered it, and every exchange
/// with its operations (<see cref="PortalSessionOptions.Tracer"/>; <see cref="ChromeTraceWriter"/> writes
/// them for a trace viewer). Calls come from the session's event path, from several vCPU slots at once:
/// an implementation must be thread-safe, quick, and must not throw. Timestamps are
/// <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> values. Without a tracer the session pays one
/// null check per event and per exchange.
/// </summary>
public interface IPortalTracer
{
    /// <summary>A hook's handler is about to run for <paramref name="syscall"/> (its span starts at <see cref="TracedSyscall.Received"/>).</summary>
    void HandlerStarted(TracedSyscall syscall, string handler);

    /// <summary>The handler's event ends: its verdict is about to be posted, or the guest gave up on it.</summary>
    void HandlerEnded(TracedSyscall syscall, string handler, TracedHandlerEnd ending);

    /// <summary>
    /// An event was answered untouched without running a handler: no hook has its id, the session is
    /// closing, or the record is malformed (then <paramref name="syscall"/> is null).
    /// </summary>
    void EventNotHandled(int slot, ulong eventId, long timestamp, TracedSyscall? syscall, string reason);

    /// <summary>One exchange (round trip) ended, successfully or not.</summary>
    void ExchangeEnded(TracedExchange exchange);
}

/// <summary>A syscall event as the guest posted it. <see cref="Comm"/> and the numbers come from the guest: untrusted.</summary>
/// <param name="Slot">The vCPU slot that held it (1..N).</param>
/// <param name="EventId">The guest's id of the event.</param>
/// <param name="Received">When the host picked it up.</param>
/// <param name="Syscall">The syscall's name in the guest's ABI, or its number when the ABI has no name for it.</param>
/// <param name="Phase">Enter or return.</param>
/// <param name="Pid">Process id of the caller.</param>
/// <param name="Tid">Thread id of the caller.</param>
/// <param name="Comm">The caller's process name.</param>
public sealed record TracedSyscall(int Slot, ulong EventId, long Received, string Syscall, SyscallPhase Phase, int Pid, int Tid, string Comm);

/// <summary>How a handler's event ended.</summary>
public enum HandlerOutcome
{
    /// <summary>The handler returned and its verdict was posted.</summary>
    Answered,
    /// <summary>The handler threw: the syscall was left untouched.</summary>
    Failed,
    /// <summary>The guest gave up waiting: the syscall continued unmodified.</summary>
    Abandoned,
}

/// <summary>The end of a handler's span.</summary>
/// <param name="Ended">When the verdict was ready to post (or the handler ended, for an abandoned event).</param>
/// <param name="Outcome">How it ended.</param>
/// <param name="Verdict">What the verdict did: "untouched", "retval=N", "skip retval=N", with "+args" when it rewrote arguments.</param>
/// <param name="VerdictWrites">Writes that rode on the verdict.</param>
/// <param name="Exchanges">Exchanges the event cost.</param>
/// <param name="Exception">What the handler threw, for <see cref="HandlerOutcome.Failed"/>.</param>
public sealed record TracedHandlerEnd(long Ended, HandlerOutcome Outcome, string Verdict, int VerdictWrites, long Exchanges, Exception? Exception);

/// <summary>One operation of an exchange: a BATCH entry, or the single memory or process op sent alone.</summary>
/// <param name="Op">The operation.</param>
/// <param name="Size">Its <c>size</c>: bytes, window or maximum length (docs/protocol.md §3.1).</param>
/// <param name="Address">Its <c>addr</c>; for a chased entry, the offset added to the pointer.</param>
/// <param name="ChaseBase">For a chased entry, the earlier entry whose result holds the pointer.</param>
/// <param name="PointerOffset">For a chased entry, where the pointer is in that result.</param>
public readonly record struct TracedOperation(PortalOp Op, int Size, ulong Address, int? ChaseBase = null, int PointerOffset = 0);

/// <summary>One exchange as the host sent it.</summary>
/// <param name="Slot">The slot it went through (0 = control).</param>
/// <param name="Handler">The handler it was made for, or null for a session-level (control) exchange.</param>
/// <param name="Started">When the request went to the guest.</param>
/// <param name="Ended">When the response was there (or the exchange failed).</param>
/// <param name="Request">The request's op: <see cref="PortalOp.Batch"/>, a single op, or an extension.</param>
/// <param name="Operations">The memory and process operations it carried (none for an extension such as PING).</param>
/// <param name="RequestBytes">Bytes of the region's data area the request used.</param>
/// <param name="ResponseBytes">Bytes of the data area the guest's response used (0 when it failed).</param>
/// <param name="Failure">Why the exchange failed (the guest gave up, was lost, or timed out), or null.</param>
public sealed record TracedExchange(int Slot, string? Handler, long Started, long Ended, PortalOp Request, IReadOnlyList<TracedOperation> Operations,
    int RequestBytes, int ResponseBytes, Exception? Failure);
