using System.CommandLine;
using Portal.Channels;
using Portal.Cli.Running;
using Portal.Cli.Terminal;
using Portal.Guests;
using Portal.Qemu;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal guest shell [--abi A] [--cpus N] [--kernel-arg arg]… [--no-module] [--file host:/guest/path]… [-v]</c>:
/// boots the guest as Portal does, shows its console, then runs each line read from stdin as a command in the
/// guest (busybox sh), its output on stdout, until end of input, a line <c>exit</c>, Ctrl-C or the guest's end.
/// Nothing is attached to portal.ko: a place to look around the guest by hand. Exits with the last command's
/// status (0 when none ran), or as <c>portal run</c> does when the guest could not boot or was lost.
/// </summary>
internal static class GuestShellCommand
{
    /// <summary>Validated arguments.</summary>
    private sealed record Settings(GuestImageOptions.Choice Image, int Cpus, IReadOnlyList<string> KernelArguments, bool LoadPortalModule, bool Verbose);

    public static Command Create(CliConsole console)
    {
        var image = new GuestImageOptions();
        var cpus = new Option<int>("--cpus")
        {
            Description = "The number of vCPUs (default 1; the mipsel guest runs only one).",
            DefaultValueFactory = _ => 1,
        };
        var kernelArguments = new Option<string[]>("--kernel-arg")
        {
            Description = "An extra kernel command-line argument, e.g. portal.host_timeout_ms=500 (repeatable; portal.NAME=VALUE ones go to portal.ko).",
            HelpName = "arg",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var noModule = new Option<bool>("--no-module") { Description = "Boot without portal.ko (kernel argument portal.noload)." };
        var shell = new Command("shell", "Boot the guest with its console shown, and run each line typed (or read from stdin) as a command in it.");
        foreach (var option in image.All.Concat([cpus, kernelArguments, noModule]))
            shell.Options.Add(option);
        shell.SetAction(async (parse, _) =>
        {
            Settings settings;
            try
            {
                var count = parse.GetValue(cpus);
                if (count < 1)
                    throw new ArgumentException($"--cpus {count}: give at least 1");
                settings = new Settings(image.Read(parse), count, parse.GetValue(kernelArguments) ?? [], !parse.GetValue(noModule), parse.GetValue(image.Verbose));
            }
            catch (ArgumentException e)
            {
                console.Fail(e.Message);
                return ExitCodes.Usage;
            }
            return await ShellAsync(console, settings).ConfigureAwait(false);
        });
        return shell;
    }

    private static async Task<int> ShellAsync(CliConsole console, Settings settings)
    {
        using var signals = new InterruptSignals();
        using var loggerFactory = GuestSteps.CreateLoggerFactory(console, settings.Verbose);
        var options = new QemuGuestOptions
        {
            Abi = settings.Image.Abi, KernelVersion = settings.Image.KernelVersion, Files = settings.Image.Files, Cpus = settings.Cpus,
            KernelArguments = settings.KernelArguments, LoadPortalModule = settings.LoadPortalModule, ConsoleLine = console.Say, LoggerFactory = loggerFactory,
        };
        IGuest? guest;
        int startFailure;
        try
        {
            (guest, startFailure) = await GuestSteps.StartAsync(console, $"Booting the {settings.Image.Abi.Name} QEMU guest",
                async () => await QemuGuest.StartAsync(options, signals.Token).ConfigureAwait(false), signals).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            // The options checked against the guest's machine (--cpus 2 on mipsel): an argument error, said without .NET's parameter name.
            var end = e.Message.IndexOf(" (Parameter ", StringComparison.Ordinal);
            console.Fail(end < 0 ? e.Message : e.Message[..end]);
            return ExitCodes.Usage;
        }
        if (guest is null)
            return startFailure;
        try
        {
            return await RunLinesAsync(console, (QemuGuest)guest, signals).ConfigureAwait(false);
        }
        finally
        {
            await console.StepAsync("Shutting the guest down", () => guest.DisposeAsync().AsTask()).ConfigureAwait(false);
        }
    }

    /// <summary>Reads and runs command lines until the input ends or <c>exit</c>; returns the last one's status.</summary>
    private static async Task<int> RunLinesAsync(CliConsole console, QemuGuest guest, InterruptSignals signals)
    {
        var status = ExitCodes.Success;
        var interrupted = Task.Delay(Timeout.Infinite, signals.Token);
        while (true)
        {
            if (console.InputIsTerminal)
            {
                await console.Error.WriteAsync($"{guest.Abi.Name}$ ").ConfigureAwait(false);
                await console.Error.FlushAsync().ConfigureAwait(false);
            }
            // A terminal's ReadLine cannot be cancelled: it is left behind when Ctrl-C or the guest's end comes first.
            var read = Task.Run(console.In.ReadLine);
            var first = await Task.WhenAny(read, guest.Lost, interrupted).ConfigureAwait(false);
            if (first != read)
                return first == guest.Lost && guest.Lost.IsCompletedSuccessfully ? Lost(console, (await guest.Lost.ConfigureAwait(false)).Message) : Interrupted(console, signals);
            var line = (await read.ConfigureAwait(false))?.Trim();
            if (line is null or "exit")
                return status;
            if (line.Length == 0)
                continue;
            try
            {
                var result = await guest.RunShellAsync(line, chunk =>
                {
                    console.Out.Write(chunk);
                    console.Out.Flush();
                }, signals.Token).ConfigureAwait(false);
                status = result.ExitCode;
                if (status != 0)
                    console.Say($"portal: '{line}' exited with status {status}");
            }
            catch (OperationCanceledException) when (signals.Interrupted)
            {
                return Interrupted(console, signals);
            }
            catch (Exception e) when (e is PortalException or IOException)
            {
                // GuestLostException says what happened (the panic text, how QEMU ended); anything else broke the link to the guest.
                return Lost(console, e.Message);
            }
        }
    }

    private static int Interrupted(CliConsole console, InterruptSignals signals)
    {
        console.Fail("interrupted.");
        return signals.ExitCode;
    }

    private static int Lost(CliConsole console, string reason)
    {
        console.Fail($"lost the guest: {reason}");
        return ExitCodes.GuestLost;
    }
}
