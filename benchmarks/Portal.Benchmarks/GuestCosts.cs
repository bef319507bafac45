using System.Diagnostics;
using System.Globalization;
using Portal.Abi;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Qemu;

namespace Portal.Benchmarks;

/// <summary>
/// What Portal costs the guest, timed inside the guest by <c>portal-bench</c> (median of per-call
/// times): a syscall no hook watches, a syscall whose hooks' filters reject it, and a syscall
/// forwarded to an empty C# handler. Baselines come from the same guest booted without portal.ko.
/// Also the host-side median of one exchange.
/// </summary>
internal static class GuestCosts
{
    private const int SyscallCalls = 100_000, IoctlCalls = 30_000, EventCalls = 10_000, Pings = 20_000;

    /// <summary>
    /// portal-bench runs per figure; the lowest median counts. Under TCG a guest has slow phases that
    /// have nothing to do with Portal: on aarch64 one 30,000-call ioctl run had a median of 42.7 µs and
    /// the next, in the same boot, without portal.ko, 1.9 µs.
    /// </summary>
    internal const int Runs = 3;

    /// <summary>One real guest's figures (µs; boot in seconds).</summary>
    private sealed record Costs(GuestAbi Abi, string Kernel, double BootSeconds, double Exchange, double Forwarded, double NonMatching,
        double FilteredOut, double HostIdle, double QemuIdle, string Raw);

    /// <summary><c>guest [--abi NAME|all]</c>: one real guest (default x86_64), or every one in turn, in one run.</summary>
    public static async Task<int> RunAsync(string[] arguments)
    {
        if (ParseAbis(arguments, "guest") is not { } abis)
            return 2;
        var results = new List<Costs>();
        foreach (var abi in abis)
            results.Add(await MeasureAsync(abi));

        Console.WriteLine();
        Console.WriteLine($"QEMU TCG, 1 vCPU; guest-side times from portal-bench: the lowest of {Runs} runs' medians of per-call times.");
        Console.WriteLine();
        Console.WriteLine($"| measurement | {string.Join(" | ", results.Select(r => r.Abi.Name))} | target |");
        Console.WriteLine($"| --- |{string.Concat(results.Select(_ => " ---: |"))} ---: |");
        Row("one exchange (PING, host-side)", r => Us(r.Exchange), "≤ 2 µs");
        Row("forwarded syscall event, empty handler (ioctl with event − ioctl without portal.ko)", r => Us(r.Forwarded), "≤ 10 µs");
        Row("added on a non-matching syscall (getppid: portal.ko + a hook elsewhere − no portal.ko)", r => Us(r.NonMatching), "≤ 1 µs");
        Row("added on a syscall the guest filters out (ioctl, hooked number, filter rejects it)", r => Us(r.FilteredOut), "");
        Row("boot to ready (QEMU start to portal.ko and the agent answering; image cached)",
            r => string.Create(CultureInfo.InvariantCulture, $"{r.BootSeconds:F1} s"), "");
        Row("idle, session attached, 5 s: host process / QEMU CPU, % of a core",
            r => string.Create(CultureInfo.InvariantCulture, $"{r.HostIdle * 100:F1} / {r.QemuIdle * 100:F1}"), "no core burnt");
        Console.WriteLine();
        foreach (var r in results)
            Console.WriteLine($"{r.Abi.Name} ({r.Kernel}) raw medians: {r.Raw}");
        return 0;

        void Row(string what, Func<Costs, string> value, string target) =>
            Console.WriteLine($"| {what} | {string.Join(" | ", results.Select(value))} | {target} |");
    }

    private static async Task<Costs> MeasureAsync(GuestAbi abi)
    {
        Console.WriteLine($"{abi.Name}: booting the guest without portal.ko (baseline)...");
        double baselineGetppid, baselineIoctl;
        await using (var plain = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi, LoadPortalModule = false }))
        {
            baselineGetppid = await MedianAsync(plain, "getppid", SyscallCalls);
            baselineIoctl = await MedianAsync(plain, "ioctl", IoctlCalls, "0x7001");
        }

        Console.WriteLine($"{abi.Name}: booting the guest with portal.ko...");
        var booting = Stopwatch.StartNew();
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi });
        var bootSeconds = booting.Elapsed.TotalSeconds;
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7999)).RegisterAsync(_ => ValueTask.CompletedTask);
        var hookedGetppid = await MedianAsync(guest, "getppid", SyscallCalls);
        var filteredIoctl = await MedianAsync(guest, "ioctl", IoctlCalls, "0x7001");
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7002)).RegisterAsync(_ => ValueTask.CompletedTask, "empty");
        var forwardedIoctl = await MedianAsync(guest, "ioctl", EventCalls, "0x7002");
        var events = session.Statistics.ForHandler("empty").Calls;
        if (events < Runs * EventCalls)
            throw new InvalidOperationException($"{abi.Name}: only {events} of {Runs * EventCalls} calls reached the handler");

        var samples = new double[Pings];
        for (var i = 0; i < Pings; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await session.PingAsync();
            samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }
        Array.Sort(samples);
        var (host, qemu) = await IdleCostAsync(guest.QemuProcessId, TimeSpan.FromSeconds(5));
        return new Costs(abi, session.Guest.KernelRelease, bootSeconds, samples[Pings / 2], forwardedIoctl - baselineIoctl,
            hookedGetppid - baselineGetppid, filteredIoctl - baselineIoctl, host, qemu,
            $"getppid {Us(baselineGetppid)} → {Us(hookedGetppid)}; ioctl {Us(baselineIoctl)} → filtered {Us(filteredIoctl)} → forwarded {Us(forwardedIoctl)}");
    }

    /// <summary>CPU used by this process and by QEMU while nothing happens (the pollers back off).</summary>
    private static async Task<(double Host, double Qemu)> IdleCostAsync(int qemuPid, TimeSpan period)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(300));      // let both pollers leave their spinning phase
        var (host0, qemu0) = (Soak.CpuSeconds("self"), Soak.CpuSeconds(qemuPid.ToString(CultureInfo.InvariantCulture)));
        await Task.Delay(period);
        var (host1, qemu1) = (Soak.CpuSeconds("self"), Soak.CpuSeconds(qemuPid.ToString(CultureInfo.InvariantCulture)));
        return ((host1 - host0) / period.TotalSeconds, (qemu1 - qemu0) / period.TotalSeconds);
    }

    /// <summary><c>[--abi NAME|all]</c>: the real guests to measure (default x86_64), or null after printing the usage.</summary>
    internal static IReadOnlyList<GuestAbi>? ParseAbis(string[] arguments, string command)
    {
        switch (arguments)
        {
            case []:
                return [GuestAbi.X86_64];
            case ["--abi", "all"]:
                return QemuGuest.RealGuestAbis;
            case ["--abi", var name] when GuestAbi.TryParse(name, out var abi) && QemuGuest.RealGuestAbis.Contains(abi):
                return [abi];
            default:
                Console.Error.WriteLine($"usage: {command} [--abi {string.Join('|', QemuGuest.RealGuestAbis.Select(a => a.Name))}|all]");
                return null;
        }
    }

    /// <summary>The lowest of <see cref="Runs"/> medians of portal-bench's per-call times, in µs.</summary>
    private static Task<double> MedianAsync(QemuGuest guest, string call, int count, string? command = null) =>
        MedianAsync(guest, command is null ? [call, count.ToString(CultureInfo.InvariantCulture)]
            : [call, count.ToString(CultureInfo.InvariantCulture), command]);

    /// <summary>The lowest of <see cref="Runs"/> medians of <c>portal-bench ARGUMENTS</c>' per-call times, in µs.</summary>
    internal static async Task<double> MedianAsync(QemuGuest guest, IReadOnlyList<string> benchArguments)
    {
        string[] arguments = ["portal-bench", .. benchArguments];
        var lowest = double.MaxValue;
        for (var run = 0; run < Runs; run++)
        {
            var result = await guest.RunAsync(new GuestCommand(arguments));
            var median = result.Output.Split(' ').Select(f => f.Split('=')).FirstOrDefault(f => f[0] == "median_ns");
            if (result.ExitCode != 0 || median is null)
                throw new InvalidOperationException($"portal-bench failed: {result.Output}");
            lowest = Math.Min(lowest, double.Parse(median[1], CultureInfo.InvariantCulture) / 1000.0);
        }
        return lowest;
    }

    private static string Us(double microseconds) => string.Create(CultureInfo.InvariantCulture, $"{microseconds:F2} µs");
}
