using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Typed;

namespace Portal.Runtime.Tests;

/// <summary>
/// RecordView's network-order integers (what generated network-order members use): big-endian on every
/// ABI, where the guest-order reads of the same bytes differ between a little- and a big-endian guest.
/// </summary>
[TestClass]
public sealed class NetworkOrderTests
{
    private static readonly byte[] Bytes = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0];

    private static RecordView View(GuestAbi abi, byte[] bytes) => new((byte[])bytes.Clone(), 0, abi, 0x1000, null, new ChangeSet());

    [TestMethod]
    public void The_same_bytes_read_the_same_on_either_byte_order()
    {
        foreach (var abi in new[] { GuestAbi.X86_64, GuestAbi.Mips })
        {
            var view = View(abi, Bytes);
            Assert.AreEqual(0x12UL, view.ReadUnsignedNetworkOrder(0, 1), abi.Name);
            Assert.AreEqual(0x1234UL, view.ReadUnsignedNetworkOrder(0, 2), abi.Name);
            Assert.AreEqual(0x12345678UL, view.ReadUnsignedNetworkOrder(0, 4), abi.Name);
            Assert.AreEqual(0x123456789abcdef0UL, view.ReadUnsignedNetworkOrder(0, 8), abi.Name);
            Assert.AreEqual(abi.IsBigEndian ? 0x1234UL : 0x3412UL, view.ReadUnsigned(0, 2), $"{abi.Name}: guest order differs");
        }
    }

    [TestMethod]
    public void Signed_values_are_sign_extended_from_their_width()
    {
        var view = View(GuestAbi.X86_64, [0xff, 0xfe, 0x80, 0, 0, 0]);
        Assert.AreEqual(-2L, view.ReadSignedNetworkOrder(0, 2));
        Assert.AreEqual(-1L, view.ReadSignedNetworkOrder(0, 1));
        Assert.AreEqual((long)int.MinValue, view.ReadSignedNetworkOrder(2, 4));
        Assert.AreEqual(0xfffeUL, view.ReadUnsignedNetworkOrder(0, 2));
    }

    [TestMethod]
    public void Writes_are_big_endian_staged_and_refuse_what_does_not_fit()
    {
        foreach (var abi in new[] { GuestAbi.MipsEl, GuestAbi.Mips })
        {
            var view = View(abi, new byte[8]);
            view.WriteUnsignedNetworkOrder(0, 2, 0x1f90);
            view.WriteSignedNetworkOrder(2, 2, -2);
            view.WriteUnsignedNetworkOrder(4, 4, 0xc0000201);
            CollectionAssert.AreEqual(new byte[] { 0x1f, 0x90, 0xff, 0xfe, 192, 0, 2, 1 }, view.Buffer, abi.Name);
            CollectionAssert.AreEqual(new[] { (0, 8) }, view.Changes.Ranges.ToArray(), abi.Name);
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => view.WriteUnsignedNetworkOrder(0, 2, 0x1_0000));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => view.WriteSignedNetworkOrder(0, 1, 128));
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => view.ReadUnsignedNetworkOrder(0, 3));
            CollectionAssert.AreEqual(new byte[] { 0x1f, 0x90, 0xff, 0xfe, 192, 0, 2, 1 }, view.Buffer, "a refused write changes nothing");
        }
    }
}
