using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Qemu.Tests;

/// <summary>
/// Nothing lost silently on the real guest: a handler the guest gives up on is cancelled and its vCPU
/// served again; a handler that blocks its thread does not stall another vCPU; a sparse event rate
/// costs the host little CPU. The load comes from <c>portal-load</c>, whose calls are sequence-checked
/// (each one must get its own answer).
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed partial class ReliabilityTests
{
    private const int LoadCommand = 0x7001, OtherCommand = 0x7002;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task A_handler_that_never_finishes_is_cancelled_when_the_guest_gives_up_and_its_vcpu_is_served_again()
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { HostTimeout = TimeSpan.FromMilliseconds(500) }, TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hung = await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(OtherCommand)).RegisterAsync(async context =>
        {
            using var registration = context.CancellationToken.Register(cancelled.SetResult);
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }, "Hangs", TestContext.CancellationToken);
        var answers = await RegisterAnswerAsync(session, LoadCommand);

        var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "ioctl", "0x7002", "0"), TestContext.CancellationToken);
        StringAssert.Contains(run.Output, "arg=0x0 rc=-1 errno=25", "the guest gave up: the syscall continued unmodified");
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.CancellationToken);

        var load = Load(await guest.RunAsync(GuestCommand.Of("portal-load", "0x7001", "500"), TestContext.CancellationToken));
        Assert.AreEqual((500, 0, 0), (load.Handled, load.Unhandled, load.Wrong), "every later event on that vCPU is handled");
        Assert.AreEqual(1, hung.Statistics.Calls);
        Assert.AreEqual(1, hung.Statistics.Abandoned);
        Assert.AreEqual(0, hung.Statistics.Errors);
        Assert.AreEqual(500, answers.Statistics.Calls);
        var accounting = await session.GetSyscallAccountingAsync(TestContext.CancellationToken);
        Assert.AreEqual((1L, 0L, 1L), (accounting.TimedOut, accounting.Dropped, accounting.Unhandled), accounting.ToString());
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task A_handler_that_blocks_its_thread_does_not_stall_another_vcpus_events()
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Cpus = 2 }, TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var blocker = await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(OtherCommand)).RegisterAsync(_ =>
        {
            Thread.Sleep(3000);             // blocks whatever thread runs it, past the guest's 2 s bound
            return ValueTask.CompletedTask;
        }, "Blocks", TestContext.CancellationToken);
        var answers = await RegisterAnswerAsync(session, LoadCommand);

        // vCPU 0 holds the blocking call; vCPU 1 makes 1,500 calls at 1,000/s meanwhile.
        var run = await guest.RunShellAsync("taskset 1 portal-selftest ioctl 0x7002 0 & taskset 2 portal-load 0x7001 1500 1000; wait",
            cancellationToken: TestContext.CancellationToken);
        var load = Load(run);
        Assert.AreEqual((1500, 0, 0), (load.Handled, load.Unhandled, load.Wrong), run.Output);
        StringAssert.Contains(run.Output, "arg=0x0 rc=-1 errno=25", "the blocked call continued unmodified when the guest gave up");
        Assert.AreEqual(1500, answers.Statistics.Calls);
        Assert.AreEqual(1, blocker.Statistics.Abandoned);
        var accounting = await session.GetSyscallAccountingAsync(TestContext.CancellationToken);
        Assert.AreEqual((1L, 0L, 1L), (accounting.TimedOut, accounting.Dropped, accounting.Unhandled), accounting.ToString());
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task A_sparse_event_rate_costs_the_host_little_cpu()
    {
        await using var guest = await QemuGuest.StartAsync(cancellationToken: TestContext.CancellationToken);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        await RegisterAnswerAsync(session, LoadCommand);
        await guest.RunAsync(GuestCommand.Of("portal-load", "0x7001", "20"), TestContext.CancellationToken);    // JIT and first calls out of the way

        // 15 events per second for 4 s; the host process's CPU time over the same interval.
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var load = Load(await guest.RunAsync(GuestCommand.Of("portal-load", "0x7001", "60", "15"), TestContext.CancellationToken));
        process.Refresh();
        var share = (process.TotalProcessorTime - cpuBefore) / clock.Elapsed;
        Assert.AreEqual(60, load.Handled);
        TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture, $"host CPU at 15 events/s: {share:P1} of a core"));
        Assert.IsLessThan(0.25, share, string.Create(CultureInfo.InvariantCulture, $"the host used {share:P0} of a core for 15 events/s"));
    }

    /// <summary>The sequence-checked answer portal-load expects: skip, return the call's index + 1.</summary>
    internal static ValueTask<HookRegistration> RegisterAnswerAsync(PortalSession session, int command, CancellationToken cancellationToken = default) =>
        session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal((ulong)command)).RegisterAsync(context =>
        {
            context.SkipSyscall = true;
            context.Retval = (long)(context.Args[2] & 0xff_ffff) + 1;
            return ValueTask.CompletedTask;
        }, "Answers", cancellationToken);

    internal static (int Handled, int Unhandled, int Wrong) Load(GuestCommandResult run)
    {
        var summaries = Loads(run);
        Assert.IsNotEmpty(summaries, $"portal-load printed no summary:\n{run.Output}");
        return summaries[0];
    }

    /// <summary>Every portal-load summary in the output (one per portal-load run), in order.</summary>
    internal static IReadOnlyList<(int Handled, int Unhandled, int Wrong)> Loads(GuestCommandResult run) =>
        [.. LoadLine().Matches(run.Output).Select(match =>
        {
            int Number(string name) => int.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture);
            return (Number("handled"), Number("unhandled"), Number("wrong"));
        })];

    [GeneratedRegex(@"portal-load: calls=\d+ handled=(?<handled>\d+) unhandled=(?<unhandled>\d+) wrong=(?<wrong>\d+)")]
    private static partial Regex LoadLine();
}
