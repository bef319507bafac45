using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Portal.Abi;
using Portal.Channels;
using Portal.Cli.Plugins;
using Portal.Cli.Running;
using Portal.Cli.Terminal;
using Portal.Guests;
using Portal.Qemu;
using Portal.Qemu.Hosting;
using Portal.Qemu.Firmware;
using Portal.Qemu.Image;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal run [--guest qemu|emulated] [--plugin asm]… [--file host:guest]… -- command [args…]</c>:
/// boots the guest, registers the plugins' handlers, runs the command with its output streamed, prints
/// each handler's statistics on stderr, and shuts the guest down (also on Ctrl-C, SIGTERM, SIGHUP, SIGQUIT).
/// Exits with the command's status, or one of <see cref="ExitCodes"/> when Portal could not run it or
/// lost the guest under it (then the command did not exit, and portal never says it did).
/// </summary>
internal static class RunCommand
{
    /// <summary>Validated arguments of one run.</summary>
    private sealed record Settings(GuestKind Guest, GuestAbi? Abi, string? Rootfs, IReadOnlyList<PluginAssembly> Plugins, IReadOnlyList<GuestFile> Files,
        GuestCommand Command, bool Verbose, bool AllowUnhandled, string? Trace);

    public static Command Create(CliConsole console)
    {
        var guest = CliOptions.Guest();
        var abi = CliOptions.AnyAbi();
        var plugins = CliOptions.Plugins();
        var files = CliOptions.Files();
        var rootfs = CliOptions.Rootfs("Run the command in a firmware's root filesystem (its init does not run; its programs come first on PATH). The architecture comes from its binaries.");
        var verbose = CliOptions.Verbose();
        var allowUnhandled = CliOptions.AllowUnhandled("the command's status");
        var trace = CliOptions.Trace();
        var command = new Argument<string[]>("command")
        {
            Description = "The guest command and its arguments (put them after --).",
            // Checked in Validate, which says how to give one (the parser's message does not).
            Arity = ArgumentArity.ZeroOrMore,
        };
        var run = new Command("run", "Boot a guest, load plugins, run a command in it, and report each handler's calls, exchanges and time.")
        {
            guest, abi, rootfs, plugins, files, verbose, allowUnhandled, trace, command,
        };
        run.SetAction(async (parse, _) =>
        {
            Settings settings;
            try
            {
                settings = Validate(parse.GetValue(guest)!, parse.GetValue(abi), parse.GetValue(rootfs), parse.GetValue(plugins) ?? [], parse.GetValue(files) ?? [],
                    parse.GetValue(command) ?? [], parse.GetValue(verbose), parse.GetValue(allowUnhandled), parse.GetValue(trace));
            }
            catch (ArgumentException e)
            {
                console.Fail(e.Message);
                return ExitCodes.Usage;
            }
            return await RunAsync(console, settings).ConfigureAwait(false);
        });
        return run;
    }

    /// <summary>Checks everything that can be checked before booting, so a typo costs no boot.</summary>
    private static Settings Validate(string guestName, string? abiName, string? rootfs, string[] plugins, string[] files, string[] command, bool verbose,
        bool allowUnhandled, string? trace)
    {
        if (command.Length == 0)
            throw new ArgumentException("no guest command: portal run [options] -- <command> [arguments...]");
        // An option the parser does not know lands in the command: no guest program starts with '-'.
        if (command[0].StartsWith('-'))
            throw new ArgumentException($"unknown option '{command[0]}' (the guest command goes after --)");
        var (kind, abi, firmware) = CliOptions.CheckGuest(guestName, abiName, rootfs);
        return new Settings(kind, abi, firmware, [.. plugins.Select(PluginAssembly.Parse)], CliOptions.ParseFiles(files), new GuestCommand(command), verbose,
            allowUnhandled, trace);
    }

    private static async Task<int> RunAsync(CliConsole console, Settings settings)
    {
        using var signals = new InterruptSignals();
        using var loggerFactory = GuestSteps.CreateLoggerFactory(console, settings.Verbose);
        // A firmware's architecture is known once its image is read, while booting: without --abi its hooks' syscalls are checked then.
        var knownAbi = settings.Rootfs is null ? settings.Abi ?? GuestAbi.X86_64 : settings.Abi;
        if (GuestSteps.CreatePlugins(console, settings.Plugins, loggerFactory, knownAbi) is not { } plugins)
            return ExitCodes.PluginFailure;
        if (!TraceFile.TryCreate(console, settings.Trace, out var trace))
            return ExitCodes.Usage;
        using var closeTrace = trace;     // last: after the guest is down, whatever ended the run

        var abiName = (settings.Abi ?? GuestAbi.X86_64).Name;
        // When the guest image must be built first, the build's own progress says so (GuestImageBuilder logs it).
        var description = settings switch
        {
            { Guest: GuestKind.Emulated } => $"Starting the emulated {abiName} guest",
            { Rootfs: not null } => "Booting a QEMU guest with the firmware's root filesystem",
            _ => $"Booting the {abiName} QEMU guest",
        };
        var (guest, startFailure) = await GuestSteps.StartAsync(console, description,
            () => GuestLauncher.StartAsync(settings.Guest, settings.Abi, settings.Files, settings.Rootfs is null ? null : new FirmwareOptions(settings.Rootfs) { RunInit = false },
                loggerFactory, consoleLine: null, signals.Token), signals).ConfigureAwait(false);
        if (guest is null)
            return startFailure;

        try
        {
            return await RunInGuestAsync(console, settings, guest, plugins, loggerFactory, trace, signals).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            // Attaching or registering hooks was cancelled (the command's own cancellation is handled inside).
            console.Fail("interrupted before the command started.");
            return signals.ExitCode;
        }
        finally
        {
            await console.StepAsync("Shutting the guest down", () => guest.DisposeAsync().AsTask()).ConfigureAwait(false);
        }
    }

    private static async Task<int> RunInGuestAsync(CliConsole console, Settings settings, IGuest guest, List<object> plugins,
        ILoggerFactory loggerFactory, TraceFile? trace, InterruptSignals signals)
    {
        var (session, attachFailure) = await GuestSteps.AttachAsync(console, guest, plugins, loggerFactory, trace, $"'{settings.Command}'", signals.Token)
            .ConfigureAwait(false);
        if (session is null)
            return attachFailure;

        await using (session.ConfigureAwait(false))
        {
            int exitCode;
            var commandEnded = false;     // the command ended by itself: its status is ours
            try
            {
                var result = await GuestLauncher.RunAsync(guest, settings.Command, console.Out, signals.Token).ConfigureAwait(false);
                exitCode = result.ExitCode;
                commandEnded = true;
            }
            catch (OperationCanceledException) when (signals.Interrupted)
            {
                console.Fail($"interrupted: '{settings.Command}' was stopped.");
                exitCode = signals.ExitCode;
            }
            catch (Exception e) when (e is PortalException or IOException)
            {
                // GuestLostException says what happened (the panic text, how QEMU ended); anything else broke the link to the guest.
                console.Fail($"lost the guest while '{settings.Command}' ran: {e.Message}");
                exitCode = ExitCodes.GuestLost;
            }

            var unhandled = await HandlerReport.PrintAsync(console, session, settings.Verbose, account: commandEnded || signals.Interrupted).ConfigureAwait(false);
            if (commandEnded && exitCode != 0)     // never for a command that was stopped or lost with its guest
                console.Say($"portal: '{settings.Command}' exited with status {exitCode}");
            if (commandEnded && unhandled != 0 && !settings.AllowUnhandled)
            {
                // Never 0 when a syscall a hook should have handled was not: the run's answers are incomplete.
                console.Say($"portal: exiting with status {ExitCodes.SyscallsUnhandled}: matching syscalls went unhandled (--allow-unhandled keeps the command's status)");
                return ExitCodes.SyscallsUnhandled;
            }
            return exitCode;
        }
    }
}
