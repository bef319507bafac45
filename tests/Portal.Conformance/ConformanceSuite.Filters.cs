using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Conformance.SelfTest;
using Portal.Hypersyscalls;
using Portal.Testing.Programs;
using Portal.Typed;

namespace Portal.Conformance;

/// <summary>
/// Filters v2, evaluated in the guest: sets, return classes, memory filters (at an offset, by member
/// name, through a pointer), ABI-dependent constants, contradictions, and unreadable memory.
/// </summary>
public abstract partial class ConformanceSuite
{
    private Task<Portal.Guests.GuestCommandResult> NamedAsync(ulong command, params string[] names) =>
        RunAsync([PortalSelfTest.Name, "named", $"0x{command:x}", .. names]);

    /// <summary>The ioctl number of the `named` command on this guest's ABI (an _IOW: it differs between ABIs).</summary>
    private ulong NamedIoctl => (ulong)Selftest.SELFTEST_NAMED_IOCTL(Abi);

    [TestMethod, TestCategory("Conformance")]
    public async Task OneOf_filter_selects_any_of_its_values_in_one_hook()
    {
        await using var session = await AttachAsync();
        var seen = await RecordIoctlsAsync(session, (1, ArgFilter.OneOf(0x7001, 0x7003, 0x7005)));
        await IoctlsAsync("0x7001", "0", "0x7002", "1", "0x7003", "2", "0x7004", "3", "0x7005", "4");
        CollectionAssert.AreEqual(new[] { 0x7001UL, 0x7003UL, 0x7005UL }, seen.Select(s => s.Command).ToArray());
        Assert.AreEqual(3, session.Statistics.Events, "the other calls never left the guest");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Return_classes_tell_successes_from_errors()
    {
        await using var session = await AttachAsync();
        // the first hook turns 0x7002's ENOTTY into 5: later hooks see the return value it left
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7002))
            .RegisterAsync(context => { context.Retval = 5; return ValueTask.CompletedTask; });
        var succeeded = new List<ulong>();
        var failed = new List<ulong>();
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Range(0x7000, 0x70ff))
            .WhereRetval(ArgFilter.Succeeded).RegisterAsync(context => { succeeded.Add(context.Args[1]); return ValueTask.CompletedTask; });
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Range(0x7000, 0x70ff))
            .WhereRetval(ArgFilter.Failed).RegisterAsync(context => { failed.Add(context.Args[1]); return ValueTask.CompletedTask; });
        await IoctlsAsync("0x7001", "0", "0x7002", "0", "0x7003", "0");
        CollectionAssert.AreEqual(new[] { 0x7002UL }, succeeded);
        CollectionAssert.AreEqual(new[] { 0x7001UL, 0x7003UL }, failed);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_string_member_filter_selects_by_name_at_the_members_offset()
    {
        await using var session = await AttachAsync();
        var seen = new List<string>();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(NamedIoctl))
            .WhereArgMember<SelftestNamed>(2, nameof(SelftestNamed.Name), MemoryFilter.StringEquals("eth0"))
            .RegisterAsync(async context => seen.Add((await new GuestPtr<SelftestNamed>(context.Args[2], context.Memory).LoadAsync()).Name));
        await NamedAsync(NamedIoctl, "eth0", "eth00", "eth", "wlan0", "eth0");
        CollectionAssert.AreEqual(new[] { "eth0", "eth0" }, seen, "equality includes the NUL: eth00 and eth do not match");
        Assert.AreEqual(2, session.Statistics.Events);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_path_prefix_filter_sees_only_opens_under_dev()
    {
        await using var session = await AttachAsync();
        var seen = new List<string>();
        await session.OnSyscall("openat", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name)
            .WhereArgMemory(1, MemoryFilter.StringStartsWith("/dev/"))
            .RegisterAsync(async context => seen.Add(await context.Memory.ReadStrAsync(context.Args[1])));
        await RunAsync(PortalSelfTest.Name, "open", "/dev/zero", "/tmp/dev/", "/dev", "/dev/null");
        // the program's own open of /dev/null comes first
        CollectionAssert.AreEqual(new[] { "/dev/null", "/dev/zero", "/dev/null" }, seen);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_contains_filter_follows_a_pointer_member()
    {
        await using var session = await AttachAsync();
        var seen = new List<string>();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(NamedIoctl))
            .WhereArgThrough<SelftestNamed>(2, nameof(SelftestNamed.Alias), MemoryFilter.StringContains("lan"))
            .RegisterAsync(async context => seen.Add((await new GuestPtr<SelftestNamed>(context.Args[2], context.Memory).LoadAsync()).Name));
        await NamedAsync(NamedIoctl, "wlan0", "eth0", "la", "vlan-lan");
        CollectionAssert.AreEqual(new[] { "wlan0", "vlan-lan" }, seen);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_memory_filter_on_unreadable_memory_does_not_match_and_is_counted()
    {
        await using var session = await AttachAsync();
        var seen = await RecordIoctlsAsync(session, (1, ArgFilter.Equal(0x7001)));
        var strings = new List<ulong>();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7002))
            .WhereArgMemory(2, MemoryFilter.StringEquals("x"))
            .RegisterAsync(context => { strings.Add(context.Args[2]); return ValueTask.CompletedTask; });
        var before = await session.GetGuestStatisticsAsync();
        await IoctlsAsync("0x7002", "0x10", "0x7001", "0");
        var after = await session.GetGuestStatisticsAsync();
        Assert.IsEmpty(strings);
        Assert.HasCount(1, seen, "the register-only hook still fired");
        Assert.AreEqual(1, after.FilterFaults - before.FilterFaults, "the unreadable address is counted, not silently dropped");
        var accounting = await session.GetSyscallAccountingAsync();
        Assert.AreEqual(1, accounting.FilterFaults, accounting.ToString());
        Assert.AreEqual(1, accounting.Unhandled, "the user sees it among the unhandled syscalls");
        StringAssert.Contains(accounting.ToString(), "filter-faults=1");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Plugin_attributes_name_abi_dependent_constants_sets_members_and_return_classes()
    {
        await using var session = await AttachAsync();
        var plugin = new FilterPlugin();
        await session.LoadPluginAsync(plugin);
        await NamedAsync(NamedIoctl, "eth0", "wlan0");
        // the same request number from another ABI (the direction bits differ) must not match
        var foreign = NamedIoctl ^ 0xc0000000UL;
        await NamedAsync(foreign, "eth0");
        await IoctlsAsync("0x7001", "0", "0x7002", "0", "0x7004", "0");
        CollectionAssert.AreEqual(new[] { "eth0" }, plugin.Named);
        CollectionAssert.AreEqual(new[] { 0x7001UL, 0x7004UL }, plugin.Failed);
    }

    private sealed class FilterPlugin
    {
        public List<string> Named { get; } = [];

        public List<ulong> Failed { get; } = [];

        [Hypersyscall("ioctl", SyscallPhase.Enter, Comm = PortalSelfTest.Name)]
        [ArgConst(1, typeof(Selftest), nameof(Selftest.SELFTEST_NAMED_IOCTL))]
        [ArgMemory(2, Record = typeof(SelftestNamed), Member = nameof(SelftestNamed.Name), Is = "eth0")]
        public async ValueTask OnNamed(SyscallContext context) =>
            Named.Add((await new GuestPtr<SelftestNamed>(context.Args[2], context.Memory).LoadAsync()).Name);

        [Hypersyscall("ioctl", SyscallPhase.Return, Comm = PortalSelfTest.Name)]
        [Arg(1, In = [0x7001, 0x7003, 0x7004])]
        [Retval(Class = ReturnClass.Error)]
        public ValueTask OnFailed(SyscallContext context)
        {
            Failed.Add(context.Args[1]);
            return ValueTask.CompletedTask;
        }
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Contradictory_filters_are_refused_at_registration()
    {
        await using var session = await AttachAsync();
        var before = session.Statistics.Exchanges;
        var twoValues = await CaptureAsync(async () => await session.LoadPluginAsync(new ContradictoryPlugin()));
        StringAssert.Contains(twoValues?.Message, "can never all hold");
        var ranges = await CaptureAsync(async () => await session.OnSyscall("ioctl", SyscallPhase.Enter)
            .WhereArg(2, ArgFilter.Range(1, 5)).WhereArg(2, ArgFilter.Range(6, 9)).RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(ranges?.Message, "do not overlap");
        var bytes = await CaptureAsync(async () => await session.OnSyscall("ioctl", SyscallPhase.Enter)
            .WhereArgMemory(2, MemoryFilter.StringEquals("eth0")).WhereArgMemory(2, MemoryFilter.StringStartsWith("wlan"))
            .RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(bytes?.Message, "different bytes");
        Assert.AreEqual(before, session.Statistics.Exchanges, "nothing reached the guest");
    }

    private sealed class ContradictoryPlugin
    {
        [Hypersyscall("ioctl", SyscallPhase.Enter)]
        [Arg(1, Is = 0x7001)]
        [Arg(1, Is = 0x7002)]
        public static ValueTask Never(SyscallContext context) => ValueTask.CompletedTask;
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task An_enter_handler_redirects_a_path_argument_into_the_scratch_area()
    {
        await using var session = await AttachAsync();
        var offered = new List<int>();
        await session.OnSyscall("openat", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name)
            .WhereArgMemory(1, MemoryFilter.StringEquals("/dev/mtdblock3"))
            .RegisterAsync(async context =>
            {
                offered.Add(context.Scratch.Size);
                context.Args[1] = await context.Scratch.PlaceStringAsync("/dev/null");
            });
        string? onReturn = null;
        await session.OnSyscall("openat", SyscallPhase.Return).WhereComm(PortalSelfTest.Name)
            .WhereArgMemory(1, MemoryFilter.StringEquals("/dev/null"))
            .RegisterAsync(async context =>
                onReturn = (await Assert.ThrowsExactlyAsync<InvalidOperationException>(async () => await context.Scratch.PlaceStringAsync("x"))).Message);
        var run = await RunAsync(PortalSelfTest.Name, "open", "/dev/mtdblock3", "/dev/mtdblock4", "/dev/mtdblock3");
        var opened = run.Output.Split('\n').Where(l => l.StartsWith("open path=", StringComparison.Ordinal)).ToList();
        Assert.HasCount(3, opened, run.Output);
        StringAssert.Matches(opened[0], new System.Text.RegularExpressions.Regex(@"^open path=/dev/mtdblock3 rc=[0-9]+ errno=0$"), "redirected to /dev/null");
        Assert.AreEqual($"open path=/dev/mtdblock4 rc=-1 errno={Native(GuestErrno.ENOENT)}", opened[1], "not redirected");
        StringAssert.Matches(opened[2], new System.Text.RegularExpressions.Regex(@"^open path=/dev/mtdblock3 rc=[0-9]+ errno=0$"));
        Assert.HasCount(2, offered);
        Assert.IsTrue(offered.All(size => size >= "/dev/null".Length + 1), $"scratch offered: {string.Join(", ", offered)} bytes");
        StringAssert.Contains(onReturn, "enter only", "a return handler is told there is no scratch area");
    }
}
