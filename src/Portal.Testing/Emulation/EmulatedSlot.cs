using Portal.Channels;
using Portal.Testing.Processes;

namespace Portal.Testing.Emulation;

/// <summary>
/// One slot of the emulated guest: its region and who owns it. An exchange executes the request
/// right away (the emulated guest serves it synchronously, byte for byte, in the region; the host
/// learns it at once, or after <see cref="EmulatedGuestOptions.ExchangeDelay"/>).
/// </summary>
internal sealed class EmulatedSlot : IGuestChannel
{
    private readonly byte[] _region = new byte[GuestWire.RegionSize];
    private readonly EmulatedKernel _kernel;

    public EmulatedSlot(EmulatedKernel kernel, int slot)
    {
        _kernel = kernel;
        Slot = slot;
        HostOwns = slot == 0;   // the control slot starts host-owned, vCPU slots guest-owned (protocol.md §5.2)
    }

    public int Slot { get; }

    /// <summary>True between an EVENT and its VERDICT (always, for the control slot).</summary>
    public bool HostOwns { get; set; }

    /// <summary>The process whose syscall this slot holds, or null.</summary>
    public EmulatedProcess? Held { get; set; }

    /// <summary>The event the guest gave up on and the host has not acknowledged (0 = none).</summary>
    public ulong AbandonedEventId { get; set; }

    public ulong LastEventId { get; set; }

    /// <summary>Completed when the host hands the region back with a verdict.</summary>
    public TaskCompletionSource? VerdictPosted { get; set; }

    /// <summary>The region as the guest sees it (no ownership check).</summary>
    public Span<byte> GuestView => _region;

    public Span<byte> Region => HostOwns
        ? _region
        : throw new InvalidOperationException($"Slot {Slot}'s region belongs to the guest: the host may not touch it now.");

    public ValueTask ExchangeAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (AbandonedEventId != 0)
            throw new GuestTimeoutException(
                $"The guest gave up waiting for the host on event {AbandonedEventId} (slot {Slot}); that syscall continued unmodified.", guestGaveUp: true);
        if (!HostOwns)
            throw new InvalidOperationException($"Exchange on slot {Slot}, whose region belongs to the guest.");
        _kernel.Serve(this);
        // Served at once; the answer reaches the host later when a delay is set (a slow guest).
        return _kernel.ExchangeDelay > TimeSpan.Zero ? new ValueTask(Task.Delay(_kernel.ExchangeDelay, cancellationToken)) : ValueTask.CompletedTask;
    }

    public void ReleaseToGuest()
    {
        if (AbandonedEventId != 0)
        {
            // The late verdict is dropped; handing the region back acknowledges the abandonment (§5.3).
            AbandonedEventId = 0;
            HostOwns = false;
            return;
        }
        if (Slot == 0 || !HostOwns)
        {
            _kernel.Counters.StaleVerdict();    // the module ignores a verdict where no event is held
            return;
        }
        // Like the module: a posted region that is not this event's verdict does not end the hold.
        if (GuestWire.Op(_region) != GuestWire.OpVerdict)
        {
            _kernel.Serve(this);
            return;
        }
        if (GuestWire.Addr(_region) != LastEventId)
        {
            _kernel.Counters.StaleVerdict();
            return;
        }
        HostOwns = false;
        VerdictPosted?.TrySetResult();
    }
}
