using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>portal setup on a machine that has everything (CI runs scripts/setup.sh first).</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class SetupTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Check_reports_every_part_present()
    {
        var result = await Cli.RunAsync(TestContext.CancellationToken, "setup", "--check");
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        foreach (var abi in new[] { "x86_64", "mipsel", "aarch64", "armel" })
            StringAssert.Contains(result.Errors, $"ok    QEMU {abi} guest: kernel ");
        StringAssert.Contains(result.Errors, "ok    headers: libclang 14, its builtin headers, the sysroots of x86_64, i386, mipsel, mips, armel, aarch64");
        StringAssert.Contains(result.Errors, "ok    firmware images (--rootfs): tar, sqfs2tar, binwalk");
        Assert.DoesNotContain("MISSING", result.Errors);
        Assert.DoesNotContain("Booting", result.Errors, "--check changes nothing and boots nothing");
    }

    [TestMethod]
    public async Task A_missing_part_is_named_with_how_to_install_it()
    {
        // A sysroot directory that does not exist stands for an uninstalled cross libc.
        var result = await Cli.RunAsync(new Dictionary<string, string> { ["PORTAL_HEADERS_CROSS_ROOT"] = "/nonexistent" }, TestContext.CancellationToken,
            "setup", "--check");
        Assert.AreEqual(ExitCodes.Unavailable, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, "MISSING  headers: ABI mipsel needs /nonexistent/mipsel-linux-gnu/include: install libc6-dev-mipsel-cross");
        StringAssert.Contains(result.Errors, "ok    QEMU mipsel guest:");
    }

    [TestMethod]
    public async Task A_missing_guest_kit_is_named_with_the_script_that_fetches_it()
    {
        var result = await Cli.RunAsync(new Dictionary<string, string> { ["PORTAL_GUEST_KITS"] = "/nonexistent" }, TestContext.CancellationToken,
            "setup", "--check");
        Assert.AreEqual(ExitCodes.Unavailable, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, "ok    QEMU x86_64 guest:", "the host's own guest needs no kit");
        foreach (var abi in new[] { "mipsel", "aarch64", "armel" })
            StringAssert.Contains(result.Errors, $"MISSING  QEMU {abi} guest: The {abi} QEMU guest needs: ");
        StringAssert.Contains(result.Errors, "Install them with: sudo scripts/setup-guest.sh");
    }

    [TestMethod]
    public async Task Setup_builds_the_guest_and_boots_it_once()
    {
        var result = await Cli.RunAsync(TestContext.CancellationToken, "setup");
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, "ok    guest image for kernel ");
        StringAssert.Contains(result.Errors, "portal.ko answers (protocol 1, kernel ");
        StringAssert.Contains(result.Errors, "Ready. Try: portal run -- mtk7530_switch table_del");
    }
}
