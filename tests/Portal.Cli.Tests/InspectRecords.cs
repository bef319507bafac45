using Portal.Introspection;

namespace Portal.Cli.Tests;

/// <summary>Hand-made introspection records, as a guest could answer them, for the formatter tests.</summary>
internal static class InspectRecords
{
    public static GuestProcess Init { get; } =
        new(1, 0, 1, 'S', 0, 0, 0, 0, TimeSpan.FromSeconds(0.52), "init", ["/sbin/init"], GuestProcessTraits.None);

    public static GuestProcess KernelThread { get; } =
        new(2, 0, 1, 'I', 0, 0, 0, 0, TimeSpan.Zero, "kthreadd", [], GuestProcessTraits.KernelThread);

    /// <summary>argv cut at the bytes asked for: the last argument is cut too.</summary>
    public static GuestProcess Truncated { get; } =
        new(345, 1, 3, 'R', 1000, 0, 100, 100, TimeSpan.FromSeconds(12.5), "httpd", ["/usr/sbin/httpd", "-f", "/etc/httpd.co"], GuestProcessTraits.ArgumentsTruncated);

    public static GuestMapping Text { get; } = new(0x400000, 0x401000, MappingPermissions.Read | MappingPermissions.Execute, 0, 1234, 8, 1, "/bin/busybox", false);

    public static GuestMapping Anonymous { get; } = new(0x7ffd0000, 0x7ffd2000, MappingPermissions.Read | MappingPermissions.Write, 0, 0, 0, 0, "", false);

    /// <summary>x86_64's vsyscall page: an address no double holds exactly.</summary>
    public static GuestMapping Vsyscall { get; } = new(0xffffffffff600000, 0xffffffffff601000, MappingPermissions.Execute, 0, 0, 0, 0, "[vsyscall]", false);

    public static GuestMapping SharedFile { get; } =
        new(0x77f00000, 0x77f10000, MappingPermissions.Read | MappingPermissions.Write | MappingPermissions.Shared, 0x2000, 77, 31, 3, "/dev/mtdblock3", false);

    /// <summary>One descriptor of each kind a process holds: O_RDONLY is 0, O_WRONLY 1, O_RDWR 2 on every architecture.</summary>
    public static IReadOnlyList<GuestFileDescriptor> EveryType { get; } =
    [
        new(0, "/dev/console", 2, 0x2180, 0, false),                   // crw------- read-write
        new(1, "/var/log/messages", 1 | 0x400, 0x81a4, 12345, false),   // regular file, O_WRONLY|O_APPEND, at 12345
        new(2, "pipe:[45]", 1, 0x1180, 0, false),                      // fifo, write end
        new(3, "socket:[123]", 2, 0xc1ff, 0, false),
        new(4, "/etc", 0x10000, 0x41ed, 0, false),                     // a directory (O_DIRECTORY on x86_64)
        new(5, "/dev/mtdblock3", 0, 0x61a0, 4096, false),              // block device
        new(6, "anon_inode:[eventfd]", 2, 0, 0, false),                // an anonymous inode has no type
        new(7, "/very/long/path", 0, 0x81a4, 0, true),
    ];
}
