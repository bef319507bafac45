using Portal.Channels;
using Portal.Cli.Terminal;

namespace Portal.Cli.Inspecting;

/// <summary>
/// Runs queries over one session and shows each outcome: the queries given on the command line, or the
/// lines of an input (<c>portal inspect</c> without queries), where a bad line is reported and the shell
/// goes on. It counts what failed, for the exit status. The guest's loss and Ctrl-C are not a query's
/// failure: their exceptions reach the caller, which ends the session.
/// </summary>
/// <param name="console">Where failures and the prompt go.</param>
/// <param name="runner">Runs each query.</param>
/// <param name="formatter">Shows each outcome.</param>
/// <param name="verbose">Say on stderr what each query cost in exchanges.</param>
internal sealed class QueryShell(CliConsole console, IQueryRunner runner, IQueryFormatter formatter, bool verbose)
{
    /// <summary>The prompt shown when a person types the queries.</summary>
    public const string Prompt = "portal> ";

    private int _failed;
    private bool _unsupported;
    private bool _lineOpen;     // the last result (a file cat printed) did not end its line

    /// <summary>Queries that failed so far (bad lines included).</summary>
    public int Failed => _failed;

    /// <summary>
    /// 0 when every query succeeded; <see cref="ExitCodes.Unavailable"/> when the guest's module serves no
    /// queries (nothing will work until it does); else <see cref="ExitCodes.QueryFailed"/> when any failed.
    /// </summary>
    public int ExitCode => _unsupported ? ExitCodes.Unavailable : _failed > 0 ? ExitCodes.QueryFailed : ExitCodes.Success;

    /// <summary>Runs one query and shows its result or failure; false when it failed.</summary>
    public async Task<bool> RunAsync(Query query, CancellationToken cancellationToken)
    {
        QueryResult result;
        var exchangesBefore = runner.ControlExchanges;
        try
        {
            result = await runner.RunAsync(query, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (QueryFailure.From(query.Text, e) is { } failure)
        {
            Report(failure);
            return false;
        }
        finally
        {
            if (verbose)
                console.Say($"portal: '{query.Text}' took {runner.ControlExchanges - exchangesBefore} exchange(s)");
        }
        formatter.Write(result);
        _lineOpen = result is FileContentResult { Content: [.., not (byte)'\n'] };
        if (!result.Succeeded)
            _failed++;
        return result.Succeeded;
    }

    /// <summary>
    /// Reads queries from <paramref name="input"/>, one a line, until its end or <c>exit</c>/<c>quit</c>; empty lines
    /// and <c>#</c> comments are skipped, <c>help</c> lists the queries. With <paramref name="prompt"/> (a terminal)
    /// each line is asked for with <see cref="Prompt"/>.
    /// </summary>
    /// <param name="input">The lines.</param>
    /// <param name="prompt">Whether a person types them.</param>
    /// <param name="lost">Completes if the guest is lost while the shell waits for a line (the QEMU guest's <c>Lost</c>), or null.</param>
    /// <param name="cancellationToken">Ctrl-C: stops the wait for a line and the query running.</param>
    /// <exception cref="GuestLostException">The guest was lost.</exception>
    /// <exception cref="OperationCanceledException">Interrupted.</exception>
    public async Task RunLinesAsync(TextReader input, bool prompt, Task<GuestLostException>? lost, CancellationToken cancellationToken)
    {
        var interrupted = Task.Delay(Timeout.Infinite, cancellationToken);
        while (true)
        {
            if (prompt)
            {
                // A file without a last newline would leave the prompt at its end: start a line on the terminal (stdout keeps the bytes as they are).
                if (_lineOpen)
                    await console.Error.WriteLineAsync().ConfigureAwait(false);
                _lineOpen = false;
                await console.Error.WriteAsync(Prompt).ConfigureAwait(false);
                await console.Error.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            // A terminal's ReadLine cannot be cancelled: it is left behind when Ctrl-C or the guest's end comes first.
            var read = Task.Run(input.ReadLine, CancellationToken.None);
            var first = await Task.WhenAny(read, (Task?)lost ?? interrupted, interrupted).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (first != read)
                throw await lost!.ConfigureAwait(false);
            var line = (await read.ConfigureAwait(false))?.Trim();
            if (line is null or "exit" or "quit")
                return;
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            if (line == "help")
            {
                Help(console.Error);
                continue;
            }
            Query query;
            try
            {
                query = QueryParser.Parse(line);
            }
            catch (QueryUsageException e)
            {
                Report(new QueryFailure(line, QueryFailureKind.Usage, e.Message));
                continue;
            }
            await RunAsync(query, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every query's usage, then the shell's own words.</summary>
    public static void Help(TextWriter output)
    {
        var width = QueryParser.Queries.Max(q => q.Usage.Length);
        foreach (var (_, usage, description) in QueryParser.Queries)
            output.WriteLine($"  {usage.PadRight(width)}  {description}");
        output.WriteLine($"  {"help".PadRight(width)}  this list");
        output.WriteLine($"  {"exit, quit".PadRight(width)}  end (as does the end of input)");
        output.Flush();
    }

    private void Report(QueryFailure failure)
    {
        formatter.Write(failure);
        _failed++;
        _unsupported |= failure.Kind == QueryFailureKind.NotSupported;
    }
}
