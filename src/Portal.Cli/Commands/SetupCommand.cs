using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Portal.Cli.Terminal;
using Portal.Headers;
using Portal.Qemu;
using Portal.Qemu.Hosting;
using Portal.Qemu.Image;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal setup [--check]</c>: checks what the QEMU guest and the header tool need, installs what is
/// missing (the set-up scripts: Debian, apt, root), builds the guest image into the cache and boots it
/// once to prove portal.ko answers. <c>--check</c> only reports. Exits 0 when everything is ready,
/// <see cref="ExitCodes.Unavailable"/> when something is still missing, <see cref="ExitCodes.GuestFailure"/>
/// when the guest does not build or boot.
/// </summary>
internal static class SetupCommand
{
    public static Command Create(CliConsole console)
    {
        var check = new Option<bool>("--check") { Description = "Only report what is installed and what is missing; change nothing." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log what Portal does, from debug level up." };
        var setup = new Command("setup", "Check and install the prerequisites (as root), build the guest image, and boot it once.") { check, verbose };
        setup.SetAction(async (parse, _) => await RunAsync(console, parse.GetValue(check), parse.GetValue(verbose)).ConfigureAwait(false));
        return setup;
    }

    private static async Task<int> RunAsync(CliConsole console, bool checkOnly, bool verbose)
    {
        var missing = Check(console);
        if (missing && checkOnly)
        {
            console.Fail("some prerequisites are missing: run portal setup as root to install them.");
            return ExitCodes.Unavailable;
        }
        if (missing)
        {
            if (!IsRoot())
            {
                console.Fail("installing the missing packages needs root (apt-get): run sudo portal setup, or sudo scripts/setup.sh from the repository.");
                return ExitCodes.Unavailable;
            }
            var (status, tail) = await console.StepAsync("Installing the missing Debian packages (apt-get)", () => InstallAsync(console)).ConfigureAwait(false);
            if (status != 0)
            {
                console.Fail($"the set-up script failed (exit status {status}):\n{tail}");
                return ExitCodes.Unavailable;
            }
            if (Check(console))
            {
                console.Fail("still missing after the set-up script ran (see above).");
                return ExitCodes.Unavailable;
            }
        }
        if (checkOnly)
            return ExitCodes.Success;

        using var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(new CliLoggerProvider(console, verbose)));
        var options = new QemuGuestOptions { LoggerFactory = loggerFactory };
        try
        {
            var image = await console.StepAsync("Building the guest image (portal.ko, the guest programs, the initramfs)",
                () => QemuGuest.PrepareImageAsync(options)).ConfigureAwait(false);
            console.Say($"ok    guest image for kernel {image.KernelVersion}{(image.FromCache ? " (cached)" : " (built)")}");
            var (bootTime, info) = await console.StepAsync("Booting the guest once to check that portal.ko answers", async () =>
            {
                await using var guest = await QemuGuest.StartAsync(options).ConfigureAwait(false);
                await using var session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { LoggerFactory = loggerFactory })
                    .ConfigureAwait(false);
                await session.PingAsync().ConfigureAwait(false);
                return (guest.BootTime, session.Guest);
            }).ConfigureAwait(false);
            console.Say(string.Create(CultureInfo.InvariantCulture,
                $"ok    the guest boots in {bootTime.TotalSeconds:F1} s; portal.ko answers (protocol {info.ProtocolVersion}, kernel {info.KernelRelease}, {info.CpuSlots} vCPU slot(s))"));
        }
        catch (GuestPrerequisiteException e)
        {
            console.Fail(e.Message);
            return ExitCodes.Unavailable;
        }
        catch (Exception e) when (e is GuestBuildException or GuestBootException or PortalException)
        {
            console.Fail(e.Message);
            return ExitCodes.GuestFailure;
        }
        console.Say("Ready. Try: portal run -- mtk7530_switch table_del");
        return ExitCodes.Success;
    }

    /// <summary>Reports each part; true when something is missing.</summary>
    private static bool Check(CliConsole console)
    {
        var missing = false;
        foreach (var abi in QemuGuest.RealGuestAbis)
        {
            try
            {
                var kernel = GuestPrerequisites.Check(abi);
                console.Say($"ok    QEMU {abi.Name} guest: kernel {kernel.Version} with headers, busybox, QEMU, build tools");
            }
            catch (GuestPrerequisiteException e)
            {
                console.Say($"MISSING  QEMU {abi.Name} guest: {e.Message}");
                missing = true;
            }
        }
        var firmwareTools = GuestPrerequisites.MissingFirmwareTools();
        if (firmwareTools.Count == 0)
            console.Say("ok    firmware images (--rootfs): tar, sqfs2tar, binwalk");
        else
            console.Say($"MISSING  firmware images (--rootfs): {string.Join(", ", firmwareTools)}");
        missing |= firmwareTools.Count > 0;
        var problems = HeaderToolchain.FindProblems();
        if (problems.Count == 0)
            console.Say($"ok    headers: libclang 14, its builtin headers, the sysroots of {string.Join(", ", HeaderAbi.Names)}");
        foreach (var problem in problems)
            console.Say($"MISSING  headers: {problem}");
        return missing || problems.Count > 0;
    }

    /// <summary>Runs scripts/setup.sh (shipped next to portal), its output shown as progress; returns its status and last lines.</summary>
    private static async Task<(int Status, string Tail)> InstallAsync(CliConsole console)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "scripts", "setup.sh");
        using var process = new Process
        {
            StartInfo = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true },
        };
        var tail = new Queue<string>();
        void OnLine(string? line)
        {
            if (line is null)
                return;
            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > 20)
                    tail.Dequeue();
            }
            console.Report(line);
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await process.WaitForExitAsync().ConfigureAwait(false);
        lock (tail)
            return (process.ExitCode, string.Join('\n', tail));
    }

    /// <summary>The effective user id is 0 (read from /proc: no native call needed).</summary>
    private static bool IsRoot()
    {
        var uid = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        var fields = uid?.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        return fields is { Length: > 2 } && fields[2] == "0";
    }
}
