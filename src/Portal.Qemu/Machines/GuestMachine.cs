using System.Globalization;
using Portal.Abi;

namespace Portal.Qemu.Machines;

/// <summary>
/// What differs between the real guests' architectures, and nothing else: the QEMU binary and machine,
/// the console device, where guest RAM starts and where the shared window sits in it, how the kernel
/// is told to keep its hands off the window, and how guest code is built (kernel ARCH, cross compiler).
/// One instance per supported ABI; <see cref="QemuGuest"/> and the image builder take everything
/// architecture-specific from here.
/// </summary>
internal sealed record GuestMachine
{
    /// <summary>Bytes of guest RAM below the window (the window is at <see cref="RamBase"/> + this).</summary>
    public const long WindowOffset = 192L << 20;

    /// <summary>The guest's ABI (what portal.ko reports in GUEST_INFO).</summary>
    public required GuestAbi Abi { get; init; }

    /// <summary>The QEMU system emulator.</summary>
    public required string QemuBinary { get; init; }

    /// <summary>The Debian package that provides <see cref="QemuBinary"/>.</summary>
    public required string QemuPackage { get; init; }

    /// <summary>QEMU's machine type and its options (the RAM backend is added to them).</summary>
    public required string Machine { get; init; }

    /// <summary>QEMU's CPU model, or null for the machine's default.</summary>
    public string? Cpu { get; init; }

    /// <summary>The kernel's console device (the first serial port: a 16550 or a PL011).</summary>
    public required string Console { get; init; }

    /// <summary>Guest physical address of the first byte of RAM (0 on PC and Malta, 1 GiB on ARM's virt).</summary>
    public required long RamBase { get; init; }

    /// <summary>Guest physical address of the window.</summary>
    public long WindowAddress => RamBase + WindowOffset;

    /// <summary>
    /// Kernel arguments that keep the kernel's allocator away from the window: a reserved range on x86
    /// (<c>memmap=</c>), else RAM cut off below the window (<c>mem=</c>: MIPS, ARM), so that the window is
    /// not System RAM.
    /// </summary>
    /// <remarks>Arguments: the window's size in bytes and the guest's RAM in MiB.</remarks>
    public required Func<int, int, IReadOnlyList<string>> ReserveWindow { get; init; }

    /// <summary>
    /// Kernel arguments of this architecture's guest beyond the common ones. The CPU-vulnerability
    /// mitigations are off on the ARM guests: under TCG they protect nothing, and their TLB and branch
    /// predictor maintenance on every kernel entry is what QEMU emulates slowest (aarch64's KPTI: a
    /// getppid() took 24 µs instead of 1.5 µs).
    /// </summary>
    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    /// <summary>The most vCPUs this guest runs correctly, or null for no limit beyond QEMU's.</summary>
    public int? MaxCpus { get; init; }

    /// <summary>Why <see cref="MaxCpus"/> is set (shown to a user who asks for more).</summary>
    public string? MaxCpusReason { get; init; }

    /// <summary>True for the host's own architecture: its kernel and busybox come from the host, not from a kit.</summary>
    public bool Native { get; init; }

    /// <summary>The bzImage's payload can be unpacked to an ELF that QEMU boots directly (x86_64's PVH entry).</summary>
    public bool BootsVmlinux { get; init; }

    /// <summary>Whether QEMU can run this guest with KVM on this host (the same architecture only).</summary>
    public bool CanUseKvm => Native;

    /// <summary>The real guests Portal boots, by ABI.</summary>
    public static IReadOnlyList<GuestMachine> All { get; } =
    [
        new()
        {
            Abi = GuestAbi.X86_64, QemuBinary = "qemu-system-x86_64", QemuPackage = "qemu-system-x86", Machine = "pc", Console = "ttyS0",
            RamBase = 0, ReserveWindow = Memmap, Native = true, BootsVmlinux = true,
        },
        new()
        {
            // The Archer C20's architecture. Malta's RAM starts at 0. MIPS's memmap=$ only memblock-reserves
            // the range, which stays System RAM (portal.ko refuses that), so RAM is declared around the window
            // instead: QEMU loads the initramfs at the top of Malta's low 256 MiB, above the window.
            Abi = GuestAbi.MipsEl, QemuBinary = "qemu-system-mipsel", QemuPackage = "qemu-system-mips", Machine = "malta", Console = "ttyS0",
            RamBase = 0, MaxCpus = 1,
            // Debian's 4kc-malta kernel does SMP only as MIPS MT (two VPEs of a 34Kf). Under QEMU that loses
            // VPE 0's timer interrupts: `taskset 1 sleep 1` took 24 s, and portal.ko's control thread, asleep
            // on that CPU, stopped answering. QEMU's default 24Kf boots one CPU whatever -smp says.
            MaxCpusReason = "Debian's Malta kernel runs SMP only as MIPS MT (a 34Kf's two VPEs), and under QEMU " +
                "the first VPE then misses its timer interrupts (a 1 s sleep took 24 s)", ReserveWindow = MemAroundWindow,
        },
        new()
        {
            // ARM's kernels take no memmap=; mem= ends RAM below the window.
            Abi = GuestAbi.AArch64, QemuBinary = "qemu-system-aarch64", QemuPackage = "qemu-system-arm", Machine = "virt", Cpu = "cortex-a57",
            Console = "ttyAMA0", RamBase = 0x4000_0000, ReserveWindow = MemBelowWindow, KernelArguments = ["kpti=0", "mitigations=off"],
        },
        new()
        {
            // Debian's armhf armmp kernel runs armel (EABI, soft-float) programs: the ABI is the same.
            Abi = GuestAbi.ArmEl, QemuBinary = "qemu-system-arm", QemuPackage = "qemu-system-arm", Machine = "virt,highmem=off", Cpu = "cortex-a15",
            Console = "ttyAMA0", RamBase = 0x4000_0000, ReserveWindow = MemBelowWindow, KernelArguments = ["mitigations=off"],
        },
    ];

    /// <summary>The machine for <paramref name="abi"/>.</summary>
    /// <exception cref="ArgumentException">Portal has no real guest for that ABI; the message lists those it has.</exception>
    public static GuestMachine For(GuestAbi abi) =>
        All.FirstOrDefault(machine => machine.Abi == abi)
        ?? throw new ArgumentException(
            $"There is no real {abi.Name} guest (Debian has no kernel for it that QEMU boots here); real guests: " +
            $"{string.Join(", ", All.Select(m => m.Abi.Name))}. The emulated guest runs every ABI.", nameof(abi));

    private static IReadOnlyList<string> Memmap(int windowSize, int memoryMiB) =>
        [string.Create(CultureInfo.InvariantCulture, $"memmap={windowSize >> 20}M${WindowOffset >> 20}M")];

    // RAM ends at the window (arm64's mem= takes no start address, so nothing above it is used).
    private static IReadOnlyList<string> MemBelowWindow(int windowSize, int memoryMiB) =>
        [string.Create(CultureInfo.InvariantCulture, $"mem={WindowOffset >> 20}M")];

    // RAM below and above the window; Malta's low RAM (where the initramfs is) ends at 256 MiB.
    private static IReadOnlyList<string> MemAroundWindow(int windowSize, int memoryMiB)
    {
        var above = (WindowOffset >> 20) + (windowSize >> 20);
        return [string.Create(CultureInfo.InvariantCulture, $"mem={WindowOffset >> 20}M"),
                string.Create(CultureInfo.InvariantCulture, $"mem={Math.Min(memoryMiB, 256) - above}M@{above}M")];
    }
}
