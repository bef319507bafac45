using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>
/// portal inspect, its aliases and boot --inspect refuse what a user can get wrong before anything boots:
/// exit 64, the reason (a query's usage for a query), no boot line, nothing on stdout.
/// </summary>
[TestClass]
public sealed class InspectArgumentTests
{
    [TestMethod]
    [DataRow(new[] { "inspect", "--guest", "vmware", "ps" }, "Argument 'vmware' not recognized", DisplayName = "unknown guest")]
    [DataRow(new[] { "inspect", "--abi", "sparc", "ps" }, "Argument 'sparc' not recognized", DisplayName = "unknown ABI")]
    [DataRow(new[] { "inspect", "--abi", "mips", "ps" }, "there is no real mips guest (the QEMU guest boots x86_64, mipsel, aarch64, armel); use --guest emulated for it", DisplayName = "ABI the QEMU guest is not")]
    [DataRow(new[] { "inspect", "--rootfs", "/no/such/firmware", "ps" }, "--rootfs /no/such/firmware: no such file or directory", DisplayName = "missing rootfs")]
    [DataRow(new[] { "inspect", "--guest", "emulated", "--rootfs", ".", "ps" }, "--rootfs boots a firmware in the QEMU guest", DisplayName = "rootfs on the emulated guest")]
    [DataRow(new[] { "inspect", "--file", "/no/such/tool:/usr/bin/tool", "ps" }, "no such host file: /no/such/tool", DisplayName = "missing host file")]
    [DataRow(new[] { "inspect", "--frobnicate", "ps" }, "unknown option '--frobnicate'", DisplayName = "unknown option")]
    [DataRow(new[] { "inspect", "top" }, "unknown query 'top' (queries: ps, maps, fds, paths, cat, ls, stat, run)", DisplayName = "unknown query")]
    [DataRow(new[] { "inspect", "maps x" }, "maps: 'x' is not a PID (a number from 1); usage: maps PID [ADDRESS]\n", DisplayName = "bad pid, no quoting hint")]
    [DataRow(new[] { "inspect", "maps", "1" }, "maps: an argument is missing; usage: maps PID [ADDRESS] (give each query as one argument: portal inspect ps 'maps 1' 'cat /etc/passwd')", DisplayName = "query and argument apart")]
    [DataRow(new[] { "inspect", "ps", "cat etc/passwd" }, "cat: 'etc/passwd' is not an absolute path (guest paths start with /); usage: cat PATH", DisplayName = "the last query is bad: the first does not run")]
    [DataRow(new[] { "inspect", "cat '/a" }, "the quote ' is not closed", DisplayName = "unclosed quote")]
    [DataRow(new[] { "ps", "1" }, "Unrecognized command or argument '1'", DisplayName = "ps: an argument")]
    [DataRow(new[] { "ps", "--abi", "mips" }, "there is no real mips guest", DisplayName = "ps: the guest options are checked")]
    [DataRow(new[] { "maps" }, "maps: an argument is missing; usage: maps PID [ADDRESS]\n", DisplayName = "maps: no pid")]
    [DataRow(new[] { "maps", "init" }, "maps: 'init' is not a PID (a number from 1); usage: maps PID [ADDRESS]", DisplayName = "maps: bad pid")]
    [DataRow(new[] { "maps", "1", "zz" }, "maps: 'zz' is not an address (hex with 0x, or decimal, at most 64 bits)", DisplayName = "maps: bad address")]
    [DataRow(new[] { "maps", "--guest", "emulated", "--rootfs", ".", "1" }, "--rootfs boots a firmware in the QEMU guest", DisplayName = "maps: rootfs on the emulated guest")]
    [DataRow(new[] { "fds", "0" }, "fds: '0' is not a PID (a number from 1); usage: fds [PID]", DisplayName = "fds: bad pid")]
    [DataRow(new[] { "cat" }, "cat: an argument is missing; usage: cat PATH", DisplayName = "cat: no path")]
    [DataRow(new[] { "cat", "proc/version" }, "cat: 'proc/version' is not an absolute path (guest paths start with /); usage: cat PATH", DisplayName = "cat: relative path")]
    [DataRow(new[] { "cat", "--json", "--guest", "qemu", "--abi", "mips", "/proc/version" }, "there is no real mips guest", DisplayName = "cat: the guest options are checked")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--inspect", "ps" }, "--inspect runs its queries when the boot ends by --until or --timeout: give one of them", DisplayName = "boot: inspect without an end")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--until", "done", "--inspect", "ps", "--inspect", "maps" }, "maps: an argument is missing; usage: maps PID [ADDRESS]", DisplayName = "boot: a bad query")]
    [DataRow(new[] { "boot", "--rootfs", ".", "--timeout", "5", "--inspect", "cat x" }, "cat: 'x' is not an absolute path", DisplayName = "boot: a bad query with --timeout")]
    public async Task Bad_arguments_are_refused_before_anything_boots(string[] args, string message)
    {
        var result = await Cli.RunInProcessAsync(args);
        Assert.AreEqual(ExitCodes.Usage, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, message, result.ToString());
        Assert.DoesNotContain("Starting", result.Errors, "nothing started: " + result);
        Assert.DoesNotContain("Booting", result.Errors, "nothing booted: " + result);
        Assert.AreEqual("", result.Output, "nothing ran");
    }

    [TestMethod]
    public async Task Help_lists_inspect_and_its_aliases_and_the_queries()
    {
        var root = await Cli.RunInProcessAsync("--help");
        foreach (var command in new[] { "inspect", "ps", "maps", "fds", "cat" })
            StringAssert.Contains(root.Output, $"  {command} ", root.Output);
        var inspect = await Cli.RunInProcessAsync("inspect", "--help");
        Assert.AreEqual(0, inspect.ExitCode);
        foreach (var text in new[] { "--guest", "--abi", "--rootfs", "--file", "--json", "--verbose", "maps PID [ADDRESS]", "run COMMAND [ARGUMENTS...]" })
            StringAssert.Contains(inspect.Output, text, inspect.Output);
        var boot = await Cli.RunInProcessAsync("boot", "--help");
        StringAssert.Contains(boot.Output, "--inspect <query>", boot.Output);
    }
}
