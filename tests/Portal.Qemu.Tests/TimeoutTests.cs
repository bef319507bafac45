using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Channels;
using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Qemu.Tests;

/// <summary>A host that does not answer in time: the guest lets the syscall go, the late handler learns it, and forwarding resumes.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class TimeoutTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task A_late_host_is_abandoned_its_handler_learns_it_and_forwarding_resumes()
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { HostTimeout = TimeSpan.FromMilliseconds(500) }, TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var release = new TaskCompletionSource();
        var lateOutcome = new TaskCompletionSource<Exception?>();
        var block = true;
        var calls = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7001)).RegisterAsync(async context =>
        {
            Interlocked.Increment(ref calls);
            if (!Volatile.Read(ref block))
            {
                context.SkipSyscall = true;
                context.Retval = 5;
                return;
            }
            await release.Task;         // hold the event past the guest's 500 ms
            try
            {
                await context.Memory.GetProcPidAsync();
                lateOutcome.SetResult(null);
            }
            catch (Exception e)
            {
                lateOutcome.SetResult(e);
            }
        });

        var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "ioctl", "0x7001", "0"), TestContext.CancellationToken);
        StringAssert.Contains(run.Output, "arg=0x0 rc=-1 errno=25", "after the timeout the syscall went on unmodified");
        Assert.AreEqual(1, calls);

        release.SetResult();
        // The session cancelled the handler's token and ended the event when the guest gave up: the late operation
        // fails, with the cancellation or with "the event has ended", whichever it meets first.
        var late = await lateOutcome.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.CancellationToken);
        Assert.IsTrue(late is OperationCanceledException or GuestTimeoutException, $"the late operation failed with {late}");
        Volatile.Write(ref block, false);
        var statistics = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);
        Assert.AreEqual(1, statistics.HostTimeouts);

        run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "ioctl", "0x7001", "2"), TestContext.CancellationToken);
        StringAssert.Contains(run.Output, "arg=0x2 rc=5 errno=0", "acknowledged: events reach the host again");
        Assert.AreEqual(0, (await session.GetGuestStatisticsAsync(TestContext.CancellationToken)).EventsDropped,
            "the host acknowledged while the late handler still ran: nothing was dropped");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }
}
