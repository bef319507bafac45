using Spectre.Console;

namespace Portal.Cli.Terminal;

/// <summary>
/// Where portal writes: the guest's output goes to <see cref="Out"/>; progress, logs, errors and the
/// handler statistics go to <see cref="Error"/>, so <c>portal run -- cmd &gt; file</c> keeps only the
/// guest's output. On a terminal, progress is an animated status line (Spectre.Console); otherwise each
/// step is one plain line.
/// </summary>
internal sealed class CliConsole
{
    private readonly Lock _gate = new();
    private readonly IAnsiConsole? _terminal;
    private StatusContext? _status;
    private string? _lastReport;

    public CliConsole(TextWriter output, TextWriter error, bool interactive)
    {
        Out = output;
        Error = error;
        if (interactive)
        {
            _terminal = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(error),
                Interactive = InteractionSupport.Yes,
            });
        }
    }

    /// <summary>The process's console; animated only when stderr is a terminal that can show it.</summary>
    public static CliConsole ForProcess()
    {
        var stdout = Console.OpenStandardOutput();
        return new(StandardOutput(stdout), Console.Error,
            interactive: !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is { Length: > 0 } term && term != "dumb")
        {
            In = Console.In,
            InputIsTerminal = !Console.IsInputRedirected,
            OutBytes = stdout,
        };
    }

    /// <summary>
    /// stdout, flushed after every write as <see cref="Console.Out"/> is, but through a 64 KiB buffer:
    /// Console.Out's 256-byte one costs a write() per 256 bytes, which made streaming guest output to
    /// stdout cost 20 ns a byte.
    /// </summary>
    private static TextWriter StandardOutput(Stream stdout) =>
        TextWriter.Synchronized(new StreamWriter(stdout, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 64 * 1024)
        {
            AutoFlush = true,
        });

    /// <summary>The guest command's output.</summary>
    public TextWriter Out { get; }

    /// <summary>
    /// The stream under <see cref="Out"/>, for bytes that are not text (<c>portal cat</c> of a binary file);
    /// null when Out is only a writer (the tests' in-process runs), where <see cref="WriteBytes"/> writes them as UTF-8 text.
    /// </summary>
    public Stream? OutBytes { get; init; }

    /// <summary>Writes bytes to stdout unchanged, after what <see cref="Out"/> has written so far.</summary>
    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Out.Flush();
        if (OutBytes is null)
        {
            Out.Write(System.Text.Encoding.UTF8.GetString(bytes));
            Out.Flush();
            return;
        }
        OutBytes.Write(bytes);
        OutBytes.Flush();
    }

    /// <summary>Everything portal itself says.</summary>
    public TextWriter Error { get; }

    /// <summary>What a person types (<c>portal guest shell</c>'s command lines); empty unless given.</summary>
    public TextReader In { get; init; } = TextReader.Null;

    /// <summary>Whether <see cref="In"/> is a terminal, where a person is shown a prompt.</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>Writes one line of portal's own (never while a status line is being animated over it).</summary>
    public void Say(string line)
    {
        lock (_gate)
        {
            Write(() =>
            {
                if (_terminal is not null)
                    _terminal.MarkupLine(Markup.Escape(line));
                else
                    Error.WriteLine(line);
            });
        }
    }

    /// <summary>An error: "portal: message".</summary>
    public void Fail(string message)
    {
        lock (_gate)
        {
            Write(() =>
            {
                if (_terminal is not null)
                    _terminal.MarkupLine($"[red]portal:[/] {Markup.Escape(message)}");
                else
                    Error.WriteLine($"portal: {message}");
            });
        }
    }

    /// <summary>
    /// A closed terminal (SIGHUP) or a closed pipe makes writing fail: portal must still shut the guest
    /// down in order, so its own messages are dropped rather than thrown.
    /// </summary>
    private static void Write(Action write)
    {
        try
        {
            write();
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Runs one step (set-up, build, boot, shutdown) under a status line that <see cref="Report"/> updates.
    /// Without a terminal the step and each report are plain lines.
    /// </summary>
    public async Task<T> StepAsync<T>(string description, Func<Task<T>> step)
    {
        if (_terminal is null)
        {
            Say($"portal: {description}");
            return await step().ConfigureAwait(false);
        }
        string? outcome = null;
        var result = await _terminal.Status().Spinner(Spinner.Known.Dots).StartAsync(Markup.Escape(description), async context =>
        {
            lock (_gate)
                (_status, _lastReport) = (context, null);
            try
            {
                return await step().ConfigureAwait(false);
            }
            finally
            {
                lock (_gate)
                    (_status, outcome) = (null, _lastReport);
            }
        }).ConfigureAwait(false);
        // The status line vanishes with the step: keep its last news ("Guest ready after 1.7 s").
        if (outcome is not null)
            Say(outcome);
        return result;
    }

    /// <inheritdoc cref="StepAsync{T}(string, Func{Task{T}})"/>
    public Task StepAsync(string description, Func<Task> step) =>
        StepAsync(description, async () =>
        {
            await step().ConfigureAwait(false);
            return true;
        });

    /// <summary>Progress within the current step: the status line's text, or a plain line without a terminal.</summary>
    public void Report(string message)
    {
        lock (_gate)
        {
            if (_status is not null)
            {
                _status.Status(Markup.Escape(message));
                _lastReport = message;
            }
            else
                Say($"portal: {message}");
        }
    }
}
