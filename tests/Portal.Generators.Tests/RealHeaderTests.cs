using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Generators.Tests.Raeth;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Testing;
using Portal.Testing.Programs;
using Portal.Typed;

namespace Portal.Generators.Tests;

/// <summary>
/// The whole pipeline on real headers: samples/Raeth/headers/raeth.h (esw_reg, the RAETH constants, and
/// struct ifreq from each target's own &lt;net/if.h&gt;) parsed by libclang at build time for x86_64 and
/// mipsel, generated into C#, and run against the emulated guest's programs.
/// </summary>
[TestClass]
public sealed class RealHeaderTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("x86_64", 40), DataRow("mipsel", 32)]
    public void Struct_ifreq_has_each_targets_layout(string abi, int size)
    {
        Assert.AreEqual(size, Ifreq.SizeOf(GuestAbi.Parse(abi)));
        Assert.AreEqual(8, EswReg.SizeOf(GuestAbi.Parse(abi)));
        Assert.AreEqual(0x89f1, typeof(Raeth.Raeth).GetField(nameof(Raeth.Raeth.RAETH_ESW_REG_READ))!.GetRawConstantValue());
    }

    [TestMethod]
    [DataRow("x86_64"), DataRow("mipsel")]
    public async Task Ifreq_loads_in_one_exchange_and_its_changes_store_in_one(string abiName)
    {
        await using var guest = new EmulatedGuest(GuestAbi.Parse(abiName));
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        (string Name, int Index, long Load, long Store)? seen = null;
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(IoctlInteraction.SiocDevPrivate)).RegisterAsync(async syscall =>
        {
            var before = syscall.Exchanges;
            var ifr = await syscall.Memory.At<Ifreq>(syscall.Args[2]).LoadAsync();
            var load = syscall.Exchanges - before;
            var (name, index) = (ifr.IfrName, ifr.IfrIfindex);        // ifr_name, ifr_ifindex: member-path macros of <net/if.h>
            ifr.IfrName = "test";
            ifr.IfrIfindex = 0x12345678;
            before = syscall.Exchanges;
            await ifr.StoreAsync();                                    // [0,16) and [16,20) touch: one write
            seen = (name, index, load, syscall.Exchanges - before);
            syscall.Retval = 0;
        });

        var run = await guest.RunAsync(GuestCommand.Of(IoctlInteraction.Name), TestContext.CancellationToken);

        Assert.IsNotNull(seen, run.Output);
        Assert.AreEqual("eth0", seen.Value.Name);
        Assert.AreEqual(0x1337, seen.Value.Index);
        Assert.AreEqual(1, seen.Value.Load, "the whole struct ifreq in one exchange");
        Assert.AreEqual(1, seen.Value.Store);
        StringAssert.Contains(run.Output, "after name=test data=0x12345678");
        StringAssert.Contains(run.Output, "rc=0 errno=0");
    }

    /// <summary>The seed's RAEth handler with typed structs instead of <c>arg + 16</c>: one exchange, the write on the verdict.</summary>
    private sealed class TypedRaethPlugin
    {
        public long Exchanges { get; private set; }

        [Hypersyscall("ioctl", SyscallPhase.Return)]
        [Arg(1, Is = Raeth.Raeth.RAETH_ESW_REG_READ)]
        public async ValueTask OnRegisterRead(SyscallContext syscall)
        {
            var (ifr, reg) = await syscall.Memory.At<Ifreq>(syscall.Args[2]).LoadAsync(p => p.IfrData.Deref<EswReg>());
            if (ifr.IfrName != "eth0")
                return;
            reg.Val = (int)reg.Off switch
            {
                Raeth.Raeth.REG_ESW_WT_MAC_AD0 => 0x2u,
                Raeth.Raeth.REG_ESW_WT_MAC_ATC => 0x8234u,
                Raeth.Raeth.REG_ESW_TABLE_STATUS0 => 0x73u,
                _ => 0x10173u,
            };
            syscall.Retval = 0;
            Exchanges += syscall.Exchanges;
        }
    }

    [TestMethod]
    [DataRow("x86_64"), DataRow("mipsel")]
    public async Task The_switch_tool_is_done_with_a_typed_handler(string abiName)
    {
        await using var guest = new EmulatedGuest(GuestAbi.Parse(abiName));
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var plugin = new TypedRaethPlugin();
        await session.LoadPluginAsync(plugin);
        var run = await guest.RunAsync(GuestCommand.Of(Mtk7530Switch.Name, "table_del"), TestContext.CancellationToken);
        Assert.AreEqual("done.\n", run.Output);
        Assert.AreEqual(1, plugin.Exchanges, "ifr and *ifr_data in one exchange; val rides on the verdict");
    }
}
