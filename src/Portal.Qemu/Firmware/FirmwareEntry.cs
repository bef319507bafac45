namespace Portal.Qemu.Firmware;

/// <summary>What one entry of a firmware's root filesystem is.</summary>
public enum FirmwareEntryKind
{
    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A regular file (its content is <see cref="FirmwareEntry.Content"/>).</summary>
    File,

    /// <summary>A symbolic link (<see cref="FirmwareEntry.LinkTarget"/>, resolved in the guest, where the firmware is <c>/</c>).</summary>
    SymbolicLink,

    /// <summary>Another name of an earlier regular file (<see cref="FirmwareEntry.LinkTarget"/> is that file's path).</summary>
    HardLink,

    /// <summary>A character device node.</summary>
    CharacterDevice,

    /// <summary>A block device node.</summary>
    BlockDevice,

    /// <summary>A named pipe.</summary>
    Fifo,
}

/// <summary>
/// One entry of a firmware's root filesystem, as the image describes it: ownership, permission bits
/// (setuid, setgid and sticky included), device numbers and links are kept as they are, whoever runs
/// the host, because the entry is never created on the host: it goes into the guest's initramfs.
/// </summary>
/// <param name="Path">Absolute path inside the firmware (<c>/bin/busybox</c>), normalised: no <c>.</c>, <c>..</c> or empty parts.</param>
/// <param name="Kind">What it is.</param>
/// <param name="Permissions">The mode's low 12 bits (<c>0o4755</c> for a setuid program).</param>
/// <param name="Uid">Owner.</param>
/// <param name="Gid">Group.</param>
public sealed record FirmwareEntry(string Path, FirmwareEntryKind Kind, int Permissions, int Uid, int Gid)
{
    /// <summary>A symbolic link's target (as written), or the path of the file a hard link names.</summary>
    public string? LinkTarget { get; init; }

    /// <summary>A device node's major number.</summary>
    public int DeviceMajor { get; init; }

    /// <summary>A device node's minor number.</summary>
    public int DeviceMinor { get; init; }

    /// <summary>A regular file's bytes (empty for everything else).</summary>
    public ReadOnlyMemory<byte> Content { get; init; }
}
