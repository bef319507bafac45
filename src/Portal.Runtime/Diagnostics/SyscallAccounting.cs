using System.Globalization;

namespace Portal.Diagnostics;

/// <summary>
/// What happened to the syscalls a session's hooks matched since it attached. A matched syscall is
/// either delivered to a handler and answered, or it went <see cref="Unhandled"/> in one of the ways
/// below; none of them is silent. Guest-side figures come from the guest's own counters.
/// </summary>
/// <param name="Delivered">Events handed to handlers.</param>
/// <param name="HandlerErrors">Handlers that threw: their syscalls continued untouched.</param>
/// <param name="MalformedEvents">Events the host could not decode (a broken or hostile guest): answered untouched.</param>
/// <param name="TimedOut">Events the guest gave up on because no verdict came within its bound (the handler took too long, or the host was paused).</param>
/// <param name="Dropped">Matching syscalls the guest did not send while a slot was abandoned and not yet acknowledged (or while unloading).</param>
/// <param name="OverBudget">Matching hooks not delivered because their syscall had used up its total hold budget.</param>
/// <param name="RejectedVerdicts">Verdicts the guest rejected as malformed.</param>
/// <param name="FailedVerdicts">Verdicts of which at least one write failed in the guest.</param>
/// <param name="FailedSkips">Verdicts whose skip the guest could not carry out: the syscall ran (see <see cref="Protocol.GuestStatistics.SkipsFailed"/>).</param>
/// <param name="FilterFaults">
/// Syscalls whose memory filter could not read its memory (not resident), so its hook did not match:
/// the guest could not tell whether the hook wanted them (see <see cref="Protocol.GuestStatistics.FilterFaults"/>).
/// </param>
public sealed record SyscallAccounting(long Delivered, long HandlerErrors, long MalformedEvents, long TimedOut, long Dropped, long OverBudget,
    long RejectedVerdicts, long FailedVerdicts, long FailedSkips = 0, long FilterFaults = 0)
{
    /// <summary>Every way a matched syscall was not handled as its handler intended.</summary>
    public long Unhandled => HandlerErrors + MalformedEvents + TimedOut + Dropped + OverBudget + RejectedVerdicts + FailedVerdicts + FailedSkips + FilterFaults;

    /// <summary>"syscalls: delivered=N unhandled=N (handler-errors=1 timed-out=1 ...)" listing only the nonzero causes.</summary>
    public override string ToString()
    {
        var causes = new (string Name, long Count)[]
        {
            ("handler-errors", HandlerErrors), ("malformed-events", MalformedEvents), ("timed-out", TimedOut), ("dropped", Dropped),
            ("over-budget", OverBudget), ("rejected-verdicts", RejectedVerdicts), ("failed-verdict-writes", FailedVerdicts), ("failed-skips", FailedSkips),
            ("filter-faults", FilterFaults),
        };
        var listed = string.Join(' ', causes.Where(c => c.Count != 0).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Name}={c.Count}")));
        return string.Create(CultureInfo.InvariantCulture, $"syscalls: delivered={Delivered} unhandled={Unhandled}")
            + (listed.Length > 0 ? $" ({listed})" : "");
    }
}
