using System.Text.RegularExpressions;
using Portal.Tests.Shared;

namespace Portal.Cli.Tests;

/// <summary>
/// portal inspect and boot --inspect on the real guest: portal.ko's QUERY answers (docs/protocol.md §3.4),
/// as a user runs them.
/// </summary>
[TestClass, TestCategory("RealGuest")]
public sealed partial class InspectRealGuestTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Ps_lists_the_guest_s_init_and_kernel_threads()
    {
        var result = await Cli.RunAsync(TestContext.CancellationToken, "ps");
        TestContext.WriteLine(result.ToString());
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        var lines = result.Output.TrimEnd('\n').Split('\n');
        StringAssert.StartsWith(lines[0], "PID  PPID");
        Assert.IsTrue(lines.Any(l => PidOne().IsMatch(l)), "pid 1, parent 0: " + result);
        Assert.IsTrue(lines.Any(l => l.EndsWith(" [kthreadd]", StringComparison.Ordinal)), "a kernel thread in brackets: " + result);
    }

    /// <summary>The seed's firmware booted with its handler, then looked at: its processes, the kernel, init's mappings.</summary>
    [TestMethod]
    public async Task Boot_inspect_runs_the_queries_after_the_boot_completed()
    {
        var result = await Cli.RunAsync(TestContext.CancellationToken, "boot", "--rootfs", DemoFirmware.Squashfs("mipsel"), "--plugin", $"{Cli.RaethDll}#RaethPlugin",
            "--until", "rcS: boot complete", "--inspect", "ps", "--inspect", "cat /proc/version", "--inspect", "maps 1");
        TestContext.WriteLine(result.ToString());
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        var complete = result.Output.IndexOf("rcS: boot complete\n", StringComparison.Ordinal);
        var table = result.Output.IndexOf("PID  PPID", StringComparison.Ordinal);
        Assert.IsTrue(complete >= 0 && table > complete, "the queries ran after the boot: " + result);
        var lines = result.Output[table..].Split('\n');
        Assert.IsTrue(lines.Any(l => PidOne().IsMatch(l)), result.ToString());
        Assert.IsTrue(lines.Any(l => l.StartsWith("Linux version ", StringComparison.Ordinal)), result.ToString());
        Assert.IsTrue(lines.Any(l => MapsLine().IsMatch(l)), "init's mappings as /proc/1/maps: " + result);
    }

    [GeneratedRegex(@"^\s*1\s+0\s+0\s+[A-Z]\s+\d+\.\d\ds\s+\S")]
    private static partial Regex PidOne();

    [GeneratedRegex(@"^[0-9a-f]{8,16}-[0-9a-f]{8,16} [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2,}:[0-9a-f]{2,} \d+")]
    private static partial Regex MapsLine();
}
