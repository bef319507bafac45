using System.Buffers.Binary;
using Portal.Abi;
using Portal.Testing.Processes;
using static Portal.Testing.Emulation.GuestWire;

namespace Portal.Testing.Emulation;

/// <summary>
/// BATCH (docs/protocol.md §3.3) the way the emulated guest reads it: the request is copied out of
/// the region and validated whole before anything runs; each entry then runs as the single op would
/// (in a scratch region, through the same code as a lone request), and its response is turned into
/// a result. So a batch's per-entry semantics are the single ops' by construction.
/// </summary>
internal sealed class BatchServer(OpServer ops, GuestAbi abi)
{
    private const int EntryHeader = 24, ResultHeader = 16, MaxEntries = 255;
    private const ushort FlagChase = 1;
    private const uint StatusOk = 0, StatusPartial = 1, StatusFailed = 2, StatusSkipped = 3;

    private readonly record struct Entry(ulong Op, bool Chase, int Size, ulong Addr, int Base, int PointerOffset, int DataStart);

    public void Serve(Span<byte> region, EmulatedProcess? held)
    {
        if (held is null)
        {
            Respond(region, ExtFail, ops.Errno(GuestErrno.ESRCH), 0);
            return;
        }
        var count = Addr(region);
        var size = Size(region);
        if (count is 0 or > MaxEntries || size > DataCapacity)
        {
            Respond(region, ExtFail, ops.Errno(GuestErrno.EINVAL), 0);
            return;
        }
        var request = Data(region)[..(int)size].ToArray();      // results overwrite the data area
        if (!TryParse(request, (int)count, out var entries))
        {
            Respond(region, ExtFail, ops.Errno(GuestErrno.EINVAL), 0);
            return;
        }
        var worstCase = entries.Sum(e => ResultHeader + (ReturnsData(e.Op) ? Pad(e.Size) : 0));
        if (worstCase > DataCapacity)
        {
            Respond(region, ExtFail, ops.Errno(GuestErrno.ENOSPC), 0);
            return;
        }

        var response = new byte[DataCapacity];
        var resultAt = new int[entries.Length];     // where each result's header is, for chases
        var offset = 0;
        var scratch = new byte[RegionSize];
        for (var i = 0; i < entries.Length; i++)
        {
            resultAt[i] = offset;
            offset = Execute(entries[i], request, response, resultAt, offset, scratch, held);
        }
        response.AsSpan(0, offset).CopyTo(Data(region));
        Respond(region, BatchOk, (ulong)entries.Length, (ulong)offset);
    }

    private static bool TryParse(byte[] request, int count, out Entry[] entries)
    {
        entries = new Entry[count];
        var offset = 0;
        for (var i = 0; i < count; i++)
        {
            if (offset + EntryHeader > request.Length)
                return false;
            var e = request.AsSpan(offset, EntryHeader);
            var op = BinaryPrimitives.ReadUInt16LittleEndian(e);
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(e[2..]);
            var entrySize = BinaryPrimitives.ReadUInt32LittleEndian(e[4..]);
            var addr = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
            var baseIndex = BinaryPrimitives.ReadUInt16LittleEndian(e[16..]);
            var reserved = BinaryPrimitives.ReadUInt16LittleEndian(e[18..]);
            var pointerOffset = BinaryPrimitives.ReadUInt32LittleEndian(e[20..]);
            var chase = (flags & FlagChase) != 0;
            if (op is not (1 or 2 or 3 or 4 or 6 or 8 or 9) || (flags & ~FlagChase) != 0 || reserved != 0 || entrySize > DataCapacity)
                return false;
            if (chase ? op is not (1 or 2 or 6) || baseIndex >= i : baseIndex != 0 || pointerOffset != 0)
                return false;
            offset += EntryHeader;
            var dataStart = offset;
            if (op == 2)
            {
                if (offset + (long)Pad((int)entrySize) > request.Length)
                    return false;
                offset += Pad((int)entrySize);
            }
            entries[i] = new Entry(op, chase, (int)entrySize, addr, baseIndex, (int)pointerOffset, dataStart);
        }
        return offset == request.Length;                    // nothing may follow the last entry
    }

    /// <summary>Runs one entry; writes its result at <paramref name="offset"/> and returns where the next one goes.</summary>
    private int Execute(in Entry entry, byte[] request, byte[] response, int[] resultAt, int offset, byte[] scratch, EmulatedProcess held)
    {
        var addr = entry.Addr;
        if (entry.Chase)
        {
            if (!TryReadPointer(response, resultAt[entry.Base], entry.PointerOffset, out var pointer))
                return WriteResult(response, offset, StatusSkipped, 0, 0, 0, []);
            addr = pointer + addr;                          // wrapping, like pointer + (s64)offset
        }
        var region = scratch.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(region, entry.Op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], (ulong)entry.Size);
        if (entry.Op == OpWrite)
            request.AsSpan(entry.DataStart, entry.Size).CopyTo(Data(region));
        ops.ServeProcessOp(region, held);

        var code = Op(region);
        var rAddr = Addr(region);
        var rSize = Size(region);
        var data = Data(region);
        return (entry.Op, code) switch
        {
            (OpReadProcArgs or OpReadProcEnv, ReadOk) => WriteResult(response, offset, StatusOk, 0, (int)rSize, (uint)rAddr, data[..(int)rSize]),
            (OpReadProcPid, ReadNum) => WriteResult(response, offset, StatusOk, 0, (int)rAddr, (uint)rSize, []),
            (OpWrite, WriteOk) => WriteResult(response, offset, StatusOk, 0, (int)rSize, 0, []),
            (OpWrite, WriteFail) => WriteResult(response, offset, StatusFailed, (uint)rAddr, (int)rSize, 0, []),
            (_, ReadOk) => WriteResult(response, offset, StatusOk, 0, (int)rSize, 0, data[..(int)rSize]),
            (_, ReadPartial) => WriteResult(response, offset, StatusPartial, (uint)rAddr, (int)rSize, 0, data[..(int)rSize]),
            (_, ReadFail) => WriteResult(response, offset, StatusFailed, (uint)rAddr, 0, 0, []),
            _ => throw new InvalidOperationException($"Op {entry.Op} answered 0x{code:x}: the emulated guest is inconsistent."),
        };
    }

    /// <summary>The pointer in an earlier result, if that entry succeeded and returned the pointer's bytes.</summary>
    private bool TryReadPointer(byte[] response, int result, int pointerOffset, out ulong pointer)
    {
        pointer = 0;
        var status = BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(result));
        var count = BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(result + 8));
        if (status != StatusOk || (long)pointerOffset + abi.PointerSize > count)
            return false;
        var bytes = response.AsSpan(result + ResultHeader + pointerOffset, abi.PointerSize);
        pointer = abi.PointerSize == 4 ? abi.ReadUInt32(bytes) : abi.ReadUInt64(bytes);
        return true;
    }

    private static int WriteResult(byte[] response, int offset, uint status, uint errno, int count, uint extra, ReadOnlySpan<byte> data)
    {
        var header = response.AsSpan(offset, ResultHeader);
        BinaryPrimitives.WriteUInt32LittleEndian(header, status);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], errno);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)count);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], extra);
        data.CopyTo(response.AsSpan(offset + ResultHeader));
        return offset + ResultHeader + Pad(data.Length);
    }

    private static bool ReturnsData(ulong op) => op is not (OpWrite or OpReadProcPid);

    private static int Pad(int length) => (length + 7) & ~7;
}
