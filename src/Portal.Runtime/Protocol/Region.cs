using System.Buffers.Binary;

namespace Portal.Protocol;

/// <summary>Raw access to the header fields of a region. Every entry point insists on a whole region.</summary>
internal static class Region
{
    public static void WriteHeader(Span<byte> region, PortalOp op, ulong address, ulong size)
    {
        RequireWhole(region.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(region[RegionLayout.OpOffset..], (ulong)op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[RegionLayout.AddressOffset..], address);
        BinaryPrimitives.WriteUInt64LittleEndian(region[RegionLayout.SizeOffset..], size);
    }

    public static ulong Op(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[RegionLayout.OpOffset..]);

    public static ulong Address(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[RegionLayout.AddressOffset..]);

    public static ulong Size(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[RegionLayout.SizeOffset..]);

    public static Span<byte> Data(Span<byte> region) => region.Slice(RegionLayout.DataOffset, RegionLayout.DataCapacity);

    public static ReadOnlySpan<byte> Data(ReadOnlySpan<byte> region) => region.Slice(RegionLayout.DataOffset, RegionLayout.DataCapacity);

    public static void RequireWhole(int length)
    {
        if (length != RegionLayout.Size)
            throw new ArgumentException($"A region is {RegionLayout.Size} bytes; got {length}.");
    }

    /// <summary>A readable name for an op or response code, for error messages.</summary>
    public static string Describe(ulong op) =>
        Enum.IsDefined(typeof(PortalResponse), op) ? ((PortalResponse)op).ToString()
        : Enum.IsDefined(typeof(PortalOp), op) ? ((PortalOp)op).ToString()
        : $"0x{op:x}";
}
