using System.Diagnostics.Metrics;

namespace Portal.Diagnostics;

/// <summary>
/// Portal's instruments, published on the <see cref="MeterName"/> meter (listen with
/// <c>MeterListener</c>, <c>dotnet-counters</c> or OpenTelemetry).
/// </summary>
public static class PortalMetrics
{
    /// <summary>Name of the meter.</summary>
    public const string MeterName = "Portal";

    /// <summary>Tag carrying the handler name ("(control)" for session-level exchanges).</summary>
    public const string HandlerTag = "portal.handler";

    internal static readonly Meter Meter = new(MeterName, typeof(PortalMetrics).Assembly.GetName().Version?.ToString());

    /// <summary><c>portal.exchanges</c>: guest round trips.</summary>
    internal static readonly Counter<long> Exchanges =
        Meter.CreateCounter<long>("portal.exchanges", "{exchange}", "Guest round trips (one request and its response).");

    /// <summary><c>portal.events</c>: syscall events handled.</summary>
    internal static readonly Counter<long> Events =
        Meter.CreateCounter<long>("portal.events", "{event}", "Syscall events delivered to handlers.");

    /// <summary><c>portal.handler.errors</c>: handlers that threw (their syscall was left untouched).</summary>
    internal static readonly Counter<long> HandlerErrors =
        Meter.CreateCounter<long>("portal.handler.errors", "{error}", "Handler invocations that threw.");

    /// <summary><c>portal.handler.duration</c>: time from event to verdict.</summary>
    internal static readonly Histogram<double> HandlerDuration =
        Meter.CreateHistogram<double>("portal.handler.duration", "us", "Time from event arrival to verdict.");
}
