using System.Globalization;

namespace Portal.Introspection;

/// <summary>One open file descriptor of a guest process (docs/protocol.md §3.4, FILES).</summary>
/// <param name="Fd">The descriptor number.</param>
/// <param name="Path">As <c>readlink /proc/&lt;pid&gt;/fd/&lt;fd&gt;</c> shows it: a path, <c>socket:[123]</c>, <c>pipe:[45]</c>, <c>anon_inode:[eventfd]</c>.</param>
/// <param name="OpenFlags">The file's <c>O_*</c> flags in the guest's numbering (they differ between architectures, except the access mode).</param>
/// <param name="Mode">The inode's type and permission bits.</param>
/// <param name="Position">The file position, the kernel's signed <c>loff_t</c> (negative for the high offsets of files such as <c>/proc/&lt;pid&gt;/mem</c>).</param>
/// <param name="PathTruncated">The path was longer than the guest sends (4095 bytes).</param>
public sealed record GuestFileDescriptor(int Fd, string Path, uint OpenFlags, uint Mode, long Position, bool PathTruncated)
{
    /// <summary>What it refers to: a regular file, a socket, a pipe, a device…</summary>
    public GuestFileType Type => GuestFileModes.TypeOf(Mode);

    /// <summary>The access mode (<c>O_ACCMODE</c>, the same on every architecture).</summary>
    public FileAccess Access => (OpenFlags & 3) switch
    {
        0 => FileAccess.Read,
        1 => FileAccess.Write,
        _ => FileAccess.ReadWrite,
    };

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Fd} -> {Path}");
}

/// <summary>A process's executable, working directory and root (docs/protocol.md §3.4, PATHS).</summary>
/// <param name="Executable">The executable's path; null for a kernel thread or a process that has exited.</param>
/// <param name="WorkingDirectory">The working directory.</param>
/// <param name="Root">The root directory (not <c>/</c> after a chroot).</param>
public sealed record GuestProcessPaths(string? Executable, string WorkingDirectory, string Root);

/// <summary>One entry of a guest directory (docs/protocol.md §3.4, DIRECTORY).</summary>
/// <param name="Name">The entry's name.</param>
/// <param name="Type">Its type, as the file system reports it (may be <see cref="GuestFileType.Unknown"/>).</param>
/// <param name="Inode">Its inode number.</param>
public sealed record GuestDirectoryEntry(string Name, GuestFileType Type, ulong Inode);

/// <summary>What <c>stat</c> says about a guest file (docs/protocol.md §3.4, STAT).</summary>
/// <param name="Mode">Type and permission bits.</param>
/// <param name="Links">Number of hard links.</param>
/// <param name="Uid">Owner.</param>
/// <param name="Gid">Group.</param>
/// <param name="Size">Size in bytes (0 for most procfs and sysfs files, which still have content).</param>
/// <param name="Inode">Inode number.</param>
/// <param name="Modified">Last modification.</param>
/// <param name="DeviceMajor">For a device file: its major number.</param>
/// <param name="DeviceMinor">For a device file: its minor number.</param>
public sealed record GuestFileStatus(uint Mode, uint Links, uint Uid, uint Gid, long Size, ulong Inode, DateTimeOffset Modified,
    uint DeviceMajor, uint DeviceMinor)
{
    /// <summary>The file's type.</summary>
    public GuestFileType Type => GuestFileModes.TypeOf(Mode);
}
