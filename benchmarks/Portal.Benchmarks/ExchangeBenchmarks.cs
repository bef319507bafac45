using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Portal.Abi;
using Portal.Guests;
using Portal.Qemu;
using Portal.Testing;

namespace Portal.Benchmarks;

/// <summary>
/// One exchange (PING on the control slot: the host posts, the guest answers) on the emulated guest
/// and on each real guest (QEMU TCG, portal.ko): x86_64, mipsel, aarch64, armel. This is the unit
/// every Portal operation costs.
/// <code>dotnet run -c Release --project benchmarks/Portal.Benchmarks -- --filter '*ExchangeBenchmarks*'</code>
/// </summary>
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 5, iterationCount: 15)]
[MemoryDiagnoser, MedianColumn]
public class ExchangeBenchmarks
{
    private IGuest _guest = null!;
    private PortalSession _session = null!;

    /// <summary>"emulated", or the ABI of a real guest.</summary>
    [Params("emulated", "x86_64", "mipsel", "aarch64", "armel")]
    public string Guest { get; set; } = "";

    [GlobalSetup]
    public async Task BootAsync()
    {
        _guest = Guest == "emulated"
            ? new EmulatedGuest(GuestAbi.X86_64)
            : await QemuGuest.StartAsync(new QemuGuestOptions { Abi = GuestAbi.Parse(Guest) });
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
