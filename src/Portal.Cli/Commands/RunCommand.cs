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
    private sealed record Settings(GuestKind Guest, GuestAbi Abi, IReadOnlyList<PluginAssembly> Plugins, IReadOnlyList<GuestFile> Files,
        GuestCommand Command, bool Verbose, bool AllowUnhandled);

    public static Command Create(CliConsole console)
    {
        var guest = new Option<string>("--guest", "-g")
        {
            Description = "qemu: a real Linux guest with portal.ko (x86_64, mipsel, aarch64 or armel by --abi); emulated: the in-process guest (any --abi; only its built-in programs).",
            DefaultValueFactory = _ => "qemu",
        };
        guest.AcceptOnlyFromAmong("qemu", "emulated");
        var abi = new Option<string>("--abi")
        {
            Description = "The guest's architecture (default x86_64). The QEMU guest boots x86_64, mipsel, aarch64 or armel; the emulated guest takes any.",
            HelpName = string.Join('|', GuestAbi.All.Select(a => a.Name)),
        };
        abi.AcceptOnlyFromAmong([.. GuestAbi.All.Select(a => a.Name)]);
        var plugins = new Option<string[]>("--plugin", "-p")
        {
            Description = "A plugin assembly to load; <assembly>#<Type> loads only that class (repeatable).",
            HelpName = "assembly[#type]",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var files = new Option<string[]>("--file", "-f")
        {
            Description = "Copy a host file into the guest at an absolute path (repeatable; executable in the QEMU guest).",
            HelpName = "host:/guest/path",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log what Portal does, from debug level up." };
        var allowUnhandled = new Option<bool>("--allow-unhandled")
        {
            Description = $"Exit with the command's status even when matching syscalls went unhandled (by default portal exits {ExitCodes.SyscallsUnhandled} then).",
        };
        var command = new Argument<string[]>("command")
        {
            Description = "The guest command and its arguments (put them after --).",
            // Checked in Validate, which says how to give one (the parser's message does not).
            Arity = ArgumentArity.ZeroOrMore,
        };
        var run = new Command("run", "Boot a guest, load plugins, run a command in it, and report each handler's calls, exchanges and time.")
        {
            guest, abi, plugins, files, verbose, allowUnhandled, command,
        };
        run.SetAction(async (parse, _) =>
        {
            Settings settings;
            try
            {
                settings = Validate(parse.GetValue(guest)!, parse.GetValue(abi), parse.GetValue(plugins) ?? [], parse.GetValue(files) ?? [],
                    parse.GetValue(command) ?? [], parse.GetValue(verbose), parse.GetValue(allowUnhandled));
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
    private static Settings Validate(string guestName, string? abiName, string[] plugins, string[] files, string[] command, bool verbose,
        bool allowUnhandled)
    {
        if (command.Length == 0)
            throw new ArgumentException("no guest command: portal run [options] -- <command> [arguments...]");
        // An option the parser does not know lands in the command: no guest program starts with '-'.
        if (command[0].StartsWith('-'))
            throw new ArgumentException($"unknown option '{command[0]}' (the guest command goes after --)");
        var kind = guestName == "emulated" ? GuestKind.Emulated : GuestKind.Qemu;
        var abi = abiName is null ? GuestAbi.X86_64 : GuestAbi.Parse(abiName);
        if (kind == GuestKind.Qemu && !QemuGuest.RealGuestAbis.Contains(abi))
            throw new ArgumentException(
                $"--abi {abiName}: there is no real {abi.Name} guest (the QEMU guest boots {string.Join(", ", QemuGuest.RealGuestAbis.Select(a => a.Name))}); " +
                "use --guest emulated for it.");
        var mappings = new List<GuestFile>();
        foreach (var mapping in files)
        {
            GuestFile file;
            try
            {
                file = GuestFile.Parse(mapping);
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"--file {e.Message}", e);
            }
            if (!File.Exists(file.HostPath))
                throw new ArgumentException($"--file {mapping}: no such host file: {file.HostPath}");
            mappings.Add(file with { HostPath = Path.GetFullPath(file.HostPath) });
        }
        return new Settings(kind, abi, [.. plugins.Select(PluginAssembly.Parse)], mappings, new GuestCommand(command), verbose, allowUnhandled);
    }

    private static async Task<int> RunAsync(CliConsole console, Settings settings)
    {
        using var signals = new InterruptSignals();
        using var loggerFactory = LoggerFactory.Create(builder =>
            builder.SetMinimumLevel(LogLevel.Trace).AddProvider(new CliLoggerProvider(console, settings.Verbose)));

        var plugins = new List<object>();
        try
        {
            foreach (var assembly in settings.Plugins)
                plugins.AddRange(assembly.CreatePlugins(loggerFactory));
        }
        catch (PluginLoadException e)
        {
            console.Fail(e.Message);
            return ExitCodes.PluginFailure;
        }

        IGuest guest;
        try
        {
            guest = await console.StepAsync(
                settings.Guest == GuestKind.Qemu ? $"Booting the {settings.Abi.Name} QEMU guest (the first run builds portal.ko and the guest programs)" : $"Starting the emulated {settings.Abi.Name} guest",
                () => GuestLauncher.StartAsync(settings.Guest, settings.Abi, settings.Files, loggerFactory, signals.Token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (signals.Interrupted)
        {
            console.Fail("interrupted while the guest was booting; it was stopped and nothing is left behind.");
            return signals.ExitCode;
        }
        catch (GuestPrerequisiteException e)
        {
            console.Fail($"{e.Message} (or run: sudo portal setup)");
            return ExitCodes.Unavailable;
        }
        catch (Exception e) when (e is GuestBuildException or GuestBootException)
        {
            console.Fail(e.Message);
            return ExitCodes.GuestFailure;
        }
        // Ours must run before the handler the guest just registered, which would stop QEMU outright.
        signals.RegisterAgain();

        try
        {
            return await RunInGuestAsync(console, settings, guest, plugins, loggerFactory, signals).ConfigureAwait(false);
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
        ILoggerFactory loggerFactory, InterruptSignals signals)
    {
        PortalSession session;
        try
        {
            session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { LoggerFactory = loggerFactory }, signals.Token)
                .ConfigureAwait(false);
        }
        catch (GuestLostException e)
        {
            console.Fail($"lost the guest before '{settings.Command}' started: {e.Message}");
            return ExitCodes.GuestLost;
        }
        catch (PortalException e)
        {
            console.Fail($"cannot attach to the guest: {e.Message}");
            return ExitCodes.GuestFailure;
        }

        await using (session.ConfigureAwait(false))
        {
            foreach (var plugin in plugins)
            {
                try
                {
                    await session.LoadPluginAsync(plugin, signals.Token).ConfigureAwait(false);
                }
                catch (GuestLostException e)
                {
                    console.Fail($"lost the guest before '{settings.Command}' started: {e.Message}");
                    return ExitCodes.GuestLost;
                }
                catch (Exception e) when (e is ArgumentException or PortalException or TypeInitializationException or TargetInvocationException)
                {
                    var reason = e is TypeInitializationException or TargetInvocationException ? PluginErrors.Describe(e) : e.Message;
                    console.Fail($"cannot register {plugin.GetType().FullName}: {reason}");
                    return ExitCodes.PluginFailure;
                }
            }

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

            // First: it waits for the guest's last verdict reports, which the handler lines count.
            var accounting = commandEnded || signals.Interrupted ? await HandlerReport.AccountAsync(console, session).ConfigureAwait(false) : null;
            foreach (var handler in session.Statistics.Handlers)
                console.Say(HandlerReport.Line(handler));
            if (settings.Verbose)
                console.Say(HandlerReport.Summary(session.Statistics));
            if (accounting is not null && (accounting.Unhandled > 0 || settings.Verbose))
                console.Say(accounting.ToString());
            var unhandled = accounting?.Unhandled ?? -1;
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
