using System.Diagnostics;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Qemu.Tests;

/// <summary>
/// Issue 11, finding 4: a syscall's hold is bounded in total (docs/protocol.md §5.3,
/// <c>hold_budget_ms</c>), not only per event, whatever the number of hooks. The scenario
/// (30 hooks × 1.9 s under a 2 s per-event bound: 57 s held, soft lockups) scaled down for CI: 30
/// hooks each answered after 400 ms, under a 500 ms per-event bound and a 1 s budget, with the
/// guest's soft-lockup watchdog lowered to 2 s (watchdog_thresh = 1) so that the unbounded hold
/// (12 s) trips it as the did.
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed class HoldBudgetTests
{
    private const int Hooks = 30;
    private static readonly TimeSpan HandlerDelay = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan HostTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(1);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Thirty_slow_hooks_on_one_syscall_hold_it_no_longer_than_the_budget_and_the_rest_are_counted()
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { HostTimeout = HostTimeout, HoldBudget = Budget },
            TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var calls = 0;
        for (var i = 0; i < Hooks; i++)
        {
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7001)).RegisterAsync(async context =>
            {
                Interlocked.Increment(ref calls);
                await Task.Delay(HandlerDelay);     // answers, but each answer is under the per-event bound
            });
        }
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
        var lowered = await guest.RunShellAsync("echo 1 > /proc/sys/kernel/watchdog_thresh && cat /proc/sys/kernel/watchdog_thresh",
            cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("1", lowered.Output.Trim(), "soft-lockup threshold lowered to 2 s");
        var before = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);

        var started = Stopwatch.GetTimestamp();
        var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "ioctl", "0x7001", "0"), TestContext.CancellationToken);
        var held = Stopwatch.GetElapsedTime(started);
        TestContext.WriteLine($"held {held.TotalMilliseconds:F0} ms (budget {Budget.TotalMilliseconds} ms), {calls} handlers called");

        StringAssert.Contains(run.Output, "ioctl cmd=0x7001 arg=0x0 rc=-1 errno=25", "the syscall continued unmodified");
        // Everything the command took (agent, fork, exec, the hold) stays near the budget; unbounded it is 30 x 400 ms = 12 s.
        Assert.IsLessThanOrEqualTo(2.5, held.TotalSeconds, $"the ioctl was held {held.TotalSeconds:F1} s");

        // The handlers still running (the one the guest cut off) finish before the counters are read.
        await Task.Delay(HandlerDelay + HandlerDelay, TestContext.CancellationToken);
        var after = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);
        var sent = after.EventsSent - before.EventsSent;
        var timeouts = after.HostTimeouts - before.HostTimeouts;
        var overBudget = after.EventsOverBudget - before.EventsOverBudget;
        TestContext.WriteLine($"guest: events_sent {sent}, host_timeouts {timeouts}, events_over_budget {overBudget}, " +
            $"events_dropped {after.EventsDropped - before.EventsDropped}");
        // 400 ms answers in a 1 s budget: two answered, the third cut off by the budget (abandoned like a
        // timeout) or, on a slow host, not started; every other hook is over budget.
        Assert.AreEqual(calls, (int)sent, "every delivered event reached a handler");
        Assert.IsTrue(sent is >= 2 and <= 3, $"{sent} events fit in the budget");
        Assert.AreEqual(sent - 2, timeouts, "only an event the budget cut off timed out");
        Assert.AreEqual(Hooks - sent, overBudget, "every hook not delivered is counted over budget");
        Assert.AreEqual(0, after.EventsDropped - before.EventsDropped);

        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);      // no soft lockup
    }
}
