using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Portal.Abi;
using Portal.Guests;
using Portal.Qemu;
using Portal.Testing;

namespace Portal.Benchmarks;

/// <summary>
/// One exchange (PING on the control slot: the host posts, the guest answers) on the emulated guest
/// and on the real guest (QEMU TCG, portal.ko). This is the unit every Portal operation costs.
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
[MemoryDiagnoser, MedianColumn]
public class ExchangeBenchmarks
{
    private IGuest _guest = null!;
    private PortalSession _session = null!;

    [Params("emulated", "qemu")]
    public string Guest { get; set; } = "";

    [GlobalSetup]
    public async Task BootAsync()
    {
        _guest = Guest == "qemu" ? await QemuGuest.StartAsync() : new EmulatedGuest(GuestAbi.X86_64);
        _session = await PortalSession.AttachAsync(_guest.Connection);
        for (var i = 0; i < 2_000; i++)          // keep the guest's control thread in its spinning phase
            await _session.PingAsync();
    }

    [GlobalCleanup]
    public async Task ShutDownAsync()
    {
        await _session.DisposeAsync();
        await _guest.DisposeAsync();
    }

    [Benchmark(Description = "PING (one exchange)")]
    public ValueTask Exchange() => _session.PingAsync();
}
