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
public sealed class FirmwareArchitectureException(string message) : Exception(message);

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

    /// <summary>The real guest for the root filesystem at <paramref name="rootfs"/> (a directory).</summary>
    /// <exception cref="FirmwareArchitectureException">
    /// No ELF file was found, its architecture has no real guest (the message names it), or the binaries
    /// disagree (the message names both kinds and a file of each).
    /// </exception>
    public static GuestAbi Detect(string rootfs)
    {
        ArgumentNullException.ThrowIfNull(rootfs);
        if (!Directory.Exists(rootfs))
            throw new DirectoryNotFoundException($"No root filesystem at {rootfs}.");
        var first = LikelyPrograms.Select(path => Inspect(rootfs, path)).FirstOrDefault(binary => binary is not null)
            ?? Sample(rootfs).FirstOrDefault()
            ?? throw new FirmwareArchitectureException(
                $"No ELF program in {rootfs} (looked at {string.Join(", ", LikelyPrograms)} and {string.Join(", ", ProgramDirectories)}): is it a root filesystem?");
        var other = Sample(rootfs).FirstOrDefault(binary => binary.Name != first.Name && binary.Abi != first.Abi);
        if (other is not null)
            throw new FirmwareArchitectureException(
                $"The root filesystem mixes architectures: {first.Name} ({first.Path}) and {other.Name} ({other.Path}).");
        return first.Abi ?? throw new FirmwareArchitectureException(
            $"The firmware is {first.Name} ({first.Path}); Portal boots {string.Join(", ", QemuGuest.RealGuestAbis.Select(a => a.Name))} guests.");
    }

    /// <summary>
    /// The architecture of the file at <paramref name="path"/> inside <paramref name="rootfs"/>, following
    /// symbolic links inside the root filesystem (an absolute link target is relative to the rootfs, never
    /// the host's root); null when it is missing, not ELF, or a malformed ELF (truncated, tables past its end).
    /// </summary>
    public static FirmwareBinary? Inspect(string rootfs, string path)
    {
        var file = Resolve(rootfs, path);
        if (file is null)
            return null;
        IELF? elf;
        try
        {
            if (!ELFReader.TryLoad(file, out elf))
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
            return new FirmwareBinary(path, name, abi);
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

    /// <summary>Up to <see cref="SampleSize"/> ELF files from the program directories, in name order.</summary>
    private static IEnumerable<FirmwareBinary> Sample(string rootfs) =>
        ProgramDirectories
            .Select(directory => Path.Combine(rootfs, directory.TrimStart('/')))
            .Where(Directory.Exists)
            .SelectMany(directory => Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            .Select(file => Inspect(rootfs, "/" + Path.GetRelativePath(rootfs, file)))
            .OfType<FirmwareBinary>()
            .Take(SampleSize);

    /// <summary>The host path of <paramref name="path"/> inside the rootfs, links followed inside it; null if missing or a loop.</summary>
    private static string? Resolve(string rootfs, string path)
    {
        var root = Path.GetFullPath(rootfs);
        var current = Path.GetFullPath(Path.Combine(root, path.TrimStart('/')));
        for (var hops = 0; hops < 16; hops++)
        {
            if (!current.StartsWith(root, StringComparison.Ordinal))
                return null;                    // "../.." out of the rootfs
            var info = new FileInfo(current);
            if (info.LinkTarget is not { } target)
                return info.Exists ? current : null;
            current = Path.GetFullPath(target.StartsWith('/')
                ? Path.Combine(root, target.TrimStart('/'))
                : Path.Combine(Path.GetDirectoryName(current)!, target));
        }
        return null;
    }
}
