using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using Portal.Qemu.Hosting;
using SharpCompress.Compressors.BZip2;
using SharpCompress.Compressors.Xz;

namespace Portal.Qemu.Firmware;

/// <summary>
/// Turns every input form into one tar stream and reads that into a <see cref="FirmwareRootfs"/>:
/// a tarball directly (gzip and its tar through the BCL, xz and bzip2 through SharpCompress), a squashfs
/// image through squashfs-tools-ng's <c>sqfs2tar</c> (which reads it without root: no unpacking, device
/// nodes and hard links kept), a directory through GNU tar (which does not follow its links), and a raw
/// vendor image by cutting out the squashfs binwalk finds in it. Every entry is checked as untrusted
/// input: its name must stay inside the tree, a hard link must name an earlier file, and the sizes are bounded.
/// </summary>
internal static class FirmwareRootfsReader
{
    /// <summary>
    /// Bound on the file content read (the firmware lives in the guest's RAM: its initramfs has about
    /// 60 MiB compressed, and the whole guest 255 MiB).
    /// </summary>
    public const long MaxContentBytes = 160L << 20;

    /// <summary>Bound on the number of entries.</summary>
    public const int MaxEntries = 200_000;

    /// <summary>Bound on a path or a link target (the kernel's PATH_MAX).</summary>
    private const int MaxPathLength = 4095;

    private enum Format { Tar, Gzip, Xz, Bzip2, Squashfs, Unknown }

    public static FirmwareRootfs Read(string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            return FromProcess("tar", ["--numeric-owner", "-C", full, "-cf", "-", "."], "GNU tar (Debian package tar)", $"directory {full}", cancellationToken);
        if (!File.Exists(full))
            throw new FileNotFoundException($"No firmware root filesystem at {full} (a directory, tarball, squashfs image or firmware image).", full);
        if (new FileInfo(full).Length == 0)
            throw new FirmwareRootfsException($"The file {full} is empty: not a root filesystem.");

        using var file = File.OpenRead(full);
        var format = Sniff(file);
        file.Position = 0;
        var source = format switch
        {
            Format.Tar => $"tarball {full}",
            Format.Gzip => $"gzip tarball {full}",
            Format.Xz => $"xz tarball {full}",
            Format.Bzip2 => $"bzip2 tarball {full}",
            Format.Squashfs => $"squashfs image {full}",
            _ => $"firmware image {full}",
        };
        try
        {
            switch (format)
            {
                case Format.Tar:
                    return FromTar(file, source, cancellationToken);
                case Format.Gzip:
                    using (var gzip = new GZipStream(file, CompressionMode.Decompress))
                        return FromCompressedTar(gzip, source, cancellationToken);
                case Format.Xz:
                    using (var xz = new XZStream(file))
                        return FromCompressedTar(xz, source, cancellationToken);
                case Format.Bzip2:
                    // BZip2Stream reads its first block as it is made: a broken file fails here already.
                    using (var bzip2 = BZip2Stream.Create(file, SharpCompress.Compressors.CompressionMode.Decompress, decompressConcatenated: true))
                        return FromCompressedTar(bzip2, source, cancellationToken);
                case Format.Squashfs:
                    return FromSquashfs(full, source, cancellationToken);
                default:
                    file.Dispose();
                    return FromFirmwareImage(full, source, cancellationToken);
            }
        }
        catch (Exception e) when (IsCorruption(e) && e is not FirmwareRootfsException)
        {
            throw new FirmwareRootfsException($"The {source} is corrupt or truncated: {e.Message}", e);
        }
    }

    private static Format Sniff(Stream file)
    {
        Span<byte> head = stackalloc byte[512];
        var length = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..length];
        if (head.StartsWith((ReadOnlySpan<byte>)[0x1f, 0x8b]))
            return Format.Gzip;
        if (head.StartsWith((ReadOnlySpan<byte>)[0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0]))
            return Format.Xz;
        if (head.StartsWith("BZh"u8))
            return Format.Bzip2;
        if (head.StartsWith("hsqs"u8))
            return Format.Squashfs;
        return IsTarHeader(head) ? Format.Tar : Format.Unknown;
    }

    /// <summary>A POSIX/GNU tar header: "ustar" at 257.</summary>
    private static bool IsTarHeader(ReadOnlySpan<byte> block) => block.Length >= 262 && block[257..262].SequenceEqual("ustar"u8);

    /// <summary>A compressed stream must hold a tarball; say so plainly when it holds something else.</summary>
    private static FirmwareRootfs FromCompressedTar(Stream decompressed, string source, CancellationToken cancellationToken)
    {
        var head = new byte[512];
        int length;
        try
        {
            length = decompressed.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (IsCorruption(e))
        {
            throw new FirmwareRootfsException($"The {source} is corrupt: {e.Message}", e);
        }
        if (length < head.Length)
            throw new FirmwareRootfsException($"The {source} is corrupt or truncated: it unpacks to {length} bytes, less than one tar header.");
        if (!IsTarHeader(head.AsSpan(0, length)))
            throw new FirmwareRootfsException($"The {source} does not hold a tar archive (a root filesystem is a directory, a tarball or a squashfs image).");
        return FromTar(new PrefixedStream(head.AsMemory(0, length), decompressed), source, cancellationToken);
    }

    private static FirmwareRootfs FromSquashfs(string image, string source, CancellationToken cancellationToken) =>
        FromProcess("sqfs2tar", ["--no-xattr", image], "sqfs2tar (Debian package squashfs-tools-ng)", source, cancellationToken);

    /// <summary>
    /// A raw vendor image (uImage header, kernel, squashfs...): binwalk finds the squashfs, which is cut
    /// out into Portal's scratch directory (removed afterwards) and read like any squashfs image.
    /// </summary>
    private static FirmwareRootfs FromFirmwareImage(string image, string source, CancellationToken cancellationToken)
    {
        var scratch = Directory.CreateTempSubdirectory("portal-firmware-").FullName;
        try
        {
            var log = Path.Combine(scratch, "binwalk.csv");
            var scan = RunTool("binwalk", ["--signature", "--csv", "--quiet", "--log", log, image], "binwalk (Debian package binwalk)",
                consume: null, cancellationToken);
            if (scan.ExitCode != 0)
                throw new FirmwareRootfsException($"binwalk could not scan the {source} (exit {scan.ExitCode}): {Last(scan.Errors)}");
            var offset = File.Exists(log) ? File.ReadLines(log).Skip(1).Select(SquashfsOffset).FirstOrDefault(o => o >= 0, -1) : -1;
            if (offset < 0)
                throw new FirmwareRootfsException(
                    $"The {source} is not a directory, a tarball (.tar, .tar.gz, .tar.xz, .tar.bz2) or a squashfs image, and binwalk found no squashfs file system in it.");
            var squashfs = Path.Combine(scratch, "rootfs.sqfs");
            using (var input = File.OpenRead(image))
            using (var output = File.Create(squashfs))
            {
                input.Position = offset;
                input.CopyTo(output);
            }
            return FromSquashfs(squashfs, $"squashfs at offset 0x{offset:x} of the {source}", cancellationToken);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>binwalk's CSV line "DECIMAL,HEXADECIMAL,DESCRIPTION" → the offset of a squashfs, or -1.</summary>
    private static long SquashfsOffset(string line)
    {
        var fields = line.Split(',', 3);
        return fields.Length == 3 && fields[2].Contains("Squashfs filesystem", StringComparison.Ordinal)
               && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : -1;
    }

    /// <summary>Reads the tar stream a tool writes on its stdout; the tool's failure is the input's.</summary>
    private static FirmwareRootfs FromProcess(string program, IReadOnlyList<string> arguments, string package, string source, CancellationToken cancellationToken)
    {
        FirmwareRootfs? rootfs = null;
        var run = RunTool(program, arguments, package, stdout => rootfs = FromTar(stdout, source, cancellationToken), cancellationToken);
        // A tool that failed by itself explains a broken stream best (sqfs2tar: "not a squashfs image"); one stopped
        // because the stream was refused (too large, a bad entry) did not fail.
        if (run.ExitCode != 0 && !run.Stopped)
            throw new FirmwareRootfsException($"Cannot read the {source}: {program} failed (exit {run.ExitCode}): {Last(run.Errors)}", run.ReadError);
        if (run.ReadError is not null)
            throw run.ReadError;
        return rootfs!;
    }

    private sealed record ToolRun(int ExitCode, string Errors, bool Stopped, FirmwareRootfsException? ReadError);

    private static ToolRun RunTool(string program, IReadOnlyList<string> arguments, string package, Action<Stream>? consume,
        CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception)
        {
            throw new GuestPrerequisiteException($"{program} is needed to read firmware images and is not installed: {package}. " +
                $"Install it with: sudo {GuestPrerequisiteException.SetupScript}");
        }
        using (process)
        {
            using var kill = cancellationToken.Register(() => KillQuietly(process));
            var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
            FirmwareRootfsException? readError = null;
            var stopped = false;
            var stdout = new EndTrackingStream(process.StandardOutput.BaseStream);
            try
            {
                consume?.Invoke(stdout);
                stdout.CopyTo(Stream.Null);      // what follows the archive's end (tar pads its records)
            }
            catch (FirmwareRootfsException e)
            {
                // Refused before the tool's output ended (too large, a bad entry): the tool must not wait on a full pipe.
                // Output that ended early is the tool's own failure, which its exit code and message explain.
                readError = e;
                stopped = !stdout.Ended;
                if (stopped)
                    KillQuietly(process);
            }
            catch
            {
                KillQuietly(process);
                process.WaitForExit();
                throw;
            }
            process.WaitForExit();
            cancellationToken.ThrowIfCancellationRequested();
            return new ToolRun(process.ExitCode, errors.GetAwaiter().GetResult(), stopped, readError);
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    private static string Last(string text) => string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(3));

    private static bool IsCorruption(Exception e) => e is InvalidDataException or FormatException or EndOfStreamException or InvalidOperationException
        or SharpCompress.Common.SharpCompressException or IOException;

    /// <summary>Reads the entries of a tar stream, checking each as untrusted input.</summary>
    private static FirmwareRootfs FromTar(Stream stream, string source, CancellationToken cancellationToken)
    {
        var entries = new List<FirmwareEntry>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        long content = 0;
        try
        {
            using var reader = new TarReader(stream, leaveOpen: true);
            while (reader.GetNextEntry(copyData: false) is { } tar)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (tar.EntryType == TarEntryType.GlobalExtendedAttributes)
                    continue;       // pax global header (git archive writes one): metadata, not a file
                var path = EntryPath(tar.Name, source);
                if (path is null)
                    continue;       // the root itself
                var entry = ToEntry(tar, path, source, index, entries);
                if (entry is null)
                    continue;
                if (tar.DataStream is { } data && entry.Kind == FirmwareEntryKind.File)
                {
                    if (tar.Length > MaxContentBytes - content)
                        throw TooLarge(source);
                    var bytes = new byte[tar.Length];
                    data.ReadExactly(bytes);
                    content += bytes.Length;
                    entry = entry with { Content = bytes };
                }
                AddParents(path, entries, index);
                if (index.TryGetValue(path, out var earlier))
                {
                    // A later entry of the same name replaces the earlier one, as tar itself extracts; but not a
                    // directory by a non-directory (its children would hang under a file) nor a file hard links name.
                    var replaced = entries[earlier];
                    if (replaced.Kind != entry.Kind && (replaced.Kind == FirmwareEntryKind.Directory || entry.Kind == FirmwareEntryKind.Directory))
                        throw new FirmwareRootfsException($"The {source} has {path} twice: as a {replaced.Kind} and as a {entry.Kind}.");
                    if (replaced.Kind == FirmwareEntryKind.File && entries.Any(e => e.Kind == FirmwareEntryKind.HardLink && e.LinkTarget == path))
                        throw new FirmwareRootfsException($"The {source} replaces {path}, which hard links earlier in it name.");
                    entries[earlier] = entry;
                }
                else
                {
                    if (entries.Count >= MaxEntries)
                        throw new FirmwareRootfsException($"The {source} has more than {MaxEntries} entries: Portal does not boot a root filesystem that large.");
                    index[path] = entries.Count;
                    entries.Add(entry);
                }
            }
        }
        catch (Exception e) when (IsCorruption(e) && e is not FirmwareRootfsException)
        {
            throw new FirmwareRootfsException($"The {source} is corrupt or truncated: {e.Message}", e);
        }
        if (!entries.Any(entry => entry.Kind != FirmwareEntryKind.Directory))
            throw new FirmwareRootfsException($"The {source} is empty: no files in it.");
        return new FirmwareRootfs(source, entries);
    }

    private static FirmwareRootfsException TooLarge(string source) =>
        new($"The {source} holds more than {MaxContentBytes >> 20} MiB of files: the guest keeps the firmware in its RAM (255 MiB), so Portal does not boot one that large.");

    /// <summary>"./bin/sh" or "bin/sh" → "/bin/sh"; null for the root; an error for a name that would leave the tree.</summary>
    private static string? EntryPath(string name, string source)
    {
        if (name.Length > MaxPathLength || name.Contains('\0', StringComparison.Ordinal))
            throw new FirmwareRootfsException($"The {source} has an entry with an invalid name ({name.Length} characters).");
        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".").ToArray();
        if (parts.Contains(".."))
            throw new FirmwareRootfsException($"The {source} has an entry that leaves the root filesystem: '{name}'. Portal refuses such archives.");
        return parts.Length == 0 ? null : "/" + string.Join('/', parts);
    }

    private static FirmwareEntry? ToEntry(TarEntry tar, string path, string source, Dictionary<string, int> index, List<FirmwareEntry> entries)
    {
        var permissions = (int)tar.Mode & 0xfff;
        var entry = new FirmwareEntry(path, FirmwareEntryKind.File, permissions, tar.Uid, tar.Gid);
        switch (tar.EntryType)
        {
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                return entry;
            case TarEntryType.Directory:
                return entry with { Kind = FirmwareEntryKind.Directory };
            case TarEntryType.SymbolicLink:
                if (tar.LinkName.Length is 0 or > MaxPathLength || tar.LinkName.Contains('\0', StringComparison.Ordinal))
                    throw new FirmwareRootfsException($"The {source} has a symbolic link with an invalid target: {path}.");
                return entry with { Kind = FirmwareEntryKind.SymbolicLink, LinkTarget = tar.LinkName };
            case TarEntryType.HardLink:
                var target = EntryPath(tar.LinkName, source);
                if (target is null || !index.TryGetValue(target, out var at) || entries[at].Kind != FirmwareEntryKind.File)
                    throw new FirmwareRootfsException($"The {source} has a hard link {path} to '{tar.LinkName}', which is not an earlier file of the archive.");
                return entry with { Kind = FirmwareEntryKind.HardLink, LinkTarget = target };
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                if (tar is not PosixTarEntry device)
                    throw new FirmwareRootfsException($"The {source} has a device node {path} in a header without device numbers (V7).");
                return entry with
                {
                    Kind = tar.EntryType == TarEntryType.CharacterDevice ? FirmwareEntryKind.CharacterDevice : FirmwareEntryKind.BlockDevice,
                    DeviceMajor = device.DeviceMajor,
                    DeviceMinor = device.DeviceMinor,
                };
            case TarEntryType.Fifo:
                return entry with { Kind = FirmwareEntryKind.Fifo };
            default:
                // Metadata entries (pax, GNU long names) are read by TarReader itself; what is left (sparse files,
                // volume headers) is not part of a root filesystem.
                throw new FirmwareRootfsException($"The {source} has an entry Portal cannot place in a root filesystem: {path} ({tar.EntryType}).");
        }
    }

    /// <summary>Directories an archive leaves implicit are created (0755, root), so that every entry's parent comes first.</summary>
    private static void AddParents(string path, List<FirmwareEntry> entries, Dictionary<string, int> index)
    {
        var parent = new StringBuilder();
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var part in parts[..^1])
        {
            parent.Append('/').Append(part);
            var directory = parent.ToString();
            if (index.ContainsKey(directory))
                continue;
            index[directory] = entries.Count;
            entries.Add(new FirmwareEntry(directory, FirmwareEntryKind.Directory, 0x1ed, 0, 0));
        }
    }

    /// <summary>What the two wrappers below share: a forward-only stream that is read, never written or sought.</summary>
    private abstract class ReadOnlyStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public abstract override int Read(Span<byte> buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A tool's output, noting whether it was read to its end (the tool closed it) or abandoned.</summary>
    private sealed class EndTrackingStream(Stream inner) : ReadOnlyStream
    {
        public bool Ended { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            var read = inner.Read(buffer);
            Ended |= read == 0 && buffer.Length > 0;
            return read;
        }
    }

    /// <summary>Bytes already read (to sniff the format) followed by the rest of the stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : ReadOnlyStream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty)
                return rest.Read(buffer);
            var count = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..count].CopyTo(buffer);
            _prefix = _prefix[count..];
            return count;
        }
    }
}
