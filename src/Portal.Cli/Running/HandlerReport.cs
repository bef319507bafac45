using System.Globalization;
using Portal.Diagnostics;

namespace Portal.Cli.Running;

/// <summary>What each handler cost, one line per handler (the format the samples print, plus time per call).</summary>
internal static class HandlerReport
{
    /// <summary>"handler RAEth: calls=1 exchanges=1 mean=20372.7µs" (and errors=N when calls threw).</summary>
    public static string Line(HandlerStatistics handler)
    {
        var mean = handler.Calls == 0 ? 0 : handler.TotalTime.TotalMicroseconds / handler.Calls;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"handler {handler.Name}: calls={handler.Calls} exchanges={handler.Exchanges} mean={mean:F1}µs");
        return handler.Errors > 0 ? line + string.Create(CultureInfo.InvariantCulture, $" errors={handler.Errors}") : line;
    }

    /// <summary>The session's totals: events delivered and exchanges (with those outside handlers).</summary>
    public static string Summary(PortalStatistics statistics) => string.Create(CultureInfo.InvariantCulture,
        $"session: events={statistics.Events} exchanges={statistics.Exchanges} (control {statistics.ControlExchanges})");
}
