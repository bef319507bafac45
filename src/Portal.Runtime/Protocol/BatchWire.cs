using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Portal.Abi;
using Portal.Diagnostics;
using Portal.Memory;

namespace Portal.Protocol;

/// <summary>How one entry of a batch ended (docs/protocol.md §3.3); a single op's response maps onto the same four.</summary>
internal enum EntryStatus : byte
{
    Ok = 0,
    Partial = 1,
    Failed = 2,
    /// <summary>A chased entry whose base did not deliver the pointer: nothing was attempted.</summary>
    Skipped = 3,
}

/// <summary>One operation as the host sends it, alone or as a BATCH entry.</summary>
internal struct WireEntry
{
    /// <summary>READ, WRITE, READ_FD_NAME, READ_PROCARGS, READ_STR, READ_PROCENV or READ_PROCPID.</summary>
    public PortalOp Op;
    /// <summary>Bytes, window or maximum length, as the op's <c>size</c>; 0 for READ_PROCPID.</summary>
    public int Size;
    /// <summary>The op's <c>addr</c>; for a chased entry, the signed offset added to the pointer.</summary>
    public ulong Address;
    /// <summary>The address is a pointer found in entry <see cref="Base"/>'s result, plus <see cref="Address"/>.</summary>
    public bool Chase;
    /// <summary>Chase: the earlier entry whose result holds the pointer.</summary>
    public int Base;
    /// <summary>Chase: where the pointer is in that result.</summary>
    public int PointerOffset;
    /// <summary>WRITE: where its <see cref="Size"/> bytes are in the planner's write buffer.</summary>
    public int DataStart;

    /// <summary>Whether the result carries data bytes.</summary>
    public readonly bool ReturnsData => Op is not (PortalOp.Write or PortalOp.ReadProcPid);
}

/// <summary>
/// An entry's outcome: <see cref="Count"/> means what the op's <c>size</c> means in its response
/// (bytes, string length, pid); <see cref="Extra"/> is a block's total length or a thread id;
/// the data (reads) is at <see cref="DataOffset"/> in the response's data area.
/// </summary>
internal readonly record struct EntryResult(EntryStatus Status, long Errno, int Count, long Extra, int DataOffset);

/// <summary>
/// Encodes requests for <see cref="WireEntry"/>s (one op alone, or a BATCH) and decodes and
/// validates their responses into <see cref="EntryResult"/>s. The guest is untrusted: a response
/// that does not match what was asked (wrong code, counts beyond the request, lengths that do not add
/// up, data past the region) is a <see cref="PortalProtocolException"/>.
/// </summary>
internal static class BatchWire
{
    public const int EntryHeaderLength = 24;
    public const int ResultHeaderLength = 16;
    public const int MaxEntries = 255;
    private const ushort ChaseFlag = 1;

    /// <summary>Bytes an entry takes in the request.</summary>
    public static int RequestLength(in WireEntry entry) => EntryHeaderLength + (entry.Op == PortalOp.Write ? Pad(entry.Size) : 0);

    /// <summary>Bytes an entry's result can take in the response (reads counted at their full size).</summary>
    public static int ResponseLength(in WireEntry entry) => ResultHeaderLength + (entry.ReturnsData ? Pad(entry.Size) : 0);

    public static int Pad(int length) => (length + 7) & ~7;

    // ---- one op alone ------------------------------------------------------------------------------

    /// <summary>Writes <paramref name="entry"/> as a plain request (no chase).</summary>
    public static void WriteSingle(Span<byte> region, in WireEntry entry, ReadOnlySpan<byte> writeBuffer)
    {
        Region.WriteHeader(region, entry.Op, entry.Address, (ulong)entry.Size);
        if (entry.Op == PortalOp.Write)
            writeBuffer.Slice(entry.DataStart, entry.Size).CopyTo(Region.Data(region));
    }

    /// <summary>Decodes the response to a plain request; the data (if any) starts at offset 0 of the data area.</summary>
    public static EntryResult ReadSingle(ReadOnlySpan<byte> region, in WireEntry entry)
    {
        switch (entry.Op)
        {
            case PortalOp.Read:
            {
                var r = ResponseReader.ReadResult(region, entry.Size);
                return new(Map(r.Status), r.Errno, r.Count, 0, 0);
            }
            case PortalOp.Write:
            {
                var r = ResponseReader.WriteResult(region, entry.Size);
                // A single WRITE reports a partial write as WRITE_FAIL with the bytes written, as a batch does.
                return new(r.Status == TransferStatus.Complete ? EntryStatus.Ok : EntryStatus.Failed, r.Errno, r.Count, 0, 0);
            }
            case PortalOp.ReadStr:
            {
                var r = ResponseReader.StrResult(region, entry.Size);
                return new(Map(r.Status), r.Errno, r.Count, 0, 0);
            }
            case PortalOp.ReadFdName:
            {
                var r = ResponseReader.FdNameResult(region, entry.Size);
                return new(Map(r.Status), r.Errno, r.Count, 0, 0);
            }
            case PortalOp.ReadProcArgs or PortalOp.ReadProcEnv:
            {
                var r = ResponseReader.BlockResult(region, entry.Op, (long)entry.Address, entry.Size);
                return new(Map(r.Status), r.Errno, r.Count, r.Total, 0);
            }
            case PortalOp.ReadProcPid:
            {
                var r = ResponseReader.PidResult(region);
                return r.Ok ? new(EntryStatus.Ok, 0, r.Pid, r.Tid, 0) : new(EntryStatus.Failed, r.Errno, 0, 0, 0);
            }
            default:
                throw new ArgumentException($"{entry.Op} is not a memory or process operation.", nameof(entry));
        }
    }

    private static EntryStatus Map(TransferStatus status) => status switch
    {
        TransferStatus.Complete => EntryStatus.Ok,
        TransferStatus.Partial => EntryStatus.Partial,
        _ => EntryStatus.Failed,
    };

    // ---- BATCH -------------------------------------------------------------------------------------

    /// <summary>Writes a BATCH request; the caller has checked that it fits (<see cref="RequestLength"/>).</summary>
    public static void WriteBatch(Span<byte> region, ReadOnlySpan<WireEntry> entries, ReadOnlySpan<byte> writeBuffer)
    {
        var data = Region.Data(region);
        var offset = 0;
        foreach (ref readonly var entry in entries)
        {
            var length = RequestLength(entry);
            var e = data.Slice(offset, length);
            BinaryPrimitives.WriteUInt16LittleEndian(e, (ushort)entry.Op);
            BinaryPrimitives.WriteUInt16LittleEndian(e[2..], entry.Chase ? ChaseFlag : (ushort)0);
            BinaryPrimitives.WriteUInt32LittleEndian(e[4..], (uint)entry.Size);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], entry.Address);
            BinaryPrimitives.WriteUInt16LittleEndian(e[16..], entry.Chase ? (ushort)entry.Base : (ushort)0);
            BinaryPrimitives.WriteUInt16LittleEndian(e[18..], 0);
            BinaryPrimitives.WriteUInt32LittleEndian(e[20..], entry.Chase ? (uint)entry.PointerOffset : 0);
            if (entry.Op == PortalOp.Write)
            {
                writeBuffer.Slice(entry.DataStart, entry.Size).CopyTo(e[EntryHeaderLength..]);
                e[(EntryHeaderLength + entry.Size)..].Clear();       // padding
            }
            offset += length;
        }
        Region.WriteHeader(region, PortalOp.Batch, (ulong)entries.Length, (ulong)offset);
    }

    /// <summary>
    /// The entries of the BATCH request in <paramref name="region"/>, as <see cref="WriteBatch"/> wrote them (for a
    /// trace: read before the exchange, while the region still holds the request).
    /// </summary>
    public static TracedOperation[] DescribeRequest(ReadOnlySpan<byte> region)
    {
        var count = (int)Math.Min(Region.Address(region), (ulong)MaxEntries);
        var data = Region.Data(region)[..(int)Math.Min(Region.Size(region), (ulong)RegionLayout.DataCapacity)];
        var operations = new TracedOperation[count];
        var described = 0;
        var offset = 0;
        while (described < count && offset + EntryHeaderLength <= data.Length)
        {
            var e = data.Slice(offset, EntryHeaderLength);
            var op = (PortalOp)BinaryPrimitives.ReadUInt16LittleEndian(e);
            var chase = (BinaryPrimitives.ReadUInt16LittleEndian(e[2..]) & ChaseFlag) != 0;
            var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(e[4..]);
            var address = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
            operations[described++] = chase
                ? new TracedOperation(op, size, address, BinaryPrimitives.ReadUInt16LittleEndian(e[16..]), (int)BinaryPrimitives.ReadUInt32LittleEndian(e[20..]))
                : new TracedOperation(op, size, address);
            offset += EntryHeaderLength + (op == PortalOp.Write ? Pad(size) : 0);
        }
        return described == count ? operations : operations[..described];
    }

    /// <summary>
    /// Decodes a BATCH response into <paramref name="results"/> (one per entry). A refusal (EXT_FAIL)
    /// is a <see cref="GuestOperationException"/>; anything malformed a <see cref="PortalProtocolException"/>.
    /// </summary>
    public static void ReadBatch(ReadOnlySpan<byte> region, ReadOnlySpan<WireEntry> entries, Span<EntryResult> results, GuestAbi abi)
    {
        Region.RequireWhole(region.Length);
        var op = Region.Op(region);
        var address = Region.Address(region);
        var size = Region.Size(region);
        if (op == (ulong)PortalResponse.ExtFail)
        {
            ResponseReader.Require(address is > 0 and <= RegionLayout.MaxErrno, PortalOp.Batch, op, $"errno {address} is not between 1 and {RegionLayout.MaxErrno}");
            var errno = abi.ToErrno((long)address);
            throw new GuestOperationException(PortalOp.Batch, errno, (long)address,
                $"The guest refused a batch of {entries.Length} operations: {errno} ({address}).");
        }
        if (op != (ulong)PortalResponse.BatchOk)
            throw ResponseReader.Unexpected(PortalOp.Batch, op);
        ResponseReader.Require(address == (ulong)entries.Length, PortalOp.Batch, op, $"{address} results for {entries.Length} entries");
        ResponseReader.Require(size <= RegionLayout.DataCapacity, PortalOp.Batch, op, $"size {size} exceeds {RegionLayout.DataCapacity}");

        var data = Region.Data(region)[..(int)size];
        var offset = 0;
        for (var i = 0; i < entries.Length; i++)
        {
            ResponseReader.Require(offset + ResultHeaderLength <= data.Length, PortalOp.Batch, op,
                $"the response ({size} bytes) ends before result {i}");
            var header = data.Slice(offset, ResultHeaderLength);
            var status = BinaryPrimitives.ReadUInt32LittleEndian(header);
            var errno = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            var count = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            var extra = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            offset += ResultHeaderLength;
            var result = Validate(i, entries[i], status, errno, count, extra, offset);
            var dataLength = entries[i].ReturnsData ? Pad(result.Count) : 0;
            ResponseReader.Require(offset + dataLength <= data.Length, PortalOp.Batch, op,
                $"result {i} claims {result.Count} bytes beyond the {size}-byte response");
            if (entries[i].Op == PortalOp.ReadStr)
                ResponseReader.Require(!data.Slice(offset, result.Count).Contains((byte)0), PortalOp.Batch, op,
                    $"the {result.Count} string bytes of result {i} contain a NUL");
            results[i] = result;
            offset += dataLength;
        }
        ResponseReader.Require(offset == data.Length, PortalOp.Batch, op, $"size {size} but the results take {offset} bytes");
    }

    /// <summary>One result against its entry: the same rules as the op's own response in §3.1.</summary>
    private static EntryResult Validate(int index, WireEntry entry, uint status, uint errno, uint count, uint extra, int dataOffset)
    {
        var size = (uint)entry.Size;
        void Check(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref ProblemText problem)
        {
            if (!condition)
                throw new PortalProtocolException(
                    $"Guest answered Batch with {Region.Describe((ulong)PortalResponse.BatchOk)}: result {index} ({entry.Op}) {problem.ToString()}.");
        }

        Check(status <= (uint)EntryStatus.Skipped, $"has status {status}");
        var kind = (EntryStatus)status;
        if (kind == EntryStatus.Skipped)
        {
            Check(entry.Chase, $"is SKIPPED but the entry is not chased");
            Check(errno == 0 && count == 0 && extra == 0, $"is SKIPPED with a nonzero errno, count or extra");
            return new(kind, 0, 0, 0, dataOffset);
        }
        if (kind == EntryStatus.Ok)
            Check(errno == 0, $"is OK with errno {errno}");
        else
            Check(errno is > 0 and <= (uint)RegionLayout.MaxErrno, $"has errno {errno}, not between 1 and {RegionLayout.MaxErrno}");
        if (entry.Op is not (PortalOp.ReadProcArgs or PortalOp.ReadProcEnv or PortalOp.ReadProcPid))
            Check(extra == 0, $"has extra {extra}");

        switch (entry.Op)
        {
            case PortalOp.Read:
                Check(kind != EntryStatus.Ok || count == size, $"is OK with {count} of {size} bytes");
                Check(kind != EntryStatus.Partial || (count > 0 && count < size), $"is PARTIAL with {count} of {size} bytes");
                Check(kind != EntryStatus.Failed || count == 0, $"is FAILED with {count} bytes");
                break;
            case PortalOp.Write:
                Check(kind != EntryStatus.Partial, $"is PARTIAL (a write is OK or FAILED)");
                Check(kind != EntryStatus.Ok || count == size, $"is OK with {count} of {size} bytes written");
                Check(kind != EntryStatus.Failed || count < size || size == 0, $"is FAILED with {count} of {size} bytes written");
                break;
            case PortalOp.ReadStr:
                Check(kind != EntryStatus.Ok || count <= size, $"is OK with {count} bytes in a {size}-byte window");
                Check(kind != EntryStatus.Partial || (count > 0 && count < size), $"is PARTIAL with {count} bytes in a {size}-byte window");
                Check(kind != EntryStatus.Failed || count == 0, $"is FAILED with {count} bytes");
                break;
            case PortalOp.ReadFdName:
                Check(count <= size, $"has {count} bytes for {size} asked");
                Check(kind != EntryStatus.Partial || count > 0, $"is PARTIAL with no bytes");
                Check(kind != EntryStatus.Failed || count == 0, $"is FAILED with {count} bytes");
                break;
            case PortalOp.ReadProcArgs or PortalOp.ReadProcEnv:
                if (kind == EntryStatus.Ok)
                {
                    var offset = (long)entry.Address;
                    Check(extra <= ResponseReader.MaxBlockLength, $"claims a total length of {extra}");
                    Check(offset <= extra, $"claims a total length of {extra}, below the offset {offset}");
                    var expected = Math.Min(size, extra - offset);
                    Check(count == expected, $"has {count} bytes but {expected} remain from offset {offset} of {extra}");
                }
                else
                {
                    Check(kind != EntryStatus.Partial || (count > 0 && count < size), $"is PARTIAL with {count} of {size} bytes");
                    Check(kind != EntryStatus.Failed || (count == 0 && extra == 0), $"is FAILED with {count} bytes and extra {extra}");
                }
                break;
            case PortalOp.ReadProcPid:
                Check(kind != EntryStatus.Partial, $"is PARTIAL");
                if (kind == EntryStatus.Ok)
                    Check(count is > 0 and <= int.MaxValue && extra is > 0 and <= int.MaxValue, $"has pid {count} and tid {extra}");
                else
                    Check(count == 0 && extra == 0, $"is FAILED with a pid");
                break;
            default:
                throw new ArgumentException($"{entry.Op} is not a batch operation.", nameof(entry));
        }
        return new(kind, kind == EntryStatus.Ok ? 0 : errno, (int)count, extra, dataOffset);
    }
}
