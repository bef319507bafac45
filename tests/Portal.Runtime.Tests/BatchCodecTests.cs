using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Channels;
using Portal.Diagnostics;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>
/// BATCH on the host side against a scripted guest: the request bytes (checked against the layout
/// of docs/protocol.md §3.3 decoded here independently), and responses from a guest that lies —
/// truncated, with counts that do not add up, with results the request cannot produce. A lie fails
/// the operations of that exchange with <see cref="PortalProtocolException"/>; the memory API keeps
/// working for the next one.
/// </summary>
[TestClass]
public sealed class BatchCodecTests
{
    /// <summary>An entry as the scripted guest decodes it.</summary>
    internal sealed record SeenEntry(ushort Op, ushort Flags, uint Size, ulong Addr, ushort Base, uint PointerOffset, byte[] Data);

    /// <summary>What the scripted guest answers for one entry.</summary>
    internal sealed record Reply(uint Status, uint Errno, uint Count, uint Extra, byte[] Data)
    {
        public static Reply Ok(byte[] data) => new(0, 0, (uint)data.Length, 0, data);
    }

    /// <summary>Decodes a BATCH request the way the protocol document describes it.</summary>
    internal static List<SeenEntry> DecodeRequest(byte[] region)
    {
        Assert.AreEqual((ulong)PortalOp.Batch, Answer.Op(region));
        var data = Answer.Data(region);
        var entries = new List<SeenEntry>();
        var offset = 0;
        for (var i = 0; i < (int)Answer.Addr(region); i++)
        {
            var e = data[offset..];
            var op = BinaryPrimitives.ReadUInt16LittleEndian(e);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(e[4..]);
            Assert.AreEqual(0, BinaryPrimitives.ReadUInt16LittleEndian(e[18..]), "reserved");
            var payload = op == 2 ? e.Slice(24, (int)size).ToArray() : [];
            entries.Add(new SeenEntry(op, BinaryPrimitives.ReadUInt16LittleEndian(e[2..]), size, BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                BinaryPrimitives.ReadUInt16LittleEndian(e[16..]), BinaryPrimitives.ReadUInt32LittleEndian(e[20..]), payload));
            offset += 24 + (op == 2 ? (int)((size + 7) & ~7u) : 0);
        }
        Assert.AreEqual((ulong)offset, Answer.Size(region), "size is exactly the entries");
        return entries;
    }

    /// <summary>Writes a BATCH_OK for <paramref name="replies"/>; returns the response length.</summary>
    internal static int EncodeResponse(byte[] region, IReadOnlyList<Reply> replies)
    {
        var data = Answer.Data(region);
        var offset = 0;
        foreach (var r in replies)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data[offset..], r.Status);
            BinaryPrimitives.WriteUInt32LittleEndian(data[(offset + 4)..], r.Errno);
            BinaryPrimitives.WriteUInt32LittleEndian(data[(offset + 8)..], r.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(data[(offset + 12)..], r.Extra);
            r.Data.CopyTo(data[(offset + 16)..]);
            var padded = (r.Data.Length + 7) & ~7;
            data.Slice(offset + 16 + r.Data.Length, padded - r.Data.Length).Clear();
            offset += 16 + padded;
        }
        Answer.Header(region, (ulong)PortalResponse.BatchOk, (ulong)replies.Count, (ulong)offset);
        return offset;
    }

    /// <summary>A memory API on a scripted guest that has BATCH (and verdict writes).</summary>
    internal static (GuestMemory Memory, ScriptedChannel Channel) BatchMemory(GuestAbi abi, Action<byte[]> guest)
    {
        var channel = new ScriptedChannel(guest);
        var lease = new SlotLease(channel, new PortalStatistics(), handler: null);
        return (new GuestMemory(lease, abi, GuestFeatures.Batch | GuestFeatures.VerdictWrites), channel);
    }

    /// <summary>Answers each read with bytes <c>address &amp; 0xff</c>, ... (so results show where they came from), writes OK.</summary>
    private static Reply Honest(SeenEntry e) => e.Op switch
    {
        2 => new Reply(0, 0, e.Size, 0, []),                                       // WRITE: all bytes written
        3 => Reply.Ok("/dev/null"u8.ToArray()),                                      // READ_FD_NAME
        4 or 8 => new Reply(0, 0, 9, 9, "prog\0arg\0"u8.ToArray()),                 // a 9-byte block, whole
        6 => Reply.Ok("abc"u8.ToArray()),                                            // READ_STR: shorter than the window, so terminated
        9 => new Reply(0, 0, 42, 43, []),                                            // READ_PROCPID
        _ => Reply.Ok([.. Enumerable.Range(0, (int)e.Size).Select(i => (byte)(e.Addr + (ulong)i))]),
    };

    [TestMethod]
    public void A_trace_describes_a_batch_request_entry_by_entry_as_it_was_encoded()
    {
        WireEntry[] entries =
        [
            new() { Op = PortalOp.Read, Size = 40, Address = 0x7fff_0000 },
            new() { Op = PortalOp.Read, Size = 8, Address = 4, Chase = true, Base = 0, PointerOffset = 16 },
            new() { Op = PortalOp.Write, Size = 5, Address = 0x1000, DataStart = 0 },       // padded to 8 in the request
            new() { Op = PortalOp.ReadStr, Size = 64, Address = unchecked((ulong)-8), Chase = true, Base = 1, PointerOffset = 0 },
            new() { Op = PortalOp.ReadProcPid },
        ];
        var region = new byte[RegionLayout.Size];
        BatchWire.WriteBatch(region, entries, "hello"u8);

        var (request, operations, requestBytes) = ExchangeSummary.DescribeRequest(region);

        Assert.AreEqual(PortalOp.Batch, request);
        Assert.AreEqual((int)Answer.Size(region), requestBytes);
        CollectionAssert.AreEqual(new TracedOperation[]
        {
            new(PortalOp.Read, 40, 0x7fff_0000),
            new(PortalOp.Read, 8, 4, ChaseBase: 0, PointerOffset: 16),
            new(PortalOp.Write, 5, 0x1000),
            new(PortalOp.ReadStr, 64, unchecked((ulong)-8), ChaseBase: 1, PointerOffset: 0),
            new(PortalOp.ReadProcPid, 0, 0),
        }, operations);
    }

    [TestMethod]
    public void A_trace_counts_the_data_bytes_of_a_single_op_and_of_its_response()
    {
        var region = new byte[RegionLayout.Size];
        Region.WriteHeader(region, PortalOp.Write, 0x2000, 12);
        Assert.AreEqual((PortalOp.Write, 12), (ExchangeSummary.DescribeRequest(region).Request, ExchangeSummary.DescribeRequest(region).RequestBytes));
        Answer.Header(region, (ulong)PortalResponse.WriteOk, 0x2000, 12);
        Assert.AreEqual(0, ExchangeSummary.ResponseBytes(region), "a write's answer carries no data");

        Region.WriteHeader(region, PortalOp.Read, 0x2000, 12);
        Assert.AreEqual(0, ExchangeSummary.DescribeRequest(region).RequestBytes);
        Answer.Header(region, (ulong)PortalResponse.ReadOk, 0x2000, 12);
        Assert.AreEqual(12, ExchangeSummary.ResponseBytes(region));
        Answer.Header(region, (ulong)PortalResponse.ReadOk, 0x2000, ulong.MaxValue);
        Assert.AreEqual(RegionLayout.DataCapacity, ExchangeSummary.ResponseBytes(region), "a guest's size beyond the region is not believed");
        Answer.Header(region, (ulong)PortalResponse.ReadNum, 100, 101);
        Assert.AreEqual(0, ExchangeSummary.ResponseBytes(region), "READ_NUM's size is a thread id, not a length");
    }

    [TestMethod]
    public async Task Operations_started_together_go_as_one_batch_laid_out_as_the_protocol_says()
    {
        List<SeenEntry>? seen = null;
        var (memory, channel) = BatchMemory(GuestAbi.MipsEl, region =>
        {
            seen = DecodeRequest(region);
            EncodeResponse(region, [.. seen.Select(Honest)]);
        });
        var first = memory.ReadIntAsync(0x1000);
        var write = memory.WriteBytesAsync(0x2000, new byte[] { 1, 2, 3 });
        var bytes = memory.ReadBytesAsync(0x3000, 5);
        var pid = memory.GetProcPidAsync();
        Assert.AreEqual(0, channel.Exchanges, "nothing is sent before something waits");
        Assert.AreEqual(0x03020100u, await first);
        await write;
        CollectionAssert.AreEqual(new byte[] { 0, 1, 2, 3, 4 }, await bytes);
        Assert.AreEqual(42, await pid);
        Assert.AreEqual(1, channel.Exchanges);
        Assert.IsNotNull(seen);
        Assert.HasCount(4, seen);
        Assert.AreEqual(new SeenEntry(1, 0, 4, 0x1000, 0, 0, []), seen[0]);
        Assert.AreEqual(2, seen[1].Op);
        CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, seen[1].Data);
        Assert.AreEqual(new SeenEntry(1, 0, 5, 0x3000, 0, 0, []), seen[2]);
        Assert.AreEqual(new SeenEntry(9, 0, 0, 0, 0, 0, []), seen[3]);
    }

    [TestMethod]
    public async Task A_pointer_chase_reuses_the_read_that_holds_the_pointer()
    {
        List<SeenEntry>? seen = null;
        var (memory, _) = BatchMemory(GuestAbi.MipsEl, region =>
        {
            seen = DecodeRequest(region);
            EncodeResponse(region, [Reply.Ok([0, 0, 0, 0, 0x00, 0x50, 0, 0]), Reply.Ok([7, 0, 0, 0])]);
        });
        var record = memory.ReadBytesAsync(0x1000, 8);
        var target = memory.Address(0x1004).Deref().Offset(-8).ReadBytesAsync(4);    // *(u32 *)0x1004 - 8
        CollectionAssert.AreEqual(new byte[] { 0, 0, 0, 0, 0, 0x50, 0, 0 }, await record);
        CollectionAssert.AreEqual(new byte[] { 7, 0, 0, 0 }, await target);
        Assert.IsNotNull(seen);
        Assert.HasCount(2, seen, "no separate read of the pointer");
        Assert.AreEqual(new SeenEntry(1, 1, 4, unchecked((ulong)-8L), 0, 4, []), seen[1]);
    }

    [TestMethod]
    public async Task A_skipped_chase_reports_the_pointer_that_could_not_be_read()
    {
        var (memory, _) = BatchMemory(GuestAbi.X86_64, region =>
        {
            var seen = DecodeRequest(region);
            Assert.HasCount(2, seen);
            EncodeResponse(region, [new Reply(2, 14, 0, 0, []), new Reply(3, 0, 0, 0, [])]);
        });
        var error = await Assert.ThrowsExactlyAsync<GuestFaultException>(async () => await memory.Address(0x7000).Deref().ReadStrAsync());
        StringAssert.Contains(error.Message, "the pointer at 0x7000 could not be read (EFAULT)");
        Assert.AreEqual(GuestErrno.EFAULT, error.Errno);
    }

    /// <summary>One lie per case, applied to an otherwise correct answer to [READ 8, READ_STR flexible, WRITE 4, READ_PROCPID, READ_PROCARGS, chased READ 4].</summary>
    private static readonly (string Name, Action<byte[], List<SeenEntry>> Lie)[] Lies =
    [
        ("truncated response", (r, _) => Answer.Header(r, (ulong)PortalResponse.BatchOk, Answer.Addr(r), Answer.Size(r) - 16)),
        ("response cut inside a header", (r, _) => Answer.Header(r, (ulong)PortalResponse.BatchOk, Answer.Addr(r), 8)),
        ("size beyond the region", (r, _) => Answer.Header(r, (ulong)PortalResponse.BatchOk, Answer.Addr(r), 4080)),
        ("trailing bytes", (r, _) => Answer.Header(r, (ulong)PortalResponse.BatchOk, Answer.Addr(r), Answer.Size(r) + 8)),
        ("fewer results than entries", (r, _) => Answer.Header(r, (ulong)PortalResponse.BatchOk, Answer.Addr(r) - 1, Answer.Size(r))),
        ("more results than entries", (r, _) => Answer.Header(r, (ulong)PortalResponse.BatchOk, Answer.Addr(r) + 1, Answer.Size(r))),
        ("a plain READ_OK for a batch", (r, _) => Answer.Header(r, (ulong)PortalResponse.ReadOk, Answer.Addr(r), Answer.Size(r))),
        ("EXT_FAIL with errno 0", (r, _) => Answer.Header(r, (ulong)PortalResponse.ExtFail, 0, 0)),
        ("READ OK with fewer bytes", (r, s) => Rewrite(r, s, 0, new Reply(0, 0, 4, 0, new byte[4]))),
        ("READ PARTIAL with all bytes", (r, s) => Rewrite(r, s, 0, new Reply(1, 14, 8, 0, new byte[8]))),
        ("READ FAILED with bytes", (r, s) => Rewrite(r, s, 0, new Reply(2, 14, 8, 0, new byte[8]))),
        ("FAILED with errno 0", (r, s) => Rewrite(r, s, 0, new Reply(2, 0, 0, 0, []))),
        ("errno beyond 4095", (r, s) => Rewrite(r, s, 0, new Reply(2, 5000, 0, 0, []))),
        ("OK with an errno", (r, s) => Rewrite(r, s, 0, new Reply(0, 5, 8, 0, new byte[8]))),
        ("status 4", (r, s) => Rewrite(r, s, 0, new Reply(4, 0, 8, 0, new byte[8]))),
        ("SKIPPED without a chase", (r, s) => Rewrite(r, s, 0, new Reply(3, 0, 0, 0, []))),
        ("SKIPPED with a count", (r, s) => Rewrite(r, s, 5, new Reply(3, 0, 4, 0, []))),
        ("extra on a READ", (r, s) => Rewrite(r, s, 0, new Reply(0, 0, 8, 1, new byte[8]))),
        ("count far beyond the response", (r, s) => Rewrite(r, s, 0, new Reply(0, 0, 8, 0, new byte[8]), count: 100_000)),
        ("string longer than its window", (r, s) => Rewrite(r, s, 1, Reply.Ok(new byte[8]), count: s[1].Size + 1)),
        ("string with a NUL inside", (r, s) => Rewrite(r, s, 1, Reply.Ok("ab\0cd"u8.ToArray()))),
        ("WRITE PARTIAL", (r, s) => Rewrite(r, s, 2, new Reply(1, 14, 2, 0, []))),
        ("WRITE OK with fewer bytes", (r, s) => Rewrite(r, s, 2, new Reply(0, 0, 3, 0, []))),
        ("WRITE with data", (r, s) => Rewrite(r, s, 2, new Reply(0, 0, 4, 0, new byte[8]))),
        ("pid 0", (r, s) => Rewrite(r, s, 3, new Reply(0, 0, 0, 43, []))),
        ("pid beyond int", (r, s) => Rewrite(r, s, 3, new Reply(0, 0, 0x8000_0000, 43, []))),
        ("block total below the bytes returned", (r, s) => Rewrite(r, s, 4, new Reply(0, 0, 9, 5, new byte[9]))),
        ("block shorter than the total says", (r, s) => Rewrite(r, s, 4, new Reply(0, 0, 9, 5000, new byte[9]))),
        ("chased READ longer than asked", (r, s) => Rewrite(r, s, 5, Reply.Ok(new byte[16]))),
    ];

    private static void Rewrite(byte[] region, List<SeenEntry> seen, int index, Reply lie, uint? count = null)
    {
        var replies = seen.Select(Honest).ToList();
        replies[index] = lie;
        EncodeResponse(region, replies);
        if (count is { } claimed)
        {
            var offset = replies.Take(index).Sum(r => 16 + ((r.Data.Length + 7) & ~7));
            BinaryPrimitives.WriteUInt32LittleEndian(Answer.Data(region)[(offset + 8)..], claimed);
        }
    }

    [TestMethod]
    public async Task A_lying_batch_response_fails_that_exchange_and_the_next_one_works()
    {
        // The same six operations against the honest answer all succeed: each lie below is what fails them.
        var (honestMemory, honestChannel) = BatchMemory(GuestAbi.X86_64, region => EncodeResponse(region, [.. DecodeRequest(region).Select(Honest)]));
        var honestRead = honestMemory.ReadLongAsync(0x1000);
        var honestText = honestMemory.ReadStrAsync(0x2000, maxLength: 100);
        var honestWrite = honestMemory.WriteIntAsync(0x3000, 5u);
        var honestPid = honestMemory.GetProcPidAsync();
        var honestArgs = honestMemory.GetProcArgsAsync();
        var honestChased = honestMemory.Address(0x1000).Deref().ReadBytesAsync(4);
        Assert.AreEqual(0x0706050403020100UL, await honestRead);
        Assert.AreEqual("abc", await honestText);
        await honestWrite;
        Assert.AreEqual(42, await honestPid);
        CollectionAssert.AreEqual(new[] { "prog", "arg" }, (await honestArgs).ToArray());
        CollectionAssert.AreEqual(new byte[] { 0, 1, 2, 3 }, await honestChased, "the chased read at 0x0706050403020100 + 0");
        Assert.AreEqual(1, honestChannel.Exchanges);

        foreach (var (name, lie) in Lies)
        {
            var lying = true;
            var (memory, channel) = BatchMemory(GuestAbi.X86_64, region =>
            {
                if (Answer.Op(region) == (ulong)PortalOp.Read)
                {
                    var size = (int)Answer.Size(region);
                    for (var i = 0; i < size; i++)
                        Answer.Data(region)[i] = (byte)(Answer.Addr(region) + (ulong)i);
                    Answer.Header(region, (ulong)PortalResponse.ReadOk, Answer.Addr(region), (ulong)size);
                    return;
                }
                var seen = DecodeRequest(region);
                EncodeResponse(region, [.. seen.Select(Honest)]);
                if (lying)
                    lie(region, seen);
            });
            var read = memory.ReadLongAsync(0x1000);
            var text = memory.ReadStrAsync(0x2000, maxLength: 100);
            var write = memory.WriteIntAsync(0x3000, 5u);
            var pid = memory.GetProcPidAsync();
            var args = memory.GetProcArgsAsync();
            var chased = memory.Address(0x1000).Deref().ReadBytesAsync(4);
            var failures = new[]
            {
                await Capture(async () => await read), await Capture(async () => await text), await Capture(async () => await write),
                await Capture(async () => await pid), await Capture(async () => await args), await Capture(async () => await chased),
            };
            Assert.AreEqual(1, channel.Exchanges, name);
            foreach (var failure in failures)
                Assert.IsInstanceOfType<PortalProtocolException>(failure, $"{name}: {failure?.GetType().Name}: {failure?.Message}");

            lying = false;
            Assert.AreEqual(0x0706050403020100UL, await memory.ReadLongAsync(0x1000), $"{name}: the next exchange works");
        }
    }

    private static async Task<Exception?> Capture(Func<Task> action)
    {
        try
        {
            await action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>
    /// 100,000 random corruptions of a correct response (a few bytes of the header or the results
    /// changed, biased to edge values): the decoder accepts it only with results that fit the
    /// request, or throws <see cref="PortalProtocolException"/>; nothing else (no index errors).
    /// </summary>
    [TestMethod]
    public void Corrupted_batch_responses_are_accepted_only_when_consistent()
    {
        var random = new Random(20261124);
        WireEntry[] entries =
        [
            new() { Op = PortalOp.Read, Size = 8, Address = 0x1000 },
            new() { Op = PortalOp.ReadStr, Size = 64, Address = 0x2000 },
            new() { Op = PortalOp.Write, Size = 4, Address = 0x3000 },
            new() { Op = PortalOp.ReadProcPid },
            new() { Op = PortalOp.ReadProcArgs, Size = 256, Address = 0 },
            new() { Op = PortalOp.Read, Size = 4, Chase = true, Base = 0, PointerOffset = 0 },
            new() { Op = PortalOp.ReadFdName, Size = 128, Address = 3 },
        ];
        var seen = entries.Select(e => new SeenEntry((ushort)e.Op, 0, (uint)e.Size, e.Address, 0, 0, [])).ToList();
        var results = new EntryResult[entries.Length];
        var region = new byte[RegionLayout.Size];
        uint[] edges = [0, 1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 255, 256, 4071, 4072, 4095, 4096, int.MaxValue, 0x8000_0000, uint.MaxValue];
        var accepted = 0;
        for (var i = 0; i < 100_000; i++)
        {
            var length = EncodeResponse(region, [.. seen.Select(Honest)]);
            for (var k = random.Next(1, 4); k > 0; k--)
            {
                switch (random.Next(4))
                {
                    case 0:
                        Answer.Header(region, (ulong)PortalResponse.BatchOk, random.Next(3) == 0 ? edges[random.Next(edges.Length)] : Answer.Addr(region),
                            random.Next(2) == 0 ? edges[random.Next(edges.Length)] : Answer.Size(region));
                        break;
                    case 1:
                        BinaryPrimitives.WriteUInt32LittleEndian(Answer.Data(region)[(random.Next(0, length / 4) * 4)..], edges[random.Next(edges.Length)]);
                        break;
                    default:
                        Answer.Data(region)[random.Next(0, length + 16)] = (byte)random.Next(256);
                        break;
                }
            }
            try
            {
                BatchWire.ReadBatch(region, entries, results, GuestAbi.X86_64);
                accepted++;
                var end = (int)Answer.Size(region);
                for (var e = 0; e < entries.Length; e++)
                {
                    var r = results[e];
                    Assert.IsTrue(r.Count >= 0 && (entries[e].Op is PortalOp.ReadProcPid || r.Count <= entries[e].Size), $"{e}: {r}");
                    Assert.IsTrue(r.DataOffset >= 16 && r.DataOffset + (entries[e].ReturnsData ? r.Count : 0) <= end, $"{e}: {r}");
                    Assert.IsTrue(r.Status is EntryStatus.Ok or EntryStatus.Partial or EntryStatus.Failed || entries[e].Chase, $"{e}: {r}");
                }
            }
            catch (PortalProtocolException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i}: {e.GetType().Name}: {e.Message}\n{Convert.ToHexString(region.AsSpan(0, 24 + length + 16))}");
            }
        }
        Assert.IsGreaterThan(0, accepted, "some corruptions (in data bytes) are still consistent answers");
    }

    [TestMethod]
    public async Task Batched_scalar_reads_and_writes_allocate_nothing_per_operation()
    {
        var (memory, _) = BatchMemory(GuestAbi.X86_64, region =>
        {
            // Answers in place without allocating: each result is no longer than its entry, so
            // writing result i never reaches entry i + 1, which is read before it.
            var data = Answer.Data(region);
            int request = 0, response = 0;
            for (var i = 0; i < (int)Answer.Addr(region); i++)
            {
                var op = BinaryPrimitives.ReadUInt16LittleEndian(data[request..]);
                var size = BinaryPrimitives.ReadUInt32LittleEndian(data[(request + 4)..]);
                request += 24 + (op == 2 ? (int)((size + 7) & ~7u) : 0);
                var bytes = op == 2 ? 0 : (int)((size + 7) & ~7u);
                data.Slice(response, 16 + bytes).Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(data[(response + 8)..], size);
                response += 16 + bytes;
            }
            Answer.Header(region, (ulong)PortalResponse.BatchOk, Answer.Addr(region), (ulong)response);
        });
        // Inline, not in a helper: test projects build in Debug, where an async helper's state machine is a class.
        const int WarmUp = 100, Rounds = 10_000;
        long before = 0;
        for (var i = 0; i < WarmUp + Rounds; i++)
        {
            if (i == WarmUp)
                before = GC.GetAllocatedBytesForCurrentThread();
            var a = memory.ReadIntAsync(0x1000);
            var b = memory.ReadPtrAsync(0x2000);
            var w = memory.WriteIntAsync(0x3000, (uint)i);
            await a;                                    // one BATCH for the three
            await b;
            await w;
        }
        var perOperation = (GC.GetAllocatedBytesForCurrentThread() - before) / (3.0 * Rounds);
        Assert.IsLessThan(1.0, perOperation, $"{perOperation:F2} bytes allocated per operation");
    }
}
