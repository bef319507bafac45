using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Protocol;
using static Portal.Protocol.PortalResponse;

namespace Portal.Runtime.Tests;

[TestClass]
public sealed class CodecTests
{
    private static byte[] Region(PortalResponse op, ulong addr, ulong size)
    {
        var region = new byte[RegionLayout.Size];
        Answer.Header(region, (ulong)op, addr, size);
        return region;
    }

    [TestMethod]
    public void Request_header_round_trips_little_endian()
    {
        var region = new byte[RegionLayout.Size];
        Portal.Protocol.Region.WriteHeader(region, PortalOp.ReadStr, 0x1122334455667788, 4072);
        CollectionAssert.AreEqual(new byte[] { 6, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xe8, 0x0f, 0, 0, 0, 0, 0, 0 },
            region[..24]);
        Assert.AreEqual((ulong)PortalOp.ReadStr, Answer.Op(region));
        Assert.AreEqual(0x1122334455667788UL, Answer.Addr(region));
        Assert.AreEqual(4072UL, Answer.Size(region));
    }

    [TestMethod]
    public void Seed_numbers_are_kept()
    {
        Assert.AreEqual(1UL, (ulong)PortalOp.Read);
        Assert.AreEqual(2UL, (ulong)PortalOp.Write);
        Assert.AreEqual(3UL, (ulong)PortalOp.ReadFdName);
        Assert.AreEqual(4UL, (ulong)PortalOp.ReadProcArgs);
        Assert.AreEqual(6UL, (ulong)PortalOp.ReadStr);
        Assert.AreEqual(8UL, (ulong)PortalOp.ReadProcEnv);
        Assert.AreEqual(9UL, (ulong)PortalOp.ReadProcPid);
        Assert.AreEqual(0xf0000001UL, (ulong)ReadOk);
        Assert.AreEqual(0xf0000006UL, (ulong)ReadNum);
        Assert.AreEqual(4072, RegionLayout.DataCapacity);
        Assert.IsTrue(Enum.GetValues<PortalOp>().Where(op => (ulong)op > 9).All(op => (ulong)op >= 0x100), "extensions start at 0x100");
    }

    [TestMethod]
    public void Read_results_decode_ok_partial_and_fail()
    {
        Assert.AreEqual(new TransferResult(TransferStatus.Complete, 16, 0), ResponseReader.ReadResult(Region(ReadOk, 0x1000, 16), 16));
        Assert.AreEqual(new TransferResult(TransferStatus.Partial, 5, 14), ResponseReader.ReadResult(Region(ReadPartial, 14, 5), 16));
        Assert.AreEqual(new TransferResult(TransferStatus.Failed, 0, 14), ResponseReader.ReadResult(Region(ReadFail, 14, 0), 16));
    }

    [TestMethod]
    [DataRow(0xf0000001UL, 0UL, 15UL, "size 15 but 16")]             // READ_OK short
    [DataRow(0xf0000001UL, 0UL, 17UL, "size 17 but 16")]             // READ_OK long
    [DataRow(0xf0000003UL, 14UL, 0UL, "not between 1 and 15")]       // partial of nothing
    [DataRow(0xf0000003UL, 14UL, 16UL, "not between 1 and 15")]      // partial of everything
    [DataRow(0xf0000003UL, 0UL, 5UL, "errno 0")]                     // partial without errno
    [DataRow(0xf0000002UL, 4096UL, 0UL, "errno 4096")]               // errno beyond MAX_ERRNO
    [DataRow(0xf0000002UL, 14UL, 3UL, "size 3 must be 0")]           // failure with data
    [DataRow(0xf0000004UL, 0UL, 16UL, "cannot produce")]             // WRITE_OK for a read
    [DataRow(0x1UL, 0UL, 16UL, "cannot produce")]                    // a request code
    [DataRow(0xffffffffffffffffUL, 0UL, 0UL, "0xffffffffffffffff")]  // garbage
    public void Read_results_that_break_the_protocol_are_rejected_with_a_clear_message(ulong op, ulong addr, ulong size, string expected)
    {
        var error = Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.ReadResult(Region((PortalResponse)op, addr, size), 16));
        StringAssert.Contains(error.Message, expected);
        StringAssert.Contains(error.Message, "Read");
    }

    [TestMethod]
    public void Write_results_decode_and_reject_lies()
    {
        Assert.AreEqual(new TransferResult(TransferStatus.Complete, 8, 0), ResponseReader.WriteResult(Region(WriteOk, 0, 8), 8));
        Assert.AreEqual(new TransferResult(TransferStatus.Partial, 3, 14), ResponseReader.WriteResult(Region(WriteFail, 14, 3), 8));
        Assert.AreEqual(new TransferResult(TransferStatus.Failed, 0, 14), ResponseReader.WriteResult(Region(WriteFail, 14, 0), 8));
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.WriteResult(Region(WriteOk, 0, 9), 8));
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.WriteResult(Region(WriteFail, 14, 8), 8));
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.WriteResult(Region(ReadOk, 0, 8), 8));
    }

    [TestMethod]
    public void String_windows_report_termination_and_reject_embedded_nuls()
    {
        var region = Region(ReadOk, 0, 4);
        "eth0"u8.CopyTo(region.AsSpan(24));
        Assert.AreEqual(new StringChunk(TransferStatus.Complete, 4, true, 0), ResponseReader.StrResult(region, 100));
        Assert.AreEqual(new StringChunk(TransferStatus.Complete, 4, false, 0), ResponseReader.StrResult(region, 4), "a full window has no NUL yet");
        var lying = Region(ReadOk, 0, 4);
        "et\00"u8.CopyTo(lying.AsSpan(24));
        StringAssert.Contains(Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.StrResult(lying, 100)).Message, "contain a NUL");
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.StrResult(Region(ReadOk, 0, 101), 100));
    }

    [TestMethod]
    public void Block_chunks_must_be_exactly_what_remains()
    {
        Assert.AreEqual(new BlockChunk(TransferStatus.Complete, 4072, 5000, 0), ResponseReader.BlockResult(Region(ReadOk, 5000, 4072), PortalOp.ReadProcArgs, 0, 4072));
        Assert.AreEqual(new BlockChunk(TransferStatus.Complete, 928, 5000, 0), ResponseReader.BlockResult(Region(ReadOk, 5000, 928), PortalOp.ReadProcArgs, 4072, 4072));
        Assert.AreEqual(new BlockChunk(TransferStatus.Partial, 100, 0, 14), ResponseReader.BlockResult(Region(ReadPartial, 14, 100), PortalOp.ReadProcEnv, 0, 4072),
            "a fault part-way is a partial chunk with its errno");
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.BlockResult(Region(ReadOk, 5000, 0), PortalOp.ReadProcArgs, 4072, 4072),
            "returning nothing while bytes remain would loop forever");
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.BlockResult(Region(ReadOk, 100, 10), PortalOp.ReadProcArgs, 200, 4072));
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.BlockResult(Region(ReadOk, ulong.MaxValue, 4072), PortalOp.ReadProcEnv, 0, 4072));
    }

    [TestMethod]
    public void Pid_answers_are_range_checked()
    {
        Assert.AreEqual(new ProcessIds(true, 42, 43, 0), ResponseReader.PidResult(Region(ReadNum, 42, 43)));
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.PidResult(Region(ReadNum, 0, 1)));
        Assert.ThrowsExactly<PortalProtocolException>(() => ResponseReader.PidResult(Region(ReadNum, 1UL << 40, 1)));
    }

    [TestMethod]
    public void Guest_info_is_validated_against_the_abi_it_claims()
    {
        var region = new byte[RegionLayout.Size];
        Answer.GuestInfo(region, GuestAbi.Mips);
        var info = GuestInfo.Decode(region);
        Assert.AreEqual(GuestAbi.Mips, info.Abi);
        Assert.AreEqual("6.1.0-scripted", info.KernelRelease);

        Answer.GuestInfo(region, GuestAbi.Mips, version: 2);
        StringAssert.Contains(Assert.ThrowsExactly<PortalProtocolException>(() => GuestInfo.Decode(region)).Message, "protocol version 2");

        Answer.GuestInfo(region, GuestAbi.Mips);
        region[24 + 12] = 0;    // claims little-endian while saying MIPS big-endian
        StringAssert.Contains(Assert.ThrowsExactly<PortalProtocolException>(() => GuestInfo.Decode(region)).Message, "big_endian");
    }

    [TestMethod]
    public void Events_wider_than_the_register_are_rejected_on_32_bit_guests()
    {
        var region = new byte[RegionLayout.Size];
        Answer.Header(region, (ulong)Event, 7, 96);
        var data = Answer.Data(region);
        BitConverter.TryWriteBytes(data[4..], 1);            // enter
        BitConverter.TryWriteBytes(data[72..], 100);         // pid
        BitConverter.TryWriteBytes(data[76..], 100);         // tid
        BitConverter.TryWriteBytes(data[16..], 0x1_0000_0000UL);
        Assert.AreEqual(0x1_0000_0000UL, SyscallEventRecord.Decode(region, GuestAbi.X86_64).Arguments[0]);
        StringAssert.Contains(Assert.ThrowsExactly<PortalProtocolException>(() => SyscallEventRecord.Decode(region, GuestAbi.MipsEl)).Message,
            "wider than a mipsel register");
    }

    [TestMethod]
    public void Decoders_insist_on_a_whole_region()
    {
        Assert.ThrowsExactly<ArgumentException>(() => ResponseReader.ReadResult(new byte[100], 4));
    }
}
