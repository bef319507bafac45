using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Portal.Testing.Processes;
using static Portal.Testing.Emulation.GuestWire;

namespace Portal.Testing.Emulation;

/// <summary>
/// A QUERY's result as the guest builds it (docs/protocol.md §3.4): records back to back, little-endian,
/// each starting with its le16 length and ending with its variable bytes zero-padded to 8. It holds at
/// most 4 MiB: an append that would pass that returns false, and the query fails with E2BIG.
/// </summary>
internal sealed class QueryResult
{
    // Fixed parts of the records
    private const int ProcessFixed = 64, MappingFixed = 48, FileFixed = 32, PathsFixed = 16, EntryFixed = 16, StatLength = 56;

    // Record flags
    private const uint KernelThread = 1, ArgvTruncated = 2;
    private const uint MappingRead = 1, MappingWrite = 2, MappingShared = 8, MappingPathTruncated = 0x10;
    private const uint FilePathTruncated = 1;
    private const uint NoExecutable = 1;

    /// <summary>The device of the emulated file system's files, as a mapping names it (an in-memory file system's anonymous device).</summary>
    private const uint FileDeviceMajor = 0, FileDeviceMinor = 1;

    private readonly ArrayBufferWriter<byte> _bytes = new();

    public byte[] ToArray() => _bytes.WrittenSpan.ToArray();

    /// <summary>Raw bytes: FILE_READ's content, FILE_WRITE's count.</summary>
    public bool AddBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > QueryResultLimit - _bytes.WrittenCount)
            return false;
        _bytes.Write(bytes);
        return true;
    }

    /// <summary>A process record: ids, state, start time, comm and the first <paramref name="argvMax"/> bytes of argv.</summary>
    public bool AddProcess(EmulatedProcess process, int argvMax)
    {
        var argv = EmulatedProcess.Block(process.Arguments);
        var argvLength = Math.Min(argv.Length, argvMax);
        Span<byte> record = stackalloc byte[ProcessFixed];
        record.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(record[2..], (ushort)argvLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (process.IsKernelThread ? KernelThread : 0) | (argv.Length > argvMax ? ArgvTruncated : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)process.Pid);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)process.ParentPid);
        BinaryPrimitives.WriteUInt32LittleEndian(record[16..], 1);          // one thread
        BinaryPrimitives.WriteUInt32LittleEndian(record[20..], 'S');        // sleeping: as ps shows a process between syscalls
        // uid, euid, gid, egid (24..40): 0, everything runs as root
        BinaryPrimitives.WriteInt64LittleEndian(record[40..], process.StartedNanoseconds);
        var comm = Encoding.UTF8.GetBytes(process.Comm);
        comm.AsSpan(0, Math.Min(15, comm.Length)).CopyTo(record[48..]);
        return AddRecord(record, argv.AsSpan(0, argvLength));
    }

    /// <summary>A mapping record: one run of like pages; a file's path, offset and inode, or none for anonymous memory.</summary>
    public bool AddMapping(MemoryRun run)
    {
        var (path, truncated) = Limited(run.Origin?.Path ?? "");
        Span<byte> record = stackalloc byte[MappingFixed];
        record.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(record[2..], (ushort)path.Length);
        var flags = ((run.Protection & PageProtection.Read) != 0 ? MappingRead : 0) | ((run.Protection & PageProtection.Write) != 0 ? MappingWrite : 0)
            | (run.Origin is { Shared: true } ? MappingShared : 0) | (truncated ? MappingPathTruncated : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(record[8..], run.Start);
        BinaryPrimitives.WriteUInt64LittleEndian(record[16..], run.End);
        if (run.Origin is { } file)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(record[24..], file.Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(record[32..], file.Inode);
            BinaryPrimitives.WriteUInt32LittleEndian(record[40..], FileDeviceMajor);
            BinaryPrimitives.WriteUInt32LittleEndian(record[44..], FileDeviceMinor);
        }
        return AddRecord(record, path);
    }

    /// <summary>A file descriptor record: the path readlink shows, the open flags, the inode's mode, the position.</summary>
    public bool AddFileDescriptor(int fd, string path, int openFlags, uint mode, long position)
    {
        var (name, truncated) = Limited(path);
        Span<byte> record = stackalloc byte[FileFixed];
        record.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(record[2..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], truncated ? FilePathTruncated : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)fd);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)openFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(record[16..], mode);
        BinaryPrimitives.WriteInt64LittleEndian(record[24..], position);
        return AddRecord(record, name);
    }

    /// <summary>The paths record: executable (null: none, flagged), working directory, root; each cut at 4095 bytes.</summary>
    public bool AddPaths(string? executable, string workingDirectory, string root)
    {
        var exe = Limited(executable ?? "").Bytes;
        var cwd = Limited(workingDirectory).Bytes;
        var rootBytes = Limited(root).Bytes;
        Span<byte> record = stackalloc byte[PathsFixed];
        record.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(record[2..], (ushort)exe.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(record[4..], (ushort)cwd.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(record[6..], (ushort)rootBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], executable is null ? NoExecutable : 0);
        return AddRecord(record, [.. exe, .. cwd, .. rootBytes]);
    }

    /// <summary>A directory entry record: name, DT_* type, inode.</summary>
    public bool AddEntry(DirectoryEntry entry)
    {
        var name = Encoding.UTF8.GetBytes(entry.Name);      // 1..255 bytes: the file system holds no longer names
        Span<byte> record = stackalloc byte[EntryFixed];
        record.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(record[2..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], entry.Kind switch
        {
            NodeKind.Directory => 4u,           // DT_DIR
            NodeKind.CharacterDevice => 2u,     // DT_CHR
            _ => 8u,                            // DT_REG
        });
        BinaryPrimitives.WriteUInt64LittleEndian(record[8..], entry.Inode);
        return AddRecord(record, name);
    }

    /// <summary>The stat record.</summary>
    public bool AddStat(NodeStatus status)
    {
        Span<byte> record = stackalloc byte[StatLength];
        record.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], status.Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], status.Links);
        // uid, gid (12..20): 0, root's
        BinaryPrimitives.WriteInt64LittleEndian(record[24..], status.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(record[32..], status.Inode);
        BinaryPrimitives.WriteInt64LittleEndian(record[40..], status.ModifiedNanoseconds);
        BinaryPrimitives.WriteUInt32LittleEndian(record[48..], status.DeviceMajor);
        BinaryPrimitives.WriteUInt32LittleEndian(record[52..], status.DeviceMinor);
        return AddRecord(record, []);
    }

    /// <summary>Appends the fixed part (its length field set here), the variable bytes and the zero padding to 8.</summary>
    private bool AddRecord(Span<byte> fixedPart, ReadOnlySpan<byte> variable)
    {
        var length = (fixedPart.Length + variable.Length + 7) / 8 * 8;
        if (length > QueryResultLimit - _bytes.WrittenCount)
            return false;
        BinaryPrimitives.WriteUInt16LittleEndian(fixedPart, (ushort)length);
        _bytes.Write(fixedPart);
        _bytes.Write(variable);
        var padding = length - fixedPart.Length - variable.Length;
        _bytes.GetSpan(padding)[..padding].Clear();
        _bytes.Advance(padding);
        return true;
    }

    /// <summary>A path as a record carries it: at most 4095 bytes, and whether it was cut.</summary>
    private static (byte[] Bytes, bool Truncated) Limited(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        return bytes.Length <= QueryStringLimit ? (bytes, false) : (bytes[..QueryStringLimit], true);
    }
}
