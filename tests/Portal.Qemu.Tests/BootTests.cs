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
}
