namespace Portal.Introspection;

/// <summary>A file's type, with the kernel's <c>DT_*</c> values (the same on every architecture).</summary>
public enum GuestFileType
{
    /// <summary>Not known (the file system did not say).</summary>
    Unknown = 0,
    /// <summary>A named pipe (or a pipe).</summary>
    Fifo = 1,
    /// <summary>A character device.</summary>
    CharacterDevice = 2,
    /// <summary>A directory.</summary>
    Directory = 4,
    /// <summary>A block device.</summary>
    BlockDevice = 6,
    /// <summary>A regular file.</summary>
    Regular = 8,
    /// <summary>A symbolic link.</summary>
    Symlink = 10,
    /// <summary>A socket.</summary>
    Socket = 12,
}

/// <summary>File types from mode bits.</summary>
public static class GuestFileModes
{
    /// <summary>The type in a mode's <c>S_IFMT</c> bits (octal 0170000; the same on every Linux architecture).</summary>
    public static GuestFileType TypeOf(uint mode) => (GuestFileType)((mode >> 12) & 0xf) switch
    {
        var type and (GuestFileType.Fifo or GuestFileType.CharacterDevice or GuestFileType.Directory or GuestFileType.BlockDevice
            or GuestFileType.Regular or GuestFileType.Symlink or GuestFileType.Socket) => type,
        _ => GuestFileType.Unknown,
    };

    /// <summary>Whether a <c>DT_*</c> value is one the kernel uses.</summary>
    internal static bool IsKnown(uint type) => type is 0 or 1 or 2 or 4 or 6 or 8 or 10 or 12;

    /// <summary>The mode as <c>ls -l</c> shows it (<c>drwxr-xr-x</c>).</summary>
    public static string Describe(uint mode)
    {
        var type = TypeOf(mode) switch
        {
            GuestFileType.Directory => 'd',
            GuestFileType.CharacterDevice => 'c',
            GuestFileType.BlockDevice => 'b',
            GuestFileType.Fifo => 'p',
            GuestFileType.Symlink => 'l',
            GuestFileType.Socket => 's',
            GuestFileType.Regular => '-',
            _ => '?',
        };
        Span<char> text = [type, 'r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x'];
        for (var bit = 0; bit < 9; bit++)
        {
            if ((mode & (1u << (8 - bit))) == 0)
                text[1 + bit] = '-';
        }
        return new string(text);
    }
}
