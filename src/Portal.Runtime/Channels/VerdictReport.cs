using System.Buffers.Binary;

namespace Portal.Channels;

/// <summary>What the guest did with a verdict (docs/protocol.md §4.2).</summary>
public enum VerdictOutcome
{
    /// <summary>Applied; its writes are listed in <see cref="VerdictReport.FailedMask"/> when some failed.</summary>
    Applied = 0,

    /// <summary>Rejected whole as malformed: the syscall continued untouched (the guest counts it in bad_verdicts).</summary>
    Rejected = 1,

    /// <summary>The guest posted its next event without reporting this verdict (a guest without verdict reports, or a broken one).</summary>
    Missing = -1,
}

/// <summary>
/// The guest's report on one verdict: its outcome and which of the writes that rode on it failed.
/// Comes from the guest, so every field is untrusted: consumers check counts and bits against the
/// verdict they sent.
/// </summary>
/// <param name="EventId">The event whose verdict this reports.</param>
/// <param name="Outcome">Applied, rejected, or missing.</param>
/// <param name="WriteFailures">Write entries that did not complete.</param>
/// <param name="FailedMask">Bit i: write entry i failed (entries from 64 on are only counted).</param>
/// <param name="FirstFailedWritten">Bytes the first failing entry wrote before its fault.</param>
public readonly record struct VerdictReport(ulong EventId, VerdictOutcome Outcome, int WriteFailures, ulong FailedMask, int FirstFailedWritten)
{
    /// <summary>Length of the report record in a shared-window slot (§5.1).</summary>
    public const int RecordLength = 32;

    /// <summary>True when the guest reported nothing worth a look: applied, with every write done.</summary>
    public bool IsClean => Outcome == VerdictOutcome.Applied && WriteFailures == 0;

    /// <summary>The report a transport gives when the guest posted its next event without one.</summary>
    public static VerdictReport MissingFor(ulong eventId) => new(eventId, VerdictOutcome.Missing, 0, 0, 0);

    /// <summary>The event id of a report record (read it with acquire semantics first: it is written last).</summary>
    public static ulong ReadEventId(ReadOnlySpan<byte> record) => BinaryPrimitives.ReadUInt64LittleEndian(record);

    /// <summary>
    /// Decodes a report record (§4.2): <c>le64 event, le32 status, le32 write_failures, le64 failed_mask,
    /// le32 first_failed_written</c>. An unknown status reads as <see cref="VerdictOutcome.Rejected"/>,
    /// counts are clamped to be non-negative.
    /// </summary>
    public static VerdictReport Read(ReadOnlySpan<byte> record)
    {
        if (record.Length < RecordLength)
            throw new ArgumentException($"A verdict report is {RecordLength} bytes; got {record.Length}.", nameof(record));
        var status = BinaryPrimitives.ReadUInt32LittleEndian(record[8..]);
        return new VerdictReport(
            BinaryPrimitives.ReadUInt64LittleEndian(record),
            status == 0 ? VerdictOutcome.Applied : VerdictOutcome.Rejected,
            (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(record[12..]), int.MaxValue),
            BinaryPrimitives.ReadUInt64LittleEndian(record[16..]),
            (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(record[24..]), int.MaxValue));
    }

    /// <summary>Encodes a report record (for guest implementations in C#, such as the emulated guest).</summary>
    public void Write(Span<byte> record)
    {
        record[..RecordLength].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], Outcome == VerdictOutcome.Applied ? 0u : 1u);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)WriteFailures);
        BinaryPrimitives.WriteUInt64LittleEndian(record[16..], FailedMask);
        BinaryPrimitives.WriteUInt32LittleEndian(record[24..], (uint)FirstFailedWritten);
        BinaryPrimitives.WriteUInt64LittleEndian(record, EventId);
    }
}
