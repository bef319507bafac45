using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Portal.Diagnostics;
using Portal.Protocol;

namespace Portal.Channels;

/// <summary>Writes a request into a region.</summary>
internal delegate void RegionWriter<in TState>(TState state, Span<byte> region);

/// <summary>Reads a response out of a region.</summary>
internal delegate TResult RegionReader<in TState, out TResult>(TState state, Span<byte> region);

/// <summary>
/// The right to use one slot's region, for the control slot or for one held event. Every use of the
/// region goes through this class, which holds the slot's lock for the whole encode–exchange–decode
/// sequence (a handler may have several operations in flight) and counts each exchange for the
/// session, the handler, the current invocation and the metrics.
/// </summary>
/// <remarks>
/// An event's lease ends exactly once (<see cref="TryEndAsync{TState}"/>): with the handler's verdict,
/// or because the guest gave up on the event. Either takes the lock, so neither can happen while a
/// request is being encoded, exchanged or decoded; once the lease has
/// ended, the region belongs to the guest again (it may already hold the next event), so every later
/// use fails with <see cref="GuestTimeoutException"/> without touching it.
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "SemaphoreSlim holds no kernel handle unless AvailableWaitHandle is used; nothing to dispose.")]
internal sealed class SlotLease
{
    private readonly IGuestChannel _channel;
    private readonly PortalStatistics _session;
    private HandlerStatistics? _handler;
    private KeyValuePair<string, object?> _tag;
    private readonly IPortalTracer? _tracer;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private long _exchanges;
    private bool _ended;            // under _lock
    private string? _endReason;     // under _lock

    public SlotLease(IGuestChannel channel, PortalStatistics session, HandlerStatistics? handler, IPortalTracer? tracer = null)
    {
        _channel = channel;
        _session = session;
        _handler = handler;
        _tracer = tracer;
        _tag = new(PortalMetrics.HandlerTag, handler?.Name ?? "(control)");
    }

    /// <summary>Counts this lease's exchanges for <paramref name="handler"/> from now on (an event's handler is known once its record is read).</summary>
    public void AttributeTo(HandlerStatistics handler)
    {
        _handler = handler;
        _tag = new(PortalMetrics.HandlerTag, handler.Name);
    }

    /// <summary>The slot number (0 = control).</summary>
    public int Slot => _channel.Slot;

    /// <summary>Exchanges made through this lease.</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>One round trip: <paramref name="encode"/> the request, exchange, <paramref name="decode"/> the response.</summary>
    /// <exception cref="GuestTimeoutException">The event has ended (the guest gave up on it), or the guest gave up meanwhile.</exception>
    public async ValueTask<TResult> RoundTripAsync<TState, TResult>(TState state, RegionWriter<TState> encode,
        RegionReader<TState, TResult> decode, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfEnded();
            encode(state, _channel.Region);
            Interlocked.Increment(ref _exchanges);
            _session.AddExchange(control: _handler is null);
            _handler?.AddExchange();
            PortalMetrics.Exchanges.Add(1, _tag);
            if (_tracer is not null)
                return await TracedRoundTripAsync(state, decode, cancellationToken).ConfigureAwait(false);
            await _channel.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            return decode(state, _channel.Region);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>The exchange and decoding of <see cref="RoundTripAsync"/> (under the lock, request encoded), reported to the tracer.</summary>
    private async ValueTask<TResult> TracedRoundTripAsync<TState, TResult>(TState state, RegionReader<TState, TResult> decode,
        CancellationToken cancellationToken)
    {
        var (request, operations, requestBytes) = ExchangeSummary.DescribeRequest(_channel.Region);     // before the response overwrites it
        var started = Stopwatch.GetTimestamp();
        var responseBytes = 0;
        Exception? failure = null;
        try
        {
            await _channel.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            responseBytes = ExchangeSummary.ResponseBytes(_channel.Region);
            return decode(state, _channel.Region);
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            _tracer!.ExchangeEnded(new TracedExchange(Slot, _handler?.Name, started, Stopwatch.GetTimestamp(), request, operations, requestBytes,
                responseBytes, failure));
        }
    }

    /// <summary>Reads the region without an exchange (the event record the guest posted).</summary>
    public async ValueTask<TResult> InspectAsync<TState, TResult>(TState state, RegionReader<TState, TResult> read)
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            ThrowIfEnded();
            return read(state, _channel.Region);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Ends the event: <paramref name="writeVerdict"/> writes its verdict and the region goes back to the
    /// guest (if the guest has given up on the event, the transport acknowledges that instead of posting).
    /// False, and nothing written, when the event had already ended. Every later use of the lease fails,
    /// saying <paramref name="reason"/>.
    /// </summary>
    public async ValueTask<bool> TryEndAsync<TState>(TState state, RegionWriter<TState> writeVerdict, string reason)
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_ended)
                return false;
            _ended = true;
            _endReason = reason;
            writeVerdict(state, _channel.Region);
            _channel.ReleaseToGuest();
            return true;
        }
        finally
        {
            _lock.Release();
        }
    }

    private void ThrowIfEnded()
    {
        if (_ended)
            throw new GuestTimeoutException($"Slot {_channel.Slot}: the event has ended ({_endReason}); its region belongs to the guest again.", guestGaveUp: true);
    }
}
