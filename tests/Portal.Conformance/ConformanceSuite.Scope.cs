using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Hypersyscalls;
using Portal.Protocol;
using Portal.Testing.Programs;

namespace Portal.Conformance;

/// <summary>
/// Scope filters (docs/filters.md, "Scope"), evaluated in the guest: a process subtree, its complement,
/// a set of processes, and a session's default scope. The processes come from a shell:
/// <c>sh -c "portal-selftest ioctl 0x7001 $$; …"</c> tells the host the shell's pid (the first ioctl's
/// argument), and a handler of that ioctl registers the scoped hook while the shell's later programs wait.
/// </summary>
public abstract partial class ConformanceSuite
{
    /// <summary>The first command of a scope script: its ioctl 0x7001 carries the shell's pid.</summary>
    private static readonly string TellShellPid = $"{PortalSelfTest.Name} ioctl 0x7001 $$";

    /// <summary>
    /// Runs <paramref name="script"/> in <c>sh -c</c>; the first time ioctl 0x7001 arrives (from the
    /// script's first program) <paramref name="onShellPid"/> gets the shell's pid, to register hooks with.
    /// </summary>
    private async Task<Portal.Guests.GuestCommandResult> RunInShellAsync(PortalSession session, string script, Func<SyscallContext, int, ValueTask> onShellPid)
    {
        var told = 0;
        var teller = await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7001))
            .IgnoringSessionScope()
            .RegisterAsync(async context =>
            {
                if (told++ == 0)
                    await onShellPid(context, (int)context.Args[2]);
            }, "shell-pid");
        var run = await RunAsync("sh", "-c", script);
        await teller.UnregisterAsync();
        Assert.AreEqual(0, run.ExitCode, run.Output);
        Assert.AreEqual(1, told, $"the script's first program tells the shell's pid once; output:\n{run.Output}");
        return run;
    }

    /// <summary>A hook on ioctl 0x7002 of the self-test program that records each call's argument and pid.</summary>
    private static async Task<List<(ulong Argument, int Pid)>> RecordSecondIoctlAsync(PortalSession session, Func<HookBuilder, HookBuilder> scope,
        string name)
    {
        var seen = new List<(ulong, int)>();
        await scope(session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(PortalSelfTest.Name).WhereArg(1, ArgFilter.Equal(0x7002)))
            .RegisterAsync(context =>
            {
                lock (seen)
                    seen.Add((context.Args[2], context.Pid));
                return ValueTask.CompletedTask;
            }, name);
        return seen;
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task A_subtree_scope_sees_the_programs_under_a_shell_and_not_one_outside_it()
    {
        await using var session = await AttachAsync();
        var shell = 0;
        List<(ulong Argument, int Pid)> seen = [];
        // A child (1) and a grandchild (2, under a second shell) of the shell, then the shell's last command
        // (3: sh execs it in its own process, the subtree's root); then a program outside the subtree (4).
        await RunInShellAsync(session, SubtreeScript, async (context, pid) =>
            {
                shell = pid;
                seen = await RecordSecondIoctlAsync(context.Session, hook => hook.WithinScope(GuestScope.Subtree(pid)), "subtree");
            });
        await IoctlsAsync("0x7002", "4");
        CollectionAssert.AreEqual(new[] { 1UL, 2UL, 3UL }, seen.Select(s => s.Argument).ToArray());
        Assert.IsTrue(seen.Take(2).All(s => s.Pid != shell), "the first two are descendants, not the shell itself");
        Assert.AreEqual(3, seen.Select(s => s.Pid).Distinct().Count(), "three processes");
    }

    /// <summary>0x7002 from a child (1), a grandchild (2) and the shell's last command (3) of a shell that tells its pid.</summary>
    private static string SubtreeScript =>
        $"{TellShellPid}; {PortalSelfTest.Name} ioctl 0x7002 1; sh -c '{PortalSelfTest.Name} ioctl 0x7002 2; {PortalSelfTest.Name} getpid'; " +
        $"{PortalSelfTest.Name} ioctl 0x7002 3";

    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task An_excluded_subtree_hides_the_programs_under_a_shell_and_not_one_outside_it()
    {
        await using var session = await AttachAsync();
        List<(ulong Argument, int Pid)> seen = [];
        await RunInShellAsync(session, SubtreeScript, async (context, pid) =>
                seen = await RecordSecondIoctlAsync(context.Session, hook => hook.WithinScope(GuestScope.ExcludingSubtree(pid)), "excluding"));
        await IoctlsAsync("0x7002", "4");
        CollectionAssert.AreEqual(new[] { 4UL }, seen.Select(s => s.Argument).ToArray());
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task A_subtree_holds_processes_64_generations_below_its_root_and_none_further()
    {
        await using var session = await AttachAsync();
        List<(ulong Argument, int Pid)> inside = [], outside = [];
        // The shell is the root; a program it starts is one generation below it, --descend N adds N.
        var run = await RunInShellAsync(session,
            $"{TellShellPid}; {PortalSelfTest.Name} --descend 63 ioctl 0x7002 64; {PortalSelfTest.Name} --descend 64 ioctl 0x7002 65; " +
            $"{PortalSelfTest.Name} getpid",
            async (context, pid) =>
            {
                inside = await RecordSecondIoctlAsync(context.Session, hook => hook.WithinScope(GuestScope.Subtree(pid)), "inside");
                outside = await RecordSecondIoctlAsync(context.Session, hook => hook.WithinScope(GuestScope.ExcludingSubtree(pid)), "outside");
            });
        StringAssert.Contains(run.Output, "ioctl cmd=0x7002 arg=0x41 rc=-1", "the 65th generation ran");
        CollectionAssert.AreEqual(new[] { 64UL }, inside.Select(s => s.Argument).ToArray());
        CollectionAssert.AreEqual(new[] { 65UL }, outside.Select(s => s.Argument).ToArray(), "deeper than 64 generations is outside the subtree");
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task A_process_set_sees_exactly_its_processes_and_not_their_children_or_siblings()
    {
        await using var session = await AttachAsync();
        var first = 0;
        List<(ulong Argument, int Pid)> seen = [];
        // The set holds the first program and the shell: the shell's other child (2) is in neither. A last
        // command keeps the shell from exec'ing that child in its own process (busybox sh does so for the last one).
        await RunInShellAsync(session,
            $"{TellShellPid} 0x7002 1; {PortalSelfTest.Name} ioctl 0x7002 2; {PortalSelfTest.Name} getpid",
            async (context, shell) =>
            {
                first = context.Pid;
                seen = await RecordSecondIoctlAsync(context.Session, hook => hook.WithinScope(GuestScope.Processes(context.Pid, shell)), "set");
            });
        await IoctlsAsync("0x7002", "3");
        CollectionAssert.AreEqual(new[] { (1UL, first) }, seen);
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task The_session_scope_applies_to_hooks_registered_after_it_is_set_plugins_included()
    {
        await using var session = await AttachAsync();
        var before = await RecordSecondIoctlAsync(session, hook => hook, "before");
        List<(ulong Argument, int Pid)> after = [], optedOut = [];
        var plugin = new ScopedPlugin();
        HookRegistration? pluginHook = null;
        var shell = 0;
        await RunInShellAsync(session, $"{TellShellPid}; {PortalSelfTest.Name} ioctl 0x7002 1",
            async (context, pid) =>
            {
                shell = pid;
                context.Session.Scope = GuestScope.Subtree(pid);
                after = await RecordSecondIoctlAsync(context.Session, hook => hook, "after");
                optedOut = await RecordSecondIoctlAsync(context.Session, hook => hook.IgnoringSessionScope(), "opted-out");
                pluginHook = (await context.Session.LoadPluginAsync(plugin)).Hooks.Single();
            });
        await IoctlsAsync("0x7002", "2");

        CollectionAssert.AreEqual(new[] { 1UL, 2UL }, before.Select(s => s.Argument).ToArray(), "registered before the scope was set");
        CollectionAssert.AreEqual(new[] { 1UL }, after.Select(s => s.Argument).ToArray());
        CollectionAssert.AreEqual(new[] { 1UL, 2UL }, optedOut.Select(s => s.Argument).ToArray());
        CollectionAssert.AreEqual(new[] { 1UL }, plugin.Seen);
        StringAssert.Contains(pluginHook?.Spec.ToString(), $"process in subtree of {shell}", "the registration shows the scope it got");
    }

    private sealed class ScopedPlugin
    {
        public List<ulong> Seen { get; } = [];

        [Hypersyscall("ioctl", SyscallPhase.Enter, Comm = PortalSelfTest.Name)]
        [Arg(1, Is = 0x7002)]
        public ValueTask OnIoctl(SyscallContext context)
        {
            Seen.Add(context.Args[2]);
            return ValueTask.CompletedTask;
        }
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task A_scope_that_holds_no_process_is_refused_before_reaching_the_guest()
    {
        await using var session = await AttachAsync();
        var before = session.Statistics.Exchanges;
        var error = await CaptureAsync(async () => await session.OnSyscall("ioctl", SyscallPhase.Enter)
            .WithinScope(GuestScope.Subtree(40).Excluding(40)).RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(error?.Message, "holds no process");
        Assert.AreEqual(before, session.Statistics.Exchanges);
    }

    // ---- the guest's own checks, through raw descriptors (docs/protocol.md §4.3) -----------------------

    private const uint SubtreeKind = 11, NotSubtreeKind = 12, TaskInSetKind = 13, EqualKind = 1;
    private const uint RetvalFlag = 4, DataFlag = 8;

    private readonly record struct RawFilter(uint Arg, uint Kind, ulong A, ulong B);

    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task The_guest_advertises_scope_filters_and_refuses_malformed_ones_with_EINVAL()
    {
        var control = Guest.Connection.Control;
        control.Region.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(control.Region, (ulong)PortalOp.GuestInfo);
        await control.ExchangeAsync(TestContext.CancellationToken);
        var features = (GuestFeatures)BinaryPrimitives.ReadUInt32LittleEndian(control.Region[(24 + 28)..]);
        Assert.IsTrue(features.HasFlag(GuestFeatures.ScopeFilters), $"features {features}");

        var ioctl = Abi.Syscalls.GetNumber("ioctl");
        var set = new byte[8 * 32];
        for (var i = 0; i < 32; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(set.AsSpan(8 * i), (ulong)(1000 + i));
        // an EQ on a file descriptor no program uses comes first, so the accepted hook never fires
        var never = new RawFilter(0, EqualKind, 0x7fff_0bad, 0);
        try
        {
            Assert.IsGreaterThan(0L, await RawRegisterAsync(ioctl, 1, [never, new(0, SubtreeKind, 1, 0), new(0, NotSubtreeKind, int.MaxValue, 0),
                new(0, TaskInSetKind, 0, 32)], set), "well formed: a subtree of 1, the highest root, a full set");

            var malformed = new (string Name, uint Phase, RawFilter[] Filters, byte[]? Data, RawFilter? Retval)[]
            {
                ("subtree with arg 1", 1, [new(1, SubtreeKind, 1, 0)], null, null),
                ("subtree of 0", 1, [new(0, SubtreeKind, 0, 0)], null, null),
                ("subtree of 2^31", 1, [new(0, SubtreeKind, 1UL << 31, 0)], null, null),
                ("subtree of a huge root", 1, [new(0, SubtreeKind, ulong.MaxValue, 0)], null, null),
                ("subtree with b = 1", 1, [new(0, SubtreeKind, 1, 1)], null, null),
                ("not-subtree with arg 5", 1, [new(5, NotSubtreeKind, 1, 0)], null, null),
                ("not-subtree of 0", 1, [new(0, NotSubtreeKind, 0, 0)], null, null),
                ("not-subtree with b set", 1, [new(0, NotSubtreeKind, 7, 1UL << 63)], null, null),
                ("set with arg 2", 1, [new(2, TaskInSetKind, 0, 1)], set, null),
                ("set of 0 pids", 1, [new(0, TaskInSetKind, 0, 0)], set, null),
                ("set past the data area", 1, [new(0, TaskInSetKind, 8, 32)], set, null),
                ("set without a data area", 1, [new(0, TaskInSetKind, 0, 1)], null, null),
                ("subtree as the retval filter", 2, [], null, new(0, SubtreeKind, 1, 0)),
                ("set as the retval filter", 2, [], set, new(0, TaskInSetKind, 0, 1)),
            };
            foreach (var (name, phase, filters, data, retval) in malformed)
                Assert.AreEqual(-(long)Native(GuestErrno.EINVAL), await RawRegisterAsync(ioctl, phase, filters, data, retval), name);
        }
        finally
        {
            control.Region.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(control.Region, (ulong)PortalOp.HookReset);
            await control.ExchangeAsync(TestContext.CancellationToken);
        }
    }

    /// <summary>HOOK_REGISTER of a descriptor written byte by byte on the control slot: the hook id, or −errno.</summary>
    private async Task<long> RawRegisterAsync(int nr, uint phase, RawFilter[] filters, byte[]? data, RawFilter? retval = null)
    {
        var control = Guest.Connection.Control;
        WriteRawDescriptor(control.Region, nr, phase, filters, data, retval);
        await control.ExchangeAsync(TestContext.CancellationToken);
        var response = BinaryPrimitives.ReadUInt64LittleEndian(control.Region);
        var value = (long)BinaryPrimitives.ReadUInt64LittleEndian(control.Region[8..]);
        Assert.IsTrue(response is (ulong)PortalResponse.ExtOk or (ulong)PortalResponse.ExtFail, $"response 0x{response:x}");
        return response == (ulong)PortalResponse.ExtOk ? value : -value;
    }

    private static void WriteRawDescriptor(Span<byte> region, int nr, uint phase, RawFilter[] filters, byte[]? data, RawFilter? retval)
    {
        region.Clear();
        var descriptor = region[24..];
        var dataAt = 64 + 24 * filters.Length;
        var size = dataAt + (data is null ? 0 : 8 + data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor, (uint)nr);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[4..], phase);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], (retval is null ? 0 : RetvalFlag) | (data is null ? 0 : DataFlag));
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[12..], (uint)filters.Length);
        if (retval is { } r)
            WriteRawFilter(descriptor[40..], r);
        for (var i = 0; i < filters.Length; i++)
            WriteRawFilter(descriptor[(64 + 24 * i)..], filters[i]);
        if (data is not null)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[dataAt..], (uint)data.Length);
            data.CopyTo(descriptor[(dataAt + 8)..]);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(region, (ulong)PortalOp.HookRegister);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], (ulong)size);
    }

    private static void WriteRawFilter(Span<byte> entry, RawFilter filter)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(entry, filter.Arg);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], filter.Kind);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], filter.A);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], filter.B);
    }
}
