using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Guests;

namespace Portal.Qemu.Tests;

[TestClass, TestCategory("RealGuest")]
public sealed class BootTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task The_guest_boots_answers_and_runs_commands()
    {
        await using var guest = await QemuGuest.StartAsync(cancellationToken: TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        TestContext.WriteLine($"boot {guest.BootTime.TotalSeconds:F1} s, kernel {session.Guest.KernelRelease}, slots {session.Guest.CpuSlots}");
        await session.PingAsync();
        var result = await guest.RunAsync(GuestCommand.Of("portal-selftest", "getpid"), TestContext.CancellationToken);
        Assert.AreEqual(0, result.ExitCode, result.Output);
        StringAssert.StartsWith(result.Output, "pid=");
    }

    [TestMethod]
    public async Task The_kernel_log_check_catches_a_warning()
    {
        await using var guest = await QemuGuest.StartAsync(cancellationToken: TestContext.CancellationToken);
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
        await guest.RunShellAsync("echo 'WARNING: CPU: 0 PID: 1 at test-injected' > /dev/kmsg", cancellationToken: TestContext.CancellationToken);
        await Assert.ThrowsAsync<AssertFailedException>(async () => await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken));
    }

    [TestMethod]
    public async Task User_files_are_placed_in_the_guest_and_the_image_is_cached()
    {
        var script = Path.Combine(Path.GetTempPath(), $"portal-hello-{Guid.NewGuid():N}.sh");
        await File.WriteAllTextAsync(script, "#!/bin/sh\necho \"hello from $0 with $1\"\n", TestContext.CancellationToken);
        try
        {
            var options = new QemuGuestOptions { Files = [new Image.GuestFile(script, "/opt/tools/hello")] };
            await using (var guest = await QemuGuest.StartAsync(options, TestContext.CancellationToken))
            {
                var result = await guest.RunAsync(GuestCommand.Of("/opt/tools/hello", "an argument"), TestContext.CancellationToken);
                Assert.AreEqual("hello from /opt/tools/hello with an argument\n", result.Output);
            }
            await using (var again = await QemuGuest.StartAsync(options, TestContext.CancellationToken))
                Assert.IsTrue(again.Image.FromCache, "the same inputs boot from the cache without building");
        }
        finally
        {
            File.Delete(script);
        }
    }

    [TestMethod]
    public async Task Two_vcpus_deliver_events_on_their_own_slots()
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Cpus = 2 }, TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual(2, session.Guest.CpuSlots);
        var calls = 0;
        await session.OnSyscall("ioctl", Hypersyscalls.SyscallPhase.Enter).WhereArg(1, Hypersyscalls.ArgFilter.Equal(0x7001))
            .RegisterAsync(async context =>
            {
                Interlocked.Increment(ref calls);
                await context.Memory.GetProcPidAsync();
                context.SkipSyscall = true;
                context.Retval = 9;
            });
        var pairs = Enumerable.Range(0, 200).SelectMany(i => new[] { "0x7001", i.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToArray();
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            guest.RunAsync(new GuestCommand(["portal-selftest", "ioctl", .. pairs]), TestContext.CancellationToken)));
        foreach (var run in runs)
            Assert.AreEqual(200, run.Lines.Count(line => line.EndsWith("rc=9 errno=0", StringComparison.Ordinal)), run.Output);
        Assert.AreEqual(800, calls);
        Assert.AreEqual(0, (await session.GetGuestStatisticsAsync(TestContext.CancellationToken)).HostTimeouts);
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }
}

[TestClass]
public sealed class PrerequisiteTests
{
    [TestMethod]
    public void A_missing_guest_kernel_is_one_clear_message_naming_the_setup_script()
    {
        var error = Assert.ThrowsExactly<Hosting.GuestPrerequisiteException>(() => Hosting.GuestPrerequisites.Check("9.9.9-no-such-kernel"));
        StringAssert.Contains(error.Message, "guest kernel 9.9.9-no-such-kernel");
        StringAssert.Contains(error.Message, "scripts/setup-guest.sh");
        Assert.IsNull(error.InnerException);
    }

    [TestMethod]
    public void Guest_files_are_parsed_from_host_colon_guest()
    {
        Assert.AreEqual(new Image.GuestFile("/tmp/a:b", "/usr/bin/tool"), Image.GuestFile.Parse("/tmp/a:b:/usr/bin/tool"));
        Assert.ThrowsExactly<FormatException>(() => Image.GuestFile.Parse("/tmp/tool"));
        Assert.ThrowsExactly<FormatException>(() => Image.GuestFile.Parse("/tmp/tool:relative/path"));
    }
}
