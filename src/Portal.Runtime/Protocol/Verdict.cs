using System.Buffers.Binary;
using System.Globalization;
using Portal.Abi;

namespace Portal.Protocol;

/// <summary>Verdict flag bits (docs/protocol.md §4.2).</summary>
[Flags]
internal enum VerdictFlags : uint
{
    None = 0,
    SetRetval = 1,
    Skip = 2,
    SetArgs = 4,
}

/// <summary>A memory write that rides on a verdict.</summary>
internal readonly record struct VerdictWrite(ulong Address, ReadOnlyMemory<byte> Data);

/// <summary>The host's answer to an event.</summary>
internal struct Verdict
{
    public const int HeaderLength = 72;
    public const int WriteEntryHeaderLength = 16;

    public VerdictFlags Flags;
    public uint ArgMask;
    public long Retval;
    public SyscallArgumentValues Arguments;

    /// <summary>A verdict that leaves the syscall exactly as it was.</summary>
    public static Verdict Untouched => default;

    /// <summary>What the verdict does, for a trace: "untouched", "retval=N", "skip retval=N", with " +args" when it rewrites arguments.</summary>
    public readonly string Describe()
    {
        var text = (Flags & (VerdictFlags.Skip | VerdictFlags.SetRetval)) switch
        {
            VerdictFlags.None => "untouched",
            VerdictFlags.SetRetval => string.Create(CultureInfo.InvariantCulture, $"retval={Retval}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"skip retval={Retval}"),
        };
        return (Flags & VerdictFlags.SetArgs) != 0 ? text + " +args" : text;
    }

    /// <summary>Bytes a write entry takes in the verdict, padding included.</summary>
    public static int EntryLength(int dataLength) => WriteEntryHeaderLength + ((dataLength + 7) & ~7);

    /// <summary>Writes the VERDICT request for <paramref name="eventId"/>.</summary>
    /// <exception cref="ArgumentException">The writes do not fit one region.</exception>
    public readonly void WriteRequest(Span<byte> region, ulong eventId, GuestAbi abi, IReadOnlyList<VerdictWrite>? writes = null)
    {
        var data = Region.Data(region);
        data[..HeaderLength].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], ArgMask);
        BinaryPrimitives.WriteUInt64LittleEndian(data[8..], (ulong)Retval);
        for (var i = 0; i < SyscallEventRecord.ArgumentCount; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data[(16 + 8 * i)..], abi.TruncateToRegister(Arguments[i]));

        var offset = HeaderLength;
        var count = writes?.Count ?? 0;
        for (var i = 0; i < count; i++)
        {
            var write = writes![i];
            var entryLength = EntryLength(write.Data.Length);
            if (offset + entryLength > RegionLayout.DataCapacity)
                throw new ArgumentException($"Verdict writes need more than the {RegionLayout.DataCapacity} bytes of one region.", nameof(writes));
            var entry = data.Slice(offset, entryLength);
            entry.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(entry, write.Address);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], (uint)write.Data.Length);
            write.Data.Span.CopyTo(entry[WriteEntryHeaderLength..]);
            offset += entryLength;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(data[64..], (uint)count);
        Region.WriteHeader(region, PortalOp.Verdict, eventId, (ulong)offset);
    }
}
