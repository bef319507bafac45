using System.Buffers.Binary;
using System.Text;
using Portal.Introspection;

namespace Portal.Protocol;

/// <summary>
/// Decodes a query's result into records (docs/protocol.md §3.4). The result came from the guest:
/// every record's length must be exactly its fixed part plus its strings, padded to 8, inside the
/// result; every string inside its record; every field in its range; the order the protocol promises.
/// Anything else is a <see cref="PortalProtocolException"/> naming the record and the field.
/// </summary>
internal static class QueryRecords
{
    private const int ProcessFixed = 64;
    private const int MappingFixed = 48;
    private const int FileFixed = 32;
    private const int PathsFixed = 16;
    private const int EntryFixed = 16;
    private const int StatLength = 56;
    private const int MaxPath = 4095;
    private const string StateLetters = "RSDTtXZPI";

    public static List<GuestProcess> Processes(ReadOnlySpan<byte> result, int argvMax)
    {
        var processes = new List<GuestProcess>();
        var reader = new Reader(result, QueryKind.Processes, ProcessFixed);
        while (reader.Next(out var record))
        {
            var argvLength = U16(record, 2);
            var flags = U32(record, 4);
            var pid = U32(record, 8);
            var ppid = U32(record, 12);
            var threads = U32(record, 16);
            var state = U32(record, 20);
            reader.RequireLength(argvLength);
            reader.Require(argvLength <= argvMax, $"argv_length {argvLength} exceeds the {argvMax} bytes asked");
            reader.Require((flags & ~7u) == 0, $"unknown flags 0x{flags:x}");
            reader.Require(pid is > 0 and <= int.MaxValue, $"pid {pid} is out of range");
            reader.Require(processes.Count == 0 || pid > processes[^1].Pid, $"pid {pid} does not follow {(processes.Count > 0 ? processes[^1].Pid : 0)} (the list is by pid)");
            reader.Require(ppid <= int.MaxValue, $"ppid {ppid} is out of range");
            reader.Require(threads is > 0 and <= int.MaxValue, $"thread count {threads} is out of range");
            reader.Require(state < 128 && StateLetters.Contains((char)state, StringComparison.Ordinal), $"state 0x{state:x} is not one of {StateLetters}");
            var kernelThread = (flags & 1) != 0;
            reader.Require(!kernelThread || argvLength == 0, $"a kernel thread has argv");
            var startNs = BinaryPrimitives.ReadUInt64LittleEndian(record[40..]);
            processes.Add(new GuestProcess((int)pid, (int)ppid, (int)threads, (char)state, U32(record, 24), U32(record, 28), U32(record, 32),
                U32(record, 36), TimeSpan.FromTicks((long)(startNs / 100)), CString(record.Slice(48, 16)),
                SplitArguments(record.Slice(ProcessFixed, argvLength)), (GuestProcessTraits)flags));
        }
        return processes;
    }

    public static List<GuestMapping> Mappings(ReadOnlySpan<byte> result)
    {
        var mappings = new List<GuestMapping>();
        var reader = new Reader(result, QueryKind.Mappings, MappingFixed);
        while (reader.Next(out var record))
        {
            var pathLength = U16(record, 2);
            var flags = U32(record, 4);
            var start = U64(record, 8);
            var end = U64(record, 16);
            reader.RequireLength(pathLength);
            reader.Require(pathLength <= MaxPath, $"path_length {pathLength} exceeds {MaxPath}");
            reader.Require((flags & ~0x1fu) == 0, $"unknown flags 0x{flags:x}");
            reader.Require(start < end, $"start 0x{start:x} is not below end 0x{end:x}");
            reader.Require(mappings.Count == 0 || start >= mappings[^1].End, $"mapping at 0x{start:x} overlaps or precedes the one before it (ending at 0x{(mappings.Count > 0 ? mappings[^1].End : 0):x})");
            mappings.Add(new GuestMapping(start, end, (MappingPermissions)(flags & 0xf), U64(record, 24), U64(record, 32), U32(record, 40),
                U32(record, 44), Utf8(record.Slice(MappingFixed, pathLength)), (flags & 0x10) != 0));
        }
        return mappings;
    }

    public static List<GuestFileDescriptor> Files(ReadOnlySpan<byte> result)
    {
        var files = new List<GuestFileDescriptor>();
        var reader = new Reader(result, QueryKind.Files, FileFixed);
        while (reader.Next(out var record))
        {
            var pathLength = U16(record, 2);
            var flags = U32(record, 4);
            var fd = U32(record, 8);
            var position = U64(record, 24);
            reader.RequireLength(pathLength);
            reader.Require(pathLength <= MaxPath, $"path_length {pathLength} exceeds {MaxPath}");
            reader.Require((flags & ~1u) == 0, $"unknown flags 0x{flags:x}");
            reader.Require(fd <= int.MaxValue, $"fd {fd} is out of range");
            reader.Require(files.Count == 0 || fd > files[^1].Fd, $"fd {fd} does not follow {(files.Count > 0 ? files[^1].Fd : 0)} (the list is by fd)");
            // the kernel's loff_t as it is: files with unsigned offsets (/proc/<pid>/mem, /dev/mem) may be past long.MaxValue
            files.Add(new GuestFileDescriptor((int)fd, Utf8(record.Slice(FileFixed, pathLength)), U32(record, 12), U32(record, 16),
                unchecked((long)position), (flags & 1) != 0));
        }
        return files;
    }

    public static GuestProcessPaths Paths(ReadOnlySpan<byte> result)
    {
        var reader = new Reader(result, QueryKind.Paths, PathsFixed);
        reader.Require(reader.Next(out var record), $"the result holds no record");
        var exeLength = U16(record, 2);
        var cwdLength = U16(record, 4);
        var rootLength = U16(record, 6);
        var flags = U32(record, 8);
        reader.Require(exeLength <= MaxPath && cwdLength <= MaxPath && rootLength <= MaxPath,
            $"path lengths {exeLength}, {cwdLength}, {rootLength}: each must be at most {MaxPath}");
        reader.RequireLength(exeLength + cwdLength + rootLength);
        reader.Require((flags & ~1u) == 0, $"unknown flags 0x{flags:x}");
        var noExe = (flags & 1) != 0;
        reader.Require(!noExe || exeLength == 0, $"an executable path with the no-executable flag");
        reader.Require(!reader.Next(out _), $"more than one record");
        var strings = record[PathsFixed..];
        return new GuestProcessPaths(noExe ? null : Utf8(strings[..exeLength]), Utf8(strings.Slice(exeLength, cwdLength)),
            Utf8(strings.Slice(exeLength + cwdLength, rootLength)));
    }

    public static List<GuestDirectoryEntry> Directory(ReadOnlySpan<byte> result)
    {
        var entries = new List<GuestDirectoryEntry>();
        var reader = new Reader(result, QueryKind.Directory, EntryFixed);
        while (reader.Next(out var record))
        {
            var nameLength = U16(record, 2);
            var type = U32(record, 4);
            reader.RequireLength(nameLength);
            reader.Require(nameLength is > 0 and <= 255, $"name_length {nameLength} is not between 1 and 255");
            var name = record.Slice(EntryFixed, nameLength);
            reader.Require(!name.Contains((byte)'/') && !name.Contains((byte)0), $"a name containing '/' or a NUL");
            reader.Require(!name.SequenceEqual("."u8) && !name.SequenceEqual(".."u8), $"'.' or '..' (the guest leaves them out)");
            reader.Require(GuestFileModes.IsKnown(type), $"type {type} is not a DT_* value");
            entries.Add(new GuestDirectoryEntry(Utf8(name), (GuestFileType)type, U64(record, 8)));
        }
        return entries;
    }

    public static GuestFileStatus Stat(ReadOnlySpan<byte> result)
    {
        var reader = new Reader(result, QueryKind.Stat, StatLength);
        reader.Require(reader.Next(out var record), $"the result holds no record");
        reader.RequireLength(0);
        reader.Require(!reader.Next(out _), $"more than one record");
        var size = U64(record, 24);
        reader.Require(size <= long.MaxValue, $"size {size} is out of range");
        var mtimeNs = BinaryPrimitives.ReadInt64LittleEndian(record[40..]);
        return new GuestFileStatus(U32(record, 4), U32(record, 8), U32(record, 12), U32(record, 16), (long)size, U64(record, 32),
            DateTimeOffset.UnixEpoch.AddTicks(mtimeNs / 100), U32(record, 48), U32(record, 52));
    }

    /// <summary>FILE_WRITE's result: the bytes written, at most <paramref name="asked"/>.</summary>
    public static long Written(ReadOnlySpan<byte> result, int asked)
    {
        if (result.Length != 8)
            throw new PortalProtocolException($"Guest answered Query FileWrite with a result of {result.Length} bytes; it is 8.");
        var written = BinaryPrimitives.ReadUInt64LittleEndian(result);
        return written <= (ulong)asked
            ? (long)written
            : throw new PortalProtocolException($"Guest answered Query FileWrite: {written} bytes written, but {asked} were sent.");
    }

    /// <summary>argv: each argument ends with a NUL; a truncated block may end without one.</summary>
    private static string[] SplitArguments(ReadOnlySpan<byte> block)
    {
        if (block.IsEmpty)
            return [];
        var text = Utf8(block[^1] == 0 ? block[..^1] : block);
        return text.Split('\0');
    }

    private static string CString(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Utf8(end < 0 ? field : field[..end]);
    }

    private static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    private static int U16(ReadOnlySpan<byte> record, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(record[offset..]);

    private static uint U32(ReadOnlySpan<byte> record, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(record[offset..]);

    private static ulong U64(ReadOnlySpan<byte> record, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(record[offset..]);

    /// <summary>Walks the records of a result, checking each one's length before it is read.</summary>
    private ref struct Reader(ReadOnlySpan<byte> result, QueryKind kind, int fixedLength)
    {
        private readonly ReadOnlySpan<byte> _result = result;
        private int _offset;
        private int _start;
        private int _index = -1;
        private int _length;

        public bool Next(out ReadOnlySpan<byte> record)
        {
            record = default;
            if (_offset == _result.Length)
                return false;
            _index++;
            _start = _offset;
            Require(_result.Length - _offset >= 2, $"{_result.Length - _offset} bytes left, too few for a length");
            _length = BinaryPrimitives.ReadUInt16LittleEndian(_result[_offset..]);
            Require(_length >= fixedLength && _length % 8 == 0 && _length <= _result.Length - _offset,
                $"length {_length} is not a multiple of 8 between {fixedLength} and the {_result.Length - _offset} bytes left");
            record = _result.Slice(_offset, _length);
            _offset += _length;
            return true;
        }

        /// <summary>The record's length must be its fixed part plus <paramref name="variable"/> bytes, padded to 8.</summary>
        public readonly void RequireLength(int variable) =>
            Require(_length == (fixedLength + variable + 7) / 8 * 8, $"length {_length} does not hold {fixedLength} + {variable} bytes padded to 8");

        public readonly void Require(bool condition, [System.Runtime.CompilerServices.InterpolatedStringHandlerArgument(nameof(condition))] ref ProblemText problem)
        {
            if (!condition)
                throw new PortalProtocolException($"Guest answered Query {kind}: record {_index} (at byte {_start}): {problem.ToString()}.");
        }
    }
}
