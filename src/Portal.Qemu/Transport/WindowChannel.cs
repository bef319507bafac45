using System.Diagnostics;
using Portal.Channels;
using Portal.Protocol;

namespace Portal.Qemu.Transport;

/// <summary>
/// One slot of the shared window (docs/protocol.md §5.1–5.3). Each control word is written by one
/// side only: the host writes <c>host_seq</c> and <c>host_ack</c>, the guest <c>guest_seq</c> and
/// <c>abandoned_event</c>. Waiting is hybrid: spin while answers come fast, then yield, then sleep.
/// </summary>
internal sealed class WindowChannel : IGuestChannel
{
    private const int HostSeqOffset = 0, GuestSeqOffset = 64, AbandonedOffset = 128, HostAckOffset = 192, ReportOffset = 256, RegionOffset = 4096;

    private readonly nint _slot;
    private readonly TimeSpan _timeout;
    private readonly long _spinTicks;
    private readonly ManualResetEventSlim? _released;
    private readonly GuestState _guest;
    private uint _hostSeq;
    private volatile bool _hostOwned;     // read by the poller thread, written by whoever handles the event
    private ulong _pendingReport;         // written by whoever posts a verdict, before _hostOwned; read by the poller

    /// <param name="slot">The slot's first byte in the mapped window.</param>
    /// <param name="index">The slot's number (0 = control).</param>
    /// <param name="timeout">How long an exchange may wait for the guest.</param>
    /// <param name="guest">Whether the guest is still there: once it is lost, every exchange fails at once.</param>
    /// <param name="released">Set whenever the host releases this slot to the guest (the event poller sleeps on it while every slot is held).</param>
    public WindowChannel(nint slot, int index, TimeSpan timeout, GuestState guest, ManualResetEventSlim? released = null)
    {
        _slot = slot;
        _guest = guest;
        _released = released;
        Slot = index;
        _timeout = timeout;
        _spinTicks = Stopwatch.Frequency / 500;     // spin ~2 ms before yielding the core
        _hostSeq = Volatile.Read(ref Word32(HostSeqOffset));
        LastGuestSeq = GuestSeq;
    }

    public int Slot { get; }

    public unsafe Span<byte> Region => new((byte*)_slot + RegionOffset, RegionLayout.Size);

    /// <summary>The guest_seq value the host has consumed.</summary>
    public uint LastGuestSeq { get; set; }

    public uint GuestSeq => Volatile.Read(ref Word32(GuestSeqOffset));

    /// <summary>The event the host holds on this slot (0 = none). Set by the poller, cleared on release.</summary>
    public ulong HeldEventId { get; set; }

    /// <summary>True between an event and its release (the poller leaves the slot alone meanwhile).</summary>
    public bool HostOwned
    {
        get => _hostOwned;
        set => _hostOwned = value;
    }

    public ulong AbandonedEvent => Volatile.Read(ref Word64(AbandonedOffset));

    /// <summary>
    /// Whether the guest has given up on <paramref name="eventId"/> (§5.3). <c>abandoned_event</c> 0 means
    /// "none", so an event with id 0 (which no honest guest sends) is never given up on and still gets its verdict.
    /// </summary>
    public bool GaveUpOn(ulong eventId) => eventId != 0 && AbandonedEvent == eventId;

    public ulong HostAck => Volatile.Read(ref Word64(HostAckOffset));

    /// <summary>The event whose verdict the guest has not reported yet (0 = none).</summary>
    public ulong PendingReport
    {
        get => Volatile.Read(ref _pendingReport);
        set => Volatile.Write(ref _pendingReport, value);
    }

    /// <summary>The last abandonment the poller has told the sink about (poller thread only).</summary>
    public ulong LastSeenAbandonment { get; set; }

    /// <summary>The event of the guest's latest verdict report (acquire: the report's other fields are written before it).</summary>
    public ulong ReportedEvent => Volatile.Read(ref Word64(ReportOffset));

    /// <summary>The guest's latest verdict report (§4.2); read it after <see cref="ReportedEvent"/> says it is the one wanted.</summary>
    public VerdictReport ReadReport() => VerdictReport.Read(ControlArea.Slice(ReportOffset, VerdictReport.RecordLength));

    /// <summary>The slot's control words (the 4096 bytes before the region), as the guest wrote them.</summary>
    public unsafe ReadOnlySpan<byte> ControlArea => new((byte*)_slot, RegionOffset);

    public ValueTask ExchangeAsync(CancellationToken cancellationToken = default)
    {
        _guest.ThrowIfLost();
        ThrowIfAbandoned();
        // Nothing the guest posted before this request answers it: an answer that came after its exchange timed
        // out would otherwise be taken for this one's, and every later exchange would read the one before's.
        LastGuestSeq = GuestSeq;
        Post();
        var started = Stopwatch.GetTimestamp();
        var spins = 0;
        while (true)
        {
            if (TryConsumeAnswer())
                return ValueTask.CompletedTask;
            Thread.SpinWait(1);
            if ((++spins & 255) == 0)
            {
                _guest.ThrowIfLost();
                ThrowIfAbandoned();
                if (Stopwatch.GetTimestamp() - started > _spinTicks)
                    return WaitSlowlyAsync(started, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Ends the held event: posts the verdict in the region, or, if the guest has given up on the event,
    /// acknowledges that instead (§5.3), so the guest may use the slot again.
    /// </summary>
    public void ReleaseToGuest()
    {
        var eventId = HeldEventId;
        if (!GaveUpOn(eventId))
        {
            PendingReport = eventId;
            Post();     // the verdict
        }
        // A guest that gave up (before or while the verdict was posted) keeps off the region until acknowledged.
        if (GaveUpOn(eventId))
        {
            PendingReport = 0;
            Acknowledge(eventId);
        }
        HeldEventId = 0;
        HostOwned = false;
        _released?.Set();
    }

    /// <summary>Answers the held event with a verdict that changes nothing (used when no session can).</summary>
    public void ReleaseUntouched()
    {
        EventRegion.WriteUntouchedVerdict(Region, HeldEventId);
        ReleaseToGuest();
    }

    /// <summary>Acknowledges an abandonment the host is not handling (§5.3).</summary>
    public void AcknowledgeStaleAbandonment()
    {
        var abandoned = AbandonedEvent;
        if (abandoned != 0 && abandoned != HostAck)
            Acknowledge(abandoned);
    }

    private void Acknowledge(ulong eventId) => Volatile.Write(ref Word64(HostAckOffset), eventId);

    /// <summary>Release: the region is written before host_seq moves.</summary>
    private void Post() => Volatile.Write(ref Word32(HostSeqOffset), ++_hostSeq);

    private unsafe ref uint Word32(int offset) => ref *(uint*)((byte*)_slot + offset);

    private unsafe ref ulong Word64(int offset) => ref *(ulong*)((byte*)_slot + offset);

    private bool TryConsumeAnswer()
    {
        var seq = GuestSeq;     // acquire: the region is read after this
        if (seq == LastGuestSeq)
            return false;
        LastGuestSeq = seq;
        return true;
    }

    private void ThrowIfAbandoned()
    {
        if (GaveUpOn(HeldEventId))
            throw new GuestTimeoutException(
                $"The guest gave up waiting for the host on event {HeldEventId} (slot {Slot}); that syscall continued unmodified.", guestGaveUp: true);
    }

    private async ValueTask WaitSlowlyAsync(long started, CancellationToken cancellationToken)
    {
        var sleep = 0;
        while (!TryConsumeAnswer())
        {
            _guest.ThrowIfLost();
            ThrowIfAbandoned();
            cancellationToken.ThrowIfCancellationRequested();
            if (Stopwatch.GetElapsedTime(started) > _timeout)
                throw new GuestTimeoutException($"The guest did not answer on slot {Slot} within {_timeout.TotalSeconds:F1} s.");
            if (++sleep < 100)
                Thread.Yield();
            else
                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }
    }
}
