using System.Text;
using Portal.Qemu.Firmware;

namespace Portal.Qemu.Image;

/// <summary>Writes a firmware's root filesystem into the initramfs, entry by entry, as the image describes it.</summary>
internal static class FirmwareCpio
{
    public static void Add(CpioWriter cpio, FirmwareRootfs rootfs)
    {
        // Hard links: one inode per file with its link count; the file's entry comes first in the image (the reader checks).
        var links = rootfs.Entries.Where(entry => entry.Kind == FirmwareEntryKind.HardLink)
            .GroupBy(entry => entry.LinkTarget!, StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.Count() + 1, StringComparer.Ordinal);
        var inodes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in rootfs.Entries)
        {
            var permissions = entry.Permissions & 0xfff;
            switch (entry.Kind)
            {
                case FirmwareEntryKind.Directory:
                    cpio.Add(entry.Path, CpioWriter.Directory | permissions, [], entry.Uid, entry.Gid);
                    break;
                case FirmwareEntryKind.File when links.TryGetValue(entry.Path, out var count):
                    var inode = cpio.NewInode();
                    inodes[entry.Path] = inode;
                    cpio.Add(entry.Path, CpioWriter.RegularFile | permissions, entry.Content.Span, entry.Uid, entry.Gid, links: count, inode: inode);
                    break;
                case FirmwareEntryKind.File:
                    cpio.Add(entry.Path, CpioWriter.RegularFile | permissions, entry.Content.Span, entry.Uid, entry.Gid);
                    break;
                case FirmwareEntryKind.HardLink:
                    if (rootfs.Find(entry.LinkTarget!) is not { Kind: FirmwareEntryKind.File } target || !inodes.ContainsKey(target.Path))
                        throw new FirmwareRootfsException($"The {rootfs.Source} has a hard link {entry.Path} to {entry.LinkTarget}, which a later entry replaced.");
                    cpio.Add(entry.Path, CpioWriter.RegularFile | (target.Permissions & 0xfff), [], target.Uid, target.Gid,
                        links: links[entry.LinkTarget!], inode: inodes[entry.LinkTarget!]);
                    break;
                case FirmwareEntryKind.SymbolicLink:
                    cpio.Add(entry.Path, CpioWriter.SymbolicLink | 0x1ff, Encoding.UTF8.GetBytes(entry.LinkTarget!), entry.Uid, entry.Gid);
                    break;
                case FirmwareEntryKind.CharacterDevice or FirmwareEntryKind.BlockDevice:
                    var type = entry.Kind == FirmwareEntryKind.CharacterDevice ? CpioWriter.CharacterDevice : CpioWriter.BlockDevice;
                    cpio.Add(entry.Path, type | permissions, [], entry.Uid, entry.Gid, entry.DeviceMajor, entry.DeviceMinor);
                    break;
                case FirmwareEntryKind.Fifo:
                    cpio.Add(entry.Path, CpioWriter.Fifo | permissions, [], entry.Uid, entry.Gid);
                    break;
            }
        }
    }
}
