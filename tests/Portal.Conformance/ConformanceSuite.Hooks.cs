using Microsoft.Extensions.Logging;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Hypersyscalls;
using Portal.Memory;
using Portal.Testing.Programs;

namespace Portal.Conformance;

/// <summary>Hooks: filters evaluated in the guest, verdicts, failures, registration.</summary>
public abstract partial class ConformanceSuite
{
    private const string Renamed = "portal-renamed";

    /// <summary>Registers a recording handler on ioctl enter for the self-test program, with extra filters.</summary>
    private static async Task<List<(ulong Command, ulong Argument)>> RecordIoctlsAsync(PortalSession session, params (int Index, ArgFilter Filter)[] filters)
    {
        var seen = new List<(ulong, ulong)>();
        var builder = session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name)
            .WhereArg(1, ArgFilter.Range(0x7000, 0x70ff));
        foreach (var (index, filter) in filters)
            builder.WhereArg(index, filter);
        await builder.RegisterAsync(context =>
        {
            lock (seen)
                seen.Add((context.Args[1], context.Args[2]));
            return ValueTask.CompletedTask;
        }, "recorder");
        return seen;
    }

    private Task<Portal.Guests.GuestCommandResult> IoctlsAsync(params string[] pairs) => RunAsync([PortalSelfTest.Name, "ioctl", .. pairs]);

    [TestMethod, TestCategory("Conformance")]
    public async Task Equal_filter_selects_exactly_the_matching_calls()
    {
        await using var session = await AttachAsync();
        var seen = await RecordIoctlsAsync(session, (1, ArgFilter.Equal(0x7002)));
        await IoctlsAsync("0x7001", "0", "0x7002", "1", "0x7003", "2", "0x7002", "3");
        CollectionAssert.AreEqual(new[] { (0x7002UL, 1UL), (0x7002UL, 3UL) }, seen);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task NotEqual_filter_excludes_the_value()
    {
        await using var session = await AttachAsync();
        var seen = await RecordIoctlsAsync(session, (1, ArgFilter.NotEqual(0x7002)));
        await IoctlsAsync("0x7001", "0", "0x7002", "1", "0x7003", "2");
        CollectionAssert.AreEqual(new[] { 0x7001UL, 0x7003UL }, seen.Select(s => s.Command).ToArray());
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Range_filter_is_inclusive_and_unsigned()
    {
        await using var session = await AttachAsync();
        var seen = await RecordIoctlsAsync(session, (2, ArgFilter.Range(2, 4)));
        await IoctlsAsync("0x7001", "1", "0x7001", "2", "0x7001", "4", "0x7001", "5", "0x7001", "-3");
        CollectionAssert.AreEqual(new[] { 2UL, 4UL }, seen.Select(s => s.Argument).ToArray());
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task SignedRange_filter_compares_sign_extended_values()
    {
        await using var session = await AttachAsync();
        var seen = await RecordIoctlsAsync(session, (2, ArgFilter.SignedRange(-5, -1)));
        await IoctlsAsync("0x7001", "-3", "0x7001", "5", "0x7001", "-10", "0x7001", "-1");
        CollectionAssert.AreEqual(new[] { -3L, -1L }, seen.Select(s => Abi.SignExtendRegister(s.Argument)).ToArray());
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Mask_filters_test_bits()
    {
        await using var session = await AttachAsync();
        var set = await RecordIoctlsAsync(session, (2, ArgFilter.MaskSet(0x5)));
        await IoctlsAsync("0x7001", "0x5", "0x7001", "0x7", "0x7001", "0x4", "0x7001", "0xd");
        CollectionAssert.AreEqual(new[] { 0x5UL, 0x7UL, 0xdUL }, set.Select(s => s.Argument).ToArray());

        await using var second = await ReattachAsync(session);
        var clear = await RecordIoctlsAsync(second, (2, ArgFilter.MaskClear(0x2)));
        await IoctlsAsync("0x7001", "0x1", "0x7001", "0x2", "0x7001", "0x3", "0x7001", "0x4");
        CollectionAssert.AreEqual(new[] { 0x1UL, 0x4UL }, clear.Select(s => s.Argument).ToArray());
    }

    /// <summary>Ends a session and starts a fresh one (hooks of the first are gone).</summary>
    private async Task<PortalSession> ReattachAsync(PortalSession previous)
    {
        await previous.DisposeAsync();
        return await AttachAsync();
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Comm_filter_selects_by_process_name()
    {
        await using var session = await AttachAsync();
        var calls = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(Renamed).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(_ => { calls++; return ValueTask.CompletedTask; });
        await IoctlsAsync("0x7001", "0");
        Assert.AreEqual(0, calls, "the program runs under its own name first: no match");
        await RunAsync(PortalSelfTest.Name, "--comm", Renamed, "ioctl", "0x7001", "0");
        Assert.AreEqual(1, calls);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Pid_filter_registered_from_a_handler_selects_that_process_only()
    {
        await using var session = await AttachAsync();
        var pidHits = new List<int>();
        var firstPid = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(async context =>
            {
                if (firstPid != 0)
                    return;
                firstPid = context.Pid;
                // Registered through the held slot: a one-vCPU guest can serve nothing else now.
                await context.Session.OnSyscall("ioctl", SyscallPhase.Enter).WherePid(context.Pid).WhereArg(1, ArgFilter.Equal(0x7002))
                    .RegisterAsync(inner => { pidHits.Add(inner.Pid); return ValueTask.CompletedTask; });
            });
        await IoctlsAsync("0x7001", "0", "0x7002", "0", "0x7002", "1");
        Assert.AreNotEqual(0, firstPid);
        CollectionAssert.AreEqual(new[] { firstPid, firstPid }, pidHits);
        await IoctlsAsync("0x7002", "0");
        Assert.AreEqual(2, pidHits.Count, "another process (another pid) must not match");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Retval_filter_selects_returns_by_value()
    {
        await using var session = await AttachAsync();
        var seen = new List<long>();
        await session.OnSyscall("write", SyscallPhase.Return).WhereComm(PortalSelfTest.Name).WhereArg(2, ArgFilter.Range(0, 16))
            .WhereRetval(ArgFilter.Equal(5))
            .RegisterAsync(context => { seen.Add(context.Retval); return ValueTask.CompletedTask; });
        var errors = new List<long>();
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereComm(PortalSelfTest.Name).WhereRetval(ArgFilter.SignedRange(-4095, -1))
            .RegisterAsync(context => { errors.Add(context.Retval); return ValueTask.CompletedTask; });
        await RunAsync(PortalSelfTest.Name, "write", "1", "5", "10", "5");
        await IoctlsAsync("0x7001", "0");
        CollectionAssert.AreEqual(new[] { 5L, 5L }, seen);
        CollectionAssert.AreEqual(new[] { (long)-Native(GuestErrno.ENOTTY) }, errors);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Syscalls_that_match_no_filter_never_reach_the_host()
    {
        await using var session = await AttachAsync();
        var calls = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7999))
            .RegisterAsync(_ => { calls++; return ValueTask.CompletedTask; });
        var guestBefore = await session.GetGuestStatisticsAsync();
        var exchangesBefore = session.Statistics.Exchanges;

        var run = await IoctlsAsync("0x7001", "0", "0x7002", "0", "0x7003", "0");

        Assert.AreEqual(exchangesBefore, session.Statistics.Exchanges, "non-matching syscalls must cost zero exchanges");
        Assert.AreEqual(0, calls);
        Assert.AreEqual(0, session.Statistics.Events);
        StringAssert.Contains(run.Output, $"rc=-1 errno={Native(GuestErrno.ENOTTY)}");
        var guestAfter = await session.GetGuestStatisticsAsync();
        Assert.IsGreaterThanOrEqualTo(3, guestAfter.FilteredOut - guestBefore.FilteredOut, "the guest counts what it filtered out");
        Assert.AreEqual(guestBefore.EventsSent, guestAfter.EventsSent);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Skip_returns_the_chosen_value_without_running_the_syscall()
    {
        await using var session = await AttachAsync();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(context =>
            {
                context.SkipSyscall = true;
                context.Retval = context.Args[2] == 1 ? 42 : -Native(GuestErrno.EPERM);
                return ValueTask.CompletedTask;
            });
        var run = await IoctlsAsync("0x7001", "1", "0x7001", "2", "0x7002", "3");
        StringAssert.Contains(run.Output, "ioctl cmd=0x7001 arg=0x1 rc=42 errno=0");
        StringAssert.Contains(run.Output, $"ioctl cmd=0x7001 arg=0x2 rc=-1 errno={Native(GuestErrno.EPERM)}");
        StringAssert.Contains(run.Output, $"ioctl cmd=0x7002 arg=0x3 rc=-1 errno={Native(GuestErrno.ENOTTY)}");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Return_handler_sees_the_real_result_and_can_replace_it()
    {
        await using var session = await AttachAsync();
        long original = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(context =>
            {
                original = context.OriginalRetval;
                context.Retval = 7;
                return ValueTask.CompletedTask;
            });
        var run = await IoctlsAsync("0x7001", "0");
        Assert.AreEqual(-Native(GuestErrno.ENOTTY), original);
        StringAssert.Contains(run.Output, "ioctl cmd=0x7001 arg=0x0 rc=7 errno=0");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Enter_handler_can_rewrite_arguments()
    {
        await using var session = await AttachAsync();
        await session.OnSyscall("write", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(2, ArgFilter.Equal(10))
            .RegisterAsync(context =>
            {
                context.Args[2] = 3;
                return ValueTask.CompletedTask;
            });
        var run = await RunAsync(PortalSelfTest.Name, "write", "10", "4");
        StringAssert.Contains(run.Output, "write n=10 rc=3 errno=0");
        StringAssert.Contains(run.Output, "write n=4 rc=4 errno=0");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_throwing_handler_leaves_the_syscall_untouched_is_logged_and_leaves_no_state()
    {
        await using var session = await AttachAsync();
        var calls = 0;
        var registration = await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(context =>
            {
                if (++calls == 1)
                {
                    context.SkipSyscall = true;      // all of this must be forgotten
                    context.Retval = 99;
                    context.Args[2] = 0x55;
                    throw new InvalidOperationException("handler bug");
                }
                return ValueTask.CompletedTask;
            }, "thrower");
        var run = await IoctlsAsync("0x7001", "1", "0x7001", "2");
        StringAssert.Contains(run.Output, $"ioctl cmd=0x7001 arg=0x1 rc=-1 errno={Native(GuestErrno.ENOTTY)}");
        StringAssert.Contains(run.Output, $"ioctl cmd=0x7001 arg=0x2 rc=-1 errno={Native(GuestErrno.ENOTTY)}");
        Assert.AreEqual(2, calls);
        Assert.AreEqual(2, registration.Statistics.Calls);
        Assert.AreEqual(1, registration.Statistics.Errors);
        Assert.IsTrue(Logs.Entries.Any(e => e.Level == LogLevel.Error && e.Exception?.Message == "handler bug" && e.Message.Contains("thrower")),
            "the failure is logged with the handler's name");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Retval_on_enter_without_skip_is_rejected_and_the_syscall_left_untouched()
    {
        await using var session = await AttachAsync();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(context => { context.Retval = 5; return ValueTask.CompletedTask; }, "confused");
        var run = await IoctlsAsync("0x7001", "0");
        StringAssert.Contains(run.Output, $"rc=-1 errno={Native(GuestErrno.ENOTTY)}");
        Assert.IsTrue(Logs.Entries.Any(e => e.Level == LogLevel.Error && e.Exception is InvalidOperationException));
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Hooks_matching_one_syscall_run_in_registration_order()
    {
        await using var session = await AttachAsync();
        var order = new List<string>();
        foreach (var name in new[] { "first", "second" })
        {
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
                .RegisterAsync(_ => { order.Add(name); return ValueTask.CompletedTask; }, name);
        }
        await IoctlsAsync("0x7001", "0");
        CollectionAssert.AreEqual(new[] { "first", "second" }, order);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Unregistered_hooks_stop_matching()
    {
        await using var session = await AttachAsync();
        var calls = 0;
        var hook = await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(_ => { calls++; return ValueTask.CompletedTask; });
        await IoctlsAsync("0x7001", "0");
        await hook.UnregisterAsync();
        Assert.IsFalse(hook.IsRegistered);
        await IoctlsAsync("0x7001", "0");
        Assert.AreEqual(1, calls);
        Assert.IsEmpty(session.Hooks);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Plugins_register_by_attribute_and_unregister_together()
    {
        await using var session = await AttachAsync();
        var plugin = new CountingPlugin();
        var registration = await session.LoadPluginAsync(plugin);
        Assert.HasCount(2, registration.Hooks);
        var run = await IoctlsAsync("0x7001", "0", "0x7002", "0");
        StringAssert.Contains(run.Output, "ioctl cmd=0x7002 arg=0x0 rc=12 errno=0");
        Assert.AreEqual(1, plugin.EnterCalls);
        Assert.AreEqual(1, plugin.ReturnCalls);
        await registration.DisposeAsync();
        await IoctlsAsync("0x7001", "0", "0x7002", "0");
        Assert.AreEqual(1, plugin.EnterCalls, "no calls after the plugin is unregistered");
        Assert.AreEqual(1, plugin.ReturnCalls);
        Assert.AreEqual(1, session.Statistics.ForHandler("CountingPlugin.OnEnter").Calls);
    }

    private sealed class CountingPlugin
    {
        public int EnterCalls { get; private set; }

        public int ReturnCalls { get; private set; }

        [Hypersyscall("ioctl", SyscallPhase.Enter, Comm = PortalSelfTest.Name)]
        [Arg(1, Is = 0x7001)]
        public ValueTask OnEnter(SyscallContext context)
        {
            EnterCalls++;
            return ValueTask.CompletedTask;
        }

        [Hypersyscall("ioctl", SyscallPhase.Return, Comm = PortalSelfTest.Name)]
        [Arg(1, Is = 0x7002)]
        [Retval(Min = -4095, Max = -1)]
        public Task OnReturn(SyscallContext context)
        {
            ReturnCalls++;
            context.Retval = 12;
            return Task.CompletedTask;
        }
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Invalid_hooks_are_rejected_before_reaching_the_guest()
    {
        await using var session = await AttachAsync();
        var before = session.Statistics.Exchanges;
        var unknown = await CaptureAsync(async () => await session.OnSyscall("iocttl", SyscallPhase.Enter).RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(unknown?.Message, "(did you mean ioctl?)");
        var badIndex = await CaptureAsync(async () => await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(6, ArgFilter.Equal(1))
            .RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(badIndex?.Message, "argument index 6");
        var retvalOnEnter = await CaptureAsync(async () => await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereRetval(ArgFilter.Equal(0))
            .RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(retvalOnEnter?.Message, "Return phase");
        Assert.AreEqual(before, session.Statistics.Exchanges);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_full_hook_table_is_refused_with_ENOSPC()
    {
        await using var session = await AttachAsync();
        for (var i = 0; i < session.Guest.MaxHooks; i++)
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7f00 + i)).RegisterAsync(_ => ValueTask.CompletedTask);
        var error = await CaptureAsync(async () => await session.OnSyscall("ioctl", SyscallPhase.Enter).RegisterAsync(_ => ValueTask.CompletedTask));
        Assert.AreEqual(GuestErrno.ENOSPC, (error as GuestOperationException)?.Errno, $"got {error}");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task The_guest_reports_its_abi_and_answers_pings()
    {
        await using var session = await AttachAsync();
        Assert.AreEqual(Abi, session.Guest.Abi);
        Assert.IsGreaterThanOrEqualTo(1, session.Guest.CpuSlots);
        Assert.IsFalse(string.IsNullOrWhiteSpace(session.Guest.KernelRelease));
        var before = session.Statistics.ControlExchanges;
        await session.PingAsync();
        Assert.AreEqual(before + 1, session.Statistics.ControlExchanges);
    }
}
