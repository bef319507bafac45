using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Conformance;
using Portal.Guests;

namespace Portal.Qemu.Tests;

/// <summary>The conformance suite on the real guest: Debian's kernel under QEMU with portal.ko (one boot for the class).</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class QemuX86_64Conformance : ConformanceSuite
{
    private static QemuGuest? s_guest;

    [ClassInitialize]
    public static async Task BootAsync(TestContext context)
    {
        s_guest = await QemuGuest.StartAsync(cancellationToken: context.CancellationToken);
        await KernelLog.AssertCleanAsync(s_guest, context.CancellationToken);     // the boot messages go; only new ones count
    }

    [ClassCleanup]
    public static async Task ShutDownAsync()
    {
        if (s_guest is not null)
            await s_guest.DisposeAsync();
    }

    protected override IGuest Guest => s_guest!;

    /// <summary>Every test leaves the guest kernel without an oops, warning or lockup.</summary>
    [TestCleanup]
    public async Task KernelStaysHealthyAsync() => await KernelLog.AssertCleanAsync(s_guest!, TestContext.CancellationToken);
}
