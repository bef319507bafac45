using System.Diagnostics.CodeAnalysis;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;
using Portal.Abi;
using Portal.Benchmarks.Handlers;
using Portal.Diagnostics;
using Portal.Testing;

namespace Portal.Benchmarks;

/// <summary>
/// What <c>--trace</c> (a <see cref="ChromeTraceWriter"/> on the session) adds to a handled syscall, on the emulated
/// guest, where the rest of the path costs least and the tracer's share shows most: the batched RAEth handler (one
/// exchange) and IoctlInteraction (two), with and without a trace file.
/// <code>dotnet run -c Release --project benchmarks/Portal.Benchmarks -- --filter '*TraceBenchmarks*'</code>
/// </summary>
[Config(typeof(Config))]
[SuppressMessage("Reliability", "CA1001", Justification = "BenchmarkDotNet's GlobalCleanup disposes the guest and the trace.")]
public class TraceBenchmarks
{
    private const int CallsPerInvocation = 256;

    private EmulatedGuest _guest = null!;
    private PortalSession _session = null!;
    private HandlerPump _pump = null!;
    private ChromeTraceWriter? _trace;
    private string? _tracePath;

    [Params(HandlerScenario.Raeth, HandlerScenario.IoctlInteraction)]
    public HandlerScenario Scenario { get; set; }

    [Params(false, true)]
    public bool Traced { get; set; }

    [GlobalSetup]
    public async Task StartAsync()
    {
        _guest = new EmulatedGuest(GuestAbi.X86_64);
        _guest.AddProgram(PortalBenchProgram.Name, PortalBenchProgram.RunAsync);
        if (Traced)
        {
            _tracePath = Path.Combine(Path.GetTempPath(), $"portal-trace-benchmark-{Environment.ProcessId}.json");
            _trace = ChromeTraceWriter.Create(_tracePath);
        }
        _session = await PortalSession.AttachAsync(_guest.Connection, new PortalSessionOptions { Tracer = _trace });
        var (scenario, command) = Scenario == HandlerScenario.Raeth
            ? ("raeth", (long)Raeth.Raeth.RAETH_ESW_REG_READ)
            : ("ioctl_interaction", 0x89F0L);                          // SIOCDEVPRIVATE
        _pump = await HandlerPump.StartAsync(_guest, _session, scenario, command, ScenarioHandlers.For(Scenario, HandlerStyle.Batched));
    }

    [GlobalCleanup]
    public async Task StopAsync()
    {
        await _pump.StopAsync();
        await _session.DisposeAsync();
        await _guest.DisposeAsync();
        _trace?.Dispose();
        if (_tracePath is not null)
            File.Delete(_tracePath);
    }

    [Benchmark(Description = "handled syscall", OperationsPerInvoke = CallsPerInvocation)]
    public Task Handle() => _pump.WaitForCallsAsync(CallsPerInvocation);

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(15)
                .WithIterationTime(TimeInterval.FromMilliseconds(250))
                .WithEvaluateOverhead(false));
            AddColumn(StatisticColumn.Median);
            AddDiagnoser(MemoryDiagnoser.Default);
            HideColumns(Column.Job, Column.Toolchain, Column.IterationTime, Column.LaunchCount, Column.WarmupCount, Column.IterationCount, Column.EvaluateOverhead);
        }
    }
}

/// <summary>
/// The writer alone: one exchange event (a BATCH of two reads, as RAEth's) and one handler span, serialised to
/// <see cref="Stream.Null"/>: the CPU a trace adds per event, without the guest's noise.
/// <code>dotnet run -c Release --project benchmarks/Portal.Benchmarks -- --filter '*TraceWriterBenchmarks*'</code>
/// </summary>
[MemoryDiagnoser]
[SuppressMessage("Reliability", "CA1001", Justification = "BenchmarkDotNet's GlobalCleanup disposes the writer.")]
public class TraceWriterBenchmarks
{
    private readonly TracedExchange _exchange = new(1, "RAEth", 0, 1_000, Protocol.PortalOp.Batch,
        [new(Protocol.PortalOp.Read, 40, 0x7fff_0000_1000), new(Protocol.PortalOp.Read, 8, 0, ChaseBase: 0, PointerOffset: 16)], 48, 80, null);
    private readonly TracedSyscall _syscall = new(1, 1, 0, "ioctl", Hypersyscalls.SyscallPhase.Return, 101, 101, "mtk7530_switch");
    private readonly TracedHandlerEnd _ending = new(2_000, HandlerOutcome.Answered, "retval=0", 1, 1, null);
    private ChromeTraceWriter _writer = null!;

    [GlobalSetup]
    public void Start() => _writer = new ChromeTraceWriter(Stream.Null);

    [GlobalCleanup]
    public void Stop() => _writer.Dispose();

    [Benchmark(Description = "exchange event")]
    public void Exchange() => _writer.ExchangeEnded(_exchange);

    [Benchmark(Description = "handler span")]
    public void Handler()
    {
        _writer.HandlerStarted(_syscall, "RAEth");
        _writer.HandlerEnded(_syscall, "RAEth", _ending);
    }
}
