using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Qemu.Firmware;

namespace Portal.Qemu.Tests;

/// <summary>
/// Which guest a firmware root filesystem needs, from its ELF binaries (issue 13, item 2): the real
/// guests' busyboxes (the host's and the kits' from scripts/setup.sh), and ELF headers of the
/// architectures Portal cannot boot.
/// </summary>
[TestClass]
public sealed class FirmwareArchitectureTests
{
    private static string Kits => Environment.GetEnvironmentVariable("PORTAL_GUEST_KITS") is { Length: > 0 } kits ? kits : "/var/lib/portal/guests";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("x86_64"), DataRow("mipsel"), DataRow("aarch64"), DataRow("armel")]
    public void A_busybox_rootfs_is_the_architecture_of_its_busybox(string abi)
    {
        var busybox = abi == "x86_64" ? "/bin/busybox" : Path.Combine(Kits, abi, "root", "bin", "busybox");
        var rootfs = Rootfs();
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "sbin"));
        File.Copy(busybox, Path.Combine(rootfs, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin", "sh"), "busybox");
        File.CreateSymbolicLink(Path.Combine(rootfs, "sbin", "init"), "/bin/busybox");     // absolute: inside the rootfs
        File.WriteAllText(Path.Combine(rootfs, "bin", "script"), "#!/bin/sh\necho not ELF\n");

        Assert.AreEqual(GuestAbi.Parse(abi), FirmwareArchitecture.Detect(rootfs));
        Assert.AreEqual("/sbin/init", FirmwareArchitecture.Inspect(rootfs, "/sbin/init")!.Path);
    }

    [TestMethod]
    [DataRow(false, false, Mips, 0x1000u, "mips (big-endian; Debian has no big-endian MIPS kernel)")]
    [DataRow(true, false, Mips, 0x20u, "mipsel n32")]
    [DataRow(true, true, Mips, 0u, "mips64el")]
    [DataRow(true, false, Arm, 0u, "ARM OABI (pre-EABI)")]
    [DataRow(false, false, Arm, 0x0500_0000u, "armeb (big-endian ARM)")]
    [DataRow(true, false, I386, 0u, "i386")]
    [DataRow(false, false, Ppc, 0u, "PPC (32-bit, big-endian)")]
    public void An_architecture_without_a_real_guest_is_named(bool little, bool is64, int machine, uint flags, string name)
    {
        var rootfs = Rootfs();
        Directory.CreateDirectory(Path.Combine(rootfs, "sbin"));
        File.WriteAllBytes(Path.Combine(rootfs, "sbin", "init"), ElfHeader(little, is64, (ushort)machine, flags));

        var e = Assert.ThrowsExactly<FirmwareArchitectureException>(() => FirmwareArchitecture.Detect(rootfs));
        Assert.AreEqual($"The firmware is {name} (/sbin/init); Portal boots x86_64, mipsel, aarch64, armel guests.", e.Message);
    }

    [TestMethod]
    public void An_armhf_program_runs_on_the_armel_guest()
    {
        var rootfs = Rootfs();
        Directory.CreateDirectory(Path.Combine(rootfs, "sbin"));
        File.WriteAllBytes(Path.Combine(rootfs, "sbin", "init"), ElfHeader(little: true, is64: false, Arm, 0x0500_0400));
        Assert.AreEqual(GuestAbi.ArmEl, FirmwareArchitecture.Detect(rootfs));
        Assert.AreEqual("armhf", FirmwareArchitecture.Inspect(rootfs, "/sbin/init")!.Name);
    }

    [TestMethod]
    public void Links_are_followed_inside_the_rootfs_never_into_the_host()
    {
        // /sbin/init -> /bin/busybox exists on the host, not in this rootfs; ../../.. climbs out of it.
        var rootfs = Rootfs();
        Directory.CreateDirectory(Path.Combine(rootfs, "sbin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "sbin", "init"), "/bin/busybox");
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin", "sh"), "../../../../../../bin/busybox");
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin", "loop"), "loop");

        var e = Assert.ThrowsExactly<FirmwareArchitectureException>(() => FirmwareArchitecture.Detect(rootfs));
        StringAssert.StartsWith(e.Message, $"No ELF program in the directory {rootfs}");
    }

    [TestMethod]
    public void Binaries_of_two_architectures_are_refused_with_one_of_each()
    {
        var rootfs = Rootfs();
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "usr", "bin"));
        File.Copy(Path.Combine(Kits, "mipsel", "root", "bin", "busybox"), Path.Combine(rootfs, "bin", "busybox"));
        File.WriteAllBytes(Path.Combine(rootfs, "usr", "bin", "tool"), ElfHeader(little: true, is64: true, Amd64, 0));

        var e = Assert.ThrowsExactly<FirmwareArchitectureException>(() => FirmwareArchitecture.Detect(rootfs));
        Assert.AreEqual("The root filesystem mixes architectures: mipsel (/bin/busybox) and x86_64 (/usr/bin/tool).", e.Message);
    }

    /// <summary>Firmware is untrusted input: a truncated ELF or one whose tables lie past its end is skipped, not fatal.</summary>
    [TestMethod]
    public void Malformed_elf_files_are_skipped()
    {
        var rootfs = Rootfs();
        Directory.CreateDirectory(Path.Combine(rootfs, "sbin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        var header = ElfHeader(little: true, is64: false, Mips, 0x1000);
        File.WriteAllBytes(Path.Combine(rootfs, "sbin", "init"), header[..20]);                 // truncated
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(28), 0x7fff_0000);              // e_phoff past the end
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(44), 500);                      // e_phnum
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(32), 0x7fff_fff0);              // e_shoff past the end
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(48), 900);                      // e_shnum
        File.WriteAllBytes(Path.Combine(rootfs, "bin", "busybox"), header);

        Assert.IsNull(FirmwareArchitecture.Inspect(rootfs, "/sbin/init"));
        Assert.IsNull(FirmwareArchitecture.Inspect(rootfs, "/bin/busybox"));
        var e = Assert.ThrowsExactly<FirmwareArchitectureException>(() => FirmwareArchitecture.Detect(rootfs));
        StringAssert.StartsWith(e.Message, $"No ELF program in the directory {rootfs}");

        File.Copy(Path.Combine(Kits, "mipsel", "root", "bin", "busybox"), Path.Combine(rootfs, "bin", "sh"));
        Assert.AreEqual(GuestAbi.MipsEl, FirmwareArchitecture.Detect(rootfs), "the readable program decides");
    }

    [TestMethod]
    public void A_directory_without_programs_is_not_a_rootfs()
    {
        var rootfs = Rootfs();
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        var empty = Assert.ThrowsExactly<FirmwareRootfsException>(() => FirmwareArchitecture.Detect(rootfs));
        Assert.AreEqual($"The directory {rootfs} is empty: no files in it.", empty.Message);
        File.WriteAllText(Path.Combine(rootfs, "etc", "passwd"), "root:x:0:0::/:/bin/sh\n");
        var e = Assert.ThrowsExactly<FirmwareArchitectureException>(() => FirmwareArchitecture.Detect(rootfs));
        StringAssert.Contains(e.Message, "is it a root filesystem?");
        Assert.ThrowsExactly<DirectoryNotFoundException>(() => FirmwareArchitecture.Detect(Path.Combine(rootfs, "nonexistent")));
    }

    private const int I386 = 3, Mips = 8, Ppc = 20, Arm = 40, Amd64 = 62;

    /// <summary>A bare ELF header (no sections, no segments): all that the detection reads.</summary>
    private static byte[] ElfHeader(bool little, bool is64, ushort machine, uint flags)
    {
        var header = new byte[is64 ? 64 : 52];
        "\u007fELF"u8.CopyTo(header);
        header[4] = (byte)(is64 ? 2 : 1);
        header[5] = (byte)(little ? 1 : 2);
        header[6] = 1;
        void U16(int at, ushort value)
        {
            if (little) BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(at), value);
            else BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(at), value);
        }
        void U32(int at, uint value)
        {
            if (little) BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(at), value);
            else BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(at), value);
        }
        U16(16, 2);                     // ET_EXEC
        U16(18, machine);
        U32(20, 1);                     // EV_CURRENT
        U32(is64 ? 48 : 36, flags);     // e_flags
        U16(is64 ? 52 : 40, (ushort)header.Length);     // e_ehsize
        U16(is64 ? 54 : 42, is64 ? (ushort)56 : (ushort)32);   // e_phentsize
        U16(is64 ? 58 : 46, is64 ? (ushort)64 : (ushort)40);   // e_shentsize
        return header;
    }

    private readonly List<string> _rootfses = [];

    private string Rootfs()
    {
        var rootfs = Directory.CreateTempSubdirectory("portal-rootfs-").FullName;
        _rootfses.Add(rootfs);
        return rootfs;
    }

    [TestCleanup]
    public void RemoveRootfses()
    {
        foreach (var rootfs in _rootfses)
            Directory.Delete(rootfs, recursive: true);
    }
}
