namespace Portal.Testing.Programs;

/// <summary>
/// The fill pattern and checksum of <c>portal-selftest</c> (docs/guest-programs.md), shared by the
/// emulated program and by tests that predict what the C program prints.
/// </summary>
public static class SelfTestPattern
{
    /// <summary>Byte <paramref name="index"/> of a pattern buffer: <c>(uint8_t)((i * 2654435761u) >> 24)</c>.</summary>
    public static byte At(long index) => (byte)(unchecked((uint)index * 2654435761u) >> 24);

    /// <summary><paramref name="length"/> pattern bytes starting at <paramref name="start"/>.</summary>
    public static byte[] Bytes(long start, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
            bytes[i] = At(start + i);
        return bytes;
    }

    private static readonly uint[] CrcTable = BuildTable();

    /// <summary>CRC-32 (IEEE 802.3, reflected, as zlib's <c>crc32</c>).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xffff_ffffu;
        foreach (var b in data)
            crc = CrcTable[(crc ^ b) & 0xff] ^ (crc >> 8);
        return crc ^ 0xffff_ffffu;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (var n = 0u; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xedb8_8320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
