using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Qemu.Tests;

/// <summary>The samples as a user runs them: their own process, their whole output.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class SampleTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task The_raeth_sample_shows_the_tool_failing_then_succeeding_with_one_exchange_per_handler()
    {
        var text = await RunRaethSampleAsync();
        StringAssert.StartsWith(text, "Booting the mipsel guest", "the Archer C20's architecture by default");
        StringAssert.Contains(text, "[guest] ioctl: No such device", "without a handler the tool fails");
        Assert.HasCount(2, Regex.Matches(text, @"^  \[guest\] done\.$", RegexOptions.Multiline), "both plugins get the guest's own done.");
        StringAssert.Contains(text, "[host RAEth] read register 0x34 -> 0x2");
        var lines = text.TrimEnd().Split('\n');
        CollectionAssert.AreEqual(new[] { "handler RAEth: calls=1 exchanges=1", "handler RAEthSkip: calls=1 exchanges=1" }, lines[^2..],
            "the output ends with one line per handler");
    }

    /// <summary>The seed's story with a firmware's own userland: the demo firmware stalls without the handler and completes with it.</summary>
    [TestMethod]
    public async Task The_raeth_sample_boots_the_demo_firmware_stalled_then_complete()
    {
        var text = await RunRaethSampleAsync("--firmware");
        StringAssert.StartsWith(text, "Building the demo firmware");
        var (stalled, booted) = (text.IndexOf("the boot stalled", StringComparison.Ordinal), text.IndexOf("[console] rcS: boot complete", StringComparison.Ordinal));
        Assert.IsTrue(stalled > 0 && booted > stalled, "stalled first, then complete:\n" + text);
        Assert.IsGreaterThanOrEqualTo(3, Regex.Count(text[..stalled], @"^  \[console\] swRegRead: ", RegexOptions.Multiline), "the stall prints swRegRead");
        StringAssert.Contains(text[stalled..], "[host RAEth] read register 0x34 -> 0x2");
        StringAssert.EndsWith(text.TrimEnd(), "handler RAEth: calls=1 exchanges=1");
    }

    /// <summary>Runs the Raeth sample as a user does; its stdout, after checking it exited 0.</summary>
    private async Task<string> RunRaethSampleAsync(params string[] arguments)
    {
        var sample = Path.Combine(AppContext.BaseDirectory.Replace(Path.Combine("tests", "Portal.Qemu.Tests"), Path.Combine("samples", "Raeth"), StringComparison.Ordinal),
            "Raeth.dll");
        Assert.IsTrue(File.Exists(sample), $"{sample} was not built");
        using var process = Process.Start(new ProcessStartInfo("dotnet", [sample, .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var text = await output;
        TestContext.WriteLine(text);
        Assert.AreEqual(0, process.ExitCode, text + await errors);
        return text;
    }
}
