using System.Buffers.Binary;
using System.Text;
using Portal.Abi;
using Portal.Testing.Processes;
using static Portal.Testing.Emulation.GuestWire;

namespace Portal.Testing.Emulation;

/// <summary>
/// QUERY and QUERY_PAGE (docs/protocol.md §3.4), as portal.ko's control thread serves them: refused on
/// a vCPU slot (EPERM), parameters checked to the byte (EINVAL), the whole result built at once from the
/// emulated kernel (processes, memory, descriptors, file system), then handed out 4056 bytes a page.
/// One result is held at a time: a new QUERY replaces it, and it is freed once a page reaching its end
/// is served; QUERY_PAGE for any other id is ESTALE. Never throws on what the host sends.
/// </summary>
internal sealed class QueryServer(EmulatedKernel kernel)
{
    private const uint OnlyContaining = 1;     // MAPPINGS: only the mapping containing the address
    private const uint NoFollow = 1;           // STAT: do not follow a final symlink (there are none here)
    private const uint SocketMode = 0xc1ff;    // S_IFSOCK | 0777, as a socket's inode shows

    private readonly Lock _lock = new();
    private byte[]? _result;        // the held result, null when none is
    private ulong _resultId;        // its id
    private ulong _lastId;          // ids only grow: a stale id never names a new result

    /// <summary>Serves QUERY or QUERY_PAGE. <paramref name="held"/> is the process a vCPU slot holds; null on the control slot.</summary>
    public void Serve(Span<byte> region, EmulatedProcess? held)
    {
        // Only a vCPU slot holds a syscall, and a held syscall cannot wait for what a query may do (sleep).
        if (held is not null)
        {
            Fail(region, GuestErrno.EPERM);
            return;
        }
        lock (_lock)
        {
            if (Op(region) == OpQuery)
                ServeQuery(region);
            else
                ServePage(region);
        }
    }

    private void ServeQuery(Span<byte> region)
    {
        _result = null;     // a new QUERY replaces the held result, whatever becomes of this one
        var size = Size(region);
        if (size > DataCapacity)
        {
            Fail(region, GuestErrno.EINVAL);
            return;
        }
        // The answer goes into the same region: the parameters are copied out first, as the module does.
        var parameters = Data(region)[..(int)size].ToArray();
        var result = new QueryResult();
        var errno = Run(Addr(region), parameters, result);
        if (errno != GuestErrno.None)
        {
            Fail(region, errno);
            return;
        }
        _result = result.ToArray();
        _resultId = ++_lastId;
        RespondPage(region, 0);
    }

    private void ServePage(Span<byte> region)
    {
        if (Size(region) != 8)
        {
            Fail(region, GuestErrno.EINVAL);
            return;
        }
        var offset = BinaryPrimitives.ReadUInt64LittleEndian(Data(region));
        if (_result is null || Addr(region) != _resultId)
            Fail(region, GuestErrno.ESTALE);
        else if (offset >= (ulong)_result.Length)
            Fail(region, GuestErrno.EINVAL);
        else
            RespondPage(region, (int)offset);
    }

    /// <summary>The page at <paramref name="offset"/>: le64 total, le64 offset, up to 4056 bytes; frees the result at its end.</summary>
    private void RespondPage(Span<byte> region, int offset)
    {
        var result = _result!;
        var data = Data(region);
        var count = Math.Min(QueryPageCapacity, result.Length - offset);
        BinaryPrimitives.WriteUInt64LittleEndian(data, (ulong)result.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(data[8..], (ulong)offset);
        result.AsSpan(offset, count).CopyTo(data[QueryPageHeader..]);
        if (offset + count == result.Length)
            _result = null;
        Respond(region, ExtOk, _resultId, (ulong)(QueryPageHeader + count));
    }

    private void Fail(Span<byte> region, GuestErrno errno) => Respond(region, ExtFail, (ulong)kernel.Abi.ToNativeErrno(errno), 0);

    /// <summary>Runs the query of <paramref name="kind"/> into <paramref name="result"/>; the errno of a refusal.</summary>
    private GuestErrno Run(ulong kind, ReadOnlySpan<byte> parameters, QueryResult result) => kind switch
    {
        QueryProcesses => Processes(parameters, result),
        QueryMappings => Mappings(parameters, result),
        QueryFiles => Files(parameters, result),
        QueryPaths => Paths(parameters, result),
        QueryFileRead => FileRead(parameters, result),
        QueryFileWrite => FileWrite(parameters, result),
        QueryDirectory => Directory(parameters, result),
        QueryStat => Stat(parameters, result),
        _ => GuestErrno.EINVAL,
    };

    /// <summary>PROCESSES: le32 argv_max (0..4096), le32 flags (0).</summary>
    private GuestErrno Processes(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length != 8 || U32(p, 0) > QueryArgvLimit || U32(p, 4) != 0)
            return GuestErrno.EINVAL;
        foreach (var process in kernel.Processes.Snapshot())
        {
            if (!result.AddProcess(process, (int)U32(p, 0)))
                return GuestErrno.E2BIG;
        }
        return GuestErrno.None;
    }

    /// <summary>MAPPINGS: le32 pid, le32 flags (bit 0: only the mapping containing address), le64 address.</summary>
    private GuestErrno Mappings(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length != 16 || (U32(p, 4) & ~OnlyContaining) != 0)
            return GuestErrno.EINVAL;
        if (kernel.Processes.Find(U32(p, 0)) is not { } process)
            return GuestErrno.ESRCH;
        if (process.IsKernelThread)
            return GuestErrno.None;     // no memory of its own: no mappings
        var onlyContaining = (U32(p, 4) & OnlyContaining) != 0;
        var address = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]);
        foreach (var run in process.Memory.Runs())
        {
            if (onlyContaining && (address < run.Start || address >= run.End))
                continue;
            if (!result.AddMapping(run))
                return GuestErrno.E2BIG;
        }
        return GuestErrno.None;
    }

    /// <summary>FILES: le32 pid, le32 flags (0). One record per open descriptor, by fd.</summary>
    private GuestErrno Files(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length != 8 || U32(p, 4) != 0)
            return GuestErrno.EINVAL;
        if (kernel.Processes.Find(U32(p, 0)) is not { } process)
            return GuestErrno.ESRCH;
        KeyValuePair<int, OpenFile>[] descriptors;
        lock (process.Files)
            descriptors = [.. process.Files.OrderBy(f => f.Key)];
        foreach (var (fd, file) in descriptors)
        {
            if (!result.AddFileDescriptor(fd, file.Path, file.Flags, ModeOf(file), file.Position))
                return GuestErrno.E2BIG;
        }
        return GuestErrno.None;
    }

    /// <summary>The inode's type and permissions: the file system's, or a socket's.</summary>
    private uint ModeOf(OpenFile file) =>
        file.Kind != FileKind.Socket && kernel.Files.Stat(file.Path, out var status) == GuestErrno.None ? status.Mode : SocketMode;

    /// <summary>PATHS: le32 pid, le32 flags (0). The executable (none for a kernel thread), the working directory, the root.</summary>
    private GuestErrno Paths(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length != 8 || U32(p, 4) != 0)
            return GuestErrno.EINVAL;
        if (kernel.Processes.Find(U32(p, 0)) is not { } process)
            return GuestErrno.ESRCH;
        return result.AddPaths(process.Executable, process.WorkingDirectory, "/") ? GuestErrno.None : GuestErrno.E2BIG;
    }

    /// <summary>FILE_READ: le64 offset, le32 max_length (1..1 MiB), le32 path_length, path.</summary>
    private GuestErrno FileRead(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length < 16)
            return GuestErrno.EINVAL;
        var offset = BinaryPrimitives.ReadUInt64LittleEndian(p);
        var maxLength = U32(p, 8);
        var pathLength = U32(p, 12);
        if (p.Length != 16 + (long)pathLength || maxLength is 0 or > QueryReadLimit || offset > long.MaxValue
            || !TryPath(p[16..], pathLength, out var path))
            return GuestErrno.EINVAL;
        var errno = kernel.Files.Read(path, (long)offset, (int)maxLength, out var bytes);
        return errno != GuestErrno.None ? errno : result.AddBytes(bytes) ? GuestErrno.None : GuestErrno.E2BIG;
    }

    /// <summary>
    /// FILE_WRITE: le64 offset, le32 flags (create, truncate, append), le32 mode (≤ 07777), le32 path_length,
    /// le32 data_length, path, data. The result is le64 bytes written.
    /// </summary>
    private GuestErrno FileWrite(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length < 24)
            return GuestErrno.EINVAL;
        var offset = BinaryPrimitives.ReadUInt64LittleEndian(p);
        var flags = U32(p, 8);
        var mode = U32(p, 12);
        var pathLength = U32(p, 16);
        var dataLength = U32(p, 20);
        const uint KnownFlags = (uint)(FileWriteFlags.Create | FileWriteFlags.Truncate | FileWriteFlags.Append);
        if (p.Length != 24L + pathLength + dataLength || offset > long.MaxValue || (flags & ~KnownFlags) != 0 || mode > 0xfff /* 07777 */
            || !TryPath(p[24..], pathLength, out var path))
            return GuestErrno.EINVAL;
        var data = p.Slice(24 + (int)pathLength, (int)dataLength);
        var errno = kernel.Files.Write(path, (long)offset, (FileWriteFlags)flags, mode, data, out var written);
        if (errno != GuestErrno.None)
            return errno;
        Span<byte> count = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(count, written);
        return result.AddBytes(count) ? GuestErrno.None : GuestErrno.E2BIG;
    }

    /// <summary>DIRECTORY: le32 path_length, le32 flags (0), path.</summary>
    private GuestErrno Directory(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length < 8 || p.Length != 8 + (long)U32(p, 0) || U32(p, 4) != 0 || !TryPath(p[8..], U32(p, 0), out var path))
            return GuestErrno.EINVAL;
        var errno = kernel.Files.List(path, out var entries);
        if (errno != GuestErrno.None)
            return errno;
        foreach (var entry in entries)
        {
            if (!result.AddEntry(entry))
                return GuestErrno.E2BIG;
        }
        return GuestErrno.None;
    }

    /// <summary>STAT: le32 path_length, le32 flags (bit 0: do not follow a final symlink), path.</summary>
    private GuestErrno Stat(ReadOnlySpan<byte> p, QueryResult result)
    {
        if (p.Length < 8 || p.Length != 8 + (long)U32(p, 0) || (U32(p, 4) & ~NoFollow) != 0 || !TryPath(p[8..], U32(p, 0), out var path))
            return GuestErrno.EINVAL;
        var errno = kernel.Files.Stat(path, out var status);
        return errno != GuestErrno.None ? errno : result.AddStat(status) ? GuestErrno.None : GuestErrno.E2BIG;
    }

    /// <summary>A path parameter: 1..4000 bytes, absolute, no NUL (the caller has checked that it lies in the parameters).</summary>
    private static bool TryPath(ReadOnlySpan<byte> bytes, uint length, out string path)
    {
        path = "";
        if (length is 0 or > QueryPathLimit || length > bytes.Length)
            return false;
        var raw = bytes[..(int)length];
        if (raw[0] != (byte)'/' || raw.Contains((byte)0))
            return false;
        path = Encoding.UTF8.GetString(raw);
        return true;
    }

    private static uint U32(ReadOnlySpan<byte> p, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(p[offset..]);
}
