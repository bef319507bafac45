using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Generators.Tests.Sample;
using Portal.Typed;

namespace Portal.Generators.Tests;

/// <summary>
/// The proxies generated (at build time, by the analyzer) from Manifests/sample.portal.json, used on
/// detached records: every expectation is computed here by hand from the manifest's offsets, not by
/// the generated code.
/// </summary>
[TestClass]
public sealed class GeneratedRecordTests
{
    private static readonly GuestAbi Le64 = GuestAbi.X86_64;
    private static readonly GuestAbi Be32 = GuestAbi.Mips;

    [TestMethod]
    public void Sizes_come_from_the_abi_the_record_is_bound_to()
    {
        Assert.AreEqual(32, SampleReq.SizeOf(Le64));
        Assert.AreEqual(28, SampleReq.SizeOf(Be32));
        Assert.AreEqual(16, LongHolder.SizeOf(Le64));
        Assert.AreEqual(8, LongHolder.SizeOf(Be32));
        Assert.AreEqual("struct sample_req", SampleReq.CName);
    }

    [TestMethod]
    public void An_abi_the_manifest_lacks_is_a_clear_error()
    {
        var error = Assert.ThrowsExactly<GuestLayoutException>(() => SampleReq.SizeOf(GuestAbi.ArmEl));
        StringAssert.Contains(error.Message, "no layout for armel");
        StringAssert.Contains(error.Message, "x86_64, mips");
    }

    [TestMethod]
    public void Integers_are_stored_in_the_guest_byte_order_at_the_abi_width()
    {
        var le = GuestRecord.Create<SampleReq>(Le64);
        le.SampleValue = 0x1122334455667788;       // alias of u.value: a long
        CollectionAssert.AreEqual(new byte[] { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, le.View.Buffer[16..24]);
        Assert.AreEqual(0x1122334455667788, le.U.Value);

        var be = GuestRecord.Create<SampleReq>(Be32);
        be.SampleValue = -2;                        // long is 32-bit on mips
        CollectionAssert.AreEqual(new byte[] { 0xff, 0xff, 0xff, 0xfe }, be.View.Buffer[16..20]);
        Assert.AreEqual(-2L, be.SampleValue);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => be.SampleValue = 1L << 40);

        var holder = GuestRecord.Create<LongHolder>(Be32);
        holder.Ul = 0xdeadbeef;
        Assert.AreEqual(0xdeadbeefu, BinaryPrimitives.ReadUInt32BigEndian(holder.View.Buffer.AsSpan(4)));
    }

    [TestMethod]
    public void Char_arrays_read_as_strings_and_refuse_what_does_not_fit()
    {
        var req = GuestRecord.Create<SampleReq>(Be32);
        req.Name = "eth0";
        CollectionAssert.AreEqual("eth0\0\0\0\0\0\0\0\0\0\0\0\0"u8.ToArray(), req.View.Buffer[..16]);
        Assert.AreEqual("eth0", req.Name);
        req.Name = new string('x', 16);                     // exactly fills the array, no NUL
        Assert.AreEqual(new string('x', 16), req.Name);
        Assert.ThrowsExactly<ArgumentException>(() => req.Name = new string('x', 17));
    }

    [TestMethod]
    public void Union_members_share_their_bytes()
    {
        var req = GuestRecord.Create<SampleReq>(Le64);
        var point = req.U.Pt;               // nested records are views on the same bytes: take one in a local to set it
        point.X = 0x01020304;
        point.Y = 0x05060708;
        Assert.AreEqual(0x0506070801020304L, req.U.Value);
        CollectionAssert.AreEqual(new byte[] { 4, 3, 2, 1, 8, 7, 6, 5 }, req.U.Raw.ToArray());
    }

    [TestMethod]
    public void Bitfields_follow_the_compilers_bit_order_on_both_endiannesses()
    {
        foreach (var abi in new[] { Le64, Be32 })
        {
            var flags = GuestRecord.Create<FlagsRec>(abi);
            flags.A = 5;
            flags.B = 17;
            flags.C = -3;
            flags.D = 0xabcde;
            // a:3 at bit 0, b:5 at 3, c:4 at 8, d:20 at 12 of one 32-bit unit. Little-endian numbers bits
            // from the least significant end of the unit, big-endian (gcc/clang on MIPS) from the most.
            var unit = abi.IsBigEndian
                ? (5u << 29) | (17u << 24) | ((uint)(-3 & 0xf) << 20) | 0xabcde
                : 5u | (17u << 3) | ((uint)(-3 & 0xf) << 8) | (0xabcdeu << 12);
            Assert.AreEqual(unit, abi.ReadUInt32(flags.View.Buffer), abi.Name);
            Assert.AreEqual(5u, flags.A);
            Assert.AreEqual(17u, flags.B);
            Assert.AreEqual(-3, flags.C);
            Assert.AreEqual(0xabcdeu, flags.D);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => flags.A = 8);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => flags.C = 8);
        }
    }

    [TestMethod]
    public void Enums_bools_arrays_and_anonymous_members()
    {
        var flags = GuestRecord.Create<FlagsRec>(Be32);
        flags.Color = Color.BLUE;
        flags.On = true;
        CollectionAssert.AreEqual(new byte[] { 0xff, 0xff, 0xff, 0xff, 1 }, flags.View.Buffer[4..9]);
        Assert.AreEqual(Color.BLUE, flags.Color);

        var table = GuestRecord.Create<Table>(Le64);
        var third = table.Pts[2];
        third.Y = -7;
        var values = table.Vals;
        values[3] = 42;
        Assert.AreEqual(-7, BinaryPrimitives.ReadInt32LittleEndian(table.View.Buffer.AsSpan(4 + 2 * 8 + 4)));
        Assert.AreEqual(42, BinaryPrimitives.ReadInt32LittleEndian(table.View.Buffer.AsSpan(28 + 3 * 4)));
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 42 }, table.Vals.ToArray());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => table.Vals[4]);

        var anon = GuestRecord.Create<AnonHolder>(Le64);
        anon.F = 1.5f;                       // members of an anonymous union are members of the holder
        Assert.AreEqual(BitConverter.SingleToInt32Bits(1.5f), anon.I);
    }

    [TestMethod]
    public void Setters_stage_merged_ranges()
    {
        var req = GuestRecord.Create<SampleReq>(Le64);
        Assert.IsFalse(req.HasChanges());
        req.Name = "a";
        req.SampleValue = 1;                 // [0,16) and [16,24) touch: one range
        CollectionAssert.AreEqual(new[] { (0, 24) }, req.View.Changes.Ranges.ToArray());
        req.Next = new GuestPtr<Point>(0x1000, null);
        CollectionAssert.AreEqual(new[] { (0, 32) }, req.View.Changes.Ranges.ToArray());
    }

    [TestMethod]
    public void Constants_are_consts_unless_they_differ_between_abis()
    {
        foreach (var (name, expected) in new[] { ("SAMPLE_MAGIC", (object)0x89f1), ("SAMPLE_BIG", 0xffffffffu) })
        {
            var field = typeof(Sample.Sample).GetField(name)!;
            Assert.IsTrue(field.IsLiteral, $"{name} is a const");
            Assert.AreEqual(expected, field.GetRawConstantValue());
        }
        Assert.AreEqual(1, Sample.Sample.SAMPLE_ABI_SPECIFIC(Le64));
        Assert.AreEqual(2, Sample.Sample.SAMPLE_ABI_SPECIFIC(Be32));
        Assert.ThrowsExactly<GuestLayoutException>(() => Sample.Sample.SAMPLE_ABI_SPECIFIC(GuestAbi.I386));
    }
}
