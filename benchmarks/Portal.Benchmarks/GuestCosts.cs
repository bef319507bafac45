using System.Diagnostics;
using System.Globalization;
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
    private const int SyscallCalls = 200_000, IoctlCalls = 50_000, EventCalls = 20_000, Pings = 20_000;

    public static async Task<int> RunAsync()
    {
        Console.WriteLine("Booting the guest without portal.ko (baseline)...");
        double baselineGetppid, baselineIoctl;
        await using (var plain = await QemuGuest.StartAsync(new QemuGuestOptions { LoadPortalModule = false }))
        {
            baselineGetppid = await MedianAsync(plain, "getppid", SyscallCalls);
            baselineIoctl = await MedianAsync(plain, "ioctl", IoctlCalls, "0x7001");
        }

        Console.WriteLine("Booting the guest with portal.ko...");
        await using var guest = await QemuGuest.StartAsync();
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7999)).RegisterAsync(_ => ValueTask.CompletedTask);
        var hookedGetppid = await MedianAsync(guest, "getppid", SyscallCalls);
        var filteredIoctl = await MedianAsync(guest, "ioctl", IoctlCalls, "0x7001");
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7002)).RegisterAsync(_ => ValueTask.CompletedTask, "empty");
        var forwardedIoctl = await MedianAsync(guest, "ioctl", EventCalls, "0x7002");
        var events = session.Statistics.ForHandler("empty").Calls;

        var samples = new double[Pings];
        for (var i = 0; i < Pings; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await session.PingAsync();
            samples[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }
        Array.Sort(samples);

        Console.WriteLine();
        Console.WriteLine($"Guest: {session.Guest.KernelRelease}, {session.Guest.CpuSlots} vCPU, QEMU TCG. Medians; guest-side times from portal-bench.");
        Console.WriteLine();
        Console.WriteLine("| measurement | median | target |");
        Console.WriteLine("| --- | ---: | ---: |");
        Console.WriteLine(Row("one exchange (PING, host-side)", samples[Pings / 2], "≤ 2 µs"));
        Console.WriteLine(Row($"forwarded syscall event, empty handler (ioctl with event − ioctl without portal.ko; {events} events)", forwardedIoctl - baselineIoctl, "≤ 10 µs"));
        Console.WriteLine(Row("added on a non-matching syscall (getppid: portal.ko + a hook elsewhere − no portal.ko)", hookedGetppid - baselineGetppid, "≤ 1 µs"));
        Console.WriteLine(Row("added on a syscall the guest filters out (ioctl, hooked number, filter rejects it)", filteredIoctl - baselineIoctl, ""));
        var (host, qemu) = await IdleCostAsync(guest.QemuProcessId, TimeSpan.FromSeconds(5));
        Console.WriteLine($"| idle, session attached, 5 s: host process / QEMU CPU | {host:P1} / {qemu:P1} of a core | no core burnt |");
        Console.WriteLine();
        Console.WriteLine($"raw medians: getppid {Us(baselineGetppid)} → {Us(hookedGetppid)}; ioctl {Us(baselineIoctl)} → filtered {Us(filteredIoctl)} → forwarded {Us(forwardedIoctl)}");
        return 0;
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

    private static async Task<double> MedianAsync(QemuGuest guest, string call, int count, string? command = null)
    {
        var arguments = command is null ? new[] { "portal-bench", call, count.ToString(CultureInfo.InvariantCulture) }
            : ["portal-bench", call, count.ToString(CultureInfo.InvariantCulture), command];
        var result = await guest.RunAsync(new GuestCommand(arguments));
        var median = result.Output.Split(' ').Select(f => f.Split('=')).FirstOrDefault(f => f[0] == "median_ns");
        if (result.ExitCode != 0 || median is null)
            throw new InvalidOperationException($"portal-bench failed: {result.Output}");
        return double.Parse(median[1], CultureInfo.InvariantCulture) / 1000.0;
    }

    private static string Row(string what, double microseconds, string target) => $"| {what} | {Us(microseconds)} | {target} |";

    private static string Us(double microseconds) => string.Create(CultureInfo.InvariantCulture, $"{microseconds:F2} µs");
}
