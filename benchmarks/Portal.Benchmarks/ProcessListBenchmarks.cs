using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Portal.Abi;
using Portal.Testing;
using Portal.Testing.Programs;

namespace Portal.Benchmarks;

/// <summary>
/// The process list (QUERY PROCESSES, docs/protocol.md §3.4) with exactly 10 and 200 processes in the
/// guest, and the exchanges each list costs (one per 4056-byte page of records). On the emulated
/// guest, because only there the count is exact: a real guest's kernel threads alone are more than 10
/// (the real guests' numbers come from <c>-- introspection</c>). What this measures is Portal's host
/// side (posting, paging, validating and decoding every record) plus the emulated guest's walk.
/// <code>dotnet run -c Release --project benchmarks/Portal.Benchmarks -- --filter '*ProcessListBenchmarks*'</code>
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
[MemoryDiagnoser, MedianColumn]
[Config(typeof(WithExchangesColumn))]
public class ProcessListBenchmarks
{
    private CrowdedGuest _crowd = null!;

    /// <summary>How many processes the guest has, init and kthreadd included.</summary>
    [Params(10, 200)]
    public int Processes { get; set; }

    /// <summary>
    /// Bytes of argv per process. 40 is a daemon with a few options ("/usr/sbin/httpd -p 80 -h /www").
    /// </summary>
    [Params(40)]
    public int ArgvBytes { get; set; }

    [GlobalSetup]
    public async Task StartAsync() => _crowd = await CrowdedGuest.StartAsync(Processes, ArgvBytes);

    [GlobalCleanup]
    public ValueTask StopAsync() => _crowd.DisposeAsync();

    [Benchmark(Description = "process list")]
    public async Task<int> ListAsync() => (await _crowd.Session.Processes.ListAsync()).Count;

    /// <summary>
    /// An emulated guest with exactly the asked number of processes: init, kthreadd and sleepers whose
    /// argv is padded to the asked length. The sleepers end when it is disposed.
    /// </summary>
    internal sealed class CrowdedGuest : IAsyncDisposable
    {
        private readonly EmulatedGuest _guest;
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<Task> _sleepers = [];

        private CrowdedGuest(EmulatedGuest guest, PortalSession session)
        {
            _guest = guest;
            Session = session;
        }

        public PortalSession Session { get; }

        public static async Task<CrowdedGuest> StartAsync(int processes, int argvBytes)
        {
            var guest = new EmulatedGuest(GuestAbi.X86_64);
            var crowd = new CrowdedGuest(guest, await PortalSession.AttachAsync(guest.Connection));
            var booted = (await crowd.Session.Processes.ListAsync()).Count;
            if (processes < booted)
                throw new ArgumentOutOfRangeException(nameof(processes), $"the emulated guest starts with {booted} processes");
            using var started = new CountdownEvent(processes - booted);
            GuestProgram sleeper = async context =>
            {
                started.Signal();
                await crowd._release.Task.WaitAsync(context.CancellationToken);
                return 0;
            };
            for (var i = booted; i < processes; i++)
            {
                // argv = "sleeper\0NNN\0xxx…\0": argvBytes long in total.
                var padding = new string('x', Math.Max(1, argvBytes - "sleeper\0NNN\0\0".Length));
                crowd._sleepers.Add(guest.RunAsync(sleeper, ["sleeper", $"{i:D3}", padding]));
            }
            if (!started.Wait(TimeSpan.FromSeconds(30)))
                throw new TimeoutException("the sleepers did not start");
            var listed = (await crowd.Session.Processes.ListAsync()).Count;
            if (listed != processes)
                throw new InvalidOperationException($"the guest lists {listed} processes, not {processes}");
            return crowd;
        }

        public async ValueTask DisposeAsync()
        {
            _release.TrySetResult();
            await Task.WhenAll(_sleepers);
            await Session.DisposeAsync();
            await _guest.DisposeAsync();
        }
    }

    /// <summary>Adds "Exchanges": what one list costs in exchanges, counted by the session on a fresh guest of the same size.</summary>
    private sealed class WithExchangesColumn : ManualConfig
    {
        public WithExchangesColumn() => AddColumn(new ComputedColumn("Exchanges", 0,
            "Exchanges one process list took (QUERY and its pages), counted by PortalSession.Statistics", (_, c) => CountExchanges(c)));
    }

    private static string CountExchanges(BenchmarkCase benchmarkCase)
    {
        var processes = (int)benchmarkCase.Parameters[nameof(Processes)]!;
        var argvBytes = (int)benchmarkCase.Parameters[nameof(ArgvBytes)]!;
        return CountAsync(processes, argvBytes).GetAwaiter().GetResult().ToString(System.Globalization.CultureInfo.InvariantCulture);

        static async Task<long> CountAsync(int processes, int argvBytes)
        {
            await using var crowd = await CrowdedGuest.StartAsync(processes, argvBytes);
            var before = crowd.Session.Statistics.ControlExchanges;
            await crowd.Session.Processes.ListAsync();
            return crowd.Session.Statistics.ControlExchanges - before;
        }
    }
}
