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
