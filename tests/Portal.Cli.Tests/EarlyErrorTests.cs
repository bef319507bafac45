using System.Text.RegularExpressions;
using Portal.Cli;
using Portal.Hypersyscalls;

namespace Portal.Cli.Tests;

/// <summary>
/// Mistakes in a plugin are reported before anything boots, and what portal prints says only what is true
/// (issue 14, item 5): each test reads what a user reads.
/// </summary>
[TestClass]
public sealed class EarlyErrorTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// The real guest is the default: a plugin refused only after the boot would print the boot line (and on a
    /// machine without QEMU fail with exit 69 instead). Refused first, nothing starts.
    /// </summary>
    [TestMethod]
    [DataRow("run"), DataRow("boot")]
    public async Task A_handler_with_the_wrong_signature_is_refused_before_the_guest_boots(string command)
    {
        var rootfs = Directory.CreateTempSubdirectory("portal-early-").FullName;     // portal boot's firmware: never read
        try
        {
            string[] rest = command == "run" ? ["--", "true"] : ["--rootfs", rootfs];
            string[] args = [command, "--plugin", $"{Cli.TestsDll}#WrongSignature", .. rest];
            var result = await Cli.RunInProcessAsync(args);
            Assert.AreEqual(ExitCodes.PluginFailure, result.ExitCode, result.ToString());
            Assert.AreEqual("portal: cannot register Portal.Cli.Tests.WrongSignature: WrongSignature.OnIoctl must return ValueTask or Task (handlers are async).\n",
                result.Errors, "the reason, and nothing else: no boot line, no build, no shutdown");
            Assert.AreEqual("", result.Output);
        }
        finally
        {
            Directory.Delete(rootfs, recursive: true);
        }
    }

    [TestMethod]
    public async Task A_misspelt_syscall_is_refused_before_the_guest_boots_with_a_suggestion()
    {
        var result = await Cli.RunInProcessAsync("run", "--abi", "mipsel", "--plugin", $"{Cli.TestsDll}#MisspeltSyscall", "--", "true");
        Assert.AreEqual(ExitCodes.PluginFailure, result.ExitCode, result.ToString());
        Assert.AreEqual("portal: cannot register Portal.Cli.Tests.MisspeltSyscall: Hook on ioctll (Enter) is invalid: "
            + "The mipsel ABI has no syscall named 'ioctll' (did you mean ioctl?).\n", result.Errors);
    }

    [TestMethod]
    public async Task Verbose_lists_each_hook_with_its_filters()
    {
        var result = await Cli.RunInProcessAsync("run", "--verbose", "--guest", "emulated", "--plugin", Cli.RaethDll, "--plugin", $"{Cli.TestsDll}#CountIoctls",
            "--", "mtk7530_switch", "table_del");
        Assert.AreEqual(0, result.ExitCode, result.ToString());
        var registered = result.Errors.Split('\n').Where(l => l.StartsWith("dbug PortalSession: Registered hook ", StringComparison.Ordinal)).ToList();
        CollectionAssert.AreEqual(new[]
        {
            "dbug PortalSession: Registered hook 1 RAEth: ioctl Return where arg1 == 0x89f1",
            "dbug PortalSession: Registered hook 2 RAEthSkip: ioctl Enter where arg1 == 0x89f1 and comm is 'mtk7530_switch'",
            "dbug PortalSession: Registered hook 3 count-ioctls: ioctl Enter, every call",
        }, registered, result.ToString());
    }

    /// <summary>RAEthSkip skips the ioctl on enter, so RAEth (on its return) is never called.</summary>
    [TestMethod]
    public async Task A_handler_never_called_is_named_once_and_listed_with_verbose()
    {
        string[] args = ["run", "--guest", "emulated", "--plugin", Cli.RaethDll, "--", "mtk7530_switch", "table_del"];
        var quiet = await Cli.RunInProcessAsync(args);
        Assert.AreEqual(0, quiet.ExitCode, quiet.ToString());
        Assert.DoesNotContain("calls=0", quiet.Errors, quiet.ToString());
        StringAssert.Matches(quiet.Errors, new Regex(@"^handler RAEthSkip: calls=1 exchanges=1 mean=\d+\.\dµs$", RegexOptions.Multiline), quiet.ToString());
        StringAssert.Contains(quiet.Errors, "\nhandlers never called: RAEth (--verbose lists each hook with its filters)\n", quiet.ToString());

        var verbose = await Cli.RunInProcessAsync([.. args[..1], "--verbose", .. args[1..]]);
        StringAssert.Matches(verbose.Errors, new Regex(@"^handler RAEth: calls=0 exchanges=0 mean=0\.0µs$", RegexOptions.Multiline), verbose.ToString());
        Assert.DoesNotContain("handlers never called", verbose.Errors, "listed with its line instead");
    }

    /// <summary>
    /// The boot line says nothing of a build; a build says so itself, and only when it happens: the second of two
    /// runs finds the guest cached.
    /// </summary>
    [TestMethod, TestCategory("RealGuest")]
    public async Task Only_a_boot_that_builds_the_guest_says_it_builds()
    {
        var first = await Cli.RunAsync(TestContext.CancellationToken, "run", "--", "true");
        Assert.AreEqual(0, first.ExitCode, first.ToString());
        var second = await Cli.RunAsync(TestContext.CancellationToken, "run", "--", "true");
        Assert.AreEqual(0, second.ExitCode, second.ToString());
        StringAssert.Contains(second.Errors, "portal: Booting the x86_64 QEMU guest\n", second.ToString());
        Assert.DoesNotContain("build", second.Errors, "the guest was cached by the first run: " + second);
        if (first.Errors.Contains("build", StringComparison.Ordinal))
            StringAssert.Contains(first.Errors, "portal: Building portal.ko and the guest programs for kernel ", first.ToString());
    }
}

/// <summary>A plugin whose syscall name has a typo.</summary>
public sealed class MisspeltSyscall
{
    [Hypersyscall("ioctll", SyscallPhase.Enter)]
    public static ValueTask OnIoctl(SyscallContext syscall) => ValueTask.CompletedTask;
}
