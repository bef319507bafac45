using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal;
using Portal.Abi;
using Portal.Guests;
using Portal.Testing;
using Portal.Testing.Programs;

[assembly: Parallelize(Scope = ExecutionScope.MethodLevel)]

namespace PortalPlugin1.Tests;

/// <summary>
/// Runs the guest program ioctl_interaction on the emulated guest: it calls ioctl(SIOCDEVPRIVATE) with "eth0" and
/// 0x1337 at offset 16, and prints "rc=... errno=..." and "after name=... data=0x...".
/// </summary>
[TestClass]
public sealed class DevicePluginTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mipsel")]
    public async Task The_plugin_answers_the_query_in_one_exchange(string abi)
    {
        await using var guest = new EmulatedGuest(GuestAbi.Parse(abi));
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        await session.LoadPluginAsync(new DevicePlugin(NullLogger.Instance), TestContext.CancellationToken);

        var run = await guest.RunAsync(GuestCommand.Of(IoctlInteraction.Name), TestContext.CancellationToken);

        StringAssert.Contains(run.Output, "rc=0 errno=0\n");
        StringAssert.Contains(run.Output, $"after name=eth0 data=0x{DevicePlugin.ReportedStatus:x}\n");
        var handler = session.Statistics.ForHandler($"{nameof(DevicePlugin)}.{nameof(DevicePlugin.OnQuery)}");
        Assert.AreEqual(1, handler.Calls);
        Assert.AreEqual(1, handler.Exchanges, "the load is one exchange; the status rides on the verdict");
    }

    [TestMethod]
    public async Task Without_the_plugin_the_guest_gets_ENODEV()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);

        var run = await guest.RunAsync(GuestCommand.Of(IoctlInteraction.Name), TestContext.CancellationToken);

        StringAssert.Contains(run.Output, "rc=-1 errno=19\n");      // ENODEV on x86_64
        StringAssert.Contains(run.Output, "after name=eth0 data=0x1337\n");
    }
}
