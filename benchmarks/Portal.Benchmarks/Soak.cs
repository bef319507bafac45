using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Qemu;

namespace Portal.Benchmarks;

/// <summary>
/// Long runs on the real guest, not CI tests (docs/reliability.md quotes them):
/// <list type="bullet">
/// <item><c>soak [--cpus N] [--events N] [--noise K]</c>: one portal-load per vCPU, pinned, together making
/// N sequence-checked events (each must get its own answer: nothing lost, nothing misrouted) and K
/// non-matching syscalls per event; prints events/s, host CPU and RSS at start and end, and the
/// session's accounting.</item>
/// <item><c>event-cpu</c>: host and QEMU CPU while portal-load makes 1, 15, 100, 1,000 and as many
/// events per second as it can.</item>
/// </list>
/// </summary>
internal static partial class Soak
{
    private const int Command = 0x7001;

    public static async Task<int> RunAsync(string[] args)
    {
        var cpus = Option(args, "--cpus", 1);
        var events = Option(args, "--events", 1_000_000);
        var noise = Option(args, "--noise", 10);
        Console.WriteLine(Invariant($"Soak: {events:N0} events and {(long)events * noise:N0} non-matching syscalls on {cpus} vCPU(s)"));
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Cpus = cpus });
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var answers = await RegisterAnswerAsync(session);
        var (rss0, cpu0) = (RssMiB("self"), CpuSeconds("self"));
        var qemuCpu0 = CpuSeconds(guest.QemuProcessId.ToString(CultureInfo.InvariantCulture));
        Console.WriteLine(Invariant($"start: host RSS {rss0:F1} MiB, GC heap {GC.GetTotalMemory(true) / 1048576.0:F1} MiB"));

        var perCpu = events / cpus;
        var line = string.Join(" & ", Enumerable.Range(0, cpus).Select(cpu =>
            Invariant($"taskset {1 << cpu} portal-load 0x{Command:x} {perCpu} 0 {noise}"))) + "; wait";
        var clock = Stopwatch.StartNew();
        var run = await guest.RunShellAsync(line);
        var elapsed = clock.Elapsed;

        var (rss1, cpu1) = (RssMiB("self"), CpuSeconds("self"));
        var qemuCpu1 = CpuSeconds(guest.QemuProcessId.ToString(CultureInfo.InvariantCulture));
        var loads = LoadLine().Matches(run.Output);
        long handled = 0, unhandled = 0, wrong = 0;
        foreach (Match match in loads)
        {
            handled += long.Parse(match.Groups["handled"].Value, CultureInfo.InvariantCulture);
            unhandled += long.Parse(match.Groups["unhandled"].Value, CultureInfo.InvariantCulture);
            wrong += long.Parse(match.Groups["wrong"].Value, CultureInfo.InvariantCulture);
        }
        var accounting = await session.GetSyscallAccountingAsync();
        var guestCounters = await session.GetGuestStatisticsAsync();
        Console.WriteLine(run.Output.TrimEnd());
        Console.WriteLine(Invariant($"events: {handled:N0} handled, {unhandled:N0} unhandled, {wrong:N0} misrouted, of {perCpu * (long)cpus:N0}; host saw {answers.Statistics.Calls:N0}"));
        Console.WriteLine(Invariant($"time: {elapsed.TotalSeconds:F1} s, {handled / elapsed.TotalSeconds:N0} events/s, {(long)events * noise / elapsed.TotalSeconds:N0} non-matching syscalls/s"));
        Console.WriteLine(Invariant($"CPU: host {(cpu1 - cpu0) / elapsed.TotalSeconds:P0} of a core, QEMU {(qemuCpu1 - qemuCpu0) / elapsed.TotalSeconds:P0}"));
        Console.WriteLine(Invariant($"end: host RSS {rss1:F1} MiB (start {rss0:F1}), GC heap {GC.GetTotalMemory(true) / 1048576.0:F1} MiB"));
        Console.WriteLine(accounting);
        Console.WriteLine(guestCounters);
        var ok = loads.Count == cpus && handled == perCpu * (long)cpus && unhandled == 0 && wrong == 0 && accounting.Unhandled == 0;
        Console.WriteLine(ok ? "PASS: every event handled by its own answer" : "FAIL");
        return ok ? 0 : 1;
    }

    public static async Task<int> EventCpuAsync()
    {
        await using var guest = await QemuGuest.StartAsync();
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        await RegisterAnswerAsync(session);
        await guest.RunAsync(GuestCommand.Of("portal-load", "0x7001", "1000"));     // JIT and first calls out of the way
        Console.WriteLine("| events/s asked | events/s made | host process CPU | QEMU CPU |");
        Console.WriteLine("| ---: | ---: | ---: | ---: |");
        {
            var qemu = guest.QemuProcessId.ToString(CultureInfo.InvariantCulture);
            await Task.Delay(TimeSpan.FromSeconds(2));      // past every spin and back-off phase
            var (host0, qemu0) = (CpuSeconds("self"), CpuSeconds(qemu));
            await Task.Delay(TimeSpan.FromSeconds(5));
            var (host1, qemu1) = (CpuSeconds("self"), CpuSeconds(qemu));
            Console.WriteLine(Invariant($"| 0 (idle, 5 s) | 0 | {(host1 - host0) / 5:P1} | {(qemu1 - qemu0) / 5:P1} |"));
        }
        foreach (var (rate, count) in new[] { (1, 5), (15, 75), (100, 500), (1000, 5000), (0, 200_000) })
        {
            var qemu = guest.QemuProcessId.ToString(CultureInfo.InvariantCulture);
            var (host0, qemu0) = (CpuSeconds("self"), CpuSeconds(qemu));
            var clock = Stopwatch.StartNew();
            var run = await guest.RunAsync(GuestCommand.Of("portal-load", "0x7001", Invariant($"{count}"), Invariant($"{rate}")));
            var seconds = clock.Elapsed.TotalSeconds;
            var (host1, qemu1) = (CpuSeconds("self"), CpuSeconds(qemu));
            var match = LoadLine().Match(run.Output);
            var made = match.Success ? long.Parse(match.Groups["handled"].Value, CultureInfo.InvariantCulture) / seconds : 0;
            Console.WriteLine(Invariant($"| {(rate == 0 ? "as fast as it can" : rate.ToString("N0", CultureInfo.InvariantCulture))} | {made:N0} | {(host1 - host0) / seconds:P1} | {(qemu1 - qemu0) / seconds:P1} |"));
        }
        return 0;
    }

    private static ValueTask<HookRegistration> RegisterAnswerAsync(PortalSession session) =>
        session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(Command)).RegisterAsync(context =>
        {
            context.SkipSyscall = true;
            context.Retval = (long)(context.Args[2] & 0xff_ffff) + 1;      // portal-load checks it is its own call's answer
            return ValueTask.CompletedTask;
        }, "answers");

    private static int Option(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>utime + stime of a process in seconds, from /proc/&lt;pid&gt;/stat (clock ticks of 1/100 s).</summary>
    internal static double CpuSeconds(string pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private static double RssMiB(string pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"portal-load: calls=\d+ handled=(?<handled>\d+) unhandled=(?<unhandled>\d+) wrong=(?<wrong>\d+)")]
    private static partial Regex LoadLine();
}
