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
        await LowerSoftLockupThresholdAsync(guest);
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
        // timeout) or not started; every other hook is over budget. A loaded host answers later, so fewer
        // may fit (one, cut off); never more.
        Assert.AreEqual(calls, (int)sent, "every delivered event reached a handler");
        Assert.IsTrue(sent is >= 1 and <= 3, $"{sent} events fit in the budget");
        Assert.IsTrue(timeouts is 0 or 1, $"{timeouts} events timed out: only one the budget cut off may");
        Assert.AreEqual(Hooks - sent, overBudget, "every hook not delivered is counted over budget");
        Assert.AreEqual(0, after.EventsDropped - before.EventsDropped);

        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);      // no soft lockup
    }

    /// <summary>
    /// Between a syscall's enter and return stops the vCPU need not schedule (Debian's kernel preempts
    /// voluntarily, and an ioctl on /dev/null never yields), so the two stops are one stretch for the
    /// soft-lockup watchdog. Each answered in 1.8 s under a 2 s budget: bounded separately they kept
    /// the vCPU 3.9 s and the guest logged "soft lockup - CPU#0 stuck for 3s!" (threshold lowered to
    /// 2 s). The return stop must get only what the enter stop left.
    /// </summary>
    [TestMethod]
    public async Task An_enter_and_a_return_stop_without_scheduling_between_share_one_budget()
    {
        var budget = TimeSpan.FromSeconds(2);
        var delay = TimeSpan.FromMilliseconds(1800);
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { HoldBudget = budget }, TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var enters = 0;
        var returns = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7002)).RegisterAsync(async context =>
        {
            Interlocked.Increment(ref enters);
            await Task.Delay(delay);
        });
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(0x7002)).RegisterAsync(async context =>
        {
            Interlocked.Increment(ref returns);
            await Task.Delay(delay);
            context.Retval = 7;     // too late: the budget cut this event off
        });
        await LowerSoftLockupThresholdAsync(guest);
        var before = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);

        var started = Stopwatch.GetTimestamp();
        var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "ioctl", "0x7002", "0"), TestContext.CancellationToken);
        var held = Stopwatch.GetElapsedTime(started);
        TestContext.WriteLine($"held {held.TotalMilliseconds:F0} ms (budget {budget.TotalMilliseconds} ms)");

        StringAssert.Contains(run.Output, "ioctl cmd=0x7002 arg=0x0 rc=-1 errno=25", "the return verdict came too late to apply");
        Assert.IsLessThanOrEqualTo(budget.TotalSeconds + 0.5, held.TotalSeconds, $"the ioctl was held {held.TotalSeconds:F1} s");
        await Task.Delay(delay + delay, TestContext.CancellationToken);
        var after = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);
        Assert.AreEqual((1, 1), (enters, returns));
        Assert.AreEqual(2, after.EventsSent - before.EventsSent);
        Assert.AreEqual(1, after.VerdictsApplied - before.VerdictsApplied, "the enter stop's verdict");
        Assert.AreEqual(1, after.HostTimeouts - before.HostTimeouts, "the return stop cut off at the shared deadline");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(-1.0)]
    [DataRow(10_001.0)]
    public async Task A_budget_outside_what_the_module_accepts_is_refused_before_booting(double milliseconds)
    {
        var options = new QemuGuestOptions { HoldBudget = TimeSpan.FromMilliseconds(milliseconds) };
        var error = await Assert.ThrowsExactlyAsync<ArgumentOutOfRangeException>(() => QemuGuest.StartAsync(options, TestContext.CancellationToken));
        StringAssert.Contains(error.Message, nameof(QemuGuestOptions.HoldBudget));
    }

    /// <summary>watchdog_thresh = 1: the guest reports a soft lockup after 2 s without scheduling (default 20 s).</summary>
    private async Task LowerSoftLockupThresholdAsync(QemuGuest guest)
    {
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
        var lowered = await guest.RunShellAsync("echo 1 > /proc/sys/kernel/watchdog_thresh && cat /proc/sys/kernel/watchdog_thresh",
            cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual("1", lowered.Output.Trim(), "soft-lockup threshold lowered to 2 s");
    }
}
