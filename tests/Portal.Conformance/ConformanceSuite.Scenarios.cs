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
}
