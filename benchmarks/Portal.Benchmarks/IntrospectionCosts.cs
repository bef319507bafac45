using System.Diagnostics;
using System.Globalization;
using Portal.Abi;
using Portal.Guests;
using Portal.Qemu;

namespace Portal.Benchmarks;

/// <summary>
/// What introspection costs on real guests (docs/protocol.md §3.4): the process list with the guest as
/// it boots and with 200 processes in all, a process's mappings and file descriptors, and a procfs file.
/// (A real guest cannot have 10: its kernel threads alone are more; ProcessListBenchmarks measures 10
/// and 200 exactly on the emulated guest.)
/// Host-side medians of whole calls (QUERY and its pages), and the exchanges each call took, counted by
/// the session. The variants of one guest are measured interleaved, round by round, so a slow phase of
/// TCG hits them alike.
/// </summary>
internal static class IntrospectionCosts
{
    private const int Rounds = 15, CallsPerRound = 10, CrowdedProcesses = 200;

    private sealed record Measure(string What, Func<PortalSession, Task<int>> Call)
    {
        public List<double> Micros { get; } = [];
        public List<double> Exchanges { get; } = [];
        public int Items { get; set; }
    }

    /// <summary><c>introspection [--abi NAME|all]</c>.</summary>
    public static async Task<int> RunAsync(string[] arguments)
    {
        if (GuestCosts.ParseAbis(arguments, "introspection") is not { } abis)
            return 2;
        foreach (var abi in abis)
            await MeasureAsync(abi);
        return 0;
    }

    private static async Task MeasureAsync(GuestAbi abi)
    {
        Console.WriteLine($"{abi.Name}: booting the guest...");
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi });
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var booted = (await session.Processes.ListAsync()).Count;
        var measures = new List<Measure>
        {
            new($"process list, {booted} processes (as booted)", async s => (await s.Processes.ListAsync()).Count),
            new("mappings of pid 1", async s => (await s.Processes.GetMappingsAsync(1)).Count),
            new("file descriptors of pid 1", async s => (await s.Processes.GetFileDescriptorsAsync(1)).Count),
            new("/proc/version read whole", async s => (await s.Files.ReadAllBytesAsync("/proc/version")).Length),
        };
        await RoundsAsync(session, measures);

        // Sleepers with their output elsewhere, so the agent's command ends at once.
        var extra = CrowdedProcesses - booted;
        var spawn = await guest.RunAsync(GuestCommand.Of("sh", "-c",
            string.Create(CultureInfo.InvariantCulture, $"i=0; while [ $i -lt {extra} ]; do sleep 100000 </dev/null >/dev/null 2>&1 & i=$((i+1)); done")));
        if (spawn.ExitCode != 0)
            throw new InvalidOperationException($"could not start {extra} processes: {spawn.Output}");
        var crowded = (await session.Processes.ListAsync()).Count;
        var more = new List<Measure> { new($"process list, {crowded} processes (+{crowded - booted} sleepers)", async s => (await s.Processes.ListAsync()).Count) };
        await RoundsAsync(session, more);
        measures.InsertRange(1, more);

        Console.WriteLine();
        Console.WriteLine($"{abi.Name} (QEMU TCG, 1 vCPU, {guest.Abi.Name}): median of {Rounds * CallsPerRound} calls per row, host-side, interleaved rounds.");
        Console.WriteLine();
        Console.WriteLine("| call | median µs | exchanges per call | items |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (var m in measures)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {m.What} | {Median(m.Micros):F0} | {m.Exchanges.Average():F1} | {m.Items} |"));
        Console.WriteLine();
    }

    private static async Task RoundsAsync(PortalSession session, List<Measure> measures)
    {
        foreach (var m in measures)
            m.Items = await m.Call(session);     // warm up: JIT, the guest's caches
        for (var round = 0; round < Rounds; round++)
        {
            foreach (var m in measures)
            {
                for (var call = 0; call < CallsPerRound; call++)
                {
                    var before = session.Statistics.ControlExchanges;
                    var started = Stopwatch.GetTimestamp();
                    m.Items = await m.Call(session);
                    m.Micros.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    m.Exchanges.Add(session.Statistics.ControlExchanges - before);
                }
            }
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
