using System.Text.RegularExpressions;

namespace Portal.Cli.Tests;

/// <summary>portal run on the emulated guest: any ABI, the plugin's effect, one statistics line per handler.</summary>
[TestClass]
public sealed class EmulatedRunTests
{
    [TestMethod]
    public async Task Without_a_plugin_the_switch_tool_fails()
    {
        var result = await Cli.RunInProcessAsync("run", "--guest", "emulated", "--", "mtk7530_switch", "table_del");
        StringAssert.Contains(result.Output, "ioctl: No such device", result.ToString());
        Assert.DoesNotContain("handler ", result.Errors, "no handler, no statistics");
    }

    [TestMethod]
    [DataRow("x86_64"), DataRow("mipsel")]
    public async Task The_raeth_plugin_answers_the_register_read_in_one_exchange(string abi)
    {
        var result = await Cli.RunInProcessAsync("run", "--guest", "emulated", "--abi", abi, "--plugin", $"{Cli.RaethDll}#RaethPlugin", "--",
            "mtk7530_switch", "table_del");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        Assert.AreEqual("done.\n", result.Output, "the guest's output, and only that, on stdout");
        StringAssert.Contains(result.Errors, "info RaethPlugin: read register 0x34 -> 0x2", "the plugin's log");
        StringAssert.Matches(result.Errors, new Regex(@"^handler RAEth: calls=1 exchanges=1 mean=\d+\.\dµs$", RegexOptions.Multiline), result.ToString());
    }

    [TestMethod]
    public async Task Every_plugin_of_an_assembly_is_loaded_and_reported()
    {
        var result = await Cli.RunInProcessAsync("run", "--guest", "emulated", "--plugin", $"{Cli.TestsDll}#CountIoctls", "--plugin", Cli.RaethDll, "--",
            "mtk7530_switch", "table_del");
        Assert.AreEqual("done.\n", result.Output, result.ToString());
        // Hooks see a syscall in registration order: the counter first, then the enter-phase variant
        // skips the ioctl, so the return-phase handler never sees it.
        var handlers = result.Errors.Split('\n').Where(l => l.StartsWith("handler ", StringComparison.Ordinal)).Select(l => l[..l.IndexOf(" mean=", StringComparison.Ordinal)]);
        CollectionAssert.AreEqual(new[]
        {
            "handler RAEthSkip: calls=1 exchanges=1",
            "handler count-ioctls: calls=1 exchanges=0",
        }, handlers.ToList(), result.ToString());
        StringAssert.Contains(result.Errors, "handlers never called: RAEth", "a handler never called is named, without a line of zeros");
    }

    [TestMethod]
    public async Task A_handler_that_fails_is_reported_and_counted()
    {
        // The sample's headers describe the real guests' ABIs only: on big-endian mips its handler cannot read ifreq.
        var result = await Cli.RunInProcessAsync("run", "--guest", "emulated", "--abi", "mips", "--plugin", $"{Cli.RaethDll}#RaethPlugin", "--",
            "mtk7530_switch", "table_del");
        Assert.AreEqual("ioctl: No such device\n", result.Output, "the syscall was left untouched");
        StringAssert.Contains(result.Errors, "fail PortalSession: Handler RAEth failed on event 1: syscall left untouched. (GuestLayoutException: struct ifreq has no layout for mips");
        StringAssert.Matches(result.Errors, new Regex(@"^handler RAEth: calls=1 exchanges=0 mean=\d+\.\dµs errors=1$", RegexOptions.Multiline), result.ToString());
    }

    [TestMethod]
    public async Task A_command_that_does_not_exist_exits_127_as_in_a_shell()
    {
        var result = await Cli.RunInProcessAsync("run", "--guest", "emulated", "--", "no-such-program");
        Assert.AreEqual(127, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Output, "no-such-program: not found");
        StringAssert.Contains(result.Errors, "'no-such-program' exited with status 127");
    }
}
