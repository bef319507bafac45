using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Portal.Abi;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Qemu.Firmware;
using Portal.Tests.Shared;

namespace Portal.Qemu.Tests;

/// <summary>A firmware's root filesystem booted from C#: QemuGuestOptions.Firmware, BootFirmwareAsync, WaitForConsoleAsync.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class FirmwareGuestTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// The firmware's init waits for the host, then runs as PID 1; its console can be waited on; the guest
    /// works on a copy: what it writes never reaches the user's directory.
    /// </summary>
    [TestMethod]
    public async Task The_firmware_init_starts_when_the_host_says_and_the_image_is_never_written()
    {
        var rootfs = Directory.CreateTempSubdirectory("portal-firmware-dir-").FullName;
        try
        {
            var unpack = DemoFirmware.Run("bash", "-c", $"sqfs2tar '{DemoFirmware.Squashfs("mipsel")}' | tar -x -C '{rootfs}' --exclude='dev/*'");
            Assert.AreEqual(0, unpack.ExitCode, unpack.Output);
            var before = Snapshot(rootfs);

            await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Firmware = new FirmwareOptions(rootfs) }, TestContext.CancellationToken);
            Assert.AreEqual(GuestAbi.MipsEl, guest.Abi, "the firmware's binaries chose the guest");
            Assert.AreEqual("/sbin/init", guest.FirmwareInit);
            var waiting = await guest.RunAsync(GuestCommand.Of("sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo changed > /etc/hostname; touch /new-file"),
                TestContext.CancellationToken);
            Assert.AreEqual("/.portal/bin/busybox sh /.portal/init \n", waiting.Output, "PID 1 is still Portal's pre-init, waiting");

            await guest.BootFirmwareAsync(TestContext.CancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            var line = await guest.WaitForConsoleAsync(new Regex("^swRegRead: ioctl: No such device \\(try 2\\)"), timeout.Token);
            StringAssert.StartsWith(line, "swRegRead");
            var init = await guest.RunAsync(GuestCommand.Of("sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"), TestContext.CancellationToken);
            Assert.AreEqual("init", init.Output.Trim(), "the firmware's init (busybox, which pads its argv) is PID 1 now");
            await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => guest.BootFirmwareAsync(TestContext.CancellationToken), "once only");

            CollectionAssert.AreEqual(before, Snapshot(rootfs), "the guest wrote to its copy, never to the user's directory");
            Assert.AreEqual("portal-demo\n", File.ReadAllText(Path.Combine(rootfs, "etc", "hostname")));
        }
        finally
        {
            Directory.Delete(rootfs, recursive: true);
        }
    }

    /// <summary>
    /// The rehoster's scope (docs/filters.md, "Scope"): the agent descends from PID 1 like the firmware's
    /// programs, so a session scoped to the subtree of 1 without the agent's sees the firmware's switch
    /// ioctl (RAETH_ESW_REG_READ, from its rcS) and not the same ioctl from a command the host runs.
    /// </summary>
    [TestMethod, TestCategory("Scope")]
    public async Task A_session_scoped_to_the_firmware_sees_its_programs_and_not_the_agents_commands()
    {
        const long EswRegRead = 0x89F1;
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Firmware = new FirmwareOptions(DemoFirmware.Squashfs("mipsel")) },
            TestContext.CancellationToken);
        var agent = await guest.GetAgentPidAsync(TestContext.CancellationToken);
        // its parent is the pre-init's subshell, a child of PID 1 (guest/firmware-init)
        var ancestors = await guest.RunAsync(GuestCommand.Of("sh", "-c", $"p={agent}; while [ $p -gt 1 ]; do p=$(cut -d' ' -f4 /proc/$p/stat); echo $p; done"),
            TestContext.CancellationToken);
        Assert.AreEqual("1", ancestors.Lines[^1], $"the agent descends from PID 1, so a subtree of 1 holds it: {ancestors.Output}");
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        session.Scope = GuestScope.Subtree(1).Excluding(agent);
        var firmware = new ConcurrentQueue<string>();
        var everyone = new ConcurrentQueue<string>();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(EswRegRead))
            .RegisterAsync(context => { firmware.Enqueue(context.Comm); return ValueTask.CompletedTask; });
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(EswRegRead)).IgnoringSessionScope()
            .RegisterAsync(context => { everyone.Enqueue(context.Comm); return ValueTask.CompletedTask; });

        var command = await guest.RunAsync(GuestCommand.Of("portal-selftest", "ioctl", $"0x{EswRegRead:x}", "0"), TestContext.CancellationToken);
        StringAssert.Contains(command.Output, "ioctl cmd=0x89f1");
        Assert.IsEmpty(firmware, "a command of the agent is outside the scope");
        CollectionAssert.AreEqual(new[] { "portal-selftest" }, everyone.ToArray(), "the hook without the session's scope saw it");

        await guest.BootFirmwareAsync(TestContext.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await guest.WaitForConsoleAsync(new Regex("^swRegRead: ioctl: No such device \\(try 2\\)"), timeout.Token);
        Assert.IsNotEmpty(firmware, "the firmware's switch reads are in the subtree of its init");
        Assert.IsTrue(firmware.All(comm => comm != "portal-selftest"), string.Join(", ", firmware));
        Assert.AreEqual(1, everyone.Count(comm => comm == "portal-selftest"), "the firmware's calls reached the unscoped hook too, the command's once");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    /// <summary>
    /// The issue's case ("what does httpd pass to nvram_get?") on the demo firmware, which is dynamically
    /// linked against Debian's C library: a function hook on the library's <c>ioctl</c> (a shared object,
    /// its symbol from .dynsym) sees the switch tool's Ralink request, and its return hook answers it as
    /// the RAEth plugin's syscall hook does — the register's value written through the caller's pointers,
    /// the return value replaced — so the firmware boots to the end with no syscall hook at all.
    /// </summary>
    [TestMethod, TestCategory("FunctionHooks")]
    [DataRow("mipsel", "/lib/mipsel-linux-gnu/libc.so.6"), DataRow("armel", "/lib/arm-linux-gnueabi/libc.so.6"),
     DataRow("aarch64", "/lib/aarch64-linux-gnu/libc.so.6"), DataRow("x86_64", "/lib/x86_64-linux-gnu/libc.so.6")]
    public async Task A_function_hook_on_the_firmware_C_library_answers_its_switch_tool(string abi, string libc)
    {
        const long EswRegRead = 0x89F1;
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Firmware = new FirmwareOptions(DemoFirmware.Squashfs(abi)) },
            TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var calls = new ConcurrentQueue<(ulong Request, long Returned, ulong Function)>();
        var hook = await session.OnFunction(libc, "ioctl", SyscallPhase.Return).WhereComm("mtk7530_switch").WhereArg(1, ArgFilter.Equal(EswRegRead))
            .RegisterAsync(async context =>
            {
                calls.Enqueue((context.Args[1], context.Retval, context.FunctionAddress));
                // struct ifreq: char ifr_name[16], then ifr_data, a pointer to esw_reg { u32 off; u32 val; }
                var register = await context.Memory.ReadPtrAsync(context.Args[2] + 16);
                await context.Memory.WriteIntAsync(register + 4UL, 0x2u);
                context.Retval = 0;
            }, "LibcIoctl", TestContext.CancellationToken);

        await guest.BootFirmwareAsync(TestContext.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        await guest.WaitForConsoleAsync(new Regex("^rcS: boot complete"), timeout.Token);

        Assert.IsNotEmpty(calls, "the switch tool's ioctl went through the C library");
        // (int): the function returns an int, and a 64-bit register's upper half is undefined then (x86_64's is 0 here)
        Assert.IsTrue(calls.All(c => c.Request == EswRegRead && (int)c.Returned == -1), "the library returned -1 (ENODEV: no Ralink driver here) before the hook: "
            + string.Join(", ", calls));
        Assert.AreEqual(1, calls.Select(c => c.Function).Distinct().Count(), "one function, wherever the library is mapped");
        Assert.AreEqual(0, hook.Statistics.Errors);
        Assert.AreEqual(0, (await session.GetSyscallAccountingAsync(TestContext.CancellationToken)).Unhandled);
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Without_its_init_the_firmware_root_only_runs_commands()
    {
        await using var guest = await QemuGuest.StartAsync(
            new QemuGuestOptions { Firmware = new FirmwareOptions(DemoFirmware.Squashfs("mipsel")) { RunInit = false } }, TestContext.CancellationToken);
        Assert.IsNull(guest.FirmwareInit);
        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => guest.BootFirmwareAsync(TestContext.CancellationToken));
        StringAssert.Contains(error.Message, "RunInit = false");
        var run = await guest.RunAsync(GuestCommand.Of("sh", "-c", "cat /etc/hostname; ls /lib/ld.so.1"), TestContext.CancellationToken);
        Assert.AreEqual("portal-demo\n/lib/ld.so.1\n", run.Output);
    }

    [TestMethod]
    public async Task A_guest_without_firmware_has_nothing_to_boot()
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions(), TestContext.CancellationToken);
        Assert.IsNull(guest.FirmwareInit);
        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => guest.BootFirmwareAsync(TestContext.CancellationToken));
        StringAssert.Contains(error.Message, "boots no firmware");
    }

    [TestMethod]
    public async Task An_abi_that_disagrees_with_the_firmware_is_refused_before_booting()
    {
        var firmware = DemoFirmware.Squashfs("mipsel");
        var error = await Assert.ThrowsExactlyAsync<FirmwareRootfsException>(() =>
            QemuGuest.StartAsync(new QemuGuestOptions { Abi = GuestAbi.X86_64, Firmware = new FirmwareOptions(firmware) }, TestContext.CancellationToken));
        Assert.AreEqual($"The squashfs image {firmware} is mipsel, not x86_64 as asked.", error.Message);
    }

    /// <summary>Every path with its size and modification time.</summary>
    private static List<string> Snapshot(string directory) =>
        [.. Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(path => $"{Path.GetRelativePath(directory, path)} {(File.Exists(path) ? new FileInfo(path).Length : -1)} {File.GetLastWriteTimeUtc(path).Ticks}")];
}
