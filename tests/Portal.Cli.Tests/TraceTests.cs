using Portal.Tests.Shared;

namespace Portal.Cli.Tests;

/// <summary>portal run --trace: the run's timeline as a Chrome trace file, read back as a viewer reads it.</summary>
[TestClass]
public sealed class TraceTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task The_emulated_guests_run_is_traced_with_the_handlers_span_and_its_one_exchange()
    {
        var path = TracePath();
        var result = await Cli.RunInProcessAsync("run", "--guest", "emulated", "--abi", "mipsel", "--trace", path, "--plugin", $"{Cli.RaethDll}#RaethPlugin",
            "--", "mtk7530_switch", "table_del");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, $"portal: trace written to {path} (open it in Perfetto UI", result.ToString());
        AssertRaethTrace(path);
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    /// <summary>The "done when", on the real guest: boots QEMU (x86_64, about 10 s).</summary>
    [TestMethod, TestCategory("RealGuest")]
    public async Task The_real_guests_run_is_traced_with_the_handlers_span_and_its_one_exchange()
    {
        var path = TracePath();
        var result = await Cli.RunAsync(TestContext.CancellationToken, "run", "--trace", path, "--plugin", $"{Cli.RaethDll}#RaethPlugin",
            "--", "mtk7530_switch", "table_del");
        TestContext.WriteLine(result.ToString());
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.AreEqual("done.\n", result.Output);
        AssertRaethTrace(path);
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    private string TracePath()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("portal-cli-trace-").FullName, "run.json");
        TestContext.WriteLine($"trace: {path}");     // kept when the test fails
        return path;
    }

    /// <summary>RaethPlugin's one call: its span on a vCPU track, the one BATCH inside (ifreq, then esw_reg through the chased ifr_data), the write on the verdict.</summary>
    private static void AssertRaethTrace(string path)
    {
        var events = ChromeTrace.Load(path);
        var span = events.Handlers().Single();
        Assert.AreEqual("RAEth", span.Name);
        Assert.IsGreaterThanOrEqualTo(1, span.Tid, "a vCPU slot's track, not the control slot's");
        Assert.AreEqual($"vCPU slot {span.Tid}", events.TrackName(span.Tid));
        Assert.AreEqual("ioctl", span.Arg("syscall"));
        Assert.AreEqual("return", span.Arg("phase"));
        Assert.AreEqual("mtk7530_switch", span.Arg("comm"));
        Assert.AreEqual("answered", span.Arg("outcome"));
        Assert.AreEqual("retval=0", span.Arg("verdict"));
        Assert.AreEqual("1", span.Arg("verdict_writes"), "reg.val rides on the verdict");
        Assert.AreEqual("1", span.Arg("exchanges"));

        var exchange = events.ExchangesIn(span).Single();
        Assert.AreEqual("Batch", exchange.Name);
        CollectionAssert.AreEqual(new[] { "Read", "Read" }, exchange.Operations());
        var chased = exchange.Args.GetProperty("ops")[1];
        Assert.AreEqual(0, chased.GetProperty("chase_base").GetInt32(), "esw_reg's address comes from the ifreq the guest just read");
        Assert.AreEqual("2", exchange.Args.GetProperty("counts").GetProperty("Read").ToString());
        Assert.AreEqual("RAEth", exchange.Arg("handler"));
        Assert.AreEqual(1, events.Exchanges().Count(e => e.Tid != 0), "the handler's exchange is the only one off the control slot");
        Assert.IsTrue(events.Exchanges().Any(e => e.Tid == 0 && e.Name == "HookRegister"), "the plugin's registration, on the control track");
    }
}
