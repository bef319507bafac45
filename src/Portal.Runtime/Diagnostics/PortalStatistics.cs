using System.Collections.Concurrent;
using System.Diagnostics;

namespace Portal.Diagnostics;

/// <summary>Counters of one handler (one hook registration), updated as events are handled.</summary>
public sealed class HandlerStatistics
{
    private long _calls, _exchanges, _errors, _ticks;

    internal HandlerStatistics(string name) => Name = name;

    /// <summary>The handler's name.</summary>
    public string Name { get; }

    /// <summary>Events handled.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Exchanges spent by all calls.</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>Calls that threw (their syscalls were left untouched).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Time spent from event arrival to verdict, summed over calls.</summary>
    public TimeSpan TotalTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks));

    internal void AddExchange() => Interlocked.Increment(ref _exchanges);

    internal void AddCall(long elapsedTicks, bool failed)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _ticks, elapsedTicks);
        if (failed)
            Interlocked.Increment(ref _errors);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"handler {Name}: calls={Calls} exchanges={Exchanges}" + (Errors > 0 ? $" errors={Errors}" : "");
}

/// <summary>Counters of a session: every exchange, and per handler.</summary>
public sealed class PortalStatistics
{
    private readonly ConcurrentDictionary<string, HandlerStatistics> _handlers = new(StringComparer.Ordinal);
    private long _exchanges, _controlExchanges, _events;

    /// <summary>Every exchange of the session (handlers and control).</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>Exchanges made outside handlers (guest info, hook registration, statistics).</summary>
    public long ControlExchanges => Interlocked.Read(ref _controlExchanges);

    /// <summary>Events delivered to handlers.</summary>
    public long Events => Interlocked.Read(ref _events);

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
}
