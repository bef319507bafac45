using System.Globalization;
using Portal.Cli.Terminal;
using Portal.Diagnostics;

namespace Portal.Cli.Running;

/// <summary>What each handler cost, one line per handler (the format the samples print, plus time per call).</summary>
internal static class HandlerReport
{
    /// <summary>"handler RAEth: calls=1 exchanges=1 mean=20372.7µs", then errors=, abandoned=, failed-writes=, rejected-verdicts= when nonzero.</summary>
    public static string Line(HandlerStatistics handler)
    {
        var mean = handler.Calls == 0 ? 0 : handler.TotalTime.TotalMicroseconds / handler.Calls;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"handler {handler.Name}: calls={handler.Calls} exchanges={handler.Exchanges} mean={mean:F1}µs");
        foreach (var (name, count) in new[] { ("errors", handler.Errors), ("abandoned", handler.Abandoned),
            ("failed-writes", handler.FailedVerdictWrites), ("rejected-verdicts", handler.RejectedVerdicts) })
        {
            if (count > 0)
                line += string.Create(CultureInfo.InvariantCulture, $" {name}={count}");
        }
        return line;
    }

    /// <summary>The session's totals: events delivered and exchanges (with those outside handlers).</summary>
    public static string Summary(PortalStatistics statistics) => string.Create(CultureInfo.InvariantCulture,
        $"session: events={statistics.Events} exchanges={statistics.Exchanges} (control {statistics.ControlExchanges})");

    /// <summary>
    /// Prints the line of each handler that was called and names the others (with <paramref name="verbose"/>: the
    /// line of every handler, and the session's totals); with <paramref name="account"/> asks the guest what
    /// happened to the matched syscalls and prints that too when some went unhandled (or verbose). Returns how many went unhandled: -1 when not asked or the guest could not say.
    /// </summary>
    public static async Task<long> PrintAsync(CliConsole console, PortalSession session, bool verbose, bool account)
    {
        // First: it waits for the guest's last verdict reports, which the handler lines count.
        var accounting = account ? await AccountAsync(console, session).ConfigureAwait(false) : null;
        // A handler never called has only zeros to show: it is named once, as a hint that its filters matched
        // nothing, and gets its line with --verbose.
        var notCalled = new List<string>();
        foreach (var handler in session.Statistics.Handlers)
        {
            if (handler.Calls > 0 || verbose)
                console.Say(Line(handler));
            else
                notCalled.Add(handler.Name);
        }
        if (notCalled.Count > 0)
            console.Say($"handlers never called: {string.Join(", ", notCalled)} (--verbose lists each hook with its filters)");
        if (verbose)
            console.Say(Summary(session.Statistics));
        if (accounting is not null && (accounting.Unhandled > 0 || verbose))
            console.Say(accounting.ToString());
        return accounting?.Unhandled ?? -1;
    }

    /// <summary>
    /// Asks the session (and through it the guest's counters) what happened to the matched syscalls;
    /// null, with a message, when the guest could not say (it is gone): the caller treats that as not clean.
    /// </summary>
    public static async Task<SyscallAccounting?> AccountAsync(CliConsole console, PortalSession session)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            return await session.GetSyscallAccountingAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is PortalException or OperationCanceledException)
        {
            console.Fail($"could not read the guest's counters, so syscalls may have gone unhandled unseen: {e.Message}");
            return null;
        }
    }
}
