using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Portal.Abi;
using Portal.Channels;
using Portal.Cli.Inspecting;
using Portal.Cli.Plugins;
using Portal.Cli.Running;
using Portal.Cli.Terminal;
using Portal.Qemu;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal boot --rootfs path [--plugin asm]… [--until regex] [--timeout s] [--init path]</c>: boots a
/// firmware's own root filesystem in the QEMU guest of its architecture, registers the plugins' hooks,
/// starts the firmware's init and streams its console. Ends when the console matches <c>--until</c>
/// (exit 0), at <c>--timeout</c> (with <c>--until</c>: the boot stalled, <see cref="ExitCodes.BootStalled"/>
/// and the last console lines; without: exit 0), on Ctrl-C, or when the guest ends; prints each
/// handler's statistics. <c>--inspect QUERY</c> (repeatable) runs introspection queries once the boot has
/// ended successfully, before the guest is shut down (docs/introspection.md).
/// </summary>
internal static class BootCommand
{
    /// <summary>The timeout when --until is given and --timeout is not.</summary>
    private const int DefaultTimeoutSeconds = 120;

    /// <summary>Console lines repeated on stderr when the boot stalls.</summary>
    private const int StallTailLines = 15;

    /// <summary>Validated arguments; <paramref name="Abi"/> is the --abi given, if any (the firmware decides otherwise).</summary>
    private sealed record Settings(string Rootfs, GuestAbi? Abi, IReadOnlyList<PluginAssembly> Plugins, Regex? Until, TimeSpan? Timeout,
        string? Init, bool Verbose, bool AllowUnhandled, string? Trace, IReadOnlyList<Query> Inspect);

    public static Command Create(CliConsole console)
    {
        var rootfs = CliOptions.Rootfs("The firmware's root filesystem to boot (required).");
        rootfs.Required = true;
        var abi = CliOptions.RealGuestAbi("Check that the firmware is of this architecture (by default its binaries decide).");
        var plugins = CliOptions.Plugins();
        var until = new Option<string>("--until")
        {
            Description = "End the boot, successfully, when a console line of the firmware matches this regular expression.",
            HelpName = "regex",
        };
        var timeout = new Option<double?>("--timeout")
        {
            Description = $"Seconds the firmware may run after its init starts (default with --until: {DefaultTimeoutSeconds}; without: until Ctrl-C). " +
                $"With --until, reaching it means the boot stalled: exit {ExitCodes.BootStalled} with the last console lines.",
            HelpName = "seconds",
        };
        var init = new Option<string>("--init")
        {
            Description = $"The firmware's init (default: the first of {string.Join(", ", FirmwareOptions.InitCandidates)}).",
            HelpName = "path",
        };
        var verbose = CliOptions.Verbose();
        var allowUnhandled = CliOptions.AllowUnhandled("the boot's outcome");
        var trace = CliOptions.Trace();
        var inspect = new Option<string[]>("--inspect")
        {
            Description = "Once the boot has ended by --until (or --timeout), run this introspection query before shutting the guest down, " +
                "e.g. --inspect ps --inspect 'fds' --inspect 'cat /proc/mtd' (repeatable; the queries of portal inspect).",
            HelpName = "query",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var boot = new Command("boot", "Boot a firmware's root filesystem with Portal, its hooks registered before the firmware's init starts, and follow its console.")
        {
            rootfs, abi, plugins, until, timeout, init, verbose, allowUnhandled, trace, inspect,
        };
        boot.SetAction(async (parse, _) =>
        {
            Settings settings;
            try
            {
                settings = Validate(parse.GetValue(rootfs)!, parse.GetValue(abi), parse.GetValue(plugins) ?? [], parse.GetValue(until),
                    parse.GetValue(timeout), parse.GetValue(init), parse.GetValue(verbose), parse.GetValue(allowUnhandled), parse.GetValue(trace),
                    parse.GetValue(inspect) ?? []);
            }
            catch (Exception e) when (e is ArgumentException or QueryUsageException)
            {
                console.Fail(e.Message);
                return ExitCodes.Usage;
            }
            return await BootAsync(console, settings).ConfigureAwait(false);
        });
        return boot;
    }

    private static Settings Validate(string rootfs, string? abiName, string[] plugins, string? until, double? timeoutSeconds, string? init, bool verbose,
        bool allowUnhandled, string? trace, string[] inspect)
    {
        Regex? pattern = null;
        if (until is not null)
        {
            try
            {
                pattern = new Regex(until, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--until '{until}' is not a regular expression: {e.Message}", e);
            }
        }
        if (timeoutSeconds is { } seconds && !(seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds / 2))
            throw new ArgumentException($"--timeout {seconds.ToString(CultureInfo.InvariantCulture)}: give a number of seconds greater than 0");
        var timeout = timeoutSeconds is { } given ? TimeSpan.FromSeconds(given) : pattern is null ? (TimeSpan?)null : TimeSpan.FromSeconds(DefaultTimeoutSeconds);
        if (init is not null && !init.StartsWith('/'))
            throw new ArgumentException($"--init {init}: give the init's absolute path inside the firmware (e.g. /sbin/init)");
        // Without an end (only Ctrl-C stops such a boot) the queries would never run: say so now rather than after the boot.
        if (inspect.Length > 0 && timeout is null)
            throw new ArgumentException("--inspect runs its queries when the boot ends by --until or --timeout: give one of them");
        var queries = inspect.Select(q => QueryParser.Parse(q)).ToList();
        return new Settings(CliOptions.CheckRootfs(rootfs), abiName is null ? null : GuestAbi.Parse(abiName),
            [.. plugins.Select(PluginAssembly.Parse)], pattern, timeout, init, verbose, allowUnhandled, trace, queries);
    }

    private static async Task<int> BootAsync(CliConsole console, Settings settings)
    {
        using var signals = new InterruptSignals();
        using var loggerFactory = GuestSteps.CreateLoggerFactory(console, settings.Verbose);
        if (GuestSteps.CreatePlugins(console, settings.Plugins, loggerFactory, settings.Abi) is not { } plugins)
            return ExitCodes.PluginFailure;
        if (!TraceFile.TryCreate(console, settings.Trace, out var trace))
            return ExitCodes.Usage;
        using var closeTrace = trace;     // last: after the guest is down, whatever ended the boot

        // The console is streamed from the moment the firmware's init starts: Portal's own boot is not the firmware's.
        var firmwareConsole = new FirmwareConsole(console.Out, settings.Until);
        var firmware = new FirmwareOptions(settings.Rootfs) { Init = settings.Init };
        var (guest, startFailure) = await GuestSteps.StartAsync(console,
            "Booting the firmware's QEMU guest (reading the image)",
            () => GuestLauncher.StartAsync(GuestKind.Qemu, settings.Abi, [], firmware, loggerFactory, firmwareConsole.Line, signals.Token), signals)
            .ConfigureAwait(false);
        if (guest is null)
            return startFailure;
        var qemu = (QemuGuest)guest;
        try
        {
            var (session, attachFailure) = await GuestSteps.AttachAsync(console, qemu, plugins, loggerFactory, trace, "the firmware's init", signals.Token)
                .ConfigureAwait(false);
            if (session is null)
                return attachFailure;
            await using (session.ConfigureAwait(false))
            {
                var exitCode = await FollowAsync(console, settings, qemu, firmwareConsole, signals).ConfigureAwait(false);
                var inspected = ExitCodes.Success;
                if (exitCode == ExitCodes.Success && settings.Inspect.Count > 0)
                    (exitCode, inspected) = await InspectAsync(console, settings, session, qemu, firmwareConsole, signals).ConfigureAwait(false);
                var unhandled = await HandlerReport.PrintAsync(console, session, settings.Verbose, account: !qemu.Lost.IsCompleted).ConfigureAwait(false);
                if (exitCode == ExitCodes.Success && unhandled != 0 && !settings.AllowUnhandled)
                {
                    // Never 0 when a syscall a hook should have handled was not (or the guest could not say): the boot's answers are incomplete.
                    console.Say($"portal: exiting with status {ExitCodes.SyscallsUnhandled}: matching syscalls went unhandled during the boot (--allow-unhandled keeps the boot's outcome)");
                    return ExitCodes.SyscallsUnhandled;
                }
                // The boot went well: a failed query is what is left to report.
                return exitCode == ExitCodes.Success ? inspected : exitCode;
            }
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            console.Fail("interrupted before the firmware's init started.");
            return signals.ExitCode;
        }
        finally
        {
            await console.StepAsync("Shutting the guest down", () => guest.DisposeAsync().AsTask()).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs the --inspect queries in the booted firmware, as <c>portal inspect</c> shows them. The firmware's console
    /// lines that come meanwhile are held and written after the last query, so none lands inside a result. Returns the
    /// boot's outcome (interrupted or lost meanwhile: no longer a success) and the queries' exit code.
    /// </summary>
    private static async Task<(int Boot, int Queries)> InspectAsync(CliConsole console, Settings settings, PortalSession session, QemuGuest guest,
        FirmwareConsole firmwareConsole, InterruptSignals signals)
    {
        var shell = new QueryShell(console, new QueryRunner(session, guest, console.Out), new TextFormatter(console), settings.Verbose);
        firmwareConsole.Hold();
        try
        {
            foreach (var query in settings.Inspect)
                await shell.RunAsync(query, signals.Token).ConfigureAwait(false);
            return (ExitCodes.Success, shell.ExitCode);
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            console.Fail("interrupted while inspecting the firmware.");
            return (signals.ExitCode, shell.ExitCode);
        }
        catch (Exception e) when (e is PortalException or IOException)
        {
            console.Fail($"lost the guest while inspecting the firmware: {e.Message}");
            return (ExitCodes.GuestLost, shell.ExitCode);
        }
        finally
        {
            firmwareConsole.Release();
        }
    }

    /// <summary>Starts the firmware's init and waits for the pattern, the timeout, Ctrl-C or the guest's end.</summary>
    private static async Task<int> FollowAsync(CliConsole console, Settings settings, QemuGuest guest, FirmwareConsole firmwareConsole,
        InterruptSignals signals)
    {
        console.Say($"portal: starting the firmware's init {guest.FirmwareInit} ({guest.Abi.Name} guest)");
        try
        {
            await guest.BootFirmwareAsync(signals.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is PortalException or GuestBootException or IOException)
        {
            console.Fail($"could not start the firmware's init: {e.Message}");
            return ExitCodes.GuestLost;
        }

        using var timeout = new CancellationTokenSource();
        if (settings.Timeout is { } limit)
            timeout.CancelAfter(limit);
        var ended = await Task.WhenAny(firmwareConsole.Matched, guest.Lost, Task.Delay(Timeout.Infinite, timeout.Token),
            Task.Delay(Timeout.Infinite, signals.Token)).ConfigureAwait(false);
        if (ended == firmwareConsole.Matched)
        {
            console.Say($"portal: the console matched --until: {await firmwareConsole.Matched.ConfigureAwait(false)}");
            return ExitCodes.Success;
        }
        if (ended == guest.Lost && guest.Lost.IsCompletedSuccessfully)
        {
            var lost = await guest.Lost.ConfigureAwait(false);
            console.Fail($"the guest ended during the boot: {lost.Message}");
            return ExitCodes.GuestLost;
        }
        if (signals.Interrupted)
        {
            console.Fail("interrupted: the firmware was stopped.");
            return signals.ExitCode;
        }
        if (settings.Until is null)
        {
            console.Say(string.Create(CultureInfo.InvariantCulture, $"portal: the firmware ran for {settings.Timeout!.Value.TotalSeconds:F0} s (--timeout)"));
            return ExitCodes.Success;
        }
        console.Fail(string.Create(CultureInfo.InvariantCulture,
            $"the boot stalled: no console line matched --until '{settings.Until}' within {settings.Timeout!.Value.TotalSeconds:F0} s. Its last lines:"));
        foreach (var line in firmwareConsole.Tail(StallTailLines))
            console.Error.WriteLine($"  | {line}");
        return ExitCodes.BootStalled;
    }

    /// <summary>
    /// The firmware's console: from the pre-init's line announcing the firmware's init (guest/firmware-init),
    /// each line is written to the output and checked against the pattern; the last lines are kept for the
    /// stall message. Portal's own boot before it is not shown (-v logs it). While held (--inspect's queries
    /// print), lines are kept and written on release.
    /// </summary>
    private sealed class FirmwareConsole(TextWriter output, Regex? pattern)
    {
        private const int Kept = 50;
        private const string InitStarts = "portal-init: starting the firmware's init";
        private readonly Lock _gate = new();
        private readonly Queue<string> _tail = new();
        private readonly List<string> _held = [];
        private bool _holding;
        private readonly TaskCompletionSource<string> _matched = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _started;

        /// <summary>Completes with the first line matching the pattern (never without one).</summary>
        public Task<string> Matched => _matched.Task;

        public void Line(string line)
        {
            lock (_gate)
            {
                _started |= line.StartsWith(InitStarts, StringComparison.Ordinal);
                if (!_started)
                    return;
                _tail.Enqueue(line);
                if (_tail.Count > Kept)
                    _tail.Dequeue();
                if (_holding)
                    _held.Add(line);
                else
                {
                    output.WriteLine(line);
                    output.Flush();
                }
            }
            try
            {
                if (pattern?.IsMatch(line) == true)
                    _matched.TrySetResult(line);
            }
            catch (RegexMatchTimeoutException)
            {
                // a pathological pattern on a long line: that line does not match
            }
        }

        /// <summary>Keeps the lines that come from now on until <see cref="Release"/>.</summary>
        public void Hold()
        {
            lock (_gate)
                _holding = true;
        }

        /// <summary>Writes the lines held, and the next ones as they come.</summary>
        public void Release()
        {
            lock (_gate)
            {
                foreach (var line in _held)
                    output.WriteLine(line);
                output.Flush();
                _held.Clear();
                _holding = false;
            }
        }

        public IReadOnlyList<string> Tail(int count)
        {
            lock (_gate)
                return [.. _tail.Skip(Math.Max(0, _tail.Count - count))];
        }
    }
}
