using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Qemu.Tests;

/// <summary>
/// The seed's TP-Link Archer C20 scenario on the real guest: <c>mtk7530_switch table_del</c> polls a
/// switch register through an ioctl the kernel does not have; a C# handler answers it.
/// </summary>
[TestClass, TestCategory("RealGuest")]
public sealed class TpLinkSwitchTests
{
    private const long RaethEswRegRead = 0x89F1;
    private const uint RegEswWtMacAd0 = 0x34;
    private static QemuGuest? s_guest;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task BootAsync(TestContext context) =>
        s_guest = await QemuGuest.StartAsync(cancellationToken: context.CancellationToken);

    [ClassCleanup]
    public static async Task ShutDownAsync()
    {
        if (s_guest is not null)
            await s_guest.DisposeAsync();
    }

    [TestCleanup]
    public async Task KernelStaysHealthyAsync() => await KernelLog.AssertCleanAsync(s_guest!, TestContext.CancellationToken);

    private Task<GuestCommandResult> TableDelAsync() => s_guest!.RunAsync(GuestCommand.Of("mtk7530_switch", "table_del"), TestContext.CancellationToken);

    /// <summary>The seed's RAEthPlugin, one operation per call as the Python plugin does it.</summary>
    private sealed class RaethPlugin(uint macAd0Value)
    {
        public List<uint> Registers { get; } = [];

        public long Exchanges { get; private set; }

        [Hypersyscall("ioctl", SyscallPhase.Return)]
        [Arg(1, Is = RaethEswRegRead)]
        public async ValueTask HandleRaethIoctl(SyscallContext syscall)
        {
            var arg = syscall.Args[2];
            if (await syscall.Memory.ReadStrAsync(arg) != "eth0")
                return;
            var eswReg = await syscall.Memory.ReadPtrAsync(arg + 16);   // ifr.ifr_data
            var code = await syscall.Memory.ReadIntAsync(eswReg);       // esw_reg.off
            var value = code switch
            {
                RegEswWtMacAd0 => macAd0Value,
                0x80 => 0x8234u,
                0x90 => 0x73u,
                _ => 0x10173u,
            };
            Registers.Add(code);
            await syscall.Memory.WriteIntAsync(eswReg + 4, value);     // esw_reg.val
            syscall.Retval = 0;
            Exchanges += syscall.Exchanges;
        }
    }

    [TestMethod]
    public async Task Without_a_handler_the_switch_tool_fails_its_ioctl()
    {
        var run = await TableDelAsync();
        StringAssert.Contains(run.Output, "ioctl: No such device");
        Assert.DoesNotContain("done.", run.Output);
    }

    [TestMethod]
    public async Task With_the_raeth_handler_the_switch_tool_is_done()
    {
        await using var session = await PortalSession.AttachAsync(s_guest!.Connection);
        var plugin = new RaethPlugin(macAd0Value: 0x2);
        await session.LoadPluginAsync(plugin);
        var run = await TableDelAsync();
        Assert.AreEqual("done.\n", run.Output);
        CollectionAssert.AreEqual(new[] { RegEswWtMacAd0 }, plugin.Registers);
        Assert.AreEqual(4, plugin.Exchanges, "seed-style: read_str, read_ptr, read_int, write_int");
    }

    [TestMethod]
    public async Task A_register_that_never_reports_done_makes_the_tool_poll_twenty_times()
    {
        await using var session = await PortalSession.AttachAsync(s_guest!.Connection);
        var plugin = new RaethPlugin(macAd0Value: 0x0);
        await session.LoadPluginAsync(plugin);
        var run = await TableDelAsync();
        Assert.AreEqual("timeout.\n", run.Output);
        Assert.HasCount(20, plugin.Registers);
    }

    [TestMethod]
    public async Task The_advanced_variant_skips_the_ioctl_for_the_switch_tool_only()
    {
        await using var session = await PortalSession.AttachAsync(s_guest!.Connection);
        var calls = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm("mtk7530_switch").WhereArg(1, ArgFilter.Equal(RaethEswRegRead))
            .RegisterAsync(async syscall =>
            {
                calls++;
                var eswReg = await syscall.Memory.ReadPtrAsync(syscall.Args[2] + 16);
                if (await syscall.Memory.ReadIntAsync(eswReg) != RegEswWtMacAd0)
                    return;
                syscall.SkipSyscall = true;                               // the driver is never asked
                await syscall.Memory.WriteIntAsync(eswReg + 4, 0x2u);    // w_mac_done
                syscall.Retval = 0;
            });
        var run = await TableDelAsync();
        Assert.AreEqual("done.\n", run.Output);
        Assert.AreEqual(1, calls);
    }
}
