using Portal.Diagnostics;

namespace Portal.Channels;

/// <summary>
/// The right to use one slot's region: operations take <see cref="Gate"/> for the whole
/// encode–exchange–decode sequence (a handler may await several operations at once), and every
/// exchange is counted for the session, the handler, the current invocation and the metrics.
/// </summary>
internal sealed class SlotLease
{
    private readonly PortalStatistics _session;
    private readonly HandlerStatistics? _handler;
    private readonly KeyValuePair<string, object?> _tag;
    private long _exchanges;

    public SlotLease(IGuestChannel channel, PortalStatistics session, HandlerStatistics? handler)
    {
        Channel = channel;
        _session = session;
        _handler = handler;
        _tag = new(PortalMetrics.HandlerTag, handler?.Name ?? "(control)");
    }

    public IGuestChannel Channel { get; }

    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>Exchanges made through this lease.</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>One round trip; call only while holding <see cref="Gate"/>.</summary>
    public ValueTask ExchangeAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _exchanges);
        _session.AddExchange(control: _handler is null);
        _handler?.AddExchange();
        PortalMetrics.Exchanges.Add(1, _tag);
        return Channel.ExchangeAsync(cancellationToken);
    }
}
