using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>
/// portal inspect and its aliases against the emulated guest, end to end: its QUERY server answers as
/// portal.ko does (init as pid 1, kthreadd as pid 2, /proc/version, ESRCH for a pid that is no process).
/// </summary>
[TestClass]
public sealed partial class InspectEmulatedTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Ps_lists_init_and_the_kernel_threads_as_a_table()
    {
        var result = await Cli.RunInProcessAsync("ps", "--guest", "emulated");
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        var lines = result.Output.TrimEnd('\n').Split('\n');
        Assert.AreEqual("PID  PPID  UID  S  STARTED  COMMAND", Regex.Replace(lines[0], " +", m => m.Length >= 2 ? "  " : " "), result.ToString());
        Assert.IsTrue(lines.Any(l => InitLine().IsMatch(l)), "pid 1, parent 0, root, /sbin/init: " + result);
        Assert.IsTrue(lines.Any(l => l.EndsWith(" [kthreadd]", StringComparison.Ordinal)), "a kernel thread in brackets: " + result);
        StringAssert.Contains(result.Errors, "portal: Starting the emulated x86_64 guest\n");
        StringAssert.Contains(result.Errors, "portal: Shutting the guest down\n");
    }

    [TestMethod]
    public async Task Cat_with_json_gives_the_bytes_as_base64_and_as_text()
    {
        var result = await Cli.RunInProcessAsync("cat", "/proc/version", "--guest", "emulated", "--json");
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        Assert.IsTrue(result.Output.EndsWith('\n') && result.Output.IndexOf('\n') == result.Output.Length - 1, "one line: " + result);
        using var document = JsonDocument.Parse(result.Output);
        var root = document.RootElement;
        Assert.AreEqual("cat /proc/version", root.GetProperty("query").GetString());
        Assert.AreEqual("/proc/version", root.GetProperty("path").GetString());
        var text = root.GetProperty("text").GetString()!;
        StringAssert.StartsWith(text, "Linux version ");
        CollectionAssert.AreEqual(Encoding.UTF8.GetBytes(text), root.GetProperty("content").GetBytesFromBase64());
        Assert.AreEqual(text.Length, root.GetProperty("length").GetInt32());
    }

    [TestMethod]
    public async Task Cat_prints_the_file_as_it_is_and_a_missing_one_fails_with_its_errno()
    {
        var found = await Cli.RunInProcessAsync("inspect", "--guest", "emulated", "cat /proc/version");
        Assert.AreEqual(ExitCodes.Success, found.ExitCode, found.ToString());
        Assert.IsTrue(found.Output.StartsWith("Linux version ", StringComparison.Ordinal) && found.Output.EndsWith('\n'), found.ToString());

        var missing = await Cli.RunInProcessAsync("cat", "/no/such/file", "--guest", "emulated");
        Assert.AreEqual(ExitCodes.QueryFailed, missing.ExitCode, missing.ToString());
        StringAssert.Contains(missing.Errors, "portal: cat /no/such/file: ENOENT: No such file or directory\n");
        Assert.AreEqual("", missing.Output);
    }

    [TestMethod]
    public async Task A_query_costs_one_exchange_per_page_of_result()
    {
        var result = await Cli.RunInProcessAsync("inspect", "--guest", "emulated", "--verbose", "cat /proc/version", "ps");
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, "portal: 'cat /proc/version' took 1 exchange(s)\n", "a result under 4056 bytes: one exchange");
        StringAssert.Contains(result.Errors, "portal: 'ps' took 1 exchange(s)\n");
    }

    [TestMethod]
    public async Task Queries_on_the_command_line_run_in_order_and_a_failure_does_not_stop_the_next()
    {
        var result = await Cli.RunInProcessAsync("inspect", "--guest", "emulated", "--json", "fds 99999", "paths 1", "maps 1 0x0", "stat /proc/version", "ls /proc");
        Assert.AreEqual(ExitCodes.QueryFailed, result.ExitCode, result.ToString());
        var lines = result.Output.TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        CollectionAssert.AreEqual(new[] { "fds 99999", "paths 1", "maps 1 0x0", "stat /proc/version", "ls /proc" },
            lines.Select(l => l.GetProperty("query").GetString()).ToArray(), result.ToString());
        Assert.AreEqual("ESRCH", lines[0].GetProperty("errno").GetString());
        Assert.AreEqual("No such process", lines[0].GetProperty("error").GetString());
        Assert.AreEqual("/sbin/init", lines[1].GetProperty("executable").GetString());
        Assert.AreEqual(JsonValueKind.Null, lines[2].GetProperty("mapping").ValueKind, "no mapping contains address 0");
        Assert.AreEqual("regular", lines[3].GetProperty("type").GetString());
        Assert.IsTrue(lines[4].GetProperty("entries").EnumerateArray().Any(e => e.GetProperty("name").GetString() == "version"), result.ToString());
    }

    [TestMethod]
    public async Task The_shell_reads_queries_from_stdin_over_one_session_and_goes_on_after_a_bad_line()
    {
        const string Input = "# look around\nps\n\nbogus\ncat /proc/version\nfds 99999\nrun portal-selftest getpid\n";
        var result = await Cli.RunInProcessWithInputAsync(Input, "inspect", "--guest", "emulated");
        Assert.AreEqual(ExitCodes.QueryFailed, result.ExitCode, "two lines failed: " + result);
        Assert.IsTrue(result.Output.Split('\n').Any(l => InitLine().IsMatch(l)), result.ToString());
        StringAssert.Contains(result.Output, "Linux version ", "the queries after the bad line ran");
        StringAssert.Matches(result.Output, PidLine(), "run: the command's output");
        StringAssert.Contains(result.Errors, "portal: unknown query 'bogus' (queries: ps, maps, fds, paths, cat, ls, stat, run)\n");
        StringAssert.Contains(result.Errors, "portal: fds 99999: ESRCH: No such process\n");
        Assert.DoesNotContain("portal> ", result.Errors, "no prompt: stdin is not a terminal");
        Assert.AreEqual(1, Regex.Count(result.Errors, "Starting the emulated"), "one guest, one session for all lines");
    }

    /// <summary>As a user runs it: portal's own process, the lines on its stdin, JSON Lines on its stdout.</summary>
    [TestMethod]
    public async Task The_shell_as_its_own_process_answers_each_line_with_one_json_line()
    {
        var result = await Cli.RunWithInputAsync("ps\nmaps x\ncat /proc/version\nquit\nps\n", TestContext.CancellationToken, "inspect", "--guest", "emulated", "--json");
        Assert.AreEqual(ExitCodes.QueryFailed, result.ExitCode, result.ToString());
        var lines = result.Output.TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.HasCount(3, lines, "quit ends the shell: " + result);
        Assert.IsGreaterThanOrEqualTo(2, lines[0].GetProperty("processes").GetArrayLength());
        Assert.AreEqual("maps: 'x' is not a PID (a number from 1); usage: maps PID [ADDRESS]", lines[1].GetProperty("error").GetString());
        Assert.AreEqual(JsonValueKind.Null, lines[1].GetProperty("errno").ValueKind);
        StringAssert.StartsWith(lines[2].GetProperty("text").GetString(), "Linux version ");
    }

    /// <summary>A plugin's hooks are live while the queries run: a 'run' query's program meets them, and each handler is reported as portal run reports it.</summary>
    [TestMethod]
    public async Task A_plugin_handles_what_a_run_query_runs_and_is_reported()
    {
        var result = await Cli.RunInProcessAsync("inspect", "--guest", "emulated", "--plugin", $"{Cli.RaethDll}#RaethPlugin",
            "run mtk7530_switch table_del", "ps");
        Assert.AreEqual(ExitCodes.Success, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Output, "done.\n", "the switch got its register: " + result);
        StringAssert.Contains(result.Errors, "info RaethPlugin: read register 0x34 -> 0x2", "the plugin's log");
        StringAssert.Matches(result.Errors, new Regex(@"^handler RAEth: calls=1 exchanges=1 mean=\d+\.\dµs$", RegexOptions.Multiline), result.ToString());
    }

    /// <summary>As with portal run: a syscall a hook should have handled and did not never ends in 0, unless allowed.</summary>
    [TestMethod]
    public async Task A_syscall_a_plugin_left_unhandled_exits_75_unless_allowed()
    {
        string[] arguments = ["inspect", "--guest", "emulated", "--plugin", $"{Cli.TestsDll}#ThrowsOnIoctl", "run portal-selftest ioctl 0x7003 0"];
        var failed = await Cli.RunInProcessAsync(arguments);
        Assert.AreEqual(ExitCodes.SyscallsUnhandled, failed.ExitCode, failed.ToString());
        StringAssert.Matches(failed.Errors, new Regex(@"^handler throws: calls=1 exchanges=0 mean=\d+\.\dµs errors=1$", RegexOptions.Multiline), failed.ToString());
        StringAssert.Contains(failed.Errors, "matching syscalls went unhandled (--allow-unhandled keeps the queries' status)");

        var allowed = await Cli.RunInProcessAsync([.. arguments, "--allow-unhandled"]);
        Assert.AreEqual(ExitCodes.Success, allowed.ExitCode, allowed.ToString());
        StringAssert.Contains(allowed.Errors, "handler throws: calls=1");
    }

    [TestMethod]
    public async Task A_plugin_that_cannot_load_stops_inspect_before_the_guest_starts()
    {
        var result = await Cli.RunInProcessAsync("ps", "--guest", "emulated", "--plugin", $"{Cli.TestsDll}#FailsToStart");
        Assert.AreEqual(ExitCodes.PluginFailure, result.ExitCode, result.ToString());
        Assert.IsFalse(result.Errors.Contains("Starting the emulated", StringComparison.Ordinal), "nothing booted: " + result);
    }

    [GeneratedRegex(@"^\s*1\s+0\s+0\s+[A-Z]\s+\d+\.\d\ds\s+/sbin/init$")]
    private static partial Regex InitLine();

    [GeneratedRegex(@"(?m)^pid=\d+$")]
    private static partial Regex PidLine();
}
