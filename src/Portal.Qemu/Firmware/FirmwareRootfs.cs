using System.Security.Cryptography;
using System.Text;

namespace Portal.Qemu.Firmware;

/// <summary>A firmware root filesystem Portal cannot use; the message says what is wrong with it.</summary>
public class FirmwareRootfsException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A firmware's root filesystem, read into memory from a directory, a tarball (<c>.tar</c>,
/// <c>.tar.gz</c>, <c>.tar.xz</c>, <c>.tar.bz2</c>), a squashfs image or a raw vendor image holding one
/// (<see cref="Load"/>). It is only ever read: the guest boots a copy of it, and nothing of it is
/// created on the host, so device nodes, ownership, setuid bits, hard links and symbolic links (absolute
/// ones included: in the guest the firmware is <c>/</c>) reach the guest as the image has them, without
/// root on the host, and no link in it can point anywhere on the host.
/// </summary>
public sealed class FirmwareRootfs
{
    /// <summary>Symbolic links followed in one lookup before giving up (the kernel's limit).</summary>
    private const int MaxLinkHops = 40;

    private readonly Dictionary<string, FirmwareEntry> _byPath;
    private string? _contentHash;

    internal FirmwareRootfs(string source, IReadOnlyList<FirmwareEntry> entries)
    {
        Source = source;
        Entries = entries;
        _byPath = entries.ToDictionary(entry => entry.Path, StringComparer.Ordinal);
        ContentBytes = entries.Sum(entry => (long)entry.Content.Length);
    }

    /// <summary>What it was read from (a path, with the form: "squashfs image /x/fw.sqfs").</summary>
    public string Source { get; }

    /// <summary>Every entry, parents before children, in the image's order otherwise.</summary>
    public IReadOnlyList<FirmwareEntry> Entries { get; }

    /// <summary>Bytes of file content.</summary>
    public long ContentBytes { get; }

    /// <summary>
    /// Reads the root filesystem at <paramref name="path"/>: a directory, a tarball, a squashfs image or
    /// a raw firmware image with a squashfs inside (found with binwalk). Squashfs is read with
    /// squashfs-tools-ng's <c>sqfs2tar</c>, a directory through GNU tar; nothing is unpacked on the host.
    /// </summary>
    /// <exception cref="FileNotFoundException">Nothing at <paramref name="path"/>.</exception>
    /// <exception cref="FirmwareRootfsException">Corrupt, truncated, empty, too large, an unknown format, or an entry that
    /// would leave the tree (<c>../</c>); the message says which.</exception>
    /// <exception cref="Hosting.GuestPrerequisiteException">sqfs2tar, tar or binwalk is not installed.</exception>
    public static FirmwareRootfs Load(string path, CancellationToken cancellationToken = default) =>
        FirmwareRootfsReader.Read(path, cancellationToken);

    /// <summary>The entry at <paramref name="path"/> itself (no link followed); null when there is none.</summary>
    public FirmwareEntry? Find(string path) => _byPath.GetValueOrDefault(Normalize(path));

    /// <summary>
    /// The entry <paramref name="path"/> names once every symbolic link in it is followed, inside the
    /// firmware (an absolute target starts from the firmware's root; <c>..</c> stops at it), and a hard
    /// link is taken to its file; null when it is missing or the links loop.
    /// </summary>
    public FirmwareEntry? Resolve(string path)
    {
        var pending = new LinkedList<string>(Split(path));
        var resolved = new List<string>();
        var hops = 0;
        FirmwareEntry? entry = null;
        while (pending.First is { } first)
        {
            var name = first.Value;
            pending.RemoveFirst();
            if (name == "..")
            {
                if (resolved.Count > 0)
                    resolved.RemoveAt(resolved.Count - 1);
                entry = null;
                continue;
            }
            entry = _byPath.GetValueOrDefault("/" + string.Join('/', resolved.Append(name)));
            if (entry is null)
                return null;
            if (entry.Kind == FirmwareEntryKind.SymbolicLink)
            {
                if (++hops > MaxLinkHops)
                    return null;
                var target = entry.LinkTarget ?? "";
                if (target.StartsWith('/'))
                    resolved.Clear();
                foreach (var part in Split(target).Reverse())
                    pending.AddFirst(part);
                entry = null;
                continue;
            }
            resolved.Add(name);
        }
        // Ended on ".." or on a link to a directory ("up -> ..", "here -> ."): the directory reached.
        if (entry is null && resolved.Count > 0)
            entry = _byPath.GetValueOrDefault("/" + string.Join('/', resolved));
        if (entry?.Kind == FirmwareEntryKind.HardLink)
            entry = _byPath.GetValueOrDefault(entry.LinkTarget!);
        return entry;
    }

    /// <summary>A hash of everything in the image (paths, metadata, content): the key of the guest image built from it.</summary>
    public string ContentHash => _contentHash ??= ComputeHash();

    /// <summary>"/a/./b//c/" → "/a/b/c" (".." is kept: only <see cref="Resolve"/> gives it meaning).</summary>
    internal static string Normalize(string path) => "/" + string.Join('/', Split(path));

    private static string[] Split(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".").ToArray();

    private string ComputeHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[8];
        foreach (var entry in Entries)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{entry.Path}\0{entry.Kind}\0{entry.Permissions}\0{entry.Uid}\0{entry.Gid}\0" +
                $"{entry.LinkTarget}\0{entry.DeviceMajor}\0{entry.DeviceMinor}\0"));
            BitConverter.TryWriteBytes(number, (long)entry.Content.Length);
            hash.AppendData(number);
            hash.AppendData(entry.Content.Span);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
