using System.Buffers.Binary;
using System.Text;
using Portal.Protocol;

namespace Portal.Introspection;

/// <summary>How <see cref="GuestFiles.WriteAsync"/> opens the file.</summary>
[Flags]
public enum GuestWriteMode
{
    /// <summary>The file must exist; write at the offset.</summary>
    None = 0,
    /// <summary>Create the file if it does not exist.</summary>
    Create = 1,
    /// <summary>Empty the file first.</summary>
    Truncate = 2,
    /// <summary>Write at its end, whatever the offset.</summary>
    Append = 4,
}

/// <summary>
/// Files of the guest, by path (<c>session.Files</c>): regular files and what procfs, sysfs and devfs
/// offer, read and written with the guest kernel's own credentials in the init process's root. Each
/// call is one QUERY or a few on the control slot (docs/protocol.md §3.4). A file that cannot be read
/// is an error with the guest's errno, never an empty file.
/// </summary>
public sealed class GuestFiles
{
    /// <summary>Permissions of a file <see cref="WriteAllBytesAsync"/> creates.</summary>
    public const int DefaultCreateMode = 0x1a4;     // 0644

    /// <summary>Largest file <see cref="ReadAllBytesAsync"/> reads unless told otherwise.</summary>
    public const long DefaultMaxLength = 64L << 20;

    private readonly QueryChannel _queries;

    internal GuestFiles(QueryChannel queries) => _queries = queries;

    /// <summary>
    /// The whole file. The guest reads up to 1 MiB per query in one go (so a procfs file under 1 MiB is
    /// one consistent read), and continues where a full read stopped.
    /// </summary>
    /// <exception cref="Memory.GuestOperationException">The guest could not open or read it (ENOENT, EACCES, EISDIR…).</exception>
    /// <exception cref="InvalidDataException">The file is longer than <paramref name="maxLength"/>.</exception>
    public async Task<byte[]> ReadAllBytesAsync(string path, long maxLength = DefaultMaxLength, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        using var content = new MemoryStream();
        while (true)
        {
            var want = (int)Math.Min(QueryWire.ReadLimit, maxLength + 1 - content.Length);
            var chunk = await ReadAsync(path, content.Length, want, cancellationToken).ConfigureAwait(false);
            content.Write(chunk);
            if (content.Length > maxLength)
                throw new InvalidDataException($"The guest file {path} is longer than the {maxLength} bytes allowed.");
            if (chunk.Length < want)
                return content.ToArray();
        }
    }

    /// <summary>The whole file as UTF-8 text.</summary>
    /// <exception cref="Memory.GuestOperationException">The guest could not open or read it.</exception>
    public async Task<string> ReadAllTextAsync(string path, CancellationToken cancellationToken = default) =>
        Encoding.UTF8.GetString(await ReadAllBytesAsync(path, DefaultMaxLength, cancellationToken).ConfigureAwait(false));

    /// <summary>Up to <paramref name="count"/> bytes (at most 1 MiB) from <paramref name="offset"/>; fewer only at the file's end.</summary>
    /// <exception cref="Memory.GuestOperationException">The guest could not open or read it.</exception>
    public async Task<byte[]> ReadAsync(string path, long offset, int count, CancellationToken cancellationToken = default)
    {
        QueryWire.CheckPath(path);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, QueryWire.ReadLimit);
        return await _queries.RunAsync(QueryKind.FileRead, (Path: path, Offset: offset, Count: count), static (s, data) =>
        {
            BinaryPrimitives.WriteInt64LittleEndian(data, s.Offset);
            BinaryPrimitives.WriteUInt32LittleEndian(data[8..], (uint)s.Count);
            var length = QueryWire.WritePath(s.Path, data[16..]);
            BinaryPrimitives.WriteUInt32LittleEndian(data[12..], (uint)length);
            return 16 + length;
        }, count, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Replaces the file's content (creating it with <paramref name="createMode"/> if needed). Large
    /// contents take one exchange per region-full; a short write by the guest is an error.
    /// </summary>
    /// <exception cref="Memory.GuestOperationException">The guest could not open or write it.</exception>
    /// <exception cref="IOException">The guest wrote fewer bytes than sent, without an error.</exception>
    public async Task WriteAllBytesAsync(string path, ReadOnlyMemory<byte> content, int createMode = DefaultCreateMode,
        CancellationToken cancellationToken = default)
    {
        var chunk = ChunkFor(path);
        var offset = 0;
        do
        {
            var piece = content.Slice(offset, Math.Min(chunk, content.Length - offset));
            var mode = offset == 0 ? GuestWriteMode.Create | GuestWriteMode.Truncate : GuestWriteMode.None;
            var written = await WriteAsync(path, offset, piece, mode, createMode, cancellationToken).ConfigureAwait(false);
            if (written != piece.Length)
                throw new IOException($"The guest wrote {written} of {piece.Length} bytes to {path} at offset {offset}.");
            offset += piece.Length;
        }
        while (offset < content.Length);
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> (or at the end, with
    /// <see cref="GuestWriteMode.Append"/>) in one exchange; returns the bytes the guest wrote. The data
    /// must fit one region with the path (about 4 KB; <see cref="WriteAllBytesAsync"/> splits).
    /// </summary>
    /// <exception cref="Memory.GuestOperationException">The guest could not open or write it.</exception>
    public async Task<long> WriteAsync(string path, long offset, ReadOnlyMemory<byte> data, GuestWriteMode mode = GuestWriteMode.None,
        int createMode = DefaultCreateMode, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(createMode);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(createMode, 0xfff);     // 07777
        if ((mode & ~(GuestWriteMode.Create | GuestWriteMode.Truncate | GuestWriteMode.Append)) != 0)
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown write mode.");
        var chunk = ChunkFor(path);
        if (data.Length > chunk)
            throw new ArgumentException($"{data.Length} bytes do not fit one write with this path (at most {chunk}); use WriteAllBytesAsync.", nameof(data));
        var result = await _queries.RunAsync(QueryKind.FileWrite, (Path: path, Offset: offset, Data: data, Mode: mode, CreateMode: createMode),
            static (s, region) =>
            {
                BinaryPrimitives.WriteInt64LittleEndian(region, s.Offset);
                BinaryPrimitives.WriteUInt32LittleEndian(region[8..], (uint)s.Mode);
                BinaryPrimitives.WriteUInt32LittleEndian(region[12..], (uint)s.CreateMode);
                var length = QueryWire.WritePath(s.Path, region[24..]);
                BinaryPrimitives.WriteUInt32LittleEndian(region[16..], (uint)length);
                BinaryPrimitives.WriteUInt32LittleEndian(region[20..], (uint)s.Data.Length);
                s.Data.Span.CopyTo(region[(24 + length)..]);
                return 24 + length + s.Data.Length;
            }, 8, path, cancellationToken).ConfigureAwait(false);
        return QueryRecords.Written(result, data.Length);
    }

    /// <summary>The directory's entries, without <c>.</c> and <c>..</c>, in the directory's order.</summary>
    /// <exception cref="Memory.GuestOperationException">The guest could not open it (ENOENT, ENOTDIR…).</exception>
    public async Task<IReadOnlyList<GuestDirectoryEntry>> ListDirectoryAsync(string path, CancellationToken cancellationToken = default) =>
        QueryRecords.Directory(await PathQueryAsync(QueryKind.Directory, path, 0, cancellationToken).ConfigureAwait(false));

    /// <summary>What <c>stat</c> (or <c>lstat</c>, without <paramref name="followSymlinks"/>) says about the path.</summary>
    /// <exception cref="Memory.GuestOperationException">ENOENT and the like.</exception>
    public async Task<GuestFileStatus> StatAsync(string path, bool followSymlinks = true, CancellationToken cancellationToken = default) =>
        QueryRecords.Stat(await PathQueryAsync(QueryKind.Stat, path, followSymlinks ? 0u : 1u, cancellationToken).ConfigureAwait(false));

    private Task<byte[]> PathQueryAsync(QueryKind kind, string path, uint flags, CancellationToken cancellationToken)
    {
        QueryWire.CheckPath(path);
        return _queries.RunAsync(kind, (Path: path, Flags: flags), static (s, data) =>
        {
            var length = QueryWire.WritePath(s.Path, data[8..]);
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)length);
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], s.Flags);
            return 8 + length;
        }, QueryWire.ResultLimit, path, cancellationToken);
    }

    /// <summary>Most data bytes one FILE_WRITE can carry with this path.</summary>
    private static int ChunkFor(string path) => RegionLayout.DataCapacity - 24 - QueryWire.CheckPath(path);
}
