using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Hypersyscalls;
using Portal.Testing.Programs;

namespace Portal.Conformance;

/// <summary>The seed's worked examples, end to end.</summary>
public abstract partial class ConformanceSuite
{
    /// <summary>
    /// The seed's <c>ioctl_interaction_test</c>, written the seed's way (one operation per call):
    /// read_str, read_int at +IFNAMSIZ, write_str + read back, write_int + read back, read_fd_name,
    /// get_proc_args/env/pid, then retval = 0. Ten exchanges; the retval rides on the verdict.
    /// </summary>
    public sealed class IoctlInteractionPlugin
    {
        public List<string> Log { get; } = [];

        public long Exchanges { get; private set; }

        public int Calls { get; private set; }

        [Hypersyscall("ioctl", SyscallPhase.Return, Comm = IoctlInteraction.Name)]
        [Arg(1, Is = (long)IoctlInteraction.SiocDevPrivate)]
        public async ValueTask SyscallTest(SyscallContext context)
        {
            Calls++;
            var memory = context.Memory;
            var arg = context.Args[2];
            var fd = (int)context.Args[0];
            Log.Add($"Interface: {await memory.ReadStrAsync(arg)}");
            Log.Add($"Data: 0x{await memory.ReadIntAsync(arg + IoctlInteraction.IfNameSize):x}");
            await memory.WriteStrAsync(arg, "test");
            var name = await memory.ReadStrAsync(arg);
            if (name != "test")
                throw new InvalidOperationException($"Expected test, got {name}, r/w failed");
            await memory.WriteIntAsync(arg + IoctlInteraction.IfNameSize, 0x12345678);
            var data = await memory.ReadIntAsync(arg + IoctlInteraction.IfNameSize);
            if (data != 0x12345678)
                throw new InvalidOperationException($"Expected 0x12345678, got 0x{data:x}, r/w failed");
            Log.Add($"FD: {await memory.ReadFdNameAsync(fd)}");
            Log.Add($"Args: {string.Join(' ', await memory.GetProcArgsAsync())}");
            Log.Add($"Env: {(await memory.GetProcEnvAsync()).GetValueOrDefault(EnvironmentName)}");
            Log.Add($"Pid: {await memory.GetProcPidAsync() == context.Pid}");
            context.Retval = 0;
            Exchanges = context.Exchanges;
        }
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Seed_ioctl_interaction_scenario_runs_in_ten_exchanges()
    {
        await using var session = await AttachAsync();
        var plugin = new IoctlInteractionPlugin();
        await session.LoadPluginAsync(plugin);

        var run = await RunAsync(IoctlInteraction.Name);

        Assert.AreEqual(0, run.ExitCode, run.Output);
        Assert.AreEqual(1, plugin.Calls, run.Output);
        StringAssert.Contains(run.Output, "before name=eth0 data=0x1337");
        StringAssert.Contains(run.Output, "rc=0 errno=0", "the handler's retval replaces ENODEV");
        StringAssert.Contains(run.Output, "after name=test data=0x12345678", "the guest program sees what the host wrote");
        CollectionAssert.AreEqual(new[] { "Interface: eth0", "Data: 0x1337" }, plugin.Log.Take(2).ToArray());
        StringAssert.StartsWith(plugin.Log[2], "FD: socket:[");
        CollectionAssert.AreEqual(new[] { $"Args: {IoctlInteraction.Name}", $"Env: {EnvironmentValue}", "Pid: True" }, plugin.Log.Skip(3).ToArray());
        Assert.AreEqual(10, plugin.Exchanges, "seed-style: one exchange per call");
        Assert.AreEqual(10, session.Statistics.ForHandler("IoctlInteractionPlugin.SyscallTest").Exchanges);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Without_a_handler_the_ioctl_fails_with_ENODEV()
    {
        var run = await RunAsync(IoctlInteraction.Name);
        StringAssert.Contains(run.Output, $"rc=-1 errno={Native(GuestErrno.ENODEV)}");
        StringAssert.Contains(run.Output, "after name=eth0 data=0x1337");
    }

    // ---- the TP-Link Archer C20 switch (mtk7530_switch table_del) ----------------------------------

    private Task<Guests.GuestCommandResult> TableDelAsync() => RunAsync(Mtk7530Switch.Name, "table_del");

    /// <summary>The seed's RAEthPlugin, one operation per call as the Python plugin does it.</summary>
    public sealed class RaethPlugin(uint macAd0Value)
    {
        public List<uint> Registers { get; } = [];

        public long Exchanges { get; private set; }

        [Hypersyscall("ioctl", SyscallPhase.Return)]
        [Arg(1, Is = (long)Mtk7530Switch.RaethEswRegRead)]
        public async ValueTask HandleRaethIoctl(SyscallContext syscall)
        {
            var arg = syscall.Args[2];
            if (await syscall.Memory.ReadStrAsync(arg) != "eth0")
                return;
            var eswReg = await syscall.Memory.ReadPtrAsync(arg + 16);   // ifr.ifr_data
            var code = await syscall.Memory.ReadIntAsync(eswReg);       // esw_reg.off
            var value = code switch
            {
                Mtk7530Switch.RegEswWtMacAd0 => macAd0Value,
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

    [TestMethod, TestCategory("Conformance")]
    public async Task Without_a_handler_the_switch_tool_fails_its_ioctl()
    {
        var run = await TableDelAsync();
        StringAssert.Contains(run.Output, "ioctl: No such device");
        Assert.DoesNotContain("done.", run.Output);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task With_the_raeth_handler_the_switch_tool_is_done()
    {
        await using var session = await AttachAsync();
        var plugin = new RaethPlugin(macAd0Value: 0x2);
        await session.LoadPluginAsync(plugin);
        var run = await TableDelAsync();
        Assert.AreEqual("done.\n", run.Output);
        CollectionAssert.AreEqual(new[] { Mtk7530Switch.RegEswWtMacAd0 }, plugin.Registers);
        Assert.AreEqual(4, plugin.Exchanges, "seed-style: read_str, read_ptr, read_int, write_int");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_register_that_never_reports_done_makes_the_tool_poll_twenty_times()
    {
        await using var session = await AttachAsync();
        var plugin = new RaethPlugin(macAd0Value: 0x0);
        await session.LoadPluginAsync(plugin);
        var run = await TableDelAsync();
        Assert.AreEqual("timeout.\n", run.Output);
        Assert.HasCount(20, plugin.Registers);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task The_advanced_variant_skips_the_ioctl_for_the_switch_tool_only()
    {
        await using var session = await AttachAsync();
        var calls = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(Mtk7530Switch.Name).WhereArg(1, ArgFilter.Equal(Mtk7530Switch.RaethEswRegRead))
            .RegisterAsync(async syscall =>
            {
                calls++;
                var eswReg = await syscall.Memory.ReadPtrAsync(syscall.Args[2] + 16);
                if (await syscall.Memory.ReadIntAsync(eswReg) != Mtk7530Switch.RegEswWtMacAd0)
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
