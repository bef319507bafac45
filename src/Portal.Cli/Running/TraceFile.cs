using Portal.Cli.Terminal;
using Portal.Diagnostics;

namespace Portal.Cli.Running;

/// <summary>
/// <c>--trace file</c> of <c>portal run</c> and <c>portal boot</c>: the session's timeline as a Chrome trace
/// (<see cref="ChromeTraceWriter"/>). Created before the guest boots, so an unwritable path costs no boot;
/// closed last, however the run ended (the JSON is then complete), saying where it is or why it stopped early.
/// </summary>
internal sealed class TraceFile : IDisposable
{
    private readonly CliConsole _console;
    private readonly string _path;
    private readonly ChromeTraceWriter _writer;

    private TraceFile(CliConsole console, string path, ChromeTraceWriter writer) => (_console, _path, _writer) = (console, path, writer);

    /// <summary>What the session reports to.</summary>
    public IPortalTracer Tracer => _writer;

    /// <summary>Creates the file; false (the message said why: exit <see cref="ExitCodes.Usage"/>) when it cannot be written.</summary>
    public static bool TryCreate(CliConsole console, string? path, out TraceFile? trace)
    {
        trace = null;
        if (path is null)
            return true;
        var fullPath = Path.GetFullPath(path);
        try
        {
            trace = new TraceFile(console, fullPath, ChromeTraceWriter.Create(fullPath));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            console.Fail($"--trace {path}: cannot write the trace there: {e.Message}");
            return false;
        }
    }

    public void Dispose()
    {
        _writer.Dispose();
        if (_writer.WriteFailure is { } failure)
            _console.Fail($"the trace {_path} is incomplete (not valid JSON): writing it failed: {failure.Message}");
        else
            _console.Say($"portal: trace written to {_path} (open it in Perfetto UI, \"Open trace file\", or chrome://tracing)");
    }
}
