using Portal.Abi;
using Portal.Qemu.Machines;

namespace Portal.Qemu.Hosting;

/// <summary>Something the real guest needs is not installed. The message says what, and how to get it.</summary>
public sealed class GuestPrerequisiteException(string message) : Exception(message)
{
    /// <summary>The script that installs everything (Debian, apt only, run as root).</summary>
    public const string SetupScript = "scripts/setup-guest.sh";
}

/// <summary>Finds the tools and the guest kernel the QEMU guest needs, and says in one message what is missing.</summary>
public static class GuestPrerequisites
{
    /// <summary>Programs needed on PATH, with the Debian package that provides each.</summary>
    private static readonly (string Program, string Package)[] Programs =
    [
        ("make", "build-essential"),
        ("gcc", "build-essential"),
        ("xz", "xz-utils"),
        ("setpriv", "util-linux"),      // starts QEMU with a parent-death signal
    ];

    /// <summary>Where the foreign guests' kits are (scripts/setup-guest-kits.sh), unless PORTAL_GUEST_KITS says otherwise.</summary>
    public const string DefaultKitDirectory = "/var/lib/portal/guests";

    /// <summary>
    /// The guest kernel and what is built against it: its version, image and build directory (headers),
    /// its module tree, the static busybox of its userland, and how to build for it (kernel <c>ARCH</c>
    /// and <c>CROSS_COMPILE</c>, both empty for the host's own architecture).
    /// </summary>
    public sealed record GuestKernel(string Version, string Image, string BuildDirectory)
    {
        /// <summary>The directory holding <c>&lt;Version&gt;/modules.dep</c> and the modules.</summary>
        public string ModulesRoot { get; init; } = "/lib/modules";

        /// <summary>The static busybox that is the guest's userland.</summary>
        public string Busybox { get; init; } = "/bin/busybox";

        /// <summary>The kernel's ARCH for building modules, empty for the host's own.</summary>
        public string Arch { get; init; } = "";

        /// <summary>The cross toolchain's prefix (<c>mipsel-linux-gnu-</c>), empty for the host's own.</summary>
        public string CrossCompile { get; init; } = "";
    }

    /// <summary>Checks everything the x86_64 guest needs and returns its kernel.</summary>
    /// <param name="kernelVersion">A specific guest kernel version (e.g. 6.1.0-56-amd64), or null for the newest installed.</param>
    /// <exception cref="GuestPrerequisiteException">Something is missing; the message lists all of it and names the set-up script.</exception>
    public static GuestKernel Check(string? kernelVersion = null) => Check(GuestAbi.X86_64, kernelVersion);

    /// <summary>Checks everything the guest of <paramref name="abi"/> needs and returns its kernel.</summary>
    /// <exception cref="ArgumentException">Portal has no real guest of that ABI.</exception>
    /// <exception cref="GuestPrerequisiteException">Something is missing; the message lists all of it and names the set-up script.</exception>
    public static GuestKernel Check(GuestAbi abi, string? kernelVersion = null)
    {
        ArgumentNullException.ThrowIfNull(abi);
        var machine = GuestMachine.For(abi);
        var missing = new List<string>();
        foreach (var (program, package) in Programs.Append((machine.QemuBinary, machine.QemuPackage)))
        {
            if (FindOnPath(program) is null)
                missing.Add($"{program} (package {package})");
        }
        GuestKernel? kernel;
        if (machine.Native)
        {
            if (FindBusybox() is null)
                missing.Add("a static busybox at /bin/busybox (package busybox-static)");
            kernel = FindKernel(kernelVersion);
            if (kernel is null)
                missing.Add(kernelVersion is null
                    ? "a guest kernel with headers: /boot/vmlinuz-*-amd64 and /lib/modules/<version>/build (packages linux-image-amd64, linux-headers-amd64)"
                    : $"guest kernel {kernelVersion}: /boot/vmlinuz-{kernelVersion} and /lib/modules/{kernelVersion}/build");
        }
        else
        {
            kernel = GuestKit.Load(abi, KitDirectory, missing);
            if (kernel is not null && kernelVersion is not null && kernel.Version != kernelVersion)
                missing.Add($"guest kernel {kernelVersion} (the {abi.Name} kit has {kernel.Version})");
            if (kernel is not null && FindOnPath(kernel.CrossCompile + "gcc") is null)
                missing.Add($"{kernel.CrossCompile}gcc (package gcc-{kernel.CrossCompile.TrimEnd('-')})");
        }
        if (missing.Count > 0)
            throw new GuestPrerequisiteException(
                $"The {abi.Name} QEMU guest needs: {string.Join("; ", missing)}. Install them with: sudo {GuestPrerequisiteException.SetupScript}");
        return kernel!;
    }

    /// <summary>The kits' directory: PORTAL_GUEST_KITS, else <see cref="DefaultKitDirectory"/>.</summary>
    internal static string KitDirectory =>
        Environment.GetEnvironmentVariable("PORTAL_GUEST_KITS") is { Length: > 0 } configured ? configured : DefaultKitDirectory;

    /// <summary>The static busybox to put in the initramfs, or null.</summary>
    internal static string? FindBusybox() => BusyboxLocations.FirstOrDefault(File.Exists);

    private static readonly string[] BusyboxLocations = ["/bin/busybox", "/usr/bin/busybox"];

    /// <summary>The programs that read firmware images (<see cref="FirmwareOptions"/>), with their Debian packages.</summary>
    private static readonly (string Program, string Package)[] FirmwareTools =
        [("tar", "tar"), ("sqfs2tar", "squashfs-tools-ng"), ("binwalk", "binwalk")];

    /// <summary>
    /// What is missing to read every form of firmware image ("sqfs2tar (squashfs-tools-ng)"), empty when
    /// nothing is; a directory or a tarball needs only tar, a squashfs image sqfs2tar, a raw image binwalk too.
    /// </summary>
    public static IReadOnlyList<string> MissingFirmwareTools() =>
        [.. FirmwareTools.Where(tool => FindOnPath(tool.Program) is null).Select(tool => $"{tool.Program} ({tool.Package})")];

    /// <summary>Full path of a program on PATH, or null.</summary>
    internal static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    private static GuestKernel? FindKernel(string? version)
    {
        if (!Directory.Exists("/lib/modules"))
            return null;
        var candidates = Directory.GetDirectories("/lib/modules")
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(v => version is null ? v.EndsWith("-amd64", StringComparison.Ordinal) : v == version)
            .Select(v => new GuestKernel(v, $"/boot/vmlinuz-{v}", $"/lib/modules/{v}/build"))
            .Where(k => File.Exists(k.Image) && File.Exists(Path.Combine(k.BuildDirectory, "Makefile")))
            .OrderBy(k => k.Version, VersionOrder.Instance);
        return candidates.LastOrDefault();
    }

    /// <summary>Orders "6.1.0-9-amd64" before "6.1.0-56-amd64" (numbers compared as numbers).</summary>
    private sealed class VersionOrder : IComparer<string>
    {
        public static readonly VersionOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            var a = Split(x ?? "");
            var b = Split(y ?? "");
            for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                var order = long.TryParse(a[i], out var m) && long.TryParse(b[i], out var n)
                    ? m.CompareTo(n)
                    : string.CompareOrdinal(a[i], b[i]);
                if (order != 0)
                    return order;
            }
            return a.Length.CompareTo(b.Length);
        }

        private static string[] Split(string version) => version.Split('.', '-');
    }
}
