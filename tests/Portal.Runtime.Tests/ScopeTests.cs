using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Hypersyscalls;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>
/// Scope filters on the host (docs/protocol.md §4.3 kinds 11 to 13, docs/filters.md "Scope"): what
/// <see cref="GuestScope"/> accepts, how a scope is encoded, described, checked and refused, the
/// [Scope] attribute, and the session's default scope.
/// </summary>
[TestClass]
public sealed class ScopeTests
{
    private static HookSpec Spec(GuestScope? scope, params (int, ArgFilter)[] filters) =>
        new("ioctl", SyscallPhase.Enter, filters, Comm: null, Pid: null, RetvalFilter: null) { Scope = scope };

    // ---- GuestScope -------------------------------------------------------------------------------------

    [TestMethod]
    public void Scopes_combine_their_conditions_once_each_and_say_them_in_words()
    {
        var scope = GuestScope.Subtree(1).Excluding(230).And(GuestScope.Processes(12, 40, 12)).And(GuestScope.Subtree(1));
        CollectionAssert.AreEqual(new[] { ScopeFilterKind.Subtree, ScopeFilterKind.NotSubtree, ScopeFilterKind.Processes },
            scope.Filters.Select(f => f.Kind).ToArray(), "Subtree(1) is not repeated");
        Assert.AreEqual("process in subtree of 1 and process not in subtree of 230 and process in {12, 40}", scope.ToString(),
            "a pid named twice in a set is one value");
    }

    [TestMethod]
    public void Pids_below_1_and_sets_of_the_wrong_size_are_refused_at_once()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => GuestScope.Subtree(0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => GuestScope.ExcludingSubtree(-4));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => GuestScope.Subtree(1).Excluding(0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => GuestScope.Processes(3, 0));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => GuestScope.Processes()).Message, "1 to 32 pids");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => GuestScope.Processes([.. Enumerable.Range(1, 33)])).Message, "got 33");
        Assert.HasCount(32, GuestScope.Processes([.. Enumerable.Range(1, 32)]).Filters[0].Pids);
    }

    // ---- the descriptor ----------------------------------------------------------------------------------

    [TestMethod]
    public void Scope_filters_follow_the_value_filters_and_precede_the_memory_filters()
    {
        var spec = Spec(GuestScope.Subtree(1).Excluding(230).And(GuestScope.Processes(12, 0x7fff_ffff)), (1, ArgFilter.OneOf(0x7001, 0x7002))) with
        {
            MemoryFilters = [(2, MemoryFilter.StringEquals("eth0"))],
        };
        var region = new byte[RegionLayout.Size];
        HookDescriptor.WriteRequest(region, spec, GuestAbi.MipsEl);
        var d = Answer.Data(region).ToArray();
        var areaAt = 64 + 5 * 24;
        Assert.AreEqual((ulong)(areaAt + 8 + 16 + 16 + 5), Answer.Size(region));
        Assert.AreEqual(8u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(8)), "the data flag");
        Assert.AreEqual(5u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(12)), "a value filter, three scope filters, a memory filter");
        Assert.AreEqual(37u, BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(areaAt)), "data_size: two values, two pids, five pattern bytes");
        var area = d.AsSpan(areaAt + 8);

        (uint Arg, uint Kind, ulong A, ulong B) Entry(int i) => (BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(64 + 24 * i)),
            BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(68 + 24 * i)), BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(72 + 24 * i)),
            BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(80 + 24 * i)));
        Assert.AreEqual((1u, 7u, 0UL, 2UL), Entry(0), "IN_SET on argument 1, its values first in the data area");
        Assert.AreEqual((0u, 11u, 1UL, 0UL), Entry(1), "TASK_SUBTREE: arg 0, a = the root, b = 0");
        Assert.AreEqual((0u, 12u, 230UL, 0UL), Entry(2), "NOT_SUBTREE");
        Assert.AreEqual((0u, 13u, 16UL, 2UL), Entry(3), "TASK_IN_SET: the pids after the set's values");
        Assert.AreEqual(12UL, BinaryPrimitives.ReadUInt64LittleEndian(area[16..]));
        Assert.AreEqual(0x7fff_ffffUL, BinaryPrimitives.ReadUInt64LittleEndian(area[24..]), "le64 even on a 32-bit guest");
        Assert.AreEqual((2u, 9u, 0UL, 32UL | 5UL << 16), Entry(4), "MEM_EQ, its pattern after the pids");
        CollectionAssert.AreEqual("eth0\0"u8.ToArray(), area.Slice(32, 5).ToArray());
    }

    [TestMethod]
    public void A_subtree_alone_needs_no_data_area()
    {
        var region = new byte[RegionLayout.Size];
        HookDescriptor.WriteRequest(region, Spec(GuestScope.ExcludingSubtree(7)), GuestAbi.X86_64);
        var d = Answer.Data(region);
        Assert.AreEqual(64UL + 24, Answer.Size(region));
        Assert.AreEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(d[8..]), "no flags");
        Assert.AreEqual(12u, BinaryPrimitives.ReadUInt32LittleEndian(d[68..]));
        Assert.AreEqual(7UL, BinaryPrimitives.ReadUInt64LittleEndian(d[72..]));
    }

    // ---- checks ------------------------------------------------------------------------------------------

    [TestMethod]
    public void A_scope_needs_a_guest_with_scope_filters()
    {
        var scoped = Spec(GuestScope.Subtree(1));
        var message = Assert.ThrowsExactly<ArgumentException>(() => scoped.RequireFeatures(GuestFeatures.FiltersV2 | GuestFeatures.Batch)).Message;
        StringAssert.Contains(message, "process in subtree of 1");
        StringAssert.Contains(message, "predates (no scope filters feature)");
        scoped.RequireFeatures(GuestFeatures.ScopeFilters);
        Spec(scope: null).RequireFeatures(GuestFeatures.None);
    }

    [TestMethod]
    public void Scope_filters_count_toward_the_eight_filters_and_their_pids_toward_the_data_area()
    {
        string Refused(HookSpec spec) => Assert.ThrowsExactly<ArgumentException>(() => spec.Validate(GuestAbi.X86_64)).Message;
        var seven = Enumerable.Range(0, 7).Select(i => (1, ArgFilter.NotEqual(0x7000 + i))).ToArray();
        StringAssert.Contains(Refused(Spec(GuestScope.Subtree(1).Excluding(2), seven)),
            "9 argument filters, 2 of them the scope's (process in subtree of 1 and process not in subtree of 2); at most 8");
        Spec(GuestScope.Subtree(1), seven).Validate(GuestAbi.X86_64);
        // 32 pids (256 bytes) fill the data area: one more value does not fit
        var full = GuestScope.Processes([.. Enumerable.Range(1, 32)]);
        Spec(full).Validate(GuestAbi.X86_64);
        StringAssert.Contains(Refused(Spec(full, (1, ArgFilter.OneOf(1)))), "take 264 bytes; at most 256");
    }

    [TestMethod]
    public void A_scope_that_holds_no_process_is_refused_and_the_rest_pass()
    {
        string Refused(GuestScope scope) => Assert.ThrowsExactly<ArgumentException>(() => Spec(scope).Validate(GuestAbi.X86_64)).Message;
        StringAssert.Contains(Refused(GuestScope.Subtree(5).Excluding(5)), "holds no process: it keeps and excludes the subtree of 5");
        StringAssert.Contains(Refused(GuestScope.Processes(5).Excluding(5)), "every pid of its set is excluded");
        StringAssert.Contains(Refused(GuestScope.Processes(1, 2).And(GuestScope.Processes(3))), "no pid is in every set");
        StringAssert.Contains(Refused(GuestScope.Processes(1, 2).And(GuestScope.Processes(2, 3)).Excluding(2)), "no pid is in every set");
        // what only the guest's process tree can decide passes
        Spec(GuestScope.Processes(5, 6).Excluding(5)).Validate(GuestAbi.X86_64);
        Spec(GuestScope.Subtree(5).Excluding(6)).Validate(GuestAbi.X86_64);
        Spec(GuestScope.Subtree(5).And(GuestScope.Processes(9))).Validate(GuestAbi.X86_64);
    }

    [TestMethod]
    public void The_description_names_the_scope()
    {
        var spec = Spec(GuestScope.Subtree(1).Excluding(230), (1, ArgFilter.Equal(0x89f1)));
        Assert.AreEqual("ioctl Enter where arg1 == 0x89f1 and process in subtree of 1 and process not in subtree of 230", spec.ToString());
        Assert.AreEqual("ioctl Enter where process in {3}", Spec(GuestScope.Processes(3)).ToString());
    }

    // ---- [Scope] -----------------------------------------------------------------------------------------

    [Scope(Subtree = 1)]
    private sealed class FirmwareOnly
    {
        [Hypersyscall("ioctl", SyscallPhase.Enter)]
        [Scope(ExcludingSubtree = 230)]
        public static ValueTask OnIoctl(SyscallContext context) => ValueTask.CompletedTask;

        [Hypersyscall("getpid", SyscallPhase.Enter)]
        [Scope(Processes = [7, 8], IgnoreSessionScope = true)]
        public static ValueTask OnGetpid(SyscallContext context) => ValueTask.CompletedTask;
    }

    private sealed class OptsOut
    {
        [Hypersyscall("ioctl", SyscallPhase.Enter)]
        [Scope(IgnoreSessionScope = true)]
        public static ValueTask OnIoctl(SyscallContext context) => ValueTask.CompletedTask;
    }

    private sealed class EmptyScope
    {
        [Hypersyscall("ioctl", SyscallPhase.Enter)]
        [Scope]
        public static ValueTask OnIoctl(SyscallContext context) => ValueTask.CompletedTask;
    }

    private sealed class NegativePid
    {
        [Hypersyscall("ioctl", SyscallPhase.Enter)]
        [Scope(Subtree = -1)]
        public static ValueTask OnIoctl(SyscallContext context) => ValueTask.CompletedTask;
    }

    private sealed class ScopeWithoutHook
    {
        [Scope(Subtree = 1)]
        public static ValueTask OnIoctl(SyscallContext context) => ValueTask.CompletedTask;

        [Hypersyscall("getpid", SyscallPhase.Enter)]
        public static ValueTask OnGetpid(SyscallContext context) => ValueTask.CompletedTask;
    }

    [TestMethod]
    public void The_scope_attribute_on_the_class_and_the_method_adds_conditions()
    {
        var hooks = PluginHooks.Check(new FirmwareOnly(), GuestAbi.MipsEl).OrderBy(h => h.Name, StringComparer.Ordinal).ToList();
        Assert.AreEqual("FirmwareOnly.OnGetpid: getpid Enter where process in subtree of 1 and process in {7, 8}", hooks[0].ToString());
        Assert.IsTrue(hooks[0].Spec.IgnoresSessionScope);
        Assert.AreEqual("FirmwareOnly.OnIoctl: ioctl Enter where process in subtree of 1 and process not in subtree of 230", hooks[1].ToString());
        Assert.IsFalse(hooks[1].Spec.IgnoresSessionScope);
        var optOut = PluginHooks.Check(new OptsOut(), GuestAbi.MipsEl).Single().Spec;
        Assert.IsNull(optOut.Scope);
        Assert.IsTrue(optOut.IgnoresSessionScope);
    }

    [TestMethod]
    public void A_scope_attribute_without_a_condition_a_pid_or_a_hook_is_refused()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => PluginHooks.Check(new EmptyScope(), null)).Message,
            "EmptyScope.OnIoctl: [Scope] needs Subtree, ExcludingSubtree, Processes or IgnoreSessionScope");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => PluginHooks.Check(new NegativePid(), null)).Message,
            "names a pid below 1");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => PluginHooks.Check(new ScopeWithoutHook(), null)).Message,
            "[Scope] but no [Hypersyscall]");
    }

    // ---- the session's scope -----------------------------------------------------------------------------

    private sealed class Plain
    {
        [Hypersyscall("ioctl", SyscallPhase.Enter)]
        public static ValueTask OnIoctl(SyscallContext context) => ValueTask.CompletedTask;
    }

    [TestMethod]
    public async Task The_session_scope_joins_every_hook_registered_after_it_is_set_unless_one_opts_out()
    {
        var descriptors = new List<byte[]>();
        var cooperative = Answer.CooperativeControl(GuestAbi.X86_64, GuestFeatures.FiltersV2 | GuestFeatures.ScopeFilters);
        var connection = new ScriptedConnection(r =>
        {
            if ((PortalOp)Answer.Op(r) == PortalOp.HookRegister)
                descriptors.Add(Answer.Data(r)[..(int)Answer.Size(r)].ToArray());
            cooperative(r);
        });
        await using var session = await PortalSession.AttachAsync(connection);
        var before = await session.OnSyscall("ioctl", SyscallPhase.Enter).RegisterAsync(_ => ValueTask.CompletedTask);
        session.Scope = GuestScope.Subtree(1).Excluding(230);
        var after = await session.OnSyscall("ioctl", SyscallPhase.Enter).WithinScope(GuestScope.Processes(9))
            .RegisterAsync(_ => ValueTask.CompletedTask);
        var optedOut = await session.OnSyscall("ioctl", SyscallPhase.Enter).IgnoringSessionScope().RegisterAsync(_ => ValueTask.CompletedTask);
        var plugin = (await session.LoadPluginAsync(new Plain())).Hooks.Single();
        session.Scope = null;
        var cleared = await session.OnSyscall("ioctl", SyscallPhase.Enter).RegisterAsync(_ => ValueTask.CompletedTask);

        Assert.IsNull(before.Spec.Scope, "registered before the scope was set");
        Assert.AreEqual("process in subtree of 1 and process not in subtree of 230 and process in {9}", after.Spec.Scope?.ToString(),
            "the session's conditions, then the hook's own");
        Assert.IsNull(optedOut.Spec.Scope);
        Assert.AreEqual("process in subtree of 1 and process not in subtree of 230", plugin.Spec.Scope?.ToString());
        Assert.IsNull(cleared.Spec.Scope);
        uint[] Kinds(byte[] d) => [.. Enumerable.Range(0, (int)BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(12)))
            .Select(i => BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(68 + 24 * i)))];
        CollectionAssert.AreEqual(new[] { 0, 3, 0, 2, 0 }, descriptors.Select(d => Kinds(d).Length).ToArray(), "what the guest was sent");
        CollectionAssert.AreEqual(new uint[] { 11, 12, 13 }, Kinds(descriptors[1]));
    }

    [TestMethod]
    public async Task A_guest_without_scope_filters_refuses_the_session_scope_before_any_exchange()
    {
        var connection = new ScriptedConnection(Answer.CooperativeControl(GuestAbi.X86_64, GuestFeatures.FiltersV2));
        await using var session = await PortalSession.AttachAsync(connection);
        session.Scope = GuestScope.Subtree(1);
        var exchanges = connection.ControlChannel.Exchanges;
        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(async () =>
            await session.OnSyscall("ioctl", SyscallPhase.Enter).RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(error.Message, "predates (no scope filters feature)");
        StringAssert.Contains(error.Message, "IgnoringSessionScope");
        await Assert.ThrowsExactlyAsync<ArgumentException>(async () => await session.LoadPluginAsync(new Plain()));
        Assert.AreEqual(exchanges, connection.ControlChannel.Exchanges, "nothing reached the guest");
        await session.OnSyscall("ioctl", SyscallPhase.Enter).IgnoringSessionScope().RegisterAsync(_ => ValueTask.CompletedTask);
    }
}
