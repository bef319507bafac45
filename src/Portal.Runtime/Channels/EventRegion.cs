using Portal.Protocol;

namespace Portal.Channels;

/// <summary>
/// The parts of the wire format a transport needs to move events without understanding them: is
/// what the guest posted an EVENT, and the verdict that leaves a syscall untouched. The protocol's
/// encodings live in Portal.Runtime; transports move bytes and call these.
/// </summary>
public static class EventRegion
{
    /// <summary>True when <paramref name="region"/> holds an EVENT; <paramref name="eventId"/> is its id.</summary>
    public static bool TryReadEvent(ReadOnlySpan<byte> region, out ulong eventId)
    {
        Region.RequireWhole(region.Length);
        eventId = Region.Address(region);
        return Region.Op(region) == (ulong)PortalResponse.Event;
    }

    /// <summary>The op code in <paramref name="region"/>'s header, for diagnostics.</summary>
    public static ulong Op(ReadOnlySpan<byte> region) => Region.Op(region);

    /// <summary>Writes a VERDICT for <paramref name="eventId"/> that changes nothing (no writes, no flags).</summary>
    public static void WriteUntouchedVerdict(Span<byte> region, ulong eventId) =>
        Verdict.Untouched.WriteRequest(region, eventId, Abi.GuestAbi.X86_64);     // no arguments: any ABI writes the same bytes
}
