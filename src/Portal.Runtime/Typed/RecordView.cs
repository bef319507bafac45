using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using Portal.Abi;
using Portal.Memory;

namespace Portal.Typed;

/// <summary>
/// A window on the bytes of a loaded record: where the record (or nested record) starts in the
/// snapshot buffer, the guest address it was loaded from, and the ABI that decides byte order.
/// Generated proxies read their properties through it (no exchange); their setters change the
/// snapshot and, for a record loaded from a guest, stage the bytes for the guest (they ride on the
/// handler's next exchange or on the verdict).
/// </summary>
public readonly struct RecordView
{
    private readonly byte[] _buffer;
    private readonly int _start;

    /// <summary>Creates a view on <paramref name="buffer"/> starting at <paramref name="start"/>.</summary>
    public RecordView(byte[] buffer, int start, GuestAbi abi, ulong address, GuestMemory? memory, ChangeSet changes)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(abi);
        ArgumentNullException.ThrowIfNull(changes);
        _buffer = buffer;
        _start = start;
        Abi = abi;
        Address = address;
        Memory = memory;
        Changes = changes;
    }

    /// <summary>Creates a detached record of <paramref name="size"/> zero bytes (not loaded from a guest).</summary>
    public static RecordView Detached(int size, GuestAbi abi) => new(new byte[size], 0, abi, 0, null, new ChangeSet());

    /// <summary>The guest's ABI.</summary>
    public GuestAbi Abi { get; }

    /// <summary>The guest address of this view's first byte.</summary>
    public ulong Address { get; }

    /// <summary>The memory API the record was loaded through (null for a detached record).</summary>
    public GuestMemory? Memory { get; }

    /// <summary>Changes made by setters since the record was loaded or stored, relative to the snapshot buffer's start.</summary>
    public ChangeSet Changes { get; }

    /// <summary>The whole snapshot buffer.</summary>
    public byte[] Buffer => _buffer;

    /// <summary>Offset of this view in <see cref="Buffer"/>.</summary>
    public int Start => _start;

    /// <summary>A view on a nested record at <paramref name="offset"/>.</summary>
    public RecordView Slice(int offset) => new(_buffer, _start + offset, Abi, Address + (ulong)offset, Memory, Changes);

    /// <summary>The bytes at <paramref name="offset"/>.</summary>
    public ReadOnlySpan<byte> Bytes(int offset, int length) => _buffer.AsSpan(_start + offset, length);

    // ---- integers ----------------------------------------------------------------------------------

    /// <summary>Reads an unsigned 8-bit integer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte ReadUInt8(int offset) => _buffer[_start + offset];

    /// <summary>Reads an unsigned 16-bit integer in the guest's byte order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort ReadUInt16(int offset)
    {
        var bytes = _buffer.AsSpan(_start + offset, 2);
        return Abi.IsBigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes) : BinaryPrimitives.ReadUInt16LittleEndian(bytes);
    }

    /// <summary>Reads an unsigned 32-bit integer in the guest's byte order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadUInt32(int offset)
    {
        var bytes = _buffer.AsSpan(_start + offset, 4);
        return Abi.IsBigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    /// <summary>Reads an unsigned 64-bit integer in the guest's byte order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReadUInt64(int offset)
    {
        var bytes = _buffer.AsSpan(_start + offset, 8);
        return Abi.IsBigEndian ? BinaryPrimitives.ReadUInt64BigEndian(bytes) : BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    /// <summary>Reads an unsigned integer of <paramref name="size"/> bytes (1, 2, 4 or 8: types whose size depends on the ABI).</summary>
    public ulong ReadUnsigned(int offset, int size) => size switch
    {
        1 => ReadUInt8(offset),
        2 => ReadUInt16(offset),
        4 => ReadUInt32(offset),
        8 => ReadUInt64(offset),
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, "Integers are 1, 2, 4 or 8 bytes."),
    };

    /// <summary>Reads a signed integer of <paramref name="size"/> bytes, sign-extended.</summary>
    public long ReadSigned(int offset, int size) => size switch
    {
        1 => (sbyte)ReadUInt8(offset),
        2 => (short)ReadUInt16(offset),
        4 => (int)ReadUInt32(offset),
        8 => (long)ReadUInt64(offset),
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, "Integers are 1, 2, 4 or 8 bytes."),
    };

    // ---- network byte order ------------------------------------------------------------------------
    // Some members are big-endian in memory on every ABI, whatever the guest's own order: IP addresses
    // and ports (in_addr.s_addr, sockaddr_in.sin_port), the kernel's __be16/__be32 fields. Generated
    // properties of members declared network-order (docs/networking.md) decode and encode through these.

    /// <summary>Reads an unsigned integer of <paramref name="size"/> bytes stored big-endian (network order) on every ABI.</summary>
    public ulong ReadUnsignedNetworkOrder(int offset, int size)
    {
        var bytes = _buffer.AsSpan(_start + offset, CheckedIntegerSize(size));
        ulong value = 0;
        foreach (var b in bytes)
            value = (value << 8) | b;
        return value;
    }

    /// <summary>Reads a signed integer of <paramref name="size"/> bytes stored big-endian on every ABI, sign-extended.</summary>
    public long ReadSignedNetworkOrder(int offset, int size)
    {
        var raw = ReadUnsignedNetworkOrder(offset, size);
        return size == 8 ? (long)raw : (long)(raw << (64 - size * 8)) >> (64 - size * 8);
    }

    /// <summary>Writes an unsigned integer of <paramref name="size"/> bytes big-endian (network order) on every ABI and stages the change.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit.</exception>
    public void WriteUnsignedNetworkOrder(int offset, int size, ulong value)
    {
        if (CheckedIntegerSize(size) < 8 && value >> (size * 8) != 0)
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit {size} bytes.");
        WriteBigEndian(offset, size, value);
    }

    /// <summary>Writes a signed integer of <paramref name="size"/> bytes big-endian on every ABI and stages the change.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit.</exception>
    public void WriteSignedNetworkOrder(int offset, int size, long value)
    {
        if (CheckedIntegerSize(size) < 8 && (value < -(1L << (size * 8 - 1)) || value >= 1L << (size * 8 - 1)))
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit {size} signed bytes.");
        WriteBigEndian(offset, size, (ulong)value);
    }

    private void WriteBigEndian(int offset, int size, ulong value)
    {
        var bytes = _buffer.AsSpan(_start + offset, size);
        for (var i = size - 1; i >= 0; i--, value >>= 8)
            bytes[i] = (byte)value;
        Staged(offset, size);
    }

    private static int CheckedIntegerSize(int size) =>
        size is 1 or 2 or 4 or 8 ? size : throw new ArgumentOutOfRangeException(nameof(size), size, "Integers are 1, 2, 4 or 8 bytes.");

    /// <summary>Writes an unsigned integer of <paramref name="size"/> bytes and stages the change.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit.</exception>
    public void WriteUnsigned(int offset, int size, ulong value)
    {
        if (size < 8 && value >> (size * 8) != 0)
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit {size} bytes.");
        WriteRaw(offset, size, value);
    }

    /// <summary>Writes a signed integer of <paramref name="size"/> bytes and stages the change.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit.</exception>
    public void WriteSigned(int offset, int size, long value)
    {
        if (size < 8 && (value < -(1L << (size * 8 - 1)) || value >= 1L << (size * 8 - 1)))
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit {size} signed bytes.");
        WriteRaw(offset, size, (ulong)value);
    }

    /// <summary>Writes an unsigned 32-bit integer and stages the change.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteUInt32(int offset, uint value) => WriteRaw(offset, 4, value);

    private void WriteRaw(int offset, int size, ulong value)
    {
        var bytes = _buffer.AsSpan(_start + offset, size);
        switch (size)
        {
            case 1: bytes[0] = (byte)value; break;
            case 2: Abi.WriteUInt16(bytes, (ushort)value); break;
            case 4: Abi.WriteUInt32(bytes, (uint)value); break;
            case 8: Abi.WriteUInt64(bytes, value); break;
            default: throw new ArgumentOutOfRangeException(nameof(size), size, "Integers are 1, 2, 4 or 8 bytes.");
        }
        Staged(offset, size);
    }

    /// <summary>
    /// Records a change of <paramref name="length"/> bytes at <paramref name="offset"/> (from this view's
    /// start) and, for a record loaded from a guest, stages the bytes for it: they ride on the handler's
    /// next exchange or on the verdict.
    /// </summary>
    private void Staged(int offset, int length)
    {
        Changes.Add(_start + offset, length);
        Memory?.StageRecordBytes(Address + (ulong)offset, _buffer.AsSpan(_start + offset, length));
    }

    // ---- bitfields ----------------------------------------------------------------------------------

    /// <summary>
    /// Reads a bitfield at <paramref name="bitOffset"/> (from this view's start, as the compiler
    /// numbers bits: from the least significant end on little-endian ABIs, from the most significant
    /// end on big-endian ones).
    /// </summary>
    public ulong ReadBits(int bitOffset, int bitWidth)
    {
        var (first, count, shift) = BitSpan(bitOffset, bitWidth);
        var unit = LoadBitUnit(first, count);
        return (unit >> shift) & Mask(bitWidth);
    }

    /// <summary>Reads a signed bitfield, sign-extended from its width.</summary>
    public long ReadSignedBits(int bitOffset, int bitWidth)
    {
        var raw = ReadBits(bitOffset, bitWidth);
        var sign = 1UL << (bitWidth - 1);
        return (long)((raw ^ sign) - sign);
    }

    /// <summary>Writes a bitfield (the neighbouring bits are kept) and stages the change.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit the field.</exception>
    public void WriteBits(int bitOffset, int bitWidth, ulong value)
    {
        if ((value & ~Mask(bitWidth)) != 0)
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit a {bitWidth}-bit field.");
        var (first, count, shift) = BitSpan(bitOffset, bitWidth);
        var unit = LoadBitUnit(first, count);
        unit = (unit & ~(Mask(bitWidth) << shift)) | (value << shift);
        var bytes = _buffer.AsSpan(_start + first, count);
        for (var i = 0; i < count; i++)
            bytes[Abi.IsBigEndian ? count - 1 - i : i] = (byte)(unit >> (8 * i));
        Staged(first, count);
    }

    /// <summary>Writes a signed bitfield and stages the change.</summary>
    public void WriteSignedBits(int bitOffset, int bitWidth, long value)
    {
        if (value < -(1L << (bitWidth - 1)) || value >= 1L << (bitWidth - 1))
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit a signed {bitWidth}-bit field.");
        WriteBits(bitOffset, bitWidth, (ulong)value & Mask(bitWidth));
    }

    /// <summary>The bytes covering the field, and how far its lowest bit sits from the lowest bit of the loaded unit.</summary>
    private (int First, int Count, int Shift) BitSpan(int bitOffset, int bitWidth)
    {
        var first = bitOffset / 8;
        var last = (bitOffset + bitWidth - 1) / 8;
        var count = last - first + 1;
        // Little-endian: bit i of the unit is bit (first*8 + i) of the record.
        // Big-endian: the record's bits run from the most significant bit of byte 0.
        var shift = Abi.IsBigEndian ? count * 8 - (bitOffset - first * 8) - bitWidth : bitOffset - first * 8;
        return (first, count, shift);
    }

    private ulong LoadBitUnit(int first, int count)
    {
        var bytes = _buffer.AsSpan(_start + first, count);
        ulong unit = 0;
        for (var i = 0; i < count; i++)
            unit |= (ulong)bytes[Abi.IsBigEndian ? count - 1 - i : i] << (8 * i);
        return unit;
    }

    private static ulong Mask(int bitWidth) => bitWidth >= 64 ? ulong.MaxValue : (1UL << bitWidth) - 1;

    // ---- text and bytes -------------------------------------------------------------------------------

    /// <summary>A char array as a string: the bytes up to the first NUL (or all of them), UTF-8.</summary>
    public string ReadString(int offset, int length)
    {
        var bytes = Bytes(offset, length);
        var end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
    }

    /// <summary>Writes a string into a char array (NUL-padded) and stages the change.</summary>
    /// <exception cref="ArgumentException">The string does not fit (a NUL must follow it when there is room for one).</exception>
    public void WriteString(int offset, int length, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var encoded = Encoding.UTF8.GetBytes(value);
        if (encoded.Length > length || value.Contains('\0'))
            throw new ArgumentException($"\"{value}\" does not fit a char[{length}] (or contains a NUL).", nameof(value));
        var bytes = _buffer.AsSpan(_start + offset, length);
        bytes.Clear();
        encoded.CopyTo(bytes);
        Staged(offset, length);
    }

    /// <summary>Copies raw bytes in and stages the change.</summary>
    public void WriteBytes(int offset, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer.AsSpan(_start + offset, bytes.Length));
        Staged(offset, bytes.Length);
    }

    // ---- pointers -----------------------------------------------------------------------------------

    /// <summary>Reads a pointer of the ABI's size.</summary>
    public GuestAddress ReadAddress(int offset) => new(ReadUnsigned(offset, Abi.PointerSize), Memory);

    /// <summary>Writes a pointer of the ABI's size and stages the change.</summary>
    public void WriteAddress(int offset, ulong address) => WriteUnsigned(offset, Abi.PointerSize, address);
}
