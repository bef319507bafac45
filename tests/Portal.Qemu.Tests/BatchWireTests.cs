using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.ExceptionServices;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Channels;
using Portal.Guests;

namespace Portal.Qemu.Tests;

/// <summary>
/// BATCH (docs/protocol.md §3.3) against the real guest, at the wire level. Requests are encoded
/// byte by byte here and results decoded by hand, independently of the runtime's encoder, so these
/// tests pin down the module itself. The process is <c>portal-selftest desc</c> held at its ioctl
/// (docs/guest-programs.md): its self-test area gives known bytes, native pointers, a read-only
/// page, a long string and a buffer followed by an unmapped page.
/// </summary>
[TestClass, TestCategory("RealGuest")]
public sealed class BatchWireTests
{
    // Requests and responses (§3), and the x86_64 guest's errno values.
    private const ushort OpRead = 1, OpWrite = 2, OpReadFdName = 3, OpReadProcArgs = 4, OpReadStr = 6, OpReadProcEnv = 8, OpReadProcPid = 9;
    private const ulong OpGuestInfo = 0x100, OpHookRegister = 0x101, OpVerdict = 0x103, OpBatch = 0x104, OpPing = 0x105, OpHookReset = 0x107;
    private const ulong ReadOk = 0xf000_0001, ReadFail = 0xf000_0002, ReadPartial = 0xf000_0003, WriteOk = 0xf000_0004, WriteFail = 0xf000_0005,
        ReadNum = 0xf000_0006, ExtOk = 0xf000_0101, ExtFail = 0xf000_0102, BatchOk = 0xf000_0103;
    private const uint Ok = 0, Partial = 1, Failed = 2, Skipped = 3;
    private const uint Esrch = 3, Ebadf = 9, Efault = 14, Einval = 22, Enotty = 25, Enospc = 28, Enametoolong = 36;
    private const ushort Chase = 1;
    private const int Chunk = 4072;
    private const int IoctlNr = 16;   // x86_64

    // Self-test area descriptor offsets (docs/guest-programs.md).
    private const int DescSize = 96, DescBuf = 8, DescStr = 40, DescLongStr = 48, DescUnmapped = 32, DescPtrAt = 72, DescPid = 88;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Guest_info_advertises_batch_and_the_control_slot_answers_ESRCH()
    {
        await using var guest = await StartAsync();
        var control = guest.Connection.Control;

        Header(control.Region, OpGuestInfo, 0, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region));
        Assert.AreEqual(0x2u, BinaryPrimitives.ReadUInt32LittleEndian(control.Region[(24 + 28)..]) & 0x2u, "features bit 1: BATCH");

        // Nothing is held on the control slot: ESRCH before the request is looked at, malformed or not.
        foreach (var (count, size) in new (ulong, ulong)[] { (1, 24), (0, 0), (256, 4073), (ulong.MaxValue, ulong.MaxValue) })
        {
            Encode(control.Region, [Read(0x1000, 8)], count, size);
            await control.ExchangeAsync(TestContext.CancellationToken);
            Assert.AreEqual(ExtFail, Op(control.Region), $"count {count} size {size}");
            Assert.AreEqual(Esrch, Addr(control.Region));
        }
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Many_reads_in_one_exchange_each_with_its_own_result_exactly_as_the_single_ops()
    {
        await using var guest = await StartAsync();
        var run = await HoldDescAsync(guest, 0x7471, async (channel, d) =>
        {
            Entry[] entries =
            [
                Read(d.Address, DescSize),                   //  0 the descriptor
                ReadStr(d.Str, 64),                          //  1 "portal-selftest", NUL in the window
                Read(d.Int32At, 4),                          //  2
                Read(d.Int64At, 8),                          //  3
                Read(d.Unmapped, 16),                        //  4 unmapped: FAILED EFAULT
                Read(d.Unmapped - 8, 24),                    //  5 across into the unmapped page: PARTIAL, 8 bytes
                ReadStr(d.Unmapped - 8, 16),                 //  6 no NUL before the fault: PARTIAL, 8 bytes
                ReadStr(d.LongStr, 256),                     //  7 no NUL in the window: OK, count = size
                ReadStr(d.Buf + 1, 512),                     //  8 pattern byte 233 is the first NUL after 0
                new(OpReadFdName, 64, d.Fd),                 //  9 "/dev/null"
                new(OpReadFdName, 4, d.Fd),                  // 10 too long: PARTIAL ENAMETOOLONG, "/dev"
                new(OpReadFdName, 64, 999),                  // 11 FAILED EBADF
                new(OpReadProcPid, 0, 0),                    // 12
                new(OpReadProcArgs, 256, 0),                 // 13 the argument block, total in extra
                new(OpReadProcEnv, 128, 0),                  // 14
                new(OpReadProcArgs, 16, 1_000_000),          // 15 offset past the block: FAILED EINVAL
                Read(d.Ro, 32),                              // 16 the read-only page reads fine
                Read(d.Buf, 0),                              // 17 nothing: OK, count 0
                ReadStr(d.Str, 0),                           // 18 a zero window is EINVAL, per entry, as for READ_STR
                Read(0xffff_ffff_8100_0000, 8),              // 19 kernel address: FAILED EFAULT
            ];
            var results = await BatchAsync(channel, entries);

            CollectionAssert.AreEqual(d.Bytes, results[0].Data);
            AssertResult(results[1], Ok, 0, 15, 0, "portal-selftest"u8.ToArray());
            AssertResult(results[2], Ok, 0, 4, 0, [0x44, 0x33, 0x22, 0x11]);
            Assert.AreEqual(0x1122334455667788UL, BinaryPrimitives.ReadUInt64LittleEndian(results[3].Data));
            AssertResult(results[4], Failed, Efault, 0, 0, []);
            AssertResult(results[5], Partial, Efault, 8, 0, Pattern(16384 - 8, 8));
            AssertResult(results[6], Partial, Efault, 8, 0, Pattern(16384 - 8, 8));
            AssertResult(results[7], Ok, 0, 256, 0, LongStr(0, 256));
            AssertResult(results[8], Ok, 0, 232, 0, Pattern(1, 232));
            AssertResult(results[9], Ok, 0, 9, 0, "/dev/null"u8.ToArray());
            AssertResult(results[10], Partial, Enametoolong, 4, 0, "/dev"u8.ToArray());
            AssertResult(results[11], Failed, Ebadf, 0, 0, []);
            Assert.AreEqual(Ok, results[12].Status);
            Assert.AreEqual(d.Pid, results[12].Count, "READ_PROCPID: count = tgid");
            Assert.AreEqual(d.Pid, results[12].Extra, "single-threaded: tid = tgid");
            Assert.IsEmpty(results[12].Data);
            AssertResult(results[13], Ok, 0, 28, 28, "portal-selftest\0desc\00x7471\0"u8.ToArray());
            Assert.AreEqual(Ok, results[14].Status);
            StringAssert.Contains(Encoding.ASCII.GetString(results[14].Data), "PATH=");
            AssertResult(results[15], Failed, Einval, 0, 0, []);
            AssertResult(results[16], Ok, 0, 32, 0, Pattern(0, 32));
            AssertResult(results[17], Ok, 0, 0, 0, []);
            AssertResult(results[18], Failed, Einval, 0, 0, []);
            AssertResult(results[19], Failed, Efault, 0, 0, []);

            // Each entry's result is exactly what the same single op (§3.1) answers.
            for (var i = 0; i < entries.Length; i++)
            {
                var single = await SingleAsync(channel, entries[i]);
                Assert.AreEqual(single, results[i], $"entry {i} ({entries[i]})");
            }
        });
        StringAssert.Contains(run.Output, "rc=-1 errno=25");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Writes_land_before_the_reads_that_follow_them_and_fail_per_entry()
    {
        await using var guest = await StartAsync();
        var baseline = await BaselineAsync(guest);
        var run = await HoldDescAsync(guest, 0x7472, async (channel, d) =>
        {
            var results = await BatchAsync(channel,
                ReadStr(d.Str, 64),                                          // 0 before
                Write(d.Str, "batched!\0"u8.ToArray()),                      // 1
                ReadStr(d.Str, 64),                                          // 2 sees the write
                Write(d.Int32At, [0x88, 0x77, 0x66, 0x55]),                  // 3
                Read(d.Int32At, 4),                                          // 4
                Write(d.Ro, [1, 2, 3, 4]),                                   // 5 read-only page: FAILED EFAULT, nothing written
                Write(d.Unmapped - 4, [.. Pattern(16384 - 4, 4), 9, 9, 9, 9]), // 6 4 bytes land (the same bytes), then the fault
                Read(d.Unmapped - 4, 4),                                     // 7
                Write(0xffff_ffff_8100_0000, [1]),                           // 8 kernel: FAILED EFAULT
                Write(d.Str + 63, []),                                       // 9 nothing: OK, count 0
                Read(d.Ro, 4));                                              // 10 still the pattern
            AssertResult(results[0], Ok, 0, 15, 0, "portal-selftest"u8.ToArray());
            AssertResult(results[1], Ok, 0, 9, 0, []);
            AssertResult(results[2], Ok, 0, 8, 0, "batched!"u8.ToArray());
            AssertResult(results[3], Ok, 0, 4, 0, []);
            AssertResult(results[4], Ok, 0, 4, 0, [0x88, 0x77, 0x66, 0x55]);
            AssertResult(results[5], Failed, Efault, 0, 0, []);
            AssertResult(results[6], Failed, Efault, 4, 0, []);
            AssertResult(results[7], Ok, 0, 4, 0, Pattern(16384 - 4, 4));
            AssertResult(results[8], Failed, Efault, 0, 0, []);
            AssertResult(results[9], Ok, 0, 0, 0, []);
            AssertResult(results[10], Ok, 0, 4, 0, Pattern(0, 4));
        });
        StringAssert.Contains(run.Output, "str=batched!\n", "the write reached the process");
        StringAssert.Contains(run.Output, "int32=0x55667788\n");
        Assert.AreEqual(Line(baseline, "buf_crc="), Line(run, "buf_crc="), "the partial write put back the same bytes");
        Assert.AreEqual(Line(baseline, "ro_crc="), Line(run, "ro_crc="));
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Chase_follows_pointers_found_in_earlier_results()
    {
        await using var guest = await StartAsync();
        var run = await HoldDescAsync(guest, 0x7473, async (channel, d) =>
        {
            var results = await BatchAsync(channel,
                Read(d.Address, DescSize),                          //  0 the descriptor, read in the guest
                ChaseRead(0, DescPtrAt, 0, 8),                      //  1 *desc.ptr_at: the pointer to buf
                ChaseRead(1, 0, 16, 32),                            //  2 two levels: (*desc.ptr_at)[16..48]
                ChaseReadStr(0, DescStr, 0, 64),                    //  3 desc.str
                ChaseReadStr(0, DescStr, 7, 64),                    //  4 desc.str + 7
                ChaseRead(0, DescUnmapped, -16384 + 100, 16),       //  5 negative offset: buf + 100
                ChaseRead(0, DescPid, 0, 8),                        //  6 the last 8 bytes as a pointer: allowed, faults
                ChaseRead(0, DescPid + 1, 0, 8),                    //  7 one byte short: SKIPPED
                ChaseRead(0, 0xffff_fff8, 0, 8),                    //  8 offset near 2^32: SKIPPED, no wrap
                ChaseRead(0, DescBuf, long.MinValue, 8),            //  9 non-canonical: FAILED EFAULT
                ChaseRead(0, DescBuf, -(long)d.Buf - 1, 8),         // 10 wraps to 2^64 - 1: FAILED EFAULT
                ChaseRead(0, DescBuf, long.MaxValue, 8),            // 11 wraps past 2^64: FAILED EFAULT
                ChaseRead(0, DescUnmapped, -8, 16),                 // 12 PARTIAL across into the unmapped page
                ChaseWrite(0, DescStr, 0, "chased\0"u8.ToArray()),  // 13
                ChaseReadStr(0, DescStr, 0, 64),                    // 14 sees the chased write
                ChaseReadStr(0, DescLongStr, 8990, 64));            // 15 the last 10 characters of long_str
            CollectionAssert.AreEqual(d.Bytes, results[0].Data);
            AssertResult(results[1], Ok, 0, 8, 0, Le64(d.Buf));
            AssertResult(results[2], Ok, 0, 32, 0, Pattern(16, 32));
            AssertResult(results[3], Ok, 0, 15, 0, "portal-selftest"u8.ToArray());
            AssertResult(results[4], Ok, 0, 8, 0, "selftest"u8.ToArray());
            AssertResult(results[5], Ok, 0, 16, 0, Pattern(100, 16));
            AssertResult(results[6], Failed, Efault, 0, 0, []);
            AssertResult(results[7], Skipped, 0, 0, 0, []);
            AssertResult(results[8], Skipped, 0, 0, 0, []);
            AssertResult(results[9], Failed, Efault, 0, 0, []);
            AssertResult(results[10], Failed, Efault, 0, 0, []);
            AssertResult(results[11], Failed, Efault, 0, 0, []);
            AssertResult(results[12], Partial, Efault, 8, 0, Pattern(16384 - 8, 8));
            AssertResult(results[13], Ok, 0, 7, 0, []);
            AssertResult(results[14], Ok, 0, 6, 0, "chased"u8.ToArray());
            AssertResult(results[15], Ok, 0, 10, 0, LongStr(8990, 10));
        });
        StringAssert.Contains(run.Output, "str=chased\n", "the chased write reached the process");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Chase_on_a_base_that_did_not_succeed_with_the_pointer_bytes_is_skipped()
    {
        await using var guest = await StartAsync();
        var run = await HoldDescAsync(guest, 0x7474, async (channel, d) =>
        {
            var results = await BatchAsync(channel,
                Read(d.Unmapped, 8),                        //  0 FAILED
                ChaseRead(0, 0, 0, 8),                      //  1 on a failed base: SKIPPED
                ChaseRead(1, 0, 0, 8),                      //  2 on a skipped base: SKIPPED
                Read(d.Unmapped - 8, 16),                   //  3 PARTIAL, though its 8 bytes are there
                ChaseRead(3, 0, 0, 8),                      //  4 SKIPPED: the base did not succeed
                new(OpReadProcPid, 0, 0),                   //  5 OK, but no result bytes (count is the pid)
                ChaseRead(5, 0, 0, 8),                      //  6 SKIPPED
                Write(d.Str + 32, Le64(d.Buf)),             //  7 OK, no result bytes
                ChaseRead(7, 0, 0, 8),                      //  8 SKIPPED
                ReadStr(d.Str, 4),                          //  9 OK with 4 bytes: fewer than a pointer
                ChaseReadStr(9, 0, 0, 8),                   // 10 SKIPPED
                ChaseWrite(0, 0, 0, "skipped\0"u8.ToArray()), // 11 a skipped write writes nothing
                Read(d.Address, DescSize),                  // 12 OK
                ChaseReadStr(12, DescStr, 0, 64));          // 13 the same shape on a good base works
            AssertResult(results[0], Failed, Efault, 0, 0, []);
            foreach (var i in new[] { 1, 2, 4, 6, 8, 10, 11 })
                AssertResult(results[i], Skipped, 0, 0, 0, [], $"entry {i}");
            AssertResult(results[3], Partial, Efault, 8, 0, Pattern(16384 - 8, 8));
            Assert.AreEqual(Ok, results[5].Status);
            AssertResult(results[7], Ok, 0, 8, 0, []);
            AssertResult(results[9], Ok, 0, 4, 0, "port"u8.ToArray());
            AssertResult(results[13], Ok, 0, 15, 0, "portal-selftest"u8.ToArray());
        });
        StringAssert.Contains(run.Output, "str=portal-selftest\n");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Malformed_requests_are_rejected_whole_with_EINVAL_before_anything_runs()
    {
        await using var guest = await StartAsync();
        var run = await HoldDescAsync(guest, 0x7475, async (channel, d) =>
        {
            // Every case starts with a valid WRITE: a rejected request must not have run it.
            var probe = Write(d.Str, "XXXX"u8.ToArray());
            var cases = new List<(string Name, Entry[] Entries, ulong? Count, ulong? Size)>
            {
                ("count 0", [probe], 0, null),
                ("count 256", [probe], 256, null),
                ("count 2^32 + 1", [probe], (1UL << 32) + 1, null),
                ("count > entries present", [probe, Read(d.Buf, 8)], 3, null),
                ("request size 4073", [probe], null, 4073),
                ("request size 2^64 - 1", [probe], null, ulong.MaxValue),
                ("second header cut", [probe, Read(d.Buf, 8)], null, 32 + 23),
                ("write data past size", [Write(d.Str, new byte[16])], null, 24 + 15),
                ("op 0", [probe, new(0, 8, d.Buf)], null, null),
                ("op 5 (reserved)", [probe, new(5, 8, d.Buf)], null, null),
                ("op 7 (reserved)", [probe, new(7, 8, d.Buf)], null, null),
                ("op 10", [probe, new(10, 8, d.Buf)], null, null),
                ("op 0x104", [probe, new(0x104, 8, d.Buf)], null, null),
                ("op 0xffff", [probe, new(0xffff, 8, d.Buf)], null, null),
                ("READ size 4073", [probe, Read(d.Buf, 4073)], null, null),
                ("READ size 2^32 - 1", [probe, Read(d.Buf, uint.MaxValue)], null, null),
                ("READ_STR size 4073", [probe, ReadStr(d.Str, 4073)], null, null),
                ("READ_FD_NAME size 4073", [probe, new(OpReadFdName, 4073, d.Fd)], null, null),
                ("READ_PROCARGS size 4073", [probe, new(OpReadProcArgs, 4073, 0)], null, null),
                ("base = own index", [probe, ChaseRead(1, 0, 0, 8)], null, null),
                ("base > index", [probe, ChaseRead(7, 0, 0, 8)], null, null),
                ("base 0xffff", [probe, ChaseRead(0xffff, 0, 0, 8)], null, null),
                ("chase on the first entry", [ChaseWrite(0, 0, 0, [1]), Read(d.Buf, 8)], null, null),
                ("flag bit 1", [probe, Read(d.Buf, 8) with { Flags = 2 }], null, null),
                ("flag bit 15", [probe, Read(d.Buf, 8) with { Flags = 0x8000 }], null, null),
                ("CHASE plus an unknown flag", [probe, ChaseRead(0, 0, 0, 8) with { Flags = 3 }], null, null),
                ("reserved 1", [probe, Read(d.Buf, 8) with { Reserved = 1 }], null, null),
                ("reserved 0x8000", [probe, Read(d.Buf, 8) with { Reserved = 0x8000 }], null, null),
                ("flag on the first (write) entry", [probe with { Flags = 0x10 }], null, null),
                ("CHASE on READ_FD_NAME", [probe, new(OpReadFdName, 64, d.Fd, Chase)], null, null),
                ("CHASE on READ_PROCARGS", [probe, new(OpReadProcArgs, 64, 0, Chase)], null, null),
                ("CHASE on READ_PROCENV", [probe, new(OpReadProcEnv, 64, 0, Chase)], null, null),
                ("CHASE on READ_PROCPID", [probe, new(OpReadProcPid, 0, 0, Chase)], null, null),
                ("bytes after the last entry", [probe, Read(d.Buf, 8)], null, 32 + 24 + 8),
                ("the last WRITE's padding cut off", [Read(d.Buf, 8), Write(d.Str + 32, [1, 2, 3])], null, 24 + 24 + 3),
                ("base without CHASE", [probe, Read(d.Buf, 8) with { Base = 0 }, Read(d.Buf, 8) with { Base = 1 }], null, null),
                ("ptr_offset without CHASE", [probe, Read(d.Buf, 8) with { PtrOffset = 8 }], null, null),
                ("EINVAL wins over ENOSPC", [probe, Read(d.Buf, 4072), Read(d.Buf, 4072), new(0, 0, 0)], null, null),
            };
            foreach (var (name, entries, count, size) in cases)
            {
                Encode(channel.Region, entries, count, size);
                await channel.ExchangeAsync(TestContext.CancellationToken);
                Assert.AreEqual(ExtFail, Op(channel.Region), name);
                Assert.AreEqual(Einval, Addr(channel.Region), name);
                var str = await BatchAsync(channel, ReadStr(d.Str, 64));
                AssertResult(str[0], Ok, 0, 15, 0, "portal-selftest"u8.ToArray(), $"{name}: nothing ran");
            }

        });
        StringAssert.Contains(run.Output, "str=portal-selftest\n", "no rejected write ran");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Results_that_might_not_fit_are_rejected_with_ENOSPC_counting_every_read_at_full_size()
    {
        await using var guest = await StartAsync();
        var run = await HoldDescAsync(guest, 0x7476, async (channel, d) =>
        {
            var probe = Write(d.Str, "XXXX"u8.ToArray());
            var cases = new List<(string Name, Entry[] Entries)>
            {
                ("READ 4057 (16 + 4064 > 4072)", [Read(d.Buf, 4057)]),
                ("two READs of 2048 after a write", [probe, Read(d.Buf, 2048), Read(d.Buf, 2048)]),
                ("READ_STR counted at its window, not the string", [probe, ReadStr(d.Str, 4064)]),
                ("READ_FD_NAME counted at its maximum", [probe, new(OpReadFdName, 4060, d.Fd)]),
                ("READ_PROCARGS counted at its maximum", [probe, new(OpReadProcArgs, 4060, 0)]),
                ("a failing read still counts", [probe, Read(d.Unmapped, 4060)]),
                ("150 READs of 16", [.. Enumerable.Repeat(Read(d.Buf, 16), 150)]),
            };
            foreach (var (name, entries) in cases)
            {
                Encode(channel.Region, entries);
                await channel.ExchangeAsync(TestContext.CancellationToken);
                Assert.AreEqual(ExtFail, Op(channel.Region), name);
                Assert.AreEqual(Enospc, Addr(channel.Region), name);
                var str = await BatchAsync(channel, ReadStr(d.Str, 64));
                AssertResult(str[0], Ok, 0, 15, 0, "portal-selftest"u8.ToArray(), $"{name}: nothing ran");
            }

            // The exact fit, and the most entries a request can hold (169 x 24 bytes).
            var exact = await BatchAsync(channel, Read(d.Buf, 4056));
            AssertResult(exact[0], Ok, 0, 4056, 0, Pattern(0, 4056));
            Assert.AreEqual(4072UL, Size(channel.Region));
            var many = await BatchAsync(channel, [.. Enumerable.Repeat(Read(d.Buf, 8), 150)]);
            Assert.IsTrue(many.All(r => r.Status == Ok && r.Data.SequenceEqual(Pattern(0, 8))));
            var pids = await BatchAsync(channel, [.. Enumerable.Repeat(new Entry(OpReadProcPid, 0, 0), 169)]);
            Assert.IsTrue(pids.All(r => r.Status == Ok && r.Count == d.Pid));
            Assert.AreEqual(169UL * 16, Size(channel.Region));
            var writes = await BatchAsync(channel, [.. Enumerable.Repeat(Write(d.Str + 32, new byte[8]), 127)]);
            Assert.IsTrue(writes.All(r => r.Status == Ok && r.Count == 8), "writes return no bytes: 127 x 16 fits");
        });
        StringAssert.Contains(run.Output, "str=portal-selftest\n", "no rejected write ran");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task One_batch_of_eight_reads_against_eight_single_reads()
    {
        // Informational: the numbers go to the test output; only the results are asserted.
        await using var guest = await StartAsync();
        var run = await HoldDescAsync(guest, 0x7477, async (channel, d) =>
        {
            var entries = Enumerable.Range(0, 8).Select(i => Read(d.Buf + (ulong)(64 * i), 32)).ToArray();
            Encode(channel.Region, entries);
            var request = channel.Region[..(24 + 8 * 24)].ToArray();
            const int Rounds = 3000;
            var singles = new double[Rounds];
            var batches = new double[Rounds];
            // interleaved, so that drift on the (shared) host affects both alike
            for (var i = 0; i < Rounds; i++)
            {
                var started = Stopwatch.GetTimestamp();
                foreach (var e in entries)
                {
                    Header(channel.Region, OpRead, e.Addr, e.Size);
                    await channel.ExchangeAsync(TestContext.CancellationToken);
                    Assert.AreEqual(ReadOk, Op(channel.Region));
                }
                singles[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
                started = Stopwatch.GetTimestamp();
                request.CopyTo(channel.Region);
                await channel.ExchangeAsync(TestContext.CancellationToken);
                Assert.AreEqual(BatchOk, Op(channel.Region));
                batches[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            }
            var results = Decode(channel.Region, entries);
            for (var i = 0; i < 8; i++)
                AssertResult(results[i], Ok, 0, 32, 0, Pattern(64 * i, 32));
            TestContext.WriteLine($"8 x READ 32 B, {Rounds} Rounds, median (p90): " +
                $"8 single READs {Percentile(singles, 0.5):F1} ({Percentile(singles, 0.9):F1}) us, " +
                $"one BATCH {Percentile(batches, 0.5):F1} ({Percentile(batches, 0.9):F1}) us");
        });
        StringAssert.Contains(run.Output, "rc=-1 errno=25");

        static double Percentile(double[] values, double p)
        {
            var sorted = values.Order().ToArray();
            return sorted[(int)(p * (sorted.Length - 1))];
        }
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public async Task Random_batches_on_the_control_slot_and_a_held_slot_do_not_hurt_the_guest(int cpus)
    {
        await using var guest = await StartAsync(cpus);
        var baseline = await BaselineAsync(guest);
        var random = new Random(20240104);

        var control = guest.Connection.Control;
        for (var i = 0; i < 5_000; i++)
        {
            RandomBatch(control.Region, random, desc: null);
            await control.ExchangeAsync(TestContext.CancellationToken);
            Assert.AreEqual(ExtFail, Op(control.Region), $"control #{i}");
            Assert.AreEqual(Esrch, Addr(control.Region), $"control #{i}");
        }

        var outcomes = new Dictionary<string, int>();
        for (var round = 0; round < 3; round++)
        {
            ulong buf = 0;
            var run = await HoldDescAsync(guest, 0x7478, async (channel, d) =>
            {
                buf = d.Buf;
                for (var i = 0; i < 5_000; i++)
                {
                    RandomBatch(channel.Region, random, d);
                    var request = channel.Region.ToArray();
                    await channel.ExchangeAsync(TestContext.CancellationToken);
                    var outcome = CheckResponse(channel.Region, request);
                    if (outcome.StartsWith("bad:", StringComparison.Ordinal))
                        Assert.Fail($"round {round} #{i}: {outcome}\nrequest {Convert.ToHexString(request, 0, 24 + 96)}...");
                    outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                }
            });
            Assert.AreEqual(0, run.ExitCode, run.Output);
            StringAssert.Contains(run.Output, "rc=-1 errno=25", "the syscall went on untouched");
            foreach (var field in new[] { "str=", "int32=", "int64=", "buf_crc=", "ro_crc=" })
                Assert.AreEqual(Line(baseline, field), Line(run, field), $"round {round}: no write reached valid memory ({field})");
            Assert.AreEqual($"ptr=0x{buf:x}", Line(run, "ptr="), $"round {round}: the pointer is intact");
        }
        TestContext.WriteLine(string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key}: {o.Value}")));
        Assert.IsGreaterThan(1000, outcomes.Where(o => o.Key.StartsWith("BATCH_OK", StringComparison.Ordinal)).Sum(o => o.Value), "enough batches ran");
        Assert.IsGreaterThan(100, outcomes.GetValueOrDefault("BATCH_OK with a successful chase"), "enough chases reached real memory");

        Header(control.Region, OpPing, 0x5151, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region));
        Assert.AreEqual(0x5151UL, Addr(control.Region));
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    public async Task A_host_scribbling_on_the_region_while_the_guest_works_does_not_hurt_it(int cpus)
    {
        // The guest must copy the request before it validates and runs it. A second host thread keeps
        // changing the region (addr, size, entries) while the guest serves batches. The scribbled bytes
        // are 0x10..0xff, so a scribbled op or flag is never WRITE or a bare CHASE; the test's own
        // batches only read; so no write can reach the program's memory, whatever the guest saw.
        await using var guest = await StartAsync(cpus);
        var baseline = await BaselineAsync(guest);
        var responses = new Dictionary<ulong, int>();
        var run = await HoldDescAsync(guest, 0x7479, async (channel, d) =>
        {
            var region = RegionAddress(channel.Region);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            var scribbles = 0L;
            var scribbler = Task.Run(() =>
            {
                var random = new Random(77);
                var noise = new byte[64];
                while (!stop.IsCancellationRequested)
                {
                    var target = RegionAt(region);
                    random.NextBytes(noise);
                    for (var i = 0; i < noise.Length; i++)
                        noise[i] = (byte)(0x10 + noise[i] % 0xf0);
                    // mostly where the request lives: addr, size and the first entries
                    var at = random.Next(8) switch
                    {
                        0 => 8 + random.Next(16),
                        1 => 24 + random.Next(4096 - 24),
                        _ => 24 + random.Next(9 * 24),
                    };
                    var n = Math.Min(random.Next(1, noise.Length), 4096 - at);
                    noise.AsSpan(0, n).CopyTo(target[at..]);
                    scribbles++;
                }
            }, TestContext.CancellationToken);
            var random = new Random(78);
            var chase = new[]
            {
                Read(d.Address, DescSize), ChaseRead(0, DescPtrAt, 0, 8), ChaseRead(1, 0, 0, 64), ChaseReadStr(0, DescStr, 0, 64),
                ChaseReadStr(0, DescLongStr, 0, 512), ChaseRead(0, DescUnmapped, -8, 16), new(OpReadFdName, 64, d.Fd),
                new(OpReadProcArgs, 64, 0), new(OpReadProcPid, 0, 0),
            };
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                Encode(channel.Region, [.. chase.Take(random.Next(1, chase.Length + 1))]);
                await channel.ExchangeAsync(TestContext.CancellationToken);
                var op = Op(channel.Region);
                Assert.IsTrue(op is BatchOk or ExtFail, $"#{i}: response {op:x}");
                responses[op] = responses.GetValueOrDefault(op) + 1;
            }
            await stop.CancelAsync();
            await scribbler;
            TestContext.WriteLine($"{scribbles} scribbles; responses: {string.Join(", ", responses.Select(r => $"{r.Key:x}: {r.Value}"))}");
            Assert.IsGreaterThan(1000, scribbles);
            // How many scribbled requests still passed validation depends on how the host's threads
            // and QEMU's vCPU thread interleave (CI once saw 10 of 873), so it is not asserted; what
            // must hold is that the guest answered every one and serves clean batches right after.
            for (var i = 0; i < 100; i++)
            {
                Encode(channel.Region, chase);
                await channel.ExchangeAsync(TestContext.CancellationToken);
                Assert.AreEqual(BatchOk, Op(channel.Region), $"clean batch #{i} after the scribbling");
            }
        });
        StringAssert.Contains(run.Output, "rc=-1 errno=25", "the syscall went on untouched");
        foreach (var field in new[] { "str=", "int32=", "int64=", "buf_crc=", "ro_crc=" })
            Assert.AreEqual(Line(baseline, field), Line(run, field), $"no write reached valid memory ({field})");
        Assert.IsGreaterThan(100, responses.Values.Sum(), "the guest kept answering while the region was scribbled on");

        var control = guest.Connection.Control;
        Header(control.Region, OpPing, 0x5252, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region));
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    /// <summary>
    /// The region's address, for a second thread (a span cannot cross threads). The region is mapped
    /// shared memory, not a managed object, so the address stays valid while the guest is attached.
    /// </summary>
    private static nint RegionAddress(Span<byte> region) =>
        Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref MemoryMarshal.GetReference(region));

    private static Span<byte> RegionAt(nint address) =>
        MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref Unsafe.NullRef<byte>(), address), 4096);

    // ---------------------------------------------------------------- fuzzing

    private static readonly ulong[] EdgeAddresses =
        [0, 1, 0xfff, 0x1000, 0x7fff_ffff_f000, 0x8000_0000_0000, 0xffff_8880_0000_0000, 0xffff_ffff_8100_0000, 0xffff_ffff_ffff_f000, ulong.MaxValue];

    // Addresses where a write must fail: below mmap_min_addr, above TASK_SIZE_MAX, non-canonical, kernel.
    private static readonly ulong[] FailingAddresses =
        [0, 1, 0xfff, 0x7fff_ffff_f000, 0x8000_0000_0000, 0xffff_8880_0000_0000, 0xffff_ffff_8100_0000, 0xffff_ffff_ffff_f000, ulong.MaxValue];

    private static readonly uint[] SmallSizes = [0, 1, 7, 8, 9, 15, 16, 64, 96];
    private static readonly uint[] LargeSizes = [2032, 4056, 4057, 4064, 4071, 4072];
    private static readonly uint[] BadSizes = [4073, 4080, 65536, 0x8000_0000, uint.MaxValue];
    private static readonly ushort[] Ops = [OpRead, OpRead, OpRead, OpReadStr, OpReadStr, OpWrite, OpReadFdName, OpReadProcArgs, OpReadProcEnv, OpReadProcPid];
    private static readonly uint[] EdgePtrOffsets = [0, 1, 7, 8, 16, 32, 40, 48, 72, 88, 89, 90, 4064, 0x7fff_ffff, 0xffff_fff8, uint.MaxValue];
    private static readonly long[] EdgeOffsets = [0, 0, 0, 8, 16, -8, -16384, -16384 + 100, 4096, long.MinValue, long.MaxValue, -1, 1];

    /// <summary>
    /// A random BATCH request: mostly plausible entries with edge values and chases through the real
    /// self-test area (when <paramref name="desc"/> is given), sometimes wrong counts, sizes and
    /// garbage. Writes only ever go to addresses where they must fail, and never chase, so the held
    /// program's memory stays intact.
    /// </summary>
    private static void RandomBatch(Span<byte> region, Random random, Desc? desc)
    {
        region.Clear();
        if (random.Next(8) == 0)
        {
            // garbage: any count and size, random bytes
            random.NextBytes(region[24..]);
            // entries start at multiples of 8: no garbage entry may be a WRITE to who knows where
            for (var off = 24; off < 4096; off += 8)
            {
                if (BinaryPrimitives.ReadUInt16LittleEndian(region[off..]) == OpWrite)
                    region[off] = 0xee;
            }
            Header(region, OpBatch,
                random.Next(3) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(0, 260),
                random.Next(3) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(0, 4100));
            return;
        }

        var count = random.Next(4) == 0 ? random.Next(1, 170) : random.Next(1, 24);
        var entries = new List<Entry>();
        var length = 0;
        for (var i = 0; i < count; i++)
        {
            Entry e;
            if (desc is not null && (i == 0 || random.Next(6) == 0))
            {
                e = Read(desc.Address, DescSize);                   // a base full of real pointers
            }
            else
            {
                var op = random.Next(200) == 0 ? (ushort)random.Next(0, 0x10000) : Ops[random.Next(Ops.Length)];
                var size = random.Next(100) switch
                {
                    0 => BadSizes[random.Next(BadSizes.Length)],
                    < 4 => LargeSizes[random.Next(LargeSizes.Length)],
                    < 50 => SmallSizes[random.Next(SmallSizes.Length)],
                    _ => (uint)random.Next(0, 200),
                };
                if (op == OpWrite)
                {
                    size = Math.Min(size, 512);
                    var data = new byte[size];
                    random.NextBytes(data);
                    e = Write(FailingAddresses[random.Next(FailingAddresses.Length)], data);
                }
                else if (i > 0 && (op is OpRead or OpReadStr) && random.Next(2) == 0)
                {
                    e = new Entry(op, size, (ulong)EdgeOffsets[random.Next(EdgeOffsets.Length)], Chase,
                        (ushort)random.Next(0, i), EdgePtrOffsets[random.Next(EdgePtrOffsets.Length)]);
                }
                else
                {
                    ulong address = random.Next(3) switch
                    {
                        0 when desc is not null => desc.Pointers[random.Next(desc.Pointers.Length)] + (ulong)random.Next(-64, 64),
                        1 => EdgeAddresses[random.Next(EdgeAddresses.Length)],
                        _ => (ulong)random.NextInt64(),
                    };
                    e = new Entry(op, size, op == OpReadFdName ? (ulong)random.Next(-3, 8) : address);
                }
                // rarely: a malformed entry (base not earlier, unknown flag, reserved set)
                switch (random.Next(300))
                {
                    case 0: e = e with { Flags = Chase, Base = (ushort)random.Next(i, 0x10000) }; break;
                    case 1: e = e with { Flags = (ushort)(1 << random.Next(1, 16)) }; break;
                    case 2: e = e with { Reserved = (ushort)random.Next(1, 0x10000) }; break;
                }
                // never a chased or malformed-but-running WRITE: its address must stay a failing one
                if (e.Op == OpWrite && e.Flags != 0)
                    e = e with { Flags = (ushort)(e.Flags & ~Chase) };
            }
            var entryLength = 24 + (e.Op == OpWrite ? Align8(e.Data?.Length ?? 0) : 0);
            if (length + entryLength > Chunk)
                break;
            entries.Add(e);
            length += entryLength;
        }
        ulong? countOverride = random.Next(20) == 0 ? (ulong)(entries.Count + random.Next(-1, 2)) : null;
        ulong? sizeOverride = random.Next(20) == 0 ? (ulong)Math.Max(0, length + random.Next(-30, 30)) : null;
        Encode(region, entries, countOverride, sizeOverride);
    }

    /// <summary>Checks a response to <paramref name="request"/> as a hostile-guest-aware host would; "bad: ..." on a violation.</summary>
    private static string CheckResponse(ReadOnlySpan<byte> region, byte[] request)
    {
        var op = Op(region);
        if (op == ExtFail)
            return Addr(region) is Einval or Enospc ? $"EXT_FAIL {Addr(region)}" : $"bad: EXT_FAIL errno {Addr(region)}";
        if (op != BatchOk)
            return $"bad: response op {op:x}";
        var count = BinaryPrimitives.ReadUInt64LittleEndian(request.AsSpan(8));
        var requestSize = BinaryPrimitives.ReadUInt64LittleEndian(request.AsSpan(16));
        if (Addr(region) != count || count is 0 or > 255 || requestSize > Chunk)
            return $"bad: BATCH_OK for count {count} size {requestSize} answered count {Addr(region)}";
        var size = Size(region);
        if (size > Chunk)
            return $"bad: response size {size}";
        // the entries as the guest must have parsed them
        var ops = new List<(ushort Op, uint Size, bool Chase)>();
        var off = 0;
        for (var i = 0; i < (int)count; i++)
        {
            if ((ulong)off + 24 > requestSize)
                return $"bad: accepted entry {i} past the request";
            var e = request.AsSpan(24 + off);
            var entryOp = BinaryPrimitives.ReadUInt16LittleEndian(e);
            var entrySize = BinaryPrimitives.ReadUInt32LittleEndian(e[4..]);
            ops.Add((entryOp, entrySize, (BinaryPrimitives.ReadUInt16LittleEndian(e[2..]) & Chase) != 0));
            off += 24 + (entryOp == OpWrite ? Align8((int)entrySize) : 0);
        }
        if ((ulong)off != requestSize)
            return $"bad: accepted {requestSize} bytes for entries of {off}";
        var data = region[24..(24 + (int)size)];
        var at = 0;
        var chased = "";
        for (var i = 0; i < ops.Count; i++)
        {
            if (at + 16 > data.Length)
                return $"bad: result {i} header past the response";
            var status = BinaryPrimitives.ReadUInt32LittleEndian(data[at..]);
            var errno = BinaryPrimitives.ReadUInt32LittleEndian(data[(at + 4)..]);
            var resultCount = BinaryPrimitives.ReadUInt32LittleEndian(data[(at + 8)..]);
            if (status > Skipped || (status is Ok or Skipped && errno != 0) || (status is Partial or Failed && errno == 0))
                return $"bad: result {i} status {status} errno {errno}";
            if (status == Skipped && !ops[i].Chase)
                return $"bad: result {i} skipped without a chase";
            if (ops[i].Chase && status == Ok)
                chased = " with a successful chase";
            else if (ops[i].Chase && status != Skipped && chased.Length == 0)
                chased = " with a chase";
            var bytes = ops[i].Op is OpWrite or OpReadProcPid ? 0 : (int)resultCount;
            if ((uint)bytes > ops[i].Size)
                return $"bad: result {i} returned {bytes} bytes of {ops[i].Size}";
            at += 16 + Align8(bytes);
            if (at > data.Length)
                return $"bad: result {i} data past the response";
        }
        if (at != data.Length)
            return $"bad: results take {at} bytes, response size {data.Length}";
        return "BATCH_OK" + chased;
    }

    // ---------------------------------------------------------------- encoding

    /// <summary>A request entry (§3.3). <see cref="Data"/> is the WRITE payload; <see cref="Size"/> is sent as is.</summary>
    private sealed record Entry(ushort Op, uint Size, ulong Addr, ushort Flags = 0, ushort Base = 0, uint PtrOffset = 0, byte[]? Data = null, ushort Reserved = 0);

    /// <summary>A decoded result (§3.3).</summary>
    private sealed record Result(uint Status, uint Errno, uint Count, uint Extra, byte[] Data)
    {
        public bool Equals(Result? other) =>
            other is not null && Status == other.Status && Errno == other.Errno && Count == other.Count && Extra == other.Extra && Data.SequenceEqual(other.Data);

        public override int GetHashCode() => HashCode.Combine(Status, Errno, Count, Extra, Data.Length);

        public override string ToString() => $"status {Status} errno {Errno} count {Count} extra {Extra} data {Convert.ToHexString(Data)}";
    }

    private static Entry Read(ulong address, uint size) => new(OpRead, size, address);

    private static Entry ReadStr(ulong address, uint size) => new(OpReadStr, size, address);

    private static Entry Write(ulong address, byte[] data) => new(OpWrite, (uint)data.Length, address, Data: data);

    private static Entry ChaseRead(ushort baseIndex, uint pointerOffset, long offset, uint size) =>
        new(OpRead, size, (ulong)offset, Chase, baseIndex, pointerOffset);

    private static Entry ChaseReadStr(ushort baseIndex, uint pointerOffset, long offset, uint size) =>
        new(OpReadStr, size, (ulong)offset, Chase, baseIndex, pointerOffset);

    private static Entry ChaseWrite(ushort baseIndex, uint pointerOffset, long offset, byte[] data) =>
        new(OpWrite, (uint)data.Length, (ulong)offset, Chase, baseIndex, pointerOffset, data);

    private static int Align8(int n) => (n + 7) & ~7;

    private static void Header(Span<byte> region, ulong op, ulong addr, ulong size)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(region, op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], size);
    }

    private static ulong Op(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region);

    private static ulong Addr(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[8..]);

    private static ulong Size(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[16..]);

    /// <summary>Writes a BATCH request: <c>addr</c> = entry count and <c>size</c> = length unless overridden. Returns the length.</summary>
    private static int Encode(Span<byte> region, IReadOnlyList<Entry> entries, ulong? count = null, ulong? size = null)
    {
        region.Clear();
        var data = region[24..];
        var off = 0;
        foreach (var e in entries)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(data[off..], e.Op);
            BinaryPrimitives.WriteUInt16LittleEndian(data[(off + 2)..], e.Flags);
            BinaryPrimitives.WriteUInt32LittleEndian(data[(off + 4)..], e.Size);
            BinaryPrimitives.WriteUInt64LittleEndian(data[(off + 8)..], e.Addr);
            BinaryPrimitives.WriteUInt16LittleEndian(data[(off + 16)..], e.Base);
            BinaryPrimitives.WriteUInt16LittleEndian(data[(off + 18)..], e.Reserved);
            BinaryPrimitives.WriteUInt32LittleEndian(data[(off + 20)..], e.PtrOffset);
            off += 24;
            if (e.Data is not null)
            {
                e.Data.CopyTo(data[off..]);
                off += Align8(e.Data.Length);
            }
        }
        Header(region, OpBatch, count ?? (ulong)entries.Count, size ?? (ulong)off);
        return off;
    }

    /// <summary>Decodes a BATCH_OK strictly: one result per entry, lengths adding up to <c>size</c>.</summary>
    private static List<Result> Decode(ReadOnlySpan<byte> region, IReadOnlyList<Entry> entries)
    {
        Assert.AreEqual(BatchOk, Op(region), $"response {Op(region):x} addr {Addr(region)}");
        Assert.AreEqual((ulong)entries.Count, Addr(region), "result count");
        var size = (int)Size(region);
        Assert.IsLessThanOrEqualTo(Chunk, size);
        var data = region[24..(24 + size)];
        var results = new List<Result>();
        var off = 0;
        foreach (var e in entries)
        {
            var count = BinaryPrimitives.ReadUInt32LittleEndian(data[(off + 8)..]);
            var bytes = e.Op is OpWrite or OpReadProcPid ? 0 : (int)count;
            Assert.IsLessThanOrEqualTo(e.Size, (uint)bytes, "no more bytes than asked");
            results.Add(new Result(
                BinaryPrimitives.ReadUInt32LittleEndian(data[off..]),
                BinaryPrimitives.ReadUInt32LittleEndian(data[(off + 4)..]),
                count,
                BinaryPrimitives.ReadUInt32LittleEndian(data[(off + 12)..]),
                data.Slice(off + 16, bytes).ToArray()));
            Assert.IsTrue(data.Slice(off + 16 + bytes, Align8(bytes) - bytes).IndexOfAnyExcept((byte)0) < 0, "padding is zero");
            off += 16 + Align8(bytes);
        }
        Assert.AreEqual(size, off, "response length = the results");
        return results;
    }

    private async Task<List<Result>> BatchAsync(IGuestChannel channel, params Entry[] entries)
    {
        Encode(channel.Region, entries);
        await channel.ExchangeAsync(TestContext.CancellationToken);
        return Decode(channel.Region, entries);
    }

    /// <summary>The same operation as a single request (§3.1), its response mapped to a BATCH result.</summary>
    private async Task<Result> SingleAsync(IGuestChannel channel, Entry e)
    {
        Header(channel.Region, e.Op, e.Addr, e.Size);
        e.Data?.CopyTo(channel.Region[24..]);
        await channel.ExchangeAsync(TestContext.CancellationToken);
        return Map(channel.Region, e);

        static Result Map(ReadOnlySpan<byte> region, Entry e)
        {
            var (op, addr, size) = (Op(region), Addr(region), (uint)Size(region));
            var block = e.Op is OpReadProcArgs or OpReadProcEnv;
            return op switch
            {
                ReadOk => new Result(Ok, 0, size, block ? (uint)addr : 0, region.Slice(24, (int)size).ToArray()),
                ReadPartial => new Result(Partial, (uint)addr, size, 0, region.Slice(24, (int)size).ToArray()),
                ReadFail => new Result(Failed, (uint)addr, 0, 0, []),
                WriteOk => new Result(Ok, 0, size, 0, []),
                WriteFail => new Result(Failed, (uint)addr, size, 0, []),
                ReadNum => new Result(Ok, 0, (uint)addr, size, []),
                _ => throw new AssertFailedException($"single op {e.Op}: response {op:x}"),
            };
        }
    }

    private static void AssertResult(Result r, uint status, uint errno, uint count, uint extra, byte[] data, string? message = null)
    {
        var expected = new Result(status, errno, count, extra, data);
        Assert.AreEqual(expected, r, message);
    }

    // ---------------------------------------------------------------- the held program

    /// <summary>The self-test area, as read from the held process.</summary>
    private sealed record Desc(ulong Address, byte[] Bytes)
    {
        private ulong Field(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(offset));

        public ulong Buf => Field(DescBuf);
        public ulong Ro => Field(24);
        public ulong Unmapped => Field(DescUnmapped);
        public ulong Str => Field(DescStr);
        public ulong LongStr => Field(DescLongStr);
        public ulong Int32At => Field(56);
        public ulong Int64At => Field(64);
        public ulong PtrAt => Field(DescPtrAt);
        public ulong Fd => Field(80);
        public uint Pid => (uint)Field(DescPid);
        public ulong[] Pointers => [Address, Buf, Ro, Unmapped, Str, LongStr, Int32At, Int64At, PtrAt];
    }

    private Task<QemuGuest> StartAsync(int cpus = 1) =>
        QemuGuest.StartAsync(new QemuGuestOptions { Cpus = cpus, HostTimeout = TimeSpan.FromSeconds(10), HoldBudget = TimeSpan.FromSeconds(10) }, TestContext.CancellationToken);

    /// <summary>The area as the program prints it without interference (its ioctl is not hooked).</summary>
    private async Task<GuestCommandResult> BaselineAsync(QemuGuest guest)
    {
        var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "desc", "0x7400"), TestContext.CancellationToken);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        return run;
    }

    private static string Line(GuestCommandResult run, string prefix) =>
        run.Lines.Single(l => l.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>
    /// Runs <c>portal-selftest desc CMD</c> with its ioctl held (a hook registered by hand on the
    /// control slot), runs <paramref name="handler"/> on the held slot, then lets the syscall go on
    /// untouched. Rethrows whatever the handler threw.
    /// </summary>
    private async Task<GuestCommandResult> HoldDescAsync(QemuGuest guest, uint cmd, Func<IGuestChannel, Desc, Task> handler)
    {
        var control = guest.Connection.Control;
        RegisterIoctlHook(control.Region, cmd);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region), "hook installed");
        var sink = new HoldingSink(handler);
        GuestCommandResult run;
        using (guest.Connection.Attach(sink))
            run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "desc", $"0x{cmd:x}"), TestContext.CancellationToken);
        Header(control.Region, OpHookReset, 0, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        sink.Error?.Throw();
        Assert.AreEqual(1, sink.Events, run.Output);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        return run;
    }

    /// <summary>HOOK_REGISTER: ioctl enter with argument 1 == cmd.</summary>
    private static void RegisterIoctlHook(Span<byte> region, uint cmd)
    {
        region[..(24 + 88)].Clear();
        Header(region, OpHookRegister, 0, 64 + 24);
        var d = region[24..];
        BinaryPrimitives.WriteUInt32LittleEndian(d, IoctlNr);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 1);          // enter
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], 1);         // one argument filter
        BinaryPrimitives.WriteUInt32LittleEndian(d[64..], 1);         // arg 1
        BinaryPrimitives.WriteUInt32LittleEndian(d[68..], 1);         // EQ
        BinaryPrimitives.WriteUInt64LittleEndian(d[72..], cmd);
    }

    private sealed class HoldingSink(Func<IGuestChannel, Desc, Task> handler) : IGuestEventSink
    {
        public int Events { get; private set; }

        public ExceptionDispatchInfo? Error { get; private set; }

        public async ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            var eventId = Addr(channel.Region);
            Events++;
            try
            {
                // argument 2 of ioctl(fd, cmd, &desc), then the area with a single READ
                var address = BinaryPrimitives.ReadUInt64LittleEndian(channel.Region[(24 + 16 + 16)..]);
                Header(channel.Region, OpRead, address, DescSize);
                await channel.ExchangeAsync(cancellationToken);
                Assert.AreEqual(ReadOk, Op(channel.Region), "the self-test area");
                var desc = new Desc(address, channel.Region.Slice(24, DescSize).ToArray());
                Assert.AreEqual(0x504c5445535431UL, BinaryPrimitives.ReadUInt64LittleEndian(desc.Bytes), "magic");
                await handler(channel, desc);
            }
            catch (Exception e)
            {
                Error ??= ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                // a verdict that changes nothing
                var region = channel.Region;
                region[..(24 + 72)].Clear();
                Header(region, OpVerdict, eventId, 72);
                channel.ReleaseToGuest();
            }
        }
    }

    private static byte[] Pattern(int start, int count) =>
        [.. Enumerable.Range(start, count).Select(i => (byte)(((uint)i * 2654435761u) >> 24))];

    private static byte[] LongStr(int start, int count) =>
        [.. Enumerable.Range(start, count).Select(i => (byte)('a' + i % 26))];

    private static byte[] Le64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }
}
