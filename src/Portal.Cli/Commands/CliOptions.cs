using System.CommandLine;

namespace Portal.Cli.Commands;

/// <summary>Options more than one command takes, defined once.</summary>
internal static class CliOptions
{
    public static Option<string> Rootfs(string description) => new("--rootfs")
    {
        Description = description + " A directory, a tarball (.tar, .tar.gz, .tar.xz, .tar.bz2), a squashfs image or a firmware image with one inside; never modified (the guest boots a copy).",
        HelpName = "path",
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

    /// <summary>The rootfs as a full path; an error naming it when nothing is there.</summary>
    public static string CheckRootfs(string rootfs) =>
        Directory.Exists(rootfs) || File.Exists(rootfs)
            ? Path.GetFullPath(rootfs)
            : throw new ArgumentException($"--rootfs {rootfs}: no such file or directory");
}
