using System.Buffers.Binary;

namespace Portal.Protocol;

/// <summary>The guest's own counters (STATS, docs/protocol.md §4.5).</summary>
/// <param name="EventsSent">Events the guest handed to the host.</param>
/// <param name="VerdictsApplied">Verdicts the guest applied.</param>
/// <param name="HostTimeouts">Events the host did not answer in time, or that the syscall's hold budget cut off (the syscall continued unmodified).</param>
/// <param name="StaleVerdicts">Verdicts that answered an event the slot no longer held.</param>
/// <param name="BadVerdicts">Malformed verdicts the guest rejected.</param>
/// <param name="VerdictWriteFaults">Writes carried by verdicts that faulted.</param>
/// <param name="FilteredOut">Syscalls with a hooked number that no hook's filters accepted (never reached the host).</param>
/// <param name="OpsServed">Requests the guest executed.</param>
/// <param name="EventsDropped">Matching syscalls that continued unmodified because their slot was abandoned.</param>
/// <param name="EventsOverBudget">
/// Matching hooks never delivered because their syscall's hold budget had run out (§5.3); 0 from a guest
/// that predates the counter.
/// </param>
/// <param name="SkipsFailed">
/// Verdicts that asked to skip a syscall the guest could not skip, so it ran (MIPS and 32-bit ARM finish
/// a skip at the syscall's exit: guest/module/portal_arch.h); 0 from a guest that predates the counter.
/// </param>
/// <param name="FilterFaults">
/// Memory filters that could not read their memory (not resident or not mapped), so their hook did not
/// match; 0 from a guest that predates the counter.
/// </param>
public sealed record GuestStatistics(long EventsSent, long VerdictsApplied, long HostTimeouts, long StaleVerdicts,
    long BadVerdicts, long VerdictWriteFaults, long FilteredOut, long OpsServed, long EventsDropped, long EventsOverBudget = 0,
    long SkipsFailed = 0, long FilterFaults = 0)
{
    /// <summary>The counters every guest sends (protocol version 1 as first published).</summary>
    internal const int RequiredCounterCount = 9;

    /// <summary>The counters this host knows; a guest may send fewer (down to the required ones) or more.</summary>
    internal const int CounterCount = 12;

    internal static GuestStatistics Decode(ReadOnlySpan<byte> region)
    {
        var result = ResponseReader.ExtResult(region, PortalOp.Stats);
        if (!result.Ok)
            throw new PortalProtocolException($"Guest refused Stats with errno {result.Errno}.");
        ResponseReader.Require(result.DataLength >= RequiredCounterCount * 8 && result.DataLength % 8 == 0, PortalOp.Stats,
            Region.Op(region), $"{result.DataLength} bytes is not a list of at least {RequiredCounterCount} counters");
        var counters = new long[CounterCount];     // counters the guest did not send stay 0
        var sent = Math.Min(CounterCount, result.DataLength / 8);
        for (var i = 0; i < sent; i++)
            counters[i] = (long)BinaryPrimitives.ReadUInt64LittleEndian(Region.Data(region)[(i * 8)..]);
        return new GuestStatistics(counters[0], counters[1], counters[2], counters[3], counters[4], counters[5], counters[6],
            counters[7], counters[8], counters[9], counters[10], counters[11]);
    }
}
