using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;

namespace Portal.Runtime.Tests;

[TestClass]
public sealed class AbiTests
{
    [TestMethod]
    [DataRow("x86_64", 16, 39, 8, false)]
    [DataRow("i386", 54, 20, 4, false)]
    [DataRow("mipsel", 4054, 4020, 4, false)]
    [DataRow("mips", 4054, 4020, 4, true)]
    [DataRow("armel", 54, 20, 4, false)]
    [DataRow("aarch64", 29, 172, 8, false)]
    public void Each_abi_has_its_own_numbers_size_and_byte_order(string name, int ioctl, int getpid, int pointerSize, bool bigEndian)
    {
        var abi = GuestAbi.Parse(name);
        Assert.AreEqual(ioctl, abi.Syscalls.GetNumber("ioctl"));
        Assert.AreEqual(getpid, abi.Syscalls.GetNumber("getpid"));
        Assert.AreEqual("ioctl", abi.Syscalls.GetName(ioctl));
        Assert.AreEqual(pointerSize, abi.PointerSize);
        Assert.AreEqual(bigEndian, abi.IsBigEndian);
        Assert.AreEqual(abi, GuestAbi.FromId(abi.Id));
    }

    [TestMethod]
    public void Errno_numbers_are_translated_per_abi()
    {
        Assert.AreEqual(GuestErrno.EOPNOTSUPP, GuestAbi.Mips.ToErrno(122));
        Assert.AreEqual(GuestErrno.EOPNOTSUPP, GuestAbi.X86_64.ToErrno(95));
        Assert.AreEqual(89, GuestAbi.MipsEl.ToNativeErrno(GuestErrno.ENOSYS));
        Assert.AreEqual(38, GuestAbi.ArmEl.ToNativeErrno(GuestErrno.ENOSYS));
        Assert.AreEqual(14, GuestAbi.Mips.ToNativeErrno(GuestErrno.EFAULT));
        foreach (var abi in GuestAbi.All)
        {
            foreach (var errno in new[] { GuestErrno.EFAULT, GuestErrno.EBADF, GuestErrno.ENOTTY, GuestErrno.ENODEV, GuestErrno.ENAMETOOLONG, GuestErrno.ESRCH })
                Assert.AreEqual(errno, abi.ToErrno(abi.ToNativeErrno(errno)), $"{errno} on {abi}");
        }
        Assert.AreEqual((GuestErrno)4000, GuestAbi.X86_64.ToErrno(4000), "unknown numbers pass through");
    }

    [TestMethod]
    public void Integers_follow_the_guest_byte_order()
    {
        var bytes = new byte[8];
        GuestAbi.Mips.WriteUInt32(bytes, 0x11223344);
        CollectionAssert.AreEqual(new byte[] { 0x11, 0x22, 0x33, 0x44 }, bytes[..4]);
        Assert.AreEqual(0x11223344u, GuestAbi.Mips.ReadUInt32(bytes));
        GuestAbi.MipsEl.WriteUInt32(bytes, 0x11223344);
        CollectionAssert.AreEqual(new byte[] { 0x44, 0x33, 0x22, 0x11 }, bytes[..4]);
        GuestAbi.Mips.WriteUInt64(bytes, 0x0102030405060708);
        Assert.AreEqual(0x0102030405060708UL, GuestAbi.Mips.ReadUInt64(bytes));
        Assert.AreEqual(0x01020304UL, GuestAbi.Mips.ReadPointer(bytes));
        Assert.AreEqual(0x0807060504030201UL, GuestAbi.X86_64.ReadPointer(bytes));
    }

    [TestMethod]
    public void Registers_are_truncated_and_sign_extended_at_their_width()
    {
        Assert.AreEqual(0xffff_ffffUL, GuestAbi.ArmEl.TruncateToRegister(ulong.MaxValue));
        Assert.AreEqual(ulong.MaxValue, GuestAbi.AArch64.TruncateToRegister(ulong.MaxValue));
        Assert.AreEqual(-1L, GuestAbi.I386.SignExtendRegister(0xffff_ffff));
        Assert.AreEqual(0xffff_ffffL, GuestAbi.X86_64.SignExtendRegister(0xffff_ffff));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => GuestAbi.MipsEl.WritePointer(new byte[8], 0x1_0000_0000));
    }

    [TestMethod]
    public void Unknown_names_get_helpful_errors()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => GuestAbi.Parse("mipsle")).Message, "mipsel");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => GuestAbi.X86_64.Syscalls.GetNumber("ioctll")).Message, "no syscall named 'ioctll' (did you mean ioctl?)");
        Assert.IsFalse(GuestAbi.AArch64.Syscalls.TryGetNumber("open", out _), "aarch64 has only openat");
    }
}
