using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>portal guest build and portal guest shell: the real guest by hand, built and booted as Portal.Qemu does.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class GuestCommandTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Build_prints_the_kernel_and_initramfs_it_copied_out()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"portal-guest-build-{Guid.NewGuid():N}");
        try
        {
            var result = await Cli.RunAsync(TestContext.CancellationToken, "guest", "build", "--out", directory);
            Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
            var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split('=', 2)).ToDictionary(pair => pair[0], pair => pair[1]);
            CollectionAssert.AreEquivalent(new[] { "KERNEL_VERSION", "KERNEL", "INITRAMFS" }, lines.Keys.ToArray(), result.ToString());
            StringAssert.EndsWith(lines["KERNEL_VERSION"], "-amd64");
            Assert.AreEqual(Path.Combine(directory, "initramfs.cpio.gz"), lines["INITRAMFS"]);
            Assert.AreEqual(directory, Path.GetDirectoryName(lines["KERNEL"]));
            foreach (var file in new[] { lines["KERNEL"], lines["INITRAMFS"] })
                Assert.IsGreaterThan(0L, new FileInfo(file).Length, file);
            StringAssert.Contains(result.Errors, $"ok    x86_64 guest image for kernel {lines["KERNEL_VERSION"]}");
        }
        finally
        {
            if (Directory.Exists(directory))
                Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public async Task Shell_runs_each_line_in_the_guest_and_shows_its_console()
    {
        var result = await Cli.RunWithInputAsync("uname -m\n\ncat /proc/cmdline\nfalse\n", TestContext.CancellationToken, "guest", "shell", "--kernel-arg", "portal.host_timeout_ms=500");
        TestContext.WriteLine(result.ToString());
        Assert.AreEqual(1, result.ExitCode, "the last command's status: " + result);
        var output = result.Output.Split('\n');
        Assert.AreEqual("x86_64", output[0], result.ToString());
        StringAssert.Contains(output[1], "portal.window_phys=0xc000000", "the host passes the window's address");
        StringAssert.Contains(output[1], "portal.host_timeout_ms=500", "--kernel-arg");
        StringAssert.Contains(result.Errors, "portal-init: portal.ko loaded with window_phys=0xc000000", "the console is shown");
        StringAssert.Contains(result.Errors, "portal: 'false' exited with status 1");
        StringAssert.Contains(result.Errors, "portal: Shutting the guest down");
    }
}
