namespace Portal.Channels;

/// <summary>
/// One slot's region (docs/protocol.md §1). The host writes a request into <see cref="Region"/>,
/// calls <see cref="ExchangeAsync"/> (one round trip), and reads the guest's response from the same
/// region. Only one operation may use a channel at a time; the runtime serialises access.
/// </summary>
public interface IGuestChannel
{
    /// <summary>The slot number: 0 is the control slot, 1..N the vCPUs.</summary>
    int Slot { get; }

    /// <summary>The region (4096 bytes). Valid while the host owns it.</summary>
    Span<byte> Region { get; }

    /// <summary>Hands the request in <see cref="Region"/> to the guest and completes when the response is there.</summary>
    /// <exception cref="GuestTimeoutException">The guest did not answer in time, or gave up on the event this slot held.</exception>
    ValueTask ExchangeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Hands the region (holding a VERDICT) back to the guest without waiting for an answer: the end
    /// of an event. Not an exchange.
    /// </summary>
    void ReleaseToGuest();
}
