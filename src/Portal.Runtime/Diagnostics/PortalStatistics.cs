using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Portal.Diagnostics;

/// <summary>Counters of a session: every exchange, and per handler.</summary>
public sealed class PortalStatistics
{
    private readonly ConcurrentDictionary<string, HandlerStatistics> _handlers = new(StringComparer.Ordinal);
    private long _exchanges, _controlExchanges, _events, _malformedEvents, _unattributedAbandoned, _verdictsWithFailedWrites;

    /// <summary>Every exchange of the session (handlers and control).</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>Exchanges made outside handlers (guest info, hook registration, statistics).</summary>
    public long ControlExchanges => Interlocked.Read(ref _controlExchanges);

    /// <summary>Events delivered to handlers.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>Events the host could not decode (a broken or hostile guest): answered untouched.</summary>
    public long MalformedEvents => Interlocked.Read(ref _malformedEvents);

    /// <summary>Abandonments the guest reported for events no handler held (a broken or hostile guest, or a session that had just ended).</summary>
    public long UnattributedAbandonments => Interlocked.Read(ref _unattributedAbandoned);

    /// <summary>Verdicts of which at least one write failed in the guest.</summary>
    public long VerdictsWithFailedWrites => Interlocked.Read(ref _verdictsWithFailedWrites);

    /// <summary>Per-handler counters, ordered by name.</summary>
    public IReadOnlyList<HandlerStatistics> Handlers => [.. _handlers.Values.OrderBy(h => h.Name, StringComparer.Ordinal)];

    /// <summary>Counters of the handler with that name (handlers registered under one name share them).</summary>
    public HandlerStatistics ForHandler(string name) => _handlers.GetOrAdd(name, static n => new HandlerStatistics(n));

    internal void AddExchange(bool control)
    {
        Interlocked.Increment(ref _exchanges);
        if (control)
            Interlocked.Increment(ref _controlExchanges);
    }

    internal void AddEvent() => Interlocked.Increment(ref _events);

    internal void AddMalformedEvent() => Interlocked.Increment(ref _malformedEvents);

    internal void AddUnattributedAbandonment() => Interlocked.Increment(ref _unattributedAbandoned);

    internal void AddVerdictWithFailedWrites() => Interlocked.Increment(ref _verdictsWithFailedWrites);
}
