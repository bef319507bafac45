using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>Bad arguments are refused before anything boots, with a message that says what is wrong, and exit code 64.</summary>
[TestClass]
public sealed class ArgumentTests
{
    [TestMethod]
    [DataRow(new[] { "run" }, "no guest command: portal run [options] -- <command>", DisplayName = "no command")]
    [DataRow(new[] { "run", "--guest", "vmware", "--", "ls" }, "Argument 'vmware' not recognized", DisplayName = "unknown guest")]
    [DataRow(new[] { "run", "--guest", "emulated", "--abi", "sparc", "--", "ls" }, "Argument 'sparc' not recognized", DisplayName = "unknown ABI")]
    [DataRow(new[] { "run", "--abi", "mips", "--", "ls" }, "there is no real mips guest (the QEMU guest boots x86_64, mipsel, aarch64, armel); use --guest emulated for it", DisplayName = "ABI the QEMU guest is not")]
    [DataRow(new[] { "run", "--file", "tool", "--", "ls" }, "--file 'tool' is not host-path:/guest/path.", DisplayName = "file without guest path")]
    [DataRow(new[] { "run", "--file", "tool:relative/path", "--", "ls" }, "is not host-path:/guest/path", DisplayName = "relative guest path")]
    [DataRow(new[] { "run", "--file", "/no/such/tool:/usr/bin/tool", "--", "ls" }, "no such host file: /no/such/tool", DisplayName = "missing host file")]
    [DataRow(new[] { "run", "--plugin", "/no/such/plugin.dll", "--", "ls" }, "--plugin: no such file: /no/such/plugin.dll", DisplayName = "missing plugin")]
    [DataRow(new[] { "run", "--plugin", "plugin.dll#", "--", "ls" }, "is not <assembly> or <assembly>#<type>", DisplayName = "empty type name")]
    [DataRow(new[] { "run", "--frobnicate", "--", "ls" }, "unknown option '--frobnicate' (the guest command goes after --)", DisplayName = "unknown option")]
    [DataRow(new[] { "frob" }, "Unrecognized command or argument 'frob'", DisplayName = "unknown command")]
    [DataRow(new[] { "run", "--rootfs", "/no/such/firmware", "--", "ls" }, "--rootfs /no/such/firmware: no such file or directory", DisplayName = "run: missing rootfs")]
    [DataRow(new[] { "run", "--guest", "emulated", "--rootfs", ".", "--", "ls" }, "--rootfs boots a firmware in the QEMU guest", DisplayName = "run: rootfs on the emulated guest")]
    [DataRow(new[] { "boot" }, "Option '--rootfs' is required.", DisplayName = "boot: no rootfs")]
    [DataRow(new[] { "boot", "--rootfs", "/no/such/firmware" }, "--rootfs /no/such/firmware: no such file or directory", DisplayName = "boot: missing rootfs")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--until", "(" }, "--until '(' is not a regular expression", DisplayName = "boot: bad pattern")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--timeout", "0" }, "--timeout 0: give a number of seconds greater than 0", DisplayName = "boot: zero timeout")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--init", "sbin/init" }, "--init sbin/init: give the init's absolute path", DisplayName = "boot: relative init")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--abi", "sparc" }, "Argument 'sparc' not recognized", DisplayName = "boot: ABI without a real guest")]
    [DataRow(new[] { "run", "--guest", "emulated", "--trace", "/no/such/dir/trace.json", "--", "ls" }, "--trace /no/such/dir/trace.json: cannot write the trace there: Could not find a part of the path", DisplayName = "run: trace in a missing directory")]
    [DataRow(new[] { "run", "--guest", "emulated", "--trace", "/", "--", "ls" }, "--trace /: cannot write the trace there", DisplayName = "run: trace on a directory")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--trace", "/no/such/dir/trace.json" }, "--trace /no/such/dir/trace.json: cannot write the trace there", DisplayName = "boot: trace in a missing directory")]
    [DataRow(new[] { "headers", "dump", "x.h", "--abi", "vax" }, "unknown ABI 'vax'", DisplayName = "headers: unknown ABI")]
    [DataRow(new[] { "guest" }, "Required command was not provided.\nportal: see: portal guest --help", DisplayName = "guest: no subcommand")]
    [DataRow(new[] { "guest", "build", "--abi", "mips" }, "Argument 'mips' not recognized", DisplayName = "guest build: ABI without a real guest")]
    [DataRow(new[] { "guest", "build", "--abi", "mips" }, "see: portal guest build --help", DisplayName = "guest build: help of the nested command")]
    [DataRow(new[] { "guest", "build", "--file", "/no/such/tool:/usr/bin/tool" }, "no such host file: /no/such/tool", DisplayName = "guest build: missing host file")]
    [DataRow(new[] { "guest", "shell", "--cpus", "0" }, "--cpus 0: give at least 1", DisplayName = "guest shell: no vCPU")]
    [DataRow(new[] { "guest", "shell", "--abi", "mipsel", "--cpus", "2" }, "The mipsel guest runs at most 1 vCPU(s): Debian's Malta kernel", DisplayName = "guest shell: more vCPUs than the machine runs")]
    public async Task Bad_arguments_are_refused_with_a_clear_message(string[] args, string message)
    {
        var result = await Cli.RunInProcessAsync(args);
        Assert.AreEqual(ExitCodes.Usage, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, message, result.ToString());
        Assert.AreEqual("", result.Output, "nothing ran");
    }

    [TestMethod]
    public async Task Help_lists_the_commands_and_run_options()
    {
        var root = await Cli.RunInProcessAsync("--help");
        Assert.AreEqual(0, root.ExitCode);
        foreach (var command in new[] { "run", "boot", "setup", "guest", "headers" })
            StringAssert.Contains(root.Output, $"  {command} ");
        var run = await Cli.RunInProcessAsync("run", "--help");
        foreach (var option in new[] { "--guest", "--abi", "--plugin", "--file", "--verbose" })
            StringAssert.Contains(run.Output, option);
    }
}
