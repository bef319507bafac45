using Portal.Abi;
using Portal.Channels;
using Portal.Cli.Inspecting;
using Portal.Cli.Terminal;
using Portal.Memory;
using Portal.Protocol;
using static Portal.Cli.Tests.InspectRecords;

namespace Portal.Cli.Tests;

/// <summary>
/// The shell of portal inspect over a stand-in runner (no guest): which lines become queries, what a failure
/// costs the shell (nothing: it goes on) and the exit status, the prompt only on a terminal.
/// </summary>
[TestClass]
public sealed class QueryShellTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Comments_and_empty_lines_are_skipped_a_bad_line_is_reported_and_the_shell_goes_on()
    {
        var runner = new StandInRunner();
        var (shell, output, errors) = Shell(runner);
        await shell.RunLinesAsync(new StringReader("# the processes\n\n   \nps\nbogus\n  paths 1  \nmaps one\nps\n"), prompt: false, lost: null, TestContext.CancellationToken);
        CollectionAssert.AreEqual(new[] { "ps", "paths 1", "ps" }, runner.Ran.ToArray(), "the queries, trimmed, in order");
        Assert.AreEqual(2, shell.Failed);
        Assert.AreEqual(ExitCodes.QueryFailed, shell.ExitCode, "at the end of input: nonzero, a line failed");
        Assert.AreEqual(
            "portal: unknown query 'bogus' (queries: ps, maps, fds, paths, cat, ls, stat, run)\n" +
            "portal: maps: 'one' is not a PID (a number from 1); usage: maps PID [ADDRESS]\n",
            errors.ToString());
        Assert.AreEqual(3, output.ToString().Split('\n').Count(l => l.EndsWith("/sbin/init", StringComparison.Ordinal)), "each query answered (the stand-in answers init's list): " + output);
    }

    [TestMethod]
    [DataRow("exit"), DataRow("quit"), DataRow("  exit  ")]
    public async Task Exit_or_quit_ends_the_shell_and_what_follows_is_not_read(string word)
    {
        var runner = new StandInRunner();
        var (shell, _, _) = Shell(runner);
        var input = new StringReader($"ps\n{word}\nbogus\n");
        await shell.RunLinesAsync(input, prompt: false, lost: null, TestContext.CancellationToken);
        CollectionAssert.AreEqual(new[] { "ps" }, runner.Ran.ToArray());
        Assert.AreEqual("bogus", input.ReadLine(), "left unread");
        Assert.AreEqual(ExitCodes.Success, shell.ExitCode);
    }

    [TestMethod]
    public async Task The_prompt_is_shown_only_to_a_person_at_a_terminal()
    {
        var (shell, output, errors) = Shell(new StandInRunner());
        await shell.RunLinesAsync(new StringReader("ps\n"), prompt: true, lost: null, TestContext.CancellationToken);
        Assert.AreEqual("portal> portal> ", errors.ToString(), "before each line, and before the end of input");
        Assert.DoesNotContain("portal>", output.ToString());

        var (quiet, _, quietErrors) = Shell(new StandInRunner());
        await quiet.RunLinesAsync(new StringReader("ps\n"), prompt: false, lost: null, TestContext.CancellationToken);
        Assert.AreEqual("", quietErrors.ToString());
    }

    [TestMethod]
    public async Task The_prompt_after_a_file_without_a_last_newline_starts_a_line_of_its_own()
    {
        var runner = new StandInRunner { Result = q => new FileContentResult(q, "/etc/hostname", q.Text.EndsWith('a') ? "router"u8.ToArray() : "router\n"u8.ToArray()) };
        var (shell, output, errors) = Shell(runner);
        await shell.RunLinesAsync(new StringReader("cat /a\ncat /b\n"), prompt: true, lost: null, TestContext.CancellationToken);
        Assert.AreEqual("routerrouter\n", output.ToString(), "the bytes unchanged");
        Assert.AreEqual("portal> \nportal> portal> ", errors.ToString(), "a newline on the terminal's side after 'router' only");
    }

    [TestMethod]
    public async Task Help_lists_every_query_on_stderr()
    {
        var (shell, output, errors) = Shell(new StandInRunner());
        await shell.RunLinesAsync(new StringReader("help\n"), prompt: false, lost: null, TestContext.CancellationToken);
        Assert.AreEqual("", output.ToString(), "stdout stays the results' (JSON Lines with --json)");
        foreach (var usage in new[] { "ps", "maps PID [ADDRESS]", "fds [PID]", "paths PID", "cat PATH", "ls PATH", "stat PATH", "run COMMAND [ARGUMENTS...]", "exit, quit" })
            StringAssert.Contains(errors.ToString(), $"  {usage} ");
        Assert.AreEqual(ExitCodes.Success, shell.ExitCode, "help is not a failure");
    }

    [TestMethod]
    public async Task A_guest_without_queries_makes_the_exit_status_69_whatever_else_failed()
    {
        var runner = new StandInRunner { Throws = new NotSupportedException("This guest's Portal module does not serve introspection queries (Processes).") };
        var (shell, _, errors) = Shell(runner);
        await shell.RunLinesAsync(new StringReader("bogus\nps\n"), prompt: false, lost: null, TestContext.CancellationToken);
        Assert.AreEqual(ExitCodes.Unavailable, shell.ExitCode);
        StringAssert.Contains(errors.ToString(), "portal: ps: This guest's Portal module does not serve introspection queries");
    }

    [TestMethod]
    public async Task A_refused_query_fails_and_the_next_one_still_runs()
    {
        var runner = new StandInRunner { Throws = new GuestOperationException(PortalOp.Query, GuestErrno.ESRCH, 3, "refused"), ThrowsFor = "paths 9" };
        var (shell, output, errors) = Shell(runner);
        Assert.IsFalse(await shell.RunAsync(QueryParser.Parse("paths 9"), TestContext.CancellationToken));
        Assert.IsTrue(await shell.RunAsync(QueryParser.Parse("ps"), TestContext.CancellationToken));
        Assert.AreEqual("portal: paths 9: ESRCH: No such process\n", errors.ToString());
        StringAssert.Contains(output.ToString(), "/sbin/init");
        Assert.AreEqual(ExitCodes.QueryFailed, shell.ExitCode);
    }

    [TestMethod]
    public async Task A_result_that_is_a_failure_counts_as_one()
    {
        var runner = new StandInRunner { Result = q => new MappingAtResult(q, 1, 0x10, null) };
        var (shell, _, _) = Shell(runner);
        Assert.IsFalse(await shell.RunAsync(QueryParser.Parse("maps 1 0x10"), TestContext.CancellationToken));
        Assert.AreEqual(ExitCodes.QueryFailed, shell.ExitCode);
    }

    [TestMethod]
    public async Task Losing_the_guest_ends_the_shell_it_is_no_query_s_failure()
    {
        var runner = new StandInRunner { Throws = new GuestLostException("QEMU exited") };
        var (shell, _, errors) = Shell(runner);
        await Assert.ThrowsExactlyAsync<GuestLostException>(() => shell.RunLinesAsync(new StringReader("ps\nps\n"), prompt: false, lost: null, TestContext.CancellationToken));
        Assert.HasCount(1, runner.Ran, "the first query lost it: no second");
        Assert.AreEqual("", errors.ToString(), "the command says it, once");
    }

    [TestMethod]
    public async Task The_guest_lost_while_the_shell_waits_for_a_line_ends_it()
    {
        var (shell, _, _) = Shell(new StandInRunner());
        var lost = Task.FromResult(new GuestLostException("kernel panic"));
        var never = new BlockingReader();
        var e = await Assert.ThrowsExactlyAsync<GuestLostException>(() => shell.RunLinesAsync(never, prompt: false, lost, TestContext.CancellationToken));
        Assert.AreEqual("kernel panic", e.Message);
        never.Release();
    }

    [TestMethod]
    public async Task With_verbose_each_query_says_what_it_cost_in_exchanges()
    {
        var runner = new StandInRunner { ExchangesPerQuery = 3 };
        var output = new StringWriter();
        var errors = new StringWriter();
        var console = new CliConsole(output, errors, interactive: false);
        var shell = new QueryShell(console, runner, new TextFormatter(console), verbose: true);
        await shell.RunAsync(QueryParser.Parse("ps"), TestContext.CancellationToken);
        Assert.AreEqual("portal: 'ps' took 3 exchange(s)\n", errors.ToString());
    }

    private static (QueryShell Shell, StringWriter Output, StringWriter Errors) Shell(IQueryRunner runner)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var console = new CliConsole(output, errors, interactive: false);
        return (new QueryShell(console, runner, new TextFormatter(console), verbose: false), output, errors);
    }

    /// <summary>Answers every query with init's process list (or <see cref="Result"/>), or throws <see cref="Throws"/>.</summary>
    private sealed class StandInRunner : IQueryRunner
    {
        public List<string> Ran { get; } = [];

        public Exception? Throws { get; init; }

        /// <summary>Throw only for this query (null: for every one).</summary>
        public string? ThrowsFor { get; init; }

        public Func<Query, QueryResult> Result { get; init; } = q => new ProcessListResult(q, [Init]);

        public int ExchangesPerQuery { get; init; } = 1;

        public long ControlExchanges { get; private set; }

        public Task<QueryResult> RunAsync(Query query, CancellationToken cancellationToken)
        {
            Ran.Add(query.Text);
            ControlExchanges += ExchangesPerQuery;
            if (Throws is not null && (ThrowsFor is null || ThrowsFor == query.Text))
                throw Throws;
            return Task.FromResult(Result(query));
        }
    }

    /// <summary>A terminal where nobody types: ReadLine blocks until released.</summary>
    private sealed class BlockingReader : TextReader
    {
        private readonly ManualResetEventSlim _released = new();

        public void Release() => _released.Set();

        public override string? ReadLine()
        {
            _released.Wait();
            return null;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _released.Dispose();
            base.Dispose(disposing);
        }
    }
}
