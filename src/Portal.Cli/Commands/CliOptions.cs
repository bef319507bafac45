using System.CommandLine;
using Portal.Abi;
using Portal.Cli.Running;
using Portal.Qemu;
using Portal.Qemu.Image;

namespace Portal.Cli.Commands;

/// <summary>Options more than one command takes, defined once.</summary>
internal static class CliOptions
{
    /// <summary>--guest qemu|emulated (default qemu), for <c>portal run</c> and <c>portal inspect</c>.</summary>
    public static Option<string> Guest()
    {
        var guest = new Option<string>("--guest", "-g")
        {
            Description = "qemu: a real Linux guest with portal.ko (x86_64, mipsel, aarch64 or armel by --abi); emulated: the in-process guest (any --abi; only its built-in programs).",
            DefaultValueFactory = _ => "qemu",
        };
        guest.AcceptOnlyFromAmong("qemu", "emulated");
        return guest;
    }

    /// <summary>--abi among every ABI Portal knows (the emulated guest takes any; <see cref="CheckGuest"/> checks the QEMU guest's).</summary>
    public static Option<string> AnyAbi()
    {
        var abi = new Option<string>("--abi")
        {
            Description = "The guest's architecture (default x86_64). The QEMU guest boots x86_64, mipsel, aarch64 or armel; the emulated guest takes any.",
            HelpName = string.Join('|', GuestAbi.All.Select(a => a.Name)),
        };
        abi.AcceptOnlyFromAmong([.. GuestAbi.All.Select(a => a.Name)]);
        return abi;
    }

    /// <summary>
    /// --guest, --abi and --rootfs checked together: the guest's kind, the ABI asked for (null: the firmware's,
    /// else x86_64) and the firmware's full path (null without --rootfs).
    /// </summary>
    /// <exception cref="ArgumentException">A combination no guest boots, or a firmware that is not there.</exception>
    public static (GuestKind Kind, GuestAbi? Abi, string? Rootfs) CheckGuest(string guestName, string? abiName, string? rootfs)
    {
        var kind = guestName == "emulated" ? GuestKind.Emulated : GuestKind.Qemu;
        var abi = abiName is null ? (GuestAbi?)null : GuestAbi.Parse(abiName);
        if (rootfs is not null && kind == GuestKind.Emulated)
            throw new ArgumentException("--rootfs boots a firmware in the QEMU guest; the emulated guest runs only its built-in programs.");
        var firmware = rootfs is null ? null : CheckRootfs(rootfs);
        if (kind == GuestKind.Qemu && abi is not null && !QemuGuest.RealGuestAbis.Contains(abi))
            throw new ArgumentException(
                $"--abi {abiName}: there is no real {abi.Name} guest (the QEMU guest boots {string.Join(", ", QemuGuest.RealGuestAbis.Select(a => a.Name))}); " +
                "use --guest emulated for it.");
        return (kind, abi, firmware);
    }

    public static Option<string> Rootfs(string description) => new("--rootfs")
    {
        Description = description + " A directory, a tarball (.tar, .tar.gz, .tar.xz, .tar.bz2), a squashfs image or a firmware image with one inside; never modified (the guest boots a copy).",
        HelpName = "path",
    };

    /// <summary>--abi limited to the architectures Portal boots a real guest for.</summary>
    public static Option<string> RealGuestAbi(string description)
    {
        var abi = new Option<string>("--abi")
        {
            Description = description,
            HelpName = string.Join('|', QemuGuest.RealGuestAbis.Select(a => a.Name)),
        };
        abi.AcceptOnlyFromAmong([.. QemuGuest.RealGuestAbis.Select(a => a.Name)]);
        return abi;
    }

    public static Option<string[]> Files() => new("--file", "-f")
    {
        Description = "Copy a host file into the guest at an absolute path (repeatable; executable in the QEMU guest).",
        HelpName = "host:/guest/path",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static Option<bool> Verbose() => new("--verbose", "-v") { Description = "Log what Portal does, from debug level up." };

    public static Option<string[]> Plugins() => new("--plugin", "-p")
    {
        Description = "A plugin assembly to load; <assembly>#<Type> loads only that class (repeatable).",
        HelpName = "assembly[#type]",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public static Option<bool> AllowUnhandled(string what) => new("--allow-unhandled")
    {
        Description = $"Exit with {what} even when matching syscalls went unhandled (by default portal exits {ExitCodes.SyscallsUnhandled} then).",
    };

    public static Option<string> Trace() => new("--trace")
    {
        Description = "Write the run's timeline to this file as a Chrome trace (syscall events, handler spans, each exchange with its operations); " +
            "open it in Perfetto UI (\"Open trace file\") or chrome://tracing.",
        HelpName = "file",
    };

    /// <summary>The --file mappings, host paths made full; an error naming the first that is malformed or whose host file is missing.</summary>
    public static IReadOnlyList<GuestFile> ParseFiles(IEnumerable<string> mappings)
    {
        var files = new List<GuestFile>();
        foreach (var mapping in mappings)
        {
            GuestFile file;
            try
            {
                file = GuestFile.Parse(mapping);
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"--file {e.Message}", e);
            }
            if (!File.Exists(file.HostPath))
                throw new ArgumentException($"--file {mapping}: no such host file: {file.HostPath}");
            files.Add(file with { HostPath = Path.GetFullPath(file.HostPath) });
        }
        return files;
    }

    /// <summary>The rootfs as a full path; an error naming it when nothing is there.</summary>
    public static string CheckRootfs(string rootfs) =>
        Directory.Exists(rootfs) || File.Exists(rootfs)
            ? Path.GetFullPath(rootfs)
            : throw new ArgumentException($"--rootfs {rootfs}: no such file or directory");
}
