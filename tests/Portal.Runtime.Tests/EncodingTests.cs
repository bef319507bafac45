using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Hypersyscalls;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>Byte layouts of what the host sends: hook descriptors (§4.3) and verdicts (§4.2).</summary>
[TestClass]
public sealed class EncodingTests
{
    private static HookSpec Spec(SyscallPhase phase, params (int, ArgFilter)[] filters) =>
        new("ioctl", phase, filters, Comm: null, Pid: null, RetvalFilter: null);

    [TestMethod]
    public void Hook_descriptor_layout_matches_the_protocol()
    {
        var spec = new HookSpec("ioctl", SyscallPhase.Return, [(1, ArgFilter.Equal(0x89f1))], "mtk7530_switch", 77, ArgFilter.SignedRange(-4095, -1));
        var region = new byte[RegionLayout.Size];
        HookDescriptor.WriteRequest(region, spec, GuestAbi.MipsEl);
        Assert.AreEqual((ulong)PortalOp.HookRegister, Answer.Op(region));
        Assert.AreEqual(64UL + 24, Answer.Size(region));
        var d = Answer.Data(region);
        Assert.AreEqual(4054u, BinaryPrimitives.ReadUInt32LittleEndian(d));
        Assert.AreEqual(2u, BinaryPrimitives.ReadUInt32LittleEndian(d[4..]));
        Assert.AreEqual(7u, BinaryPrimitives.ReadUInt32LittleEndian(d[8..]), "comm, pid and retval flags");
        Assert.AreEqual(1u, BinaryPrimitives.ReadUInt32LittleEndian(d[12..]));
        Assert.AreEqual(77UL, BinaryPrimitives.ReadUInt64LittleEndian(d[16..]));
        Assert.AreEqual("mtk7530_switch\0\0", System.Text.Encoding.ASCII.GetString(d.Slice(24, 16)));
        Assert.AreEqual(4u, BinaryPrimitives.ReadUInt32LittleEndian(d[44..]), "retval filter kind SRANGE");
        Assert.AreEqual(-4095L, BinaryPrimitives.ReadInt64LittleEndian(d[48..]));
        Assert.AreEqual(1u, BinaryPrimitives.ReadUInt32LittleEndian(d[64..]), "filter on argument 1");
        Assert.AreEqual(1u, BinaryPrimitives.ReadUInt32LittleEndian(d[68..]), "EQ");
        Assert.AreEqual(0x89f1UL, BinaryPrimitives.ReadUInt64LittleEndian(d[72..]));
    }

    [TestMethod]
    public void Filter_operands_follow_the_register_width()
    {
        var region = new byte[RegionLayout.Size];
        HookDescriptor.WriteRequest(region, Spec(SyscallPhase.Enter, (0, ArgFilter.Equal(-1)), (2, ArgFilter.SignedRange(-5, -1))), GuestAbi.ArmEl);
        var d = Answer.Data(region);
        Assert.AreEqual(0xffff_ffffUL, BinaryPrimitives.ReadUInt64LittleEndian(d[72..]), "EQ -1 is the 32-bit register value");
        Assert.AreEqual(-5L, BinaryPrimitives.ReadInt64LittleEndian(d[96..]), "SRANGE bounds are sign-extended");
        HookDescriptor.WriteRequest(region, Spec(SyscallPhase.Enter, (0, ArgFilter.Equal(-1))), GuestAbi.X86_64);
        Assert.AreEqual(ulong.MaxValue, BinaryPrimitives.ReadUInt64LittleEndian(Answer.Data(region)[72..]));
    }

    [TestMethod]
    public void Invalid_specs_list_every_problem()
    {
        var spec = new HookSpec("iocttl", SyscallPhase.Enter, [(7, ArgFilter.Equal(1)), (1, ArgFilter.Range(5, 2))], "", -3, ArgFilter.Equal(0));
        var message = Assert.ThrowsExactly<ArgumentException>(() => spec.Validate(GuestAbi.X86_64)).Message;
        foreach (var expected in new[] { "(did you mean ioctl?)", "argument index 7", "minimum is above maximum", "Return phase", "comm filter", "pid filter -3" })
            StringAssert.Contains(message, expected);
        var alone = new HookSpec("iocttl", SyscallPhase.Enter, [], null, null, null);
        Assert.AreEqual("Hook on iocttl (Enter) is invalid: The x86_64 ABI has no syscall named 'iocttl' (did you mean ioctl?).",
            Assert.ThrowsExactly<ArgumentException>(() => alone.Validate(GuestAbi.X86_64)).Message, "one sentence, no stray period after the question");
        var tooWide = Spec(SyscallPhase.Enter, (1, ArgFilter.Equal(0x1_0000_0000UL)));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => tooWide.Validate(GuestAbi.MipsEl)).Message, "does not fit a 32-bit register");
        tooWide.Validate(GuestAbi.X86_64);
    }

    [TestMethod]
    public void Sets_and_memory_filters_go_to_the_data_area()
    {
        var spec = Spec(SyscallPhase.Enter, (1, ArgFilter.OneOf(-1, 0x8914))) with
        {
            MemoryFilters = [(2, MemoryFilter.StringEquals("eth0").At(4).ThroughPointerAt(-8)), (0, MemoryFilter.StringContains("lan", 32))],
        };
        var region = new byte[RegionLayout.Size];
        HookDescriptor.WriteRequest(region, spec, GuestAbi.MipsEl);
        var d = Answer.Data(region);
        var areaAt = 64 + 3 * 24;
        Assert.AreEqual((ulong)(areaAt + 8 + 16 + 5 + 3), Answer.Size(region));
        Assert.AreEqual(8u, BinaryPrimitives.ReadUInt32LittleEndian(d[8..]), "the data flag alone");
        Assert.AreEqual(3u, BinaryPrimitives.ReadUInt32LittleEndian(d[12..]), "one value filter and two memory filters");
        Assert.AreEqual(24u, BinaryPrimitives.ReadUInt32LittleEndian(d[areaAt..]), "data_size");
        var area = d[(areaAt + 8)..];
        // the set: IN_SET, a = data offset 0, b = 2 values, each truncated to the 32-bit register
        Assert.AreEqual(7u, BinaryPrimitives.ReadUInt32LittleEndian(d[68..]));
        Assert.AreEqual(0UL, BinaryPrimitives.ReadUInt64LittleEndian(d[72..]));
        Assert.AreEqual(2UL, BinaryPrimitives.ReadUInt64LittleEndian(d[80..]));
        Assert.AreEqual(0xffff_ffffUL, BinaryPrimitives.ReadUInt64LittleEndian(area));
        Assert.AreEqual(0x8914UL, BinaryPrimitives.ReadUInt64LittleEndian(area[8..]));
        // the string equality through a pointer: offset 4, ptr_offset -8; pattern "eth0\0" at 16, 5 bytes, through-pointer bit
        Assert.AreEqual(2u, BinaryPrimitives.ReadUInt32LittleEndian(d[88..]));
        Assert.AreEqual(9u, BinaryPrimitives.ReadUInt32LittleEndian(d[92..]));
        Assert.AreEqual(0xffff_fff8_0000_0004UL, BinaryPrimitives.ReadUInt64LittleEndian(d[96..]));
        Assert.AreEqual(16UL | 5UL << 16 | 1UL << 48, BinaryPrimitives.ReadUInt64LittleEndian(d[104..]));
        CollectionAssert.AreEqual("eth0\0"u8.ToArray(), area.Slice(16, 5).ToArray());
        // contains "lan" within 32 bytes of a string: pattern at 21, window 32, stop-at-NUL bit
        Assert.AreEqual(10u, BinaryPrimitives.ReadUInt32LittleEndian(d[116..]));
        Assert.AreEqual(21UL | 3UL << 16 | 32UL << 32 | 1UL << 49, BinaryPrimitives.ReadUInt64LittleEndian(d[128..]));
        CollectionAssert.AreEqual("lan"u8.ToArray(), area.Slice(21, 3).ToArray());
    }

    [TestMethod]
    public void Filters_v2_need_a_guest_that_has_them()
    {
        var set = Spec(SyscallPhase.Enter, (1, ArgFilter.OneOf(1, 2)));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => set.RequireFeatures(GuestFeatures.Batch)).Message, "predates");
        set.RequireFeatures(GuestFeatures.FiltersV2);
        Spec(SyscallPhase.Enter, (1, ArgFilter.Equal(1))).RequireFeatures(GuestFeatures.None);
    }

    [TestMethod]
    public void Filters_that_can_never_all_hold_are_refused_and_the_rest_pass()
    {
        string Refused(HookSpec spec) => Assert.ThrowsExactly<ArgumentException>(() => spec.Validate(GuestAbi.X86_64)).Message;
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter, (1, ArgFilter.Equal(1)), (1, ArgFilter.Equal(2)))), "can never all hold");
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter, (1, ArgFilter.OneOf(1, 2)), (1, ArgFilter.Range(5, 9)))), "no value passes");
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter, (1, ArgFilter.MaskSet(6)), (1, ArgFilter.MaskClear(2)))), "both required and forbidden");
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter, (1, ArgFilter.SignedRange(-5, -1)), (1, ArgFilter.SignedRange(0, 3)))), "do not overlap");
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter) with
        {
            MemoryFilters = [(2, MemoryFilter.StringStartsWith("eth")), (2, MemoryFilter.StringStartsWith("wl"))],
        }), "different bytes");
        // satisfiable combinations pass: the filters on other arguments, a set with a range it meets, an equality beside a prefix
        Spec(SyscallPhase.Enter, (1, ArgFilter.Equal(1)), (2, ArgFilter.Equal(2))).Validate(GuestAbi.X86_64);
        Spec(SyscallPhase.Enter, (1, ArgFilter.OneOf(1, 7)), (1, ArgFilter.Range(5, 9)), (1, ArgFilter.NotEqual(6))).Validate(GuestAbi.X86_64);
        (Spec(SyscallPhase.Enter) with
        {
            MemoryFilters = [(2, MemoryFilter.StringStartsWith("eth")), (2, MemoryFilter.StringEquals("eth0")), (2, MemoryFilter.StringEquals("eth0").ThroughPointerAt(0))],
        }).Validate(GuestAbi.X86_64);
        // -1 and 0xffffffff are one value in a 32-bit register
        Spec(SyscallPhase.Enter, (1, ArgFilter.Equal(-1)), (1, ArgFilter.Equal(0xffff_ffffUL))).Validate(GuestAbi.MipsEl);
    }

    [TestMethod]
    public void Sets_and_patterns_are_bounded()
    {
        string Refused(HookSpec spec) => Assert.ThrowsExactly<ArgumentException>(() => spec.Validate(GuestAbi.X86_64)).Message;
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter, (1, ArgFilter.OneOf(Enumerable.Range(0, 33).Select(i => (long)i).ToArray())))), "33 values");
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter) with { MemoryFilters = [(1, MemoryFilter.StringEquals(new string('a', 64)))] }), "65 bytes");
        StringAssert.Contains(Refused(Spec(SyscallPhase.Enter) with { MemoryFilters = [(1, MemoryFilter.StringContains("abc", 300))] }), "window");
        var full = Spec(SyscallPhase.Enter, (1, ArgFilter.OneOf(Enumerable.Range(0, 32).Select(i => (long)i).ToArray()))) with
        {
            MemoryFilters = [(2, MemoryFilter.StringStartsWith("x"))],
        };
        StringAssert.Contains(Refused(full), "257 bytes; at most 256");
    }

    [TestMethod]
    public void Verdict_layout_and_write_entries_match_the_protocol()
    {
        var verdict = Verdict.Untouched;
        verdict.Flags = VerdictFlags.Skip;
        verdict.Retval = -1;
        var region = new byte[RegionLayout.Size];
        verdict.WriteRequest(region, 99, GuestAbi.I386, [new VerdictWrite(0x1000, new byte[] { 1, 2, 3 }), new VerdictWrite(0x2000, new byte[8])]);
        Assert.AreEqual((ulong)PortalOp.Verdict, Answer.Op(region));
        Assert.AreEqual(99UL, Answer.Addr(region));
        Assert.AreEqual((ulong)(72 + 16 + 8 + 16 + 8), Answer.Size(region), "entries are padded to 8 bytes");
        var d = Answer.Data(region);
        Assert.AreEqual(2u, BinaryPrimitives.ReadUInt32LittleEndian(d));
        Assert.AreEqual(-1L, BinaryPrimitives.ReadInt64LittleEndian(d[8..]));
        Assert.AreEqual(2u, BinaryPrimitives.ReadUInt32LittleEndian(d[64..]));
        Assert.AreEqual(0x1000UL, BinaryPrimitives.ReadUInt64LittleEndian(d[72..]));
        Assert.AreEqual(3u, BinaryPrimitives.ReadUInt32LittleEndian(d[80..]));
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, d.Slice(88, 3).ToArray());
        Assert.AreEqual(0x2000UL, BinaryPrimitives.ReadUInt64LittleEndian(d[96..]));
    }

    [TestMethod]
    public void A_verdict_whose_writes_do_not_fit_is_refused()
    {
        var region = new byte[RegionLayout.Size];
        Assert.ThrowsExactly<ArgumentException>(() => Verdict.Untouched.WriteRequest(region, 1, GuestAbi.X86_64, [new VerdictWrite(0, new byte[4000])]));
    }
}
