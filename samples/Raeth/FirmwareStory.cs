using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Portal.Qemu;

namespace Portal.Samples.TpLink;

/// <summary>
/// The seed's story with a firmware's own userland: its init scripts stall polling the switch
/// ("swRegRead") until a handler answers the Ralink driver's register reads, and then the boot completes.
/// The firmware is Portal's demo firmware (scripts/build-demo-firmware.sh: Debian's glibc and busybox for
/// mipsel, the switch tool, an rcS that waits for the switch) unless a root filesystem is given.
/// </summary>
internal static class FirmwareStory
{
    private static readonly Regex BootComplete = new("boot complete", RegexOptions.CultureInvariant);
    private static readonly TimeSpan StallWindow = TimeSpan.FromSeconds(12);

    public static async Task<int> RunAsync(string? rootfs, ILoggerFactory loggerFactory)
    {
        rootfs ??= BuildDemoFirmware();
        var stalled = await BootAsync(rootfs, plugin: null, "no handler");
        var booted = await BootAsync(rootfs, new RaethPlugin(loggerFactory.CreateLogger("RAEth")), "the RAEth plugin");
        return !stalled && booted ? 0 : 1;
    }

    /// <summary>Boots the firmware, hooks first; true when its console said "boot complete" within the window.</summary>
    private static async Task<bool> BootAsync(string rootfs, object? plugin, string title)
    {
        Console.WriteLine();
        Console.WriteLine($"-- booting the firmware ({rootfs}) with {title}:");
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions
        {
            Firmware = new FirmwareOptions(rootfs),
            ConsoleLine = line => Console.WriteLine($"  [console] {line}"),
        });
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        if (plugin is not null)
            await session.LoadPluginAsync(plugin);
        await guest.BootFirmwareAsync();
        using var window = new CancellationTokenSource(StallWindow);
        try
        {
            await guest.WaitForConsoleAsync(BootComplete, window.Token);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine($"  the boot stalled: no \"boot complete\" within {StallWindow.TotalSeconds:F0} s");
            return false;
        }
        foreach (var handler in session.Statistics.Handlers)
            Console.WriteLine($"  handler {handler.Name}: calls={handler.Calls} exchanges={handler.Exchanges}");
        return true;
    }

    /// <summary>The demo firmware for mipsel, built by the repository's script into a temporary directory.</summary>
    private static string BuildDemoFirmware()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "scripts", "build-demo-firmware.sh")))
            directory = directory.Parent;
        if (directory is null)
            throw new FileNotFoundException("scripts/build-demo-firmware.sh was not found above this sample; pass a root filesystem: --firmware <path>.");
        var output = Path.Combine(Path.GetTempPath(), $"portal-demo-firmware-mipsel-{Environment.ProcessId}.sqfs");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(output);
        Console.WriteLine("Building the demo firmware (Debian's mipsel glibc and busybox, the switch tool, an rcS that waits for the switch)...");
        using var build = Process.Start("bash", [Path.Combine(directory.FullName, "scripts", "build-demo-firmware.sh"), "mipsel", output])!;
        build.WaitForExit();
        return build.ExitCode == 0 ? output : throw new InvalidOperationException($"build-demo-firmware.sh failed (exit {build.ExitCode}); run scripts/setup.sh.");
    }
}
