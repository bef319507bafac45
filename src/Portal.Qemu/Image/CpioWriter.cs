using System.Text;

namespace Portal.Qemu.Image;

/// <summary>
/// Writes a "newc" cpio archive, the initramfs format. Written here rather than by the cpio tool so
/// that device nodes (/dev/console) need no root, and so that the archive is reproducible
/// (fixed inode numbers, mtime 0).
/// </summary>
internal sealed class CpioWriter(Stream output)
{
    private const int Directory = 0x4000, RegularFile = 0x8000, CharacterDevice = 0x2000, SymbolicLink = 0xa000;
    private int _inode = 1;

    public void AddDirectory(string path, int permissions = 0x1ed /* 0755 */) => Entry(path, Directory | permissions, [], 0, 0);

    public void AddFile(string path, ReadOnlySpan<byte> content, int permissions) => Entry(path, RegularFile | permissions, content, 0, 0);

    public void AddSymbolicLink(string path, string target) => Entry(path, SymbolicLink | 0x1ff, Encoding.UTF8.GetBytes(target), 0, 0);

    public void AddCharacterDevice(string path, int major, int minor, int permissions = 0x180 /* 0600 */) =>
        Entry(path, CharacterDevice | permissions, [], major, minor);

    /// <summary>Ends the archive.</summary>
    public void Finish() => Entry("TRAILER!!!", 0, [], 0, 0, countInode: false);

    private void Entry(string path, int mode, ReadOnlySpan<byte> data, int rdevMajor, int rdevMinor, bool countInode = true)
    {
        var name = Encoding.UTF8.GetBytes(path.TrimStart('/') is { Length: > 0 } relative ? relative : ".");
        var header = string.Concat(
            "070701",
            Hex(countInode ? _inode++ : 0), Hex(mode), Hex(0), Hex(0), Hex(1), Hex(0),
            Hex(data.Length), Hex(0), Hex(0), Hex(rdevMajor), Hex(rdevMinor), Hex(name.Length + 1), Hex(0));
        Write(Encoding.ASCII.GetBytes(header));
        Write(name);
        Write([0]);
        Pad(110 + name.Length + 1);
        Write(data);
        Pad(data.Length);
    }

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
