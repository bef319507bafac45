namespace Portal.Protocol;

/// <summary>
/// The seed's <c>mem_region</c>: <c>{ le64 op; le64 addr; le64 size; char data[4072]; }</c>, one 4 KiB page.
/// </summary>
public static class RegionLayout
{
    /// <summary>Total size of a region.</summary>
    public const int Size = 4096;
    /// <summary>Offset of <c>op</c>.</summary>
    public const int OpOffset = 0;
    /// <summary>Offset of <c>addr</c>.</summary>
    public const int AddressOffset = 8;
    /// <summary>Offset of <c>size</c>.</summary>
    public const int SizeOffset = 16;
    /// <summary>Offset of <c>data</c>.</summary>
    public const int DataOffset = 24;
    /// <summary>Capacity of <c>data</c> (the seed's CHUNK_SIZE): the most one exchange can carry.</summary>
    public const int DataCapacity = Size - DataOffset;
    /// <summary>Largest valid errno (the kernel's MAX_ERRNO).</summary>
    public const long MaxErrno = 4095;
}
