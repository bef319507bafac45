using System.Runtime.InteropServices;
using ELFSharp;
using ELFSharp.ELF;
using Portal.Abi;

namespace Portal.Qemu.Firmware;

/// <summary>The architecture of one ELF file of a firmware, as its header describes it.</summary>
/// <param name="Path">The file, as a path inside the root filesystem (<c>/bin/busybox</c>).</param>
/// <param name="Name">What a user calls the architecture: <c>mipsel</c>, <c>mips (big-endian)</c>, <c>armhf</c>, <c>ARM OABI</c>…</param>
/// <param name="Abi">The real guest that runs it, or null when Portal has none.</param>
public sealed record FirmwareBinary(string Path, string Name, GuestAbi? Abi);

/// <summary>A firmware root filesystem Portal cannot boot, with the reason (its architecture, or no ELF found).</summary>
public sealed class FirmwareArchitectureException(string message) : FirmwareRootfsException(message);

/// <summary>
/// Which real guest a firmware's root filesystem needs, from its ELF binaries: machine, class, byte
/// order, and the MIPS and ARM ABI flags. The ELF headers are read with ELFSharp.
/// </summary>
public static class FirmwareArchitecture
{
    /// <summary>Where a firmware's own programs are; the first ELF among these decides.</summary>
    private static readonly string[] LikelyPrograms = ["/sbin/init", "/bin/busybox", "/bin/sh", "/init", "/usr/sbin/httpd"];

    /// <summary>Directories whose ELF files must agree with the first (a sample of them).</summary>
    private static readonly string[] ProgramDirectories = ["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/lib"];

    private const int SampleSize = 32;

    // e_flags (elf.h)
    private const uint EfMipsAbi2 = 0x20, EfMipsAbiMask = 0xf000, EfMipsAbiO32 = 0x1000;
    private const uint EfArmEabiMask = 0xff00_0000, EfArmEabiVersion5 = 0x0500_0000, EfArmAbiFloatHard = 0x400;

    /// <summary>The real guest for the root filesystem at <paramref name="rootfs"/> (any form <see cref="FirmwareRootfs.Load"/> reads).</summary>
    /// <exception cref="FirmwareArchitectureException">
    /// No ELF file was found, its architecture has no real guest (the message names it), or the binaries
    /// disagree (the message names both kinds and a file of each).
    /// </exception>
    /// <exception cref="FirmwareRootfsException">The input cannot be read as a root filesystem.</exception>
    public static GuestAbi Detect(string rootfs)
    {
        ArgumentNullException.ThrowIfNull(rootfs);
        if (!Directory.Exists(rootfs) && !File.Exists(rootfs))
            throw new DirectoryNotFoundException($"No root filesystem at {rootfs}.");
        return Detect(FirmwareRootfs.Load(rootfs));
    }

    /// <summary>The real guest for <paramref name="rootfs"/>.</summary>
    /// <exception cref="FirmwareArchitectureException">As <see cref="Detect(string)"/>.</exception>
    public static GuestAbi Detect(FirmwareRootfs rootfs)
    {
        ArgumentNullException.ThrowIfNull(rootfs);
        var first = LikelyPrograms.Select(path => Inspect(rootfs, path)).FirstOrDefault(binary => binary is not null)
            ?? Sample(rootfs).FirstOrDefault()
            ?? throw new FirmwareArchitectureException(
                $"No ELF program in the {rootfs.Source} (looked at {string.Join(", ", LikelyPrograms)} and {string.Join(", ", ProgramDirectories)}): is it a root filesystem?");
        var other = Sample(rootfs).FirstOrDefault(binary => binary.Name != first.Name && binary.Abi != first.Abi);
        if (other is not null)
            throw new FirmwareArchitectureException(
                $"The root filesystem mixes architectures: {first.Name} ({first.Path}) and {other.Name} ({other.Path}).");
        return first.Abi ?? throw new FirmwareArchitectureException(
            $"The firmware is {first.Name} ({first.Path}); Portal boots {string.Join(", ", QemuGuest.RealGuestAbis.Select(a => a.Name))} guests.");
    }

    /// <summary>
    /// The architecture of the file at <paramref name="path"/> inside the root filesystem at
    /// <paramref name="rootfs"/>, following symbolic links inside it (an absolute link target is relative
    /// to the rootfs, never the host's root); null when it is missing, not ELF, or a malformed ELF
    /// (truncated, tables past its end).
    /// </summary>
    public static FirmwareBinary? Inspect(string rootfs, string path) => Inspect(FirmwareRootfs.Load(rootfs), path);

    /// <summary>As <see cref="Inspect(string, string)"/>, on a root filesystem already read.</summary>
    public static FirmwareBinary? Inspect(FirmwareRootfs rootfs, string path)
    {
        ArgumentNullException.ThrowIfNull(rootfs);
        if (rootfs.Resolve(path) is not { Kind: FirmwareEntryKind.File } file
            || !MemoryMarshal.TryGetArray(file.Content, out var content) || content.Array is null)
            return null;
        IELF? elf;
        try
        {
            if (!ELFReader.TryLoad(new MemoryStream(content.Array, content.Offset, content.Count, writable: false), true, out elf))
                return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException
                                   or OverflowException or IndexOutOfRangeException)
        {
            // Firmware is untrusted: ELFSharp reads the whole header, section and segment tables, and a
            // truncated file or one whose tables lie past its end throws. Such a file cannot decide.
            return null;
        }
        using (elf)
        {
            var (name, abi) = Classify(elf.Machine, elf.Class, elf.Endianess, MachineFlags(elf));
            return new FirmwareBinary(FirmwareRootfs.Normalize(path), name, abi);
        }
    }

    private static uint MachineFlags(IELF elf) => elf switch
    {
        ELF<uint> elf32 => elf32.MachineFlags,
        ELF<ulong> elf64 => (uint)elf64.MachineFlags,      // e_flags is 32 bits in both classes
        _ => 0,
    };

    private static (string Name, GuestAbi? Abi) Classify(Machine machine, Class elfClass, Endianess endianness, uint flags)
    {
        var little = endianness == Endianess.LittleEndian;
        var is64 = elfClass == Class.Bit64;
        return machine switch
        {
            Machine.AMD64 when is64 => ("x86_64", GuestAbi.X86_64),
            Machine.AMD64 => ("x32 (x86_64, 32-bit pointers)", null),
            Machine.Intel386 => ("i386", null),
            Machine.AArch64 when little => ("aarch64", GuestAbi.AArch64),
            Machine.AArch64 => ("aarch64_be (big-endian)", null),
            Machine.ARM when !little => ("armeb (big-endian ARM)", null),
            Machine.ARM when (flags & EfArmEabiMask) == EfArmEabiVersion5 =>
                ((flags & EfArmAbiFloatHard) != 0 ? "armhf" : "armel", GuestAbi.ArmEl),     // one EABI: the armmp kernel runs both
            Machine.ARM when (flags & EfArmEabiMask) == 0 => ("ARM OABI (pre-EABI)", null),
            Machine.ARM => ($"ARM EABI version {(flags & EfArmEabiMask) >> 24}", null),
            Machine.MIPS when is64 => (little ? "mips64el" : "mips64 (big-endian)", null),
            Machine.MIPS when (flags & EfMipsAbi2) != 0 => (little ? "mipsel n32" : "mips n32 (big-endian)", null),
            Machine.MIPS when (flags & EfMipsAbiMask) is not (0 or EfMipsAbiO32) => ($"MIPS with ABI flags 0x{flags & EfMipsAbiMask:x}", null),
            Machine.MIPS when little => ("mipsel", GuestAbi.MipsEl),
            Machine.MIPS => ("mips (big-endian; Debian has no big-endian MIPS kernel)", null),
            _ => ($"{machine} ({(is64 ? "64" : "32")}-bit, {(little ? "little" : "big")}-endian)", null),
        };
    }

    /// <summary>Up to <see cref="SampleSize"/> ELF files directly in the program directories, in name order.</summary>
    private static IEnumerable<FirmwareBinary> Sample(FirmwareRootfs rootfs) =>
        ProgramDirectories
            .SelectMany(directory => rootfs.Entries
                .Where(entry => entry.Kind == FirmwareEntryKind.File && Path.GetDirectoryName(entry.Path) == directory)
                .Select(entry => entry.Path)
                .Order(StringComparer.Ordinal))
            .Select(path => Inspect(rootfs, path))
            .OfType<FirmwareBinary>()
            .Take(SampleSize);
}
