using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Qemu.Tests;

/// <summary>
/// Two vCPUs on the weakly ordered guests (MIPS, ARM), under load: the window's handover relies on the
/// guest's release/acquire barriers, which x86's strong ordering would forgive. Both vCPUs make
/// sequence-checked calls (portal-load) as fast as they can, each answered by a skip with its own
/// value, so a verdict or an event read before it was complete shows up as a wrong or unhandled call.
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed class SmpTests
{
    private const int LoadCommand = 0x7001, CallsPerVcpu = 2_000;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>The Malta guest refuses a second vCPU with the reason (see GuestMachine).</summary>
    [TestMethod]
    public async Task The_mipsel_guest_refuses_a_second_vcpu_and_says_why()
    {
        var e = await Assert.ThrowsExactlyAsync<ArgumentOutOfRangeException>(() =>
            QemuGuest.StartAsync(new QemuGuestOptions { Abi = GuestAbi.MipsEl, Cpus = 2 }, TestContext.CancellationToken));
        StringAssert.Contains(e.Message, "The mipsel guest runs at most 1 vCPU(s): Debian's Malta kernel runs SMP only as MIPS MT");
    }

    [TestMethod]
    [DataRow("aarch64"), DataRow("armel")]
    public async Task Both_vcpus_loaded_at_once_get_every_call_answered_by_its_own_verdict(string abi)
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = GuestAbi.Parse(abi), Cpus = 2 }, TestContext.CancellationToken);
        var cpus = await guest.RunAsync(GuestCommand.Of("grep", "-c", "^processor", "/proc/cpuinfo"), TestContext.CancellationToken);
        Assert.AreEqual("2", cpus.Output.Trim(), "the guest kernel brought up both vCPUs");
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        // The answer needs one exchange (the caller's pid, which portal-load's argument names), so
        // requests and responses cross the window under load too, not only events and verdicts.
        var answers = await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(LoadCommand)).RegisterAsync(async context =>
        {
            var pid = await context.Memory.GetProcPidAsync();
            context.SkipSyscall = true;
            var own = pid == context.Pid && ((ulong)pid & 0x7f) == context.Args[2] >> 24;
            context.Retval = own ? (long)(context.Args[2] & 0xff_ffff) + 1 : -1000;     // -1000: portal-load counts it wrong
        }, "AnswersWithPid", TestContext.CancellationToken);
        var before = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);

        // Three getppid() calls (no hook matches them) between ioctls keep the syscall paths busy too.
        var run = await guest.RunShellAsync(
            $"taskset 1 portal-load 0x7001 {CallsPerVcpu} 0 3 & taskset 2 portal-load 0x7001 {CallsPerVcpu} 0 3; wait",
            cancellationToken: TestContext.CancellationToken);

        var summaries = ReliabilityTests.Loads(run);
        Assert.HasCount(2, summaries, run.Output);
        foreach (var summary in summaries)
            Assert.AreEqual((CallsPerVcpu, 0, 0), summary, run.Output);
        Assert.AreEqual(2 * CallsPerVcpu, answers.Statistics.Calls);
        Assert.AreEqual(2 * CallsPerVcpu, answers.Statistics.Exchanges, "one exchange per call: the pid read");
        var after = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);
        Assert.AreEqual(2L * CallsPerVcpu, after.EventsSent - before.EventsSent);
        Assert.AreEqual(0L, after.SkipsFailed - before.SkipsFailed, "every skip was carried out");
        var accounting = await session.GetSyscallAccountingAsync(TestContext.CancellationToken);
        Assert.AreEqual(0L, accounting.Unhandled, accounting.ToString());
        TestContext.WriteLine(run.Output);
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }
}
