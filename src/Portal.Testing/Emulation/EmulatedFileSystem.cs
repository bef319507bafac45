using System.Text;
using Portal.Abi;

namespace Portal.Testing.Emulation;

/// <summary>What a path names in the emulated file system.</summary>
internal enum NodeKind
{
    Regular,
    Directory,
    CharacterDevice,
}

/// <summary>How FILE_WRITE opens its file (docs/protocol.md §3.4: the bits of its <c>flags</c>).</summary>
[Flags]
internal enum FileWriteFlags : uint
{
    None = 0,
    Create = 1,
    Truncate = 2,
    Append = 4,
}

/// <summary>What <c>stat</c> says about a path.</summary>
internal readonly record struct NodeStatus(NodeKind Kind, uint Mode, uint Links, long Size, ulong Inode, long ModifiedNanoseconds,
    uint DeviceMajor, uint DeviceMinor);

/// <summary>One entry of a directory: its name (not the path), what it is, its inode.</summary>
internal readonly record struct DirectoryEntry(string Name, NodeKind Kind, ulong Inode);

/// <summary>
/// The emulated guest's file system, in memory: regular files (path → bytes), the directories that hold
/// them, and the character devices of <c>/dev</c>. It looks like a small root file system: <c>/</c>,
/// <c>/bin</c>, <c>/dev</c>, <c>/etc</c>, <c>/proc</c>, <c>/sys</c> and <c>/tmp</c> always exist, a
/// file's parent directories exist as long as it does, <c>/proc/version</c> names the kernel. Paths are
/// resolved as the kernel resolves them (".", "..", repeated slashes; a component that is a file is
/// ENOTDIR). Differences from a real one: everything belongs to root and nothing checks permissions
/// (the guest's programs and the module's control thread all run as root), there are no symlinks, no
/// deletion, and a file holds at most <see cref="FileSizeLimit"/> bytes.
/// </summary>
internal sealed class EmulatedFileSystem
{
    /// <summary>Largest file: a write past it fails with EFBIG (a real file system would grow a sparse file).</summary>
    public const long FileSizeLimit = 16 << 20;

    /// <summary>Longest name of one path component (NAME_MAX).</summary>
    private const int NameLimit = 255;

    // Mode bits (S_IF* and permissions; C# has no octal literals, so the octal is in the comment).
    private const uint RegularType = 0x8000;        // S_IFREG 0100000
    private const uint DirectoryType = 0x4000;      // S_IFDIR 0040000
    private const uint CharacterType = 0x2000;      // S_IFCHR 0020000
    private const uint DirectoryPermissions = 0x1ed;    // 0755
    private const uint FilePermissions = 0x1a4;         // 0644
    private const uint ReadOnlyPermissions = 0x124;     // 0444, as procfs shows /proc/version
    private const uint PermissionBits = 0xfff;          // 07777

    /// <summary>init_fs's umask (022), which the module's control thread (a kernel thread) creates files with.</summary>
    private const uint Umask = 0x12;

    private static readonly string[] StandardDirectories = ["/", "/bin", "/dev", "/etc", "/proc", "/sys", "/tmp"];

    /// <summary>The devices of /dev that the emulated kernel implements (see EmulatedKernel.Open), as Linux numbers them.</summary>
    private static readonly Dictionary<string, Device> Devices = new(StringComparer.Ordinal)
    {
        ["/dev/null"] = new(1, 3, 0x1b6, ReadsZeros: false),        // crw-rw-rw-
        ["/dev/zero"] = new(1, 5, 0x1b6, ReadsZeros: true),         // crw-rw-rw-
        ["/dev/tty"] = new(5, 0, 0x1b6, ReadsZeros: false),         // crw-rw-rw-
        ["/dev/console"] = new(5, 1, 0x190, ReadsZeros: false),     // crw--w----
    };

    private readonly Lock _lock = new();
    private readonly Dictionary<string, RegularFile> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StandardDirectories, StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _inodes = new(StringComparer.Ordinal);
    private readonly Func<ulong> _allocateInode;
    private readonly long _createdNanoseconds = NowNanoseconds();

    /// <param name="kernelRelease">What <c>/proc/version</c> names.</param>
    /// <param name="allocateInode">The kernel's inode numbers (sockets take theirs from the same counter).</param>
    public EmulatedFileSystem(string kernelRelease, Func<ulong> allocateInode)
    {
        _allocateInode = allocateInode;
        _files["/proc/version"] = new RegularFile(Encoding.UTF8.GetBytes($"Linux version {kernelRelease} (emulated)\n"), ReadOnlyPermissions,
            _createdNanoseconds);
    }

    /// <summary>Adds or replaces a regular file, creating its directories (<see cref="EmulatedGuest.AddFile"/>).</summary>
    /// <exception cref="ArgumentException">A component is too long, or the path (or one of its directories) is something else already.</exception>
    public void Add(string path, byte[] content)
    {
        lock (_lock)
        {
            var components = Components(path.StartsWith('/') ? path : "/" + path);
            if (components.Count == 0 || components.Any(c => c == ".." || Encoding.UTF8.GetByteCount(c) > NameLimit))
                throw new ArgumentException($"'{path}' is not a file path the guest can hold (a name of 1..{NameLimit} bytes in each component, no '..').", nameof(path));
            var resolved = Join(components);
            for (var parent = Parent(resolved); parent != "/"; parent = Parent(parent))
            {
                if (_files.ContainsKey(parent) || Devices.ContainsKey(parent))
                    throw new ArgumentException($"Cannot add '{path}': '{parent}' is a file, not a directory.", nameof(path));
            }
            if (_directories.Contains(resolved) || Devices.ContainsKey(resolved))
                throw new ArgumentException($"Cannot add '{path}': it is a {(Devices.ContainsKey(resolved) ? "device" : "directory")}.", nameof(path));
            for (var parent = Parent(resolved); parent != "/"; parent = Parent(parent))
                _directories.Add(parent);
            _files[resolved] = new RegularFile(content, FilePermissions, NowNanoseconds());
        }
    }

    /// <summary>
    /// Resolves <paramref name="path"/> (relative to <paramref name="workingDirectory"/>) to an existing
    /// node: ENOENT when it or a directory on the way is missing, ENOTDIR when something on the way is not a
    /// directory.
    /// </summary>
    public GuestErrno Lookup(string path, string workingDirectory, out string resolved, out NodeStatus status)
    {
        status = default;
        lock (_lock)
        {
            var errno = Resolve(path, workingDirectory, out resolved);
            if (errno != GuestErrno.None)
                return errno;
            return TryStatus(resolved, out status) ? GuestErrno.None : GuestErrno.ENOENT;
        }
    }

    /// <summary>What stat says about an absolute path.</summary>
    public GuestErrno Stat(string path, out NodeStatus status) => Lookup(path, "/", out _, out status);

    /// <summary>A regular file's current bytes (not copied: nothing changes an array once it is stored), or null.</summary>
    public byte[]? ContentOf(string resolvedPath)
    {
        lock (_lock)
            return _files.TryGetValue(resolvedPath, out var file) ? file.Content : null;
    }

    /// <summary>
    /// FILE_READ: up to <paramref name="maxLength"/> bytes from <paramref name="offset"/>, fewer only at the
    /// end. A directory is EISDIR; /dev/zero reads zeros, the other devices read nothing (end of file).
    /// </summary>
    public GuestErrno Read(string path, long offset, int maxLength, out byte[] bytes)
    {
        bytes = [];
        lock (_lock)
        {
            var errno = Resolve(path, "/", out var resolved);
            if (errno != GuestErrno.None)
                return errno;
            if (_directories.Contains(resolved))
                return GuestErrno.EISDIR;
            if (Devices.TryGetValue(resolved, out var device))
            {
                bytes = device.ReadsZeros ? new byte[maxLength] : [];
                return GuestErrno.None;
            }
            if (!_files.TryGetValue(resolved, out var file))
                return GuestErrno.ENOENT;
            var content = file.Content;
            if (offset < content.Length)
                bytes = content.AsSpan((int)offset, (int)Math.Min(maxLength, content.Length - offset)).ToArray();
            return GuestErrno.None;
        }
    }

    /// <summary>
    /// FILE_WRITE: opens the file as <c>open(2)</c> would with O_CREAT / O_TRUNC / O_APPEND and writes all
    /// of <paramref name="data"/> at <paramref name="offset"/> (at the end with append). Missing without
    /// create, or in a missing directory: ENOENT. A directory: EISDIR. Devices swallow what they are given.
    /// </summary>
    public GuestErrno Write(string path, long offset, FileWriteFlags flags, uint mode, ReadOnlySpan<byte> data, out long written)
    {
        written = 0;
        lock (_lock)
        {
            var errno = Resolve(path, "/", out var resolved);
            if (errno != GuestErrno.None)
                return errno;
            if (_directories.Contains(resolved))
                return GuestErrno.EISDIR;
            if (Devices.ContainsKey(resolved))
            {
                written = data.Length;
                return GuestErrno.None;
            }
            var now = NowNanoseconds();
            if (!_files.TryGetValue(resolved, out var file))
            {
                if ((flags & FileWriteFlags.Create) == 0)
                    return GuestErrno.ENOENT;
                if (path.EndsWith('/'))
                    return GuestErrno.EISDIR;       // open("new/", O_CREAT): a name with a slash can only be a directory
                file = _files[resolved] = new RegularFile([], mode & PermissionBits & ~Umask, now);
            }
            if ((flags & FileWriteFlags.Truncate) != 0 && file.Content.Length > 0)
                file = _files[resolved] = file with { Content = [], ModifiedNanoseconds = now };
            var at = (flags & FileWriteFlags.Append) != 0 ? file.Content.Length : offset;
            if (data.IsEmpty)
                return GuestErrno.None;
            if (at > FileSizeLimit - data.Length)
                return GuestErrno.EFBIG;
            // A new array for every write: an open descriptor's snapshot (EmulatedKernel.Open) keeps its bytes.
            var content = new byte[Math.Max(file.Content.Length, at + data.Length)];
            file.Content.CopyTo(content, 0);
            data.CopyTo(content.AsSpan((int)at));
            _files[resolved] = file with { Content = content, ModifiedNanoseconds = now };
            written = data.Length;
            return GuestErrno.None;
        }
    }

    /// <summary>DIRECTORY: the directory's files, subdirectories and devices, by name (without . and ..).</summary>
    public GuestErrno List(string path, out List<DirectoryEntry> entries)
    {
        entries = [];
        lock (_lock)
        {
            var errno = Resolve(path, "/", out var resolved);
            if (errno != GuestErrno.None)
                return errno;
            if (!TryStatus(resolved, out var status))
                return GuestErrno.ENOENT;
            if (status.Kind != NodeKind.Directory)
                return GuestErrno.ENOTDIR;
            foreach (var directory in _directories)
            {
                if (directory != "/" && Parent(directory) == resolved)
                    entries.Add(new DirectoryEntry(NameOf(directory), NodeKind.Directory, InodeOf(directory)));
            }
            foreach (var file in _files.Keys)
            {
                if (Parent(file) == resolved)
                    entries.Add(new DirectoryEntry(NameOf(file), NodeKind.Regular, InodeOf(file)));
            }
            foreach (var device in Devices.Keys)
            {
                if (Parent(device) == resolved)
                    entries.Add(new DirectoryEntry(NameOf(device), NodeKind.CharacterDevice, InodeOf(device)));
            }
            entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return GuestErrno.None;
        }
    }

    /// <summary>
    /// The absolute, normal form of <paramref name="path"/>, walked component by component as the kernel
    /// walks it: each component before the last must be an existing directory (ENOENT when missing,
    /// ENOTDIR when not a directory), each name at most 255 bytes (ENAMETOOLONG). A trailing slash
    /// requires the last component to be a directory if it exists (ENOTDIR). Called under the lock.
    /// </summary>
    private GuestErrno Resolve(string path, string workingDirectory, out string resolved)
    {
        resolved = "/";
        var components = path.StartsWith('/') ? [] : Components(workingDirectory);
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".")
                continue;
            var current = Join(components);
            if (!_directories.Contains(current))
                return Exists(current) ? GuestErrno.ENOTDIR : GuestErrno.ENOENT;
            if (Encoding.UTF8.GetByteCount(part) > NameLimit)
                return GuestErrno.ENAMETOOLONG;
            if (part == "..")
            {
                if (components.Count > 0)
                    components.RemoveAt(components.Count - 1);
            }
            else
            {
                components.Add(part);
            }
        }
        resolved = Join(components);
        if (path.EndsWith('/') && Exists(resolved) && !_directories.Contains(resolved))
            return GuestErrno.ENOTDIR;
        return GuestErrno.None;
    }

    private bool Exists(string resolved) => _files.ContainsKey(resolved) || _directories.Contains(resolved) || Devices.ContainsKey(resolved);

    private bool TryStatus(string resolved, out NodeStatus status)
    {
        if (_files.TryGetValue(resolved, out var file))
        {
            status = new NodeStatus(NodeKind.Regular, RegularType | file.Permissions, 1, file.Content.Length, InodeOf(resolved),
                file.ModifiedNanoseconds, 0, 0);
            return true;
        }
        if (_directories.Contains(resolved))
        {
            status = new NodeStatus(NodeKind.Directory, DirectoryType | DirectoryPermissions, 2, 0, InodeOf(resolved), _createdNanoseconds, 0, 0);
            return true;
        }
        if (Devices.TryGetValue(resolved, out var device))
        {
            status = new NodeStatus(NodeKind.CharacterDevice, CharacterType | device.Permissions, 1, 0, InodeOf(resolved), _createdNanoseconds,
                device.Major, device.Minor);
            return true;
        }
        status = default;
        return false;
    }

    /// <summary>A path's inode: given the first time it is asked for, the same ever after.</summary>
    private ulong InodeOf(string resolved)
    {
        if (!_inodes.TryGetValue(resolved, out var inode))
            _inodes[resolved] = inode = _allocateInode();
        return inode;
    }

    private static List<string> Components(string path) => [.. path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(c => c != ".")];

    private static string Join(List<string> components) => "/" + string.Join('/', components);

    private static string Parent(string resolved)
    {
        var slash = resolved.LastIndexOf('/');
        return slash <= 0 ? "/" : resolved[..slash];
    }

    private static string NameOf(string resolved) => resolved[(resolved.LastIndexOf('/') + 1)..];

    private static long NowNanoseconds() => (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;

    private sealed record RegularFile(byte[] Content, uint Permissions, long ModifiedNanoseconds);

    private sealed record Device(uint Major, uint Minor, uint Permissions, bool ReadsZeros);
}
