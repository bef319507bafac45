using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;
using Portal.Abi;
using Portal.Benchmarks.Bench;
using Portal.Benchmarks.Handlers;
using Portal.Guests;
using Portal.Qemu;
using Portal.Testing;

namespace Portal.Benchmarks;

/// <summary>
/// One handled syscall per operation, for each scenario written seed-style and batched, on the
/// emulated guest and on the real x86_64 and mipsel guests (QEMU TCG, portal.ko): the guest calls in a loop, the
/// session runs the handler on each call, and the time is the interval between handled calls (the
/// handler, the verdict, the guest's next call reaching the host). The Exchanges column is counted,
/// not estimated: the exchanges each handled call spent (a range if they differed).
/// <code>dotnet run -c Release --project benchmarks/Portal.Benchmarks -- --filter '*HandlerBenchmarks*'</code>
/// </summary>
[Config(typeof(Config))]
public class HandlerBenchmarks
{
    /// <summary>Exchanges per handled call, by case, filled at the end of each case (the benchmarks run in this process).</summary>
    private static readonly ConcurrentDictionary<string, (long Min, long Max)> ExchangesByCase = new();

    private IGuest _guest = null!;
    private PortalSession _session = null!;
    private HandlerPump _pump = null!;

    /// <summary>"emulated", or the ABI of a real guest: x86_64, and mipsel, the Archer C20's.</summary>
    [Params("emulated", "x86_64", "mipsel")]
    public string Guest { get; set; } = "";

    [ParamsAllValues]
    public HandlerScenario Scenario { get; set; }

    [ParamsAllValues]
    public HandlerStyle Style { get; set; }

    [GlobalSetup]
    public async Task StartAsync()
    {
        if (Guest != "emulated")
        {
            // TCG hiccups must not time a call out: allow the longest hold.
            _guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = GuestAbi.Parse(Guest), HostTimeout = TimeSpan.FromSeconds(10) });
        }
        else
        {
            var emulated = new EmulatedGuest(GuestAbi.X86_64);
            emulated.AddProgram(PortalBenchProgram.Name, PortalBenchProgram.RunAsync);
            _guest = emulated;
        }
        _session = await PortalSession.AttachAsync(_guest.Connection);
        var command = Scenario switch
        {
            HandlerScenario.Raeth => Raeth.Raeth.RAETH_ESW_REG_READ,
            HandlerScenario.IoctlInteraction => 0x89F0,                         // SIOCDEVPRIVATE
            _ => PortalBench.BENCH_HANDLER_CMD,
        };
        _pump = await HandlerPump.StartAsync(_guest, _session, Scenario.ToString().ToLowerInvariant() switch
        {
            "ioctlinteraction" => "ioctl_interaction",
            var name => name,
        }, command, ScenarioHandlers.For(Scenario, Style));
    }

    [GlobalCleanup]
    public async Task StopAsync()
    {
        ExchangesByCase[Key(Guest, Scenario, Style)] = _pump.Exchanges;
        await _pump.StopAsync();
        await _session.DisposeAsync();
        await _guest.DisposeAsync();
    }

    /// <summary>Calls per invocation: the two thread wake-ups between runs (tens of µs) are spread over them.</summary>
    private const int CallsPerInvocation = 256;

    [Benchmark(Description = "handled syscall", OperationsPerInvoke = CallsPerInvocation)]
    public Task Handle() => _pump.WaitForCallsAsync(CallsPerInvocation);

    private static string Key(object guest, object scenario, object style) => $"{guest}/{scenario}/{style}";

    private static string Key(BenchmarkCase benchmarkCase) =>
        Key(benchmarkCase.Parameters[nameof(Guest)], benchmarkCase.Parameters[nameof(Scenario)], benchmarkCase.Parameters[nameof(Style)]);

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In process: the exchange counts are read from this process's memory by the column below.
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(15)
                .WithIterationTime(TimeInterval.FromMilliseconds(250))
                .WithEvaluateOverhead(false));                                    // µs-scale work: the ns overhead is noise
            AddColumn(StatisticColumn.Median,
                new ComputedColumn("Exchanges", 0, "Guest round trips per handled call (the verdict not included), counted by the session", (_, c) => Exchanges(c)),
                new ComputedColumn("vs seed-style", 1, "Median time relative to the seed-style handler of the same scenario on the same guest", VersusSeedStyle));
            AddDiagnoser(MemoryDiagnoser.Default);
            HideColumns(Column.Job, Column.Toolchain, Column.IterationTime, Column.LaunchCount, Column.WarmupCount, Column.IterationCount, Column.EvaluateOverhead);
        }
    }

    /// <summary>Exchanges per handled call, as counted by the session.</summary>
    private static string Exchanges(BenchmarkCase benchmarkCase) =>
        ExchangesByCase.TryGetValue(Key(benchmarkCase), out var range)
            ? range.Min == range.Max ? $"{range.Min}" : $"{range.Min}–{range.Max}"
            : "?";

    /// <summary>Median of this case over the median of the same scenario, seed-style, on the same guest.</summary>
    private static string VersusSeedStyle(Summary summary, BenchmarkCase benchmarkCase)
    {
        var seedStyle = summary.BenchmarksCases.FirstOrDefault(other =>
            Equals(other.Parameters[nameof(Guest)], benchmarkCase.Parameters[nameof(Guest)]) &&
            Equals(other.Parameters[nameof(Scenario)], benchmarkCase.Parameters[nameof(Scenario)]) &&
            Equals(other.Parameters[nameof(Style)], HandlerStyle.SeedStyle));
        var mine = summary[benchmarkCase]?.ResultStatistics?.Median;
        var theirs = seedStyle is null ? null : summary[seedStyle]?.ResultStatistics?.Median;
        return mine is null || theirs is null or 0 ? "?" : $"{mine / theirs:F2}";
    }
}
