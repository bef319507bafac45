using System.Text;

namespace Portal.Qemu.Image;

/// <summary>
/// Writes a "newc" cpio archive, the initramfs format. Written here rather than by the cpio tool so
/// that device nodes, ownership and setuid bits need no root (nothing is created on the host: the
/// kernel creates them when it unpacks the archive), and so that the archive is reproducible (inode
/// numbers in order, mtime 0).
/// </summary>
internal sealed class CpioWriter(Stream output)
{
    public const int Directory = 0x4000, RegularFile = 0x8000, CharacterDevice = 0x2000, BlockDevice = 0x6000, SymbolicLink = 0xa000, Fifo = 0x1000;
    private int _inode = 1;

    public void AddDirectory(string path, int permissions = 0x1ed /* 0755 */) => Add(path, Directory | permissions, []);

    public void AddFile(string path, ReadOnlySpan<byte> content, int permissions) => Add(path, RegularFile | permissions, content);

    public void AddCharacterDevice(string path, int major, int minor, int permissions = 0x180 /* 0600 */) =>
        Add(path, CharacterDevice | permissions, [], rdevMajor: major, rdevMinor: minor);

    /// <summary>A new inode number, for entries that share one (hard links: same number, <c>links</c> &gt; 1).</summary>
    public int NewInode() => _inode++;

    /// <summary>
    /// One entry. Hard links share <paramref name="inode"/> and give the same <paramref name="links"/> count
    /// (at least 2); the kernel writes the first one's data and links the others to it, so they carry none.
    /// </summary>
    public void Add(string path, int mode, ReadOnlySpan<byte> data, int uid = 0, int gid = 0, int rdevMajor = 0, int rdevMinor = 0,
        int links = 1, int? inode = null)
    {
        var name = Encoding.UTF8.GetBytes(path.TrimStart('/') is { Length: > 0 } relative ? relative : ".");
        var header = string.Concat(
            "070701",
            Hex(inode ?? NewInode()), Hex(mode), Hex(uid), Hex(gid), Hex(links), Hex(0),
            Hex(data.Length), Hex(0), Hex(0), Hex(rdevMajor), Hex(rdevMinor), Hex(name.Length + 1), Hex(0));
        Write(Encoding.ASCII.GetBytes(header));
        Write(name);
        Write([0]);
        Pad(110 + name.Length + 1);
        Write(data);
        Pad(data.Length);
    }

    /// <summary>Ends the archive.</summary>
    public void Finish() => Add("TRAILER!!!", 0, [], inode: 0);

    private static string Hex(int value) => value.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    private void Write(ReadOnlySpan<byte> bytes) => output.Write(bytes);

    private void Pad(int length)
    {
        var padding = (4 - length % 4) % 4;
        Span<byte> zeros = stackalloc byte[3];
        zeros.Clear();
        output.Write(zeros[..padding]);
    }
}
