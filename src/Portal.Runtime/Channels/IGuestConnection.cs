namespace Portal.Channels;

/// <summary>Receives syscall events from a guest.</summary>
public interface IGuestEventSink
{
    /// <summary>
    /// An EVENT arrived on <paramref name="channel"/>: its region holds the event record. The sink
    /// owns the slot until it writes a VERDICT into the region and calls
    /// <see cref="IGuestChannel.ReleaseToGuest"/>; it must do so exactly once, whatever happens.
    /// </summary>
    ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken);

    /// <summary>
    /// The guest gave up waiting for the verdict on <paramref name="eventId"/> (its bound expired) and let
    /// the syscall continue unmodified. If the sink still holds the event, it must end it without a
    /// verdict (<see cref="IGuestChannel.ReleaseToGuest"/> then acknowledges the abandonment); the event
    /// may also be one whose verdict was posted too late. Called on the transport's event thread: must
    /// not block.
    /// </summary>
    void OnEventAbandoned(IGuestChannel channel, ulong eventId)
    {
    }

    /// <summary>
    /// What the guest did with a verdict posted on <paramref name="channel"/> (applied, rejected, which
    /// of its writes failed). Called on the transport's event thread: must not block.
    /// </summary>
    void OnVerdictReport(IGuestChannel channel, VerdictReport report)
    {
    }
}

/// <summary>The host side of a guest's regions: the control slot, and the delivery of events.</summary>
public interface IGuestConnection : IAsyncDisposable
{
    /// <summary>The control slot (slot 0): guest info, hook registration, statistics.</summary>
    IGuestChannel Control { get; }

    /// <summary>Starts delivering events to <paramref name="sink"/> until the returned handle is disposed.</summary>
    /// <exception cref="InvalidOperationException">Another sink is attached.</exception>
    IDisposable Attach(IGuestEventSink sink);
}
