using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Portal.Benchmarks.Raeth;
using Portal.Hypersyscalls;
using Portal.Qemu;
using Portal.Typed;

namespace Portal.Benchmarks;

/// <summary>
/// What rehosting a firmware costs (docs/rehosting.md), for Portal's demo firmware or a given root
/// filesystem: preparing the guest image (the firmware's initramfs written, then cached), booting to
/// ready, and the firmware's own boot once its init starts — to the first rcS line, and to "boot
/// complete" with the RAEth handler (exchanges per handled call). Seconds-long steps are timed with a
/// stopwatch, several runs, medians; BenchmarkDotNet is for the microsecond figures.
/// </summary>
internal static class FirmwareCosts
{
    private const int Runs = 5;
    private static readonly Regex FirstRcsLine = new("^rcS: ", RegexOptions.CultureInvariant);
    private static readonly Regex BootComplete = new("boot complete", RegexOptions.CultureInvariant);

    /// <summary><c>firmware [--abi NAME] [--rootfs PATH]</c> (default: the mipsel demo firmware, built here).</summary>
    public static async Task<int> RunAsync(string[] arguments)
    {
        var abi = "mipsel";
        string? rootfs = null;
        for (var i = 0; i + 1 < arguments.Length; i += 2)
        {
            switch (arguments[i])
            {
                case "--abi" when QemuGuest.RealGuestAbis.Any(a => a.Name == arguments[i + 1]):
                    abi = arguments[i + 1];
                    break;
                case "--rootfs":
                    rootfs = arguments[i + 1];
                    break;
                default:
                    Console.Error.WriteLine("usage: firmware [--abi x86_64|mipsel|aarch64|armel] [--rootfs PATH]");
                    return 2;
            }
        }
        if (arguments.Length % 2 != 0)
        {
            Console.Error.WriteLine("usage: firmware [--abi x86_64|mipsel|aarch64|armel] [--rootfs PATH]");
            return 2;
        }
        var scratch = Directory.CreateTempSubdirectory("portal-firmware-costs-").FullName;
        try
        {
            rootfs ??= BuildDemoFirmware(abi, scratch);
            var cache = Path.Combine(scratch, "cache");
            var options = new QemuGuestOptions { Firmware = new FirmwareOptions(rootfs), CacheDirectory = cache };
            var firstImage = await Time(() => QemuGuest.PrepareImageAsync(options));     // builds portal.ko and the programs too
            var written = new List<double>();
            var cached = new List<double>();
            for (var run = 0; run < Runs; run++)
            {
                foreach (var initramfs in Directory.GetFiles(cache, "initramfs-*", SearchOption.AllDirectories))
                    File.Delete(initramfs);
                written.Add(await Time(() => QemuGuest.PrepareImageAsync(options)));
                cached.Add(await Time(() => QemuGuest.PrepareImageAsync(options)));
            }

            var ready = new List<double>();
            var firstLine = new List<double>();
            var complete = new List<double>();
            var exchanges = new List<long>();
            for (var run = 0; run < Runs; run++)
            {
                var started = Stopwatch.GetTimestamp();
                await using var guest = await QemuGuest.StartAsync(options);
                ready.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                await using var session = await PortalSession.AttachAsync(guest.Connection);
                await session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(Raeth.Raeth.RAETH_ESW_REG_READ))
                    .RegisterAsync(AnswerRegisterReadAsync, "RAEth");
                started = Stopwatch.GetTimestamp();
                await guest.BootFirmwareAsync();
                await guest.WaitForConsoleAsync(FirstRcsLine);
                firstLine.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                await guest.WaitForConsoleAsync(BootComplete, limit.Token);
                complete.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                var handler = session.Statistics.Handlers.Single();
                exchanges.Add(handler.Calls == 0 ? -1 : handler.Exchanges / handler.Calls);
            }

            Console.WriteLine();
            Console.WriteLine($"{rootfs} on the {abi} guest (QEMU TCG, 1 vCPU); medians of {Runs} runs (min–max).");
            Console.WriteLine();
            Console.WriteLine("| step | time |");
            Console.WriteLine("| --- | ---: |");
            Console.WriteLine($"| first image: portal.ko and the programs built, the firmware's initramfs written | {Seconds([firstImage])} |");
            Console.WriteLine($"| image with the firmware's initramfs written (reading the firmware included) | {Seconds(written)} |");
            Console.WriteLine($"| image cached (reading the firmware included) | {Seconds(cached)} |");
            Console.WriteLine($"| boot to ready (QEMU start to portal.ko and the agent answering) | {Seconds(ready)} |");
            Console.WriteLine($"| init started → first rcS line on the host | {Seconds(firstLine)} |");
            Console.WriteLine($"| init started → \"boot complete\" (RAEth handler) | {Seconds(complete)} |");
            Console.WriteLine($"| exchanges per handled ioctl | {string.Join(", ", exchanges.Distinct())} |");
            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>The RAEth sample's handler: one exchange, the register value and the return value on the verdict.</summary>
    private static async ValueTask AnswerRegisterReadAsync(SyscallContext syscall)
    {
        var (_, reg) = await syscall.Memory.At<Ifreq>(syscall.Args[2]).LoadAsync(p => p.IfrData.Deref<EswReg>());
        reg.Val = reg.Off == Raeth.Raeth.REG_ESW_WT_MAC_AD0 ? 0x2u : 0x10173u;
        syscall.Retval = 0;
    }

    private static async Task<double> Time<T>(Func<Task<T>> step)
    {
        var started = Stopwatch.GetTimestamp();
        await step();
        return Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static string Seconds(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        var median = sorted[sorted.Count / 2];
        return sorted.Count == 1
            ? string.Create(CultureInfo.InvariantCulture, $"{median:F2} s")
            : string.Create(CultureInfo.InvariantCulture, $"{median:F2} s ({sorted[0]:F2}–{sorted[^1]:F2})");
    }

    /// <summary>The demo firmware, built by the repository's script.</summary>
    private static string BuildDemoFirmware(string abi, string scratch)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "scripts", "build-demo-firmware.sh")))
            directory = directory.Parent;
        var script = directory is null
            ? throw new FileNotFoundException("scripts/build-demo-firmware.sh not found above the benchmark; pass --rootfs.")
            : Path.Combine(directory.FullName, "scripts", "build-demo-firmware.sh");
        var output = Path.Combine(scratch, $"demo-{abi}.sqfs");
        using var build = Process.Start("bash", [script, abi, output])!;
        build.WaitForExit();
        return build.ExitCode == 0 ? output : throw new InvalidOperationException($"build-demo-firmware.sh {abi} failed (exit {build.ExitCode})");
    }
}
