using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Guests;

namespace Portal.Qemu.Tests;

/// <summary>
/// 32-bit ARM cancels a skipped syscall with a probe on syscall_trace_enter (guest/module/portal_arm.c):
/// a kprobe on its epilogue where the code has the expected shape (Debian's armmp kernel), else a
/// kretprobe. Both must carry out every skip; the fallback is forced with portal.arm_skip_kretprobe=1.
/// </summary>
[TestClass, TestCategory("RealGuest")]
public sealed class ArmSkipTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow(false, "skips: kprobe on syscall_trace_enter's epilogue")]
    [DataRow(true, "skips: kretprobe on syscall_trace_enter")]
    public async Task Each_armel_skip_probe_carries_out_every_skip(bool forceKretprobe, string probe)
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions
        {
            Abi = GuestAbi.ArmEl,
            KernelArguments = forceKretprobe ? ["portal.arm_skip_kretprobe=1"] : [],
        }, TestContext.CancellationToken);
        var log = await guest.RunAsync(GuestCommand.Of("dmesg"), TestContext.CancellationToken);
        StringAssert.Contains(log.Output, $"portal: {probe}", "the probe in use");
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var answers = await ReliabilityTests.RegisterAnswerAsync(session, 0x7001, TestContext.CancellationToken);
        var before = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);

        var load = ReliabilityTests.Load(await guest.RunAsync(GuestCommand.Of("portal-load", "0x7001", "1000", "0", "2"), TestContext.CancellationToken));

        Assert.AreEqual((1000, 0, 0), load, "every call got its own skip value, none ran (ENOTTY)");
        Assert.AreEqual(1000, answers.Statistics.Calls);
        var after = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);
        Assert.AreEqual(0L, after.SkipsFailed - before.SkipsFailed);
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }
}
