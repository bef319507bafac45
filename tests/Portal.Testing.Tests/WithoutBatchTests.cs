using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Conformance;
using Portal.Guests;
using Portal.Testing.Programs;

namespace Portal.Testing.Tests;

/// <summary>
/// A guest without the BATCH extension (GUEST_INFO does not advertise it): the same batched
/// handlers give the same results, one operation per exchange, pointers read first and resolved on
/// the host. Writes still ride on the verdict.
/// </summary>
[TestClass]
public sealed class WithoutBatchTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("x86_64"), DataRow("mips")]
    public async Task The_typed_raeth_handler_works_in_two_exchanges(string abiName)
    {
        await using var guest = new EmulatedGuest(GuestAbi.Parse(abiName), new EmulatedGuestOptions { Batch = false });
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        Assert.IsFalse(session.Guest.Features.HasFlag(Protocol.GuestFeatures.Batch));
        var plugin = new ConformanceSuite.TypedRaethPlugin(macAd0Value: 0x2);
        await session.LoadPluginAsync(plugin, TestContext.CancellationToken);
        var run = await guest.RunAsync(GuestCommand.Of(Mtk7530Switch.Name, "table_del"), TestContext.CancellationToken);
        Assert.AreEqual("done.\n", run.Output);
        CollectionAssert.AreEqual(new[] { 2L }, plugin.Exchanges, "the ifreq (whose ifr_data the host then knows), then *ifr_data");
        Assert.AreEqual(0, guest.Statistics.BadVerdicts);
    }

    [TestMethod]
    public async Task The_batched_ioctl_interaction_handler_works_one_operation_per_exchange()
    {
        await using var guest = new EmulatedGuest(GuestAbi.MipsEl, new EmulatedGuestOptions { Batch = false });
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var plugin = new ConformanceSuite.BatchedIoctlInteractionPlugin();
        await session.LoadPluginAsync(plugin, TestContext.CancellationToken);
        var command = GuestCommand.Of(IoctlInteraction.Name) with { Environment = new Dictionary<string, string> { ["PORTAL_TEST"] = "conformance" } };
        var run = await guest.RunAsync(command, TestContext.CancellationToken);
        StringAssert.Contains(run.Output, "after name=test data=0x12345678");
        CollectionAssert.AreEqual(new[] { "Interface: eth0", "Data: 0x1337" }, plugin.Log.Take(2).ToArray());
        Assert.AreEqual("Env: conformance", plugin.Log[4]);
        Assert.AreEqual(8, plugin.Exchanges, "str, int, the two staged writes, fd, args, env, pid; the read-backs stay local");
    }
}
