using System.Buffers.Binary;
using System.Text;
using Portal.Abi;

namespace Portal.Protocol;

/// <summary>Optional guest capabilities (docs/protocol.md §4.4).</summary>
[Flags]
public enum GuestFeatures : uint
{
    /// <summary>Nothing optional.</summary>
    None = 0,
    /// <summary>Verdicts may carry memory writes.</summary>
    VerdictWrites = 1,
    /// <summary>The BATCH extension.</summary>
    Batch = 2,
    /// <summary>The guest reports what it did with each verdict (applied or rejected, failed writes).</summary>
    VerdictReports = 4,
    /// <summary>Set and memory filters, OUT_SRANGE and the descriptor's data area (docs/protocol.md §4.3).</summary>
    FiltersV2 = 8,
    /// <summary>QUERY and QUERY_PAGE: processes, mappings, file descriptors, guest files (docs/protocol.md §3.4).</summary>
    Query = 16,
    /// <summary>Scope filters: a hook limited to a process subtree, outside one, or to a set of processes (docs/protocol.md §4.3).</summary>
    ScopeFilters = 0x20,
    /// <summary>Function hooks: uprobes on user-space functions (docs/protocol.md §4.6).</summary>
    FunctionHooks = 64,
}

/// <summary>What a guest says about itself (GUEST_INFO).</summary>
/// <param name="ProtocolVersion">Protocol version the guest speaks.</param>
/// <param name="Abi">The guest's ABI.</param>
/// <param name="CpuSlots">Number of vCPU slots (the control slot is not counted).</param>
/// <param name="MaxHooks">How many hooks the guest can hold at once.</param>
/// <param name="Features">Optional capabilities.</param>
/// <param name="KernelRelease">The guest kernel's release string (<c>uname -r</c>).</param>
public sealed record GuestInfo(int ProtocolVersion, GuestAbi Abi, int CpuSlots, int MaxHooks, GuestFeatures Features, string KernelRelease)
{
    /// <summary>The protocol version this host speaks.</summary>
    public const int SupportedProtocolVersion = 1;

    internal const int RecordLength = 96;

    internal static GuestInfo Decode(ReadOnlySpan<byte> region)
    {
        var result = ResponseReader.ExtResult(region, PortalOp.GuestInfo);
        if (!result.Ok)
            throw new PortalProtocolException($"Guest refused GuestInfo with errno {result.Errno}.");
        ResponseReader.Require(result.DataLength >= RecordLength, PortalOp.GuestInfo, Region.Op(region), $"record of {result.DataLength} bytes is shorter than {RecordLength}");
        var data = Region.Data(region);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(data);
        var abiId = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        var pointerSize = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
        var bigEndian = BinaryPrimitives.ReadUInt32LittleEndian(data[12..]);
        var pageSize = BinaryPrimitives.ReadUInt32LittleEndian(data[16..]);
        var cpuSlots = BinaryPrimitives.ReadUInt32LittleEndian(data[20..]);
        var maxHooks = BinaryPrimitives.ReadUInt32LittleEndian(data[24..]);
        var features = BinaryPrimitives.ReadUInt32LittleEndian(data[28..]);

        var op = Region.Op(region);
        ResponseReader.Require(version == SupportedProtocolVersion, PortalOp.GuestInfo, op, $"protocol version {version}; this host speaks {SupportedProtocolVersion}");
        ResponseReader.Require(Enum.IsDefined(typeof(GuestAbiId), (int)abiId), PortalOp.GuestInfo, op, $"unknown ABI id {abiId}");
        var abi = GuestAbi.FromId((GuestAbiId)abiId);
        ResponseReader.Require(pointerSize == abi.PointerSize, PortalOp.GuestInfo, op, $"pointer size {pointerSize} does not match {abi.Name}");
        ResponseReader.Require(bigEndian == (abi.IsBigEndian ? 1u : 0u), PortalOp.GuestInfo, op, $"big_endian {bigEndian} does not match {abi.Name}");
        ResponseReader.Require(pageSize == (uint)abi.PageSize, PortalOp.GuestInfo, op, $"page size {pageSize}; Portal supports {abi.PageSize}");
        ResponseReader.Require(cpuSlots is > 0 and <= 4096, PortalOp.GuestInfo, op, $"cpu slot count {cpuSlots} is out of range");
        ResponseReader.Require(maxHooks is > 0 and <= 65536, PortalOp.GuestInfo, op, $"hook capacity {maxHooks} is out of range");
        return new GuestInfo((int)version, abi, (int)cpuSlots, (int)maxHooks, (GuestFeatures)features,
            DecodeCString(data.Slice(32, 64)));
    }

    /// <summary>Bytes up to the first NUL (or all of them), as UTF-8.</summary>
    internal static string DecodeCString(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }
}
