using System.Text.RegularExpressions;
using Portal.Tests.Shared;

namespace Portal.Cli.Tests;

/// <summary>
/// portal boot and portal run --rootfs on a firmware's own root filesystem, as a user runs them: the
/// demo firmware (Debian's dynamically linked glibc and busybox, the switch tool, an rcS that waits for
/// the switch) as squashfs, tarball and directory.
/// </summary>
[TestClass, TestCategory("RealGuest")]
public sealed class FirmwareBootTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>The seed's story: the boot stalls printing swRegRead without a handler and completes with the RAEth plugin.</summary>
    [TestMethod]
    public async Task The_firmware_boot_stalls_without_the_handler_and_completes_with_it()
    {
        var firmware = DemoFirmware.Squashfs("mipsel");
        var stalled = await Cli.RunAsync(TestContext.CancellationToken, "boot", "--rootfs", firmware, "--until", "rcS: boot complete", "--timeout", "10");
        TestContext.WriteLine(stalled.ToString());
        Assert.AreEqual(124, stalled.ExitCode, stalled.ToString());
        Assert.IsGreaterThanOrEqualTo(3, Regex.Count(stalled.Output, "^swRegRead: ioctl: No such device", RegexOptions.Multiline), stalled.ToString());
        Assert.DoesNotContain("boot complete", stalled.Output);
        StringAssert.Contains(stalled.Errors, "the boot stalled: no console line matched --until 'rcS: boot complete' within 10 s. Its last lines:");
        StringAssert.Matches(stalled.Errors, new Regex(@"^  \| swRegRead: ", RegexOptions.Multiline), "the last console lines are repeated on stderr");

        var booted = await Cli.RunAsync(TestContext.CancellationToken, "boot", "--rootfs", firmware, "--plugin", $"{Cli.RaethDll}#RaethPlugin",
            "--until", "rcS: boot complete");
        TestContext.WriteLine(booted.ToString());
        Assert.AreEqual(0, booted.ExitCode, booted.ToString());
        StringAssert.Contains(booted.Output, "rcS: Portal demo firmware (mips)");
        StringAssert.Contains(booted.Output, "done.\nrcS: boot complete\n");
        Assert.DoesNotContain("swRegRead", booted.Output, "the first register read is answered");
        StringAssert.Contains(booted.Errors, "portal: starting the firmware's init /sbin/init (mipsel guest)");
        StringAssert.Contains(booted.Errors, "info RaethPlugin: read register 0x34 -> 0x2");
        StringAssert.Matches(booted.Errors, new Regex(@"^handler RAEth: calls=1 exchanges=1 mean=\d+\.\dµs$", RegexOptions.Multiline));
    }

    /// <summary>
    /// The same boot completed by a plugin whose only hook is a function hook (<c>[Uprobe]</c> on the firmware's
    /// libc ioctl, tests' LibcIoctlAnswer) instead of a syscall hook: a class with only [Uprobe] methods is a plugin.
    /// Before the fix portal refused it: "Portal.Cli.Tests.dll has no plugin class 'LibcIoctlAnswer'".
    /// </summary>
    [TestMethod, TestCategory("FunctionHooks")]
    public async Task The_firmware_boot_completes_with_a_function_hook_plugin_on_its_C_library()
    {
        var booted = await Cli.RunAsync(TestContext.CancellationToken, "boot", "--rootfs", DemoFirmware.Squashfs("mipsel"),
            "--plugin", $"{Cli.TestsDll}#LibcIoctlAnswer", "--until", "rcS: boot complete");
        TestContext.WriteLine(booted.ToString());
        Assert.AreEqual(0, booted.ExitCode, booted.ToString());
        StringAssert.Contains(booted.Output, "done.\nrcS: boot complete\n");
        Assert.DoesNotContain("swRegRead", booted.Output, "the first register read is answered");
        StringAssert.Matches(booted.Errors, new Regex(@"^handler libc-ioctl: calls=1 exchanges=1 mean=\d+\.\dµs$", RegexOptions.Multiline), booted.ToString());
    }

    /// <summary>A boot that reached its pattern while matching syscalls went unhandled never exits 0 unless allowed (as portal run).</summary>
    [TestMethod, TestCategory("Reliability")]
    public async Task A_boot_in_which_matching_syscalls_went_unhandled_never_exits_0_unless_allowed()
    {
        string[] arguments = ["--rootfs", DemoFirmware.Squashfs("mipsel"), "--plugin", $"{Cli.RaethDll}#RaethPlugin",
            "--plugin", $"{Cli.TestsDll}#ThrowsOnRegisterRead", "--until", "rcS: boot complete"];
        var result = await Cli.RunAsync(TestContext.CancellationToken, ["boot", .. arguments]);
        TestContext.WriteLine(result.ToString());
        Assert.AreEqual(ExitCodes.SyscallsUnhandled, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Output, "rcS: boot complete", "the boot itself completed");
        StringAssert.Matches(result.Errors, new Regex(@"^handler throws-on-register-read: calls=1 exchanges=0 mean=\d+\.\dµs errors=1$", RegexOptions.Multiline));
        StringAssert.Contains(result.Errors, "syscalls: delivered=2 unhandled=1 (handler-errors=1)");
        StringAssert.Contains(result.Errors, $"exiting with status {ExitCodes.SyscallsUnhandled}");

        var allowed = await Cli.RunAsync(TestContext.CancellationToken, ["boot", "--allow-unhandled", .. arguments]);
        Assert.AreEqual(ExitCodes.Success, allowed.ExitCode, allowed.ToString());
    }

    /// <summary>A firmware whose init exits takes the guest down (PID 1 died): said at once, exit 71, not a stall.</summary>
    [TestMethod]
    public async Task An_init_that_exits_ends_the_boot_as_a_lost_guest()
    {
        var run = await Cli.RunAsync(TestContext.CancellationToken, "boot", "--rootfs", DemoFirmware.Squashfs("mipsel"), "--init", "/bin/true",
            "--until", "boot complete", "--timeout", "60");
        TestContext.WriteLine(run.ToString());
        Assert.AreEqual(ExitCodes.GuestLost, run.ExitCode, run.ToString());
        StringAssert.Contains(run.Errors, "portal: starting the firmware's init /bin/true (mipsel guest)");
        StringAssert.Contains(run.Errors, "the guest ended during the boot: the guest kernel panicked");
        StringAssert.Contains(run.Errors, "Attempted to kill init");
    }

    /// <summary>
    /// What an image holds and a user's own unpacking would lose reaches the guest: a vendor's device node
    /// (kept next to devtmpfs's), a setuid program and its hard link (one inode), a symbolic link.
    /// </summary>
    [TestMethod]
    [DataRow("squashfs"), DataRow("tar.gz"), DataRow("tar.xz"), DataRow("directory")]
    public async Task Run_in_the_firmware_root_keeps_what_the_image_has(string form)
    {
        var rootfs = Input("mipsel", form);
        var run = await Cli.RunAsync(TestContext.CancellationToken, "run", "--rootfs", rootfs, "--plugin", $"{Cli.RaethDll}#RaethPlugin", "--",
            "sh", "-c", "stat -c '%n %A %h %i' /usr/sbin/mtk7530_switch /usr/sbin/switch | sed 's/ [0-9]*$/ ino/'; " +
            "[ $(stat -c %i /usr/sbin/switch) = $(stat -c %i /usr/sbin/mtk7530_switch) ] && echo same-inode; " +
            "readlink /sbin/init; echo $PATH; mtk7530_switch table_del; ls /.portal/bin/portal-agent");
        TestContext.WriteLine(run.ToString());
        Assert.AreEqual(0, run.ExitCode, run.ToString());
        Assert.AreEqual(
            "/usr/sbin/mtk7530_switch -rwsr-xr-x 2 ino\n/usr/sbin/switch -rwsr-xr-x 2 ino\nsame-inode\n../bin/busybox\n" +
            "/bin:/sbin:/usr/bin:/usr/sbin:/.portal/bin\ndone.\n/.portal/bin/portal-agent\n", run.Output, run.ToString());
        StringAssert.Contains(run.Errors, "Booting a QEMU guest with the firmware's root filesystem");
        StringAssert.Matches(run.Errors, new Regex(@"^handler RAEth: calls=1 exchanges=1 ", RegexOptions.Multiline));

        if (form != "directory")
        {
            // Device nodes come from the image (the directory was unpacked without them).
            var nodes = await Cli.RunAsync(TestContext.CancellationToken, "run", "--rootfs", rootfs, "--", "stat", "-c", "%n %t:%T %A", "/dev/gpio", "/dev/null");
            Assert.AreEqual("/dev/gpio fc:0 crw-r-----\n/dev/null 1:3 crw-rw-rw-\n", nodes.Output, nodes.ToString());
        }
    }

    /// <summary>
    /// Every real guest boots its architecture's firmware (the architecture comes from the firmware's
    /// binaries), and portal boot takes each input form.
    /// </summary>
    [TestMethod]
    [DataRow("x86_64", "x86_64", "squashfs"), DataRow("aarch64", "aarch64", "tar.gz"), DataRow("armel", "armv7l", "directory")]
    public async Task The_firmware_picks_its_guest(string abi, string machine, string form)
    {
        var run = await Cli.RunAsync(TestContext.CancellationToken, "boot", "--rootfs", Input(abi, form), "--plugin", $"{Cli.RaethDll}#RaethPlugin",
            "--until", "rcS: boot complete");
        TestContext.WriteLine(run.ToString());
        Assert.AreEqual(0, run.ExitCode, run.ToString());
        StringAssert.Contains(run.Output, $"rcS: Portal demo firmware ({machine})");
        StringAssert.Contains(run.Errors, $"({abi} guest)");
        StringAssert.Matches(run.Errors, new Regex(@"^handler RAEth: calls=1 exchanges=1 ", RegexOptions.Multiline));
    }

    /// <summary>The demo firmware in the form a test asks for, made from its squashfs with the standard tools.</summary>
    private static string Input(string abi, string form)
    {
        var squashfs = DemoFirmware.Squashfs(abi);
        if (form == "squashfs")
            return squashfs;
        var path = Path.Combine(DemoFirmware.ScratchDirectory, $"{abi}-input.{form}");
        if (Path.Exists(path))
            return path;
        var tar = Path.Combine(DemoFirmware.ScratchDirectory, $"{abi}.tar");
        if (!File.Exists(tar))
            Check(DemoFirmware.Run("bash", "-c", $"sqfs2tar '{squashfs}' > '{tar}'"));
        switch (form)
        {
            case "tar.gz":
                Check(DemoFirmware.Run("bash", "-c", $"gzip -c '{tar}' > '{path}'"));
                break;
            case "tar.xz":
                Check(DemoFirmware.Run("bash", "-c", $"xz -c '{tar}' > '{path}'"));
                break;
            default:
                // As a user unpacks an image without root: no device nodes (tar cannot make them), links and modes kept.
                Directory.CreateDirectory(path);
                Check(DemoFirmware.Run("tar", "-xf", tar, "-C", path, "--no-same-owner", "--exclude=./dev/*", "--exclude=dev/*"));
                break;
        }
        return path;
    }

    private static void Check((int ExitCode, string Output) run) => Assert.AreEqual(0, run.ExitCode, run.Output);
}
