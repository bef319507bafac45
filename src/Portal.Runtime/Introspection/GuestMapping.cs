using System.Globalization;

namespace Portal.Introspection;

/// <summary>What a mapping allows.</summary>
[Flags]
public enum MappingPermissions
{
    /// <summary>No access.</summary>
    None = 0,
    /// <summary>Readable.</summary>
    Read = 1,
    /// <summary>Writable.</summary>
    Write = 2,
    /// <summary>Executable.</summary>
    Execute = 4,
    /// <summary>Shared with other processes (not copy-on-write).</summary>
    Shared = 8,
}

/// <summary>One memory mapping of a guest process, as <c>/proc/&lt;pid&gt;/maps</c> shows it (docs/protocol.md §3.4, MAPPINGS).</summary>
/// <param name="Start">First address.</param>
/// <param name="End">The address after the last one.</param>
/// <param name="Permissions">Read, write, execute, shared.</param>
/// <param name="FileOffset">Offset in the file of <see cref="Start"/> (0 without a file).</param>
/// <param name="Inode">The file's inode (0 without a file).</param>
/// <param name="DeviceMajor">The file's device, major number.</param>
/// <param name="DeviceMinor">The file's device, minor number.</param>
/// <param name="Path">The file, or <c>[heap]</c>, <c>[stack]</c>, <c>[vdso]</c>…; empty for anonymous memory.</param>
/// <param name="PathTruncated">The path was longer than the guest sends (4095 bytes).</param>
public sealed record GuestMapping(ulong Start, ulong End, MappingPermissions Permissions, ulong FileOffset, ulong Inode,
    uint DeviceMajor, uint DeviceMinor, string Path, bool PathTruncated)
{
    /// <summary>Its length in bytes.</summary>
    public ulong Length => End - Start;

    /// <summary>Whether <paramref name="address"/> lies in it.</summary>
    public bool Contains(ulong address) => address >= Start && address < End;

    /// <summary>The permissions as <c>/proc/&lt;pid&gt;/maps</c> writes them (<c>r-xp</c>).</summary>
    public string PermissionText => string.Concat(
        Permissions.HasFlag(MappingPermissions.Read) ? "r" : "-",
        Permissions.HasFlag(MappingPermissions.Write) ? "w" : "-",
        Permissions.HasFlag(MappingPermissions.Execute) ? "x" : "-",
        Permissions.HasFlag(MappingPermissions.Shared) ? "s" : "p");

    /// <summary>The line <c>/proc/&lt;pid&gt;/maps</c> would show.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Start:x8}-{End:x8} {PermissionText} {FileOffset:x8} {DeviceMajor:x2}:{DeviceMinor:x2} {Inode} {Path}").TrimEnd();
}
