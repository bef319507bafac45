using System.Buffers.Binary;
using System.Formats.Tar;
using Portal.Cli;
using Portal.Tests.Shared;

namespace Portal.Cli.Tests;

/// <summary>
/// A firmware Portal cannot use is refused before anything boots, with a message that says why and exit
/// code 66, and nothing is written outside the test's own directory nor left behind.
/// </summary>
[TestClass]
public sealed class FirmwareInputErrorTests
{
    private static readonly string MipselBusybox = "/var/lib/portal/guests/mipsel/root/bin/busybox";
    private string _directory = null!;

    [TestInitialize]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("portal-firmware-input-").FullName;

    [TestCleanup]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    [TestMethod]
    public async Task A_corrupt_squashfs_is_refused()
    {
        var image = Path.Combine(_directory, "corrupt.sqfs");
        File.WriteAllBytes(image, [.. "hsqs"u8, .. new byte[4096]]);
        await AssertRefusedAsync(["boot", "--rootfs", image], $"Cannot read the squashfs image {image}: sqfs2tar failed");
    }

    [TestMethod]
    public async Task A_truncated_tarball_is_refused()
    {
        var tarball = Tarball("whole.tar.gz", ("bin/busybox", File.ReadAllBytes(MipselBusybox)));
        var bytes = File.ReadAllBytes(tarball);
        var truncated = Path.Combine(_directory, "truncated.tar.gz");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        await AssertRefusedAsync(["run", "--rootfs", truncated, "--", "true"], $"The gzip tarball {truncated} is corrupt or truncated");
    }

    [TestMethod]
    public async Task A_firmware_for_an_architecture_without_a_guest_is_named()
    {
        // A big-endian MIPS program: what many routers run, and Debian has no kernel for.
        var elf = new byte[52];
        "\u007fELF"u8.CopyTo(elf);
        (elf[4], elf[5], elf[6]) = (1, 2, 1);                           // 32-bit, big-endian, version 1
        BinaryPrimitives.WriteUInt16BigEndian(elf.AsSpan(16), 2);       // ET_EXEC
        BinaryPrimitives.WriteUInt16BigEndian(elf.AsSpan(18), 8);       // EM_MIPS
        BinaryPrimitives.WriteUInt32BigEndian(elf.AsSpan(20), 1);       // EV_CURRENT
        BinaryPrimitives.WriteUInt32BigEndian(elf.AsSpan(36), 0x1000);  // e_flags: o32
        BinaryPrimitives.WriteUInt16BigEndian(elf.AsSpan(40), 52);      // e_ehsize
        BinaryPrimitives.WriteUInt16BigEndian(elf.AsSpan(42), 32);      // e_phentsize
        BinaryPrimitives.WriteUInt16BigEndian(elf.AsSpan(46), 40);      // e_shentsize
        var tarball = Tarball("mips.tar", ("bin/busybox", elf), ("sbin/init", elf));
        await AssertRefusedAsync(["boot", "--rootfs", tarball], "The firmware is mips (big-endian; Debian has no big-endian MIPS kernel) (/sbin/init)");
    }

    [TestMethod]
    public async Task A_firmware_without_an_init_cannot_boot_but_names_where_it_looked()
    {
        var tarball = Tarball("noinit.tar", ("bin/busybox", File.ReadAllBytes(MipselBusybox)));
        await AssertRefusedAsync(["boot", "--rootfs", tarball], "has no init: none of /sbin/init, /etc/preinit, /init is an executable file in it");
        await AssertRefusedAsync(["boot", "--rootfs", tarball, "--init", "/sbin/procd"], "has no executable file at /sbin/procd");
    }

    [TestMethod]
    public async Task An_empty_directory_is_refused()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_directory, "empty")).FullName;
        await AssertRefusedAsync(["boot", "--rootfs", empty], $"The directory {empty} is empty: no files in it.");
    }

    [TestMethod]
    public async Task An_archive_that_climbs_out_of_its_tree_writes_nothing_outside()
    {
        var tarball = Tarball("climb.tar", ("bin/busybox", File.ReadAllBytes(MipselBusybox)), ("../escaped", "x"u8.ToArray()));
        await AssertRefusedAsync(["run", "--rootfs", tarball, "--", "true"], "has an entry that leaves the root filesystem: '../escaped'");
        Assert.IsFalse(File.Exists(Path.Combine(Path.GetDirectoryName(_directory)!, "escaped")));
        Assert.IsFalse(File.Exists(Path.Combine(_directory, "escaped")));
        CollectionAssert.AreEqual(new[] { tarball }, Directory.GetFileSystemEntries(_directory), "only the tarball is in the test's directory");
    }

    [TestMethod]
    public async Task An_abi_that_disagrees_with_the_firmware_is_refused()
    {
        var firmware = DemoFirmware.Squashfs("mipsel");
        await AssertRefusedAsync(["boot", "--rootfs", firmware, "--abi", "armel"], $"The squashfs image {firmware} is mipsel, not armel as asked.");
    }

    private static async Task AssertRefusedAsync(string[] args, string message)
    {
        var result = await Cli.RunInProcessAsync(args);
        Assert.AreEqual(ExitCodes.BadFirmware, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, message, result.ToString());
        Assert.AreEqual("", result.Output, "nothing ran");
    }

    /// <summary>A tarball (gzip-compressed when its name says so) of regular files, executable.</summary>
    private string Tarball(string name, params (string Path, byte[] Content)[] files)
    {
        var path = Path.Combine(_directory, name);
        using var file = File.Create(path);
        using Stream stream = name.EndsWith(".gz", StringComparison.Ordinal) ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest) : file;
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (entryPath, content) in files)
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, entryPath)
                {
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute,
                    DataStream = new MemoryStream(content),
                };
                writer.WriteEntry(entry);
            }
        }
        return path;
    }
}
