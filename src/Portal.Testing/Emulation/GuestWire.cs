using System.Buffers.Binary;

namespace Portal.Testing.Emulation;

/// <summary>
/// The guest's reading of docs/protocol.md. Deliberately written apart from the host's codec in
/// Portal.Runtime: the emulated guest must catch a host that misreads the protocol, which it could
/// not do if both sides shared one transcription of it.
/// </summary>
internal static class GuestWire
{
    public const int RegionSize = 4096;
    public const int DataOffset = 24;
    public const int DataCapacity = 4072;

    // Requests (protocol.md §3.1, §3.2)
    public const ulong OpRead = 1, OpWrite = 2, OpReadFdName = 3, OpReadProcArgs = 4, OpReadStr = 6, OpReadProcEnv = 8, OpReadProcPid = 9;
    public const ulong OpGuestInfo = 0x100, OpHookRegister = 0x101, OpHookUnregister = 0x102, OpVerdict = 0x103,
        OpBatch = 0x104, OpPing = 0x105, OpStats = 0x106, OpHookReset = 0x107, OpQuery = 0x108, OpQueryPage = 0x109;

    // QUERY (§3.4): the kinds, and the limits the guest checks
    public const ulong QueryProcesses = 1, QueryMappings = 2, QueryFiles = 3, QueryPaths = 4, QueryFileRead = 5, QueryFileWrite = 6,
        QueryDirectory = 7, QueryStat = 8;
    public const int QueryPageHeader = 16;                                  // le64 total, le64 offset
    public const int QueryPageCapacity = DataCapacity - QueryPageHeader;    // 4056 result bytes per page
    public const int QueryResultLimit = 4 << 20;
    public const int QueryPathLimit = 4000;                                 // a path parameter
    public const int QueryReadLimit = 1 << 20;                              // FILE_READ's max_length
    public const int QueryArgvLimit = 4096;                                 // PROCESSES' argv_max
    public const int QueryStringLimit = 4095;                               // a path in a record

    // Verdict flags (§4.2)
    public const uint VerdictSetRetval = 1, VerdictSkip = 2, VerdictSetArgs = 4;

    // Responses
    public const ulong ReadOk = 0xf000_0001, ReadFail = 0xf000_0002, ReadPartial = 0xf000_0003, WriteOk = 0xf000_0004,
        WriteFail = 0xf000_0005, ReadNum = 0xf000_0006, Event = 0xf000_0100, ExtOk = 0xf000_0101, ExtFail = 0xf000_0102, BatchOk = 0xf000_0103;

    public static ulong Op(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region);
    public static ulong Addr(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[8..]);
    public static ulong Size(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[16..]);
    public static Span<byte> Data(Span<byte> region) => region.Slice(DataOffset, DataCapacity);

    public static void Respond(Span<byte> region, ulong response, ulong addr, ulong size)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(region, response);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], size);
    }
}
