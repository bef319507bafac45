using System.Text;
using System.Text.RegularExpressions;

namespace Portal.Qemu.Hosting;

/// <summary>How the guest kernel announced its end on the console.</summary>
internal enum ConsoleEnd
{
    /// <summary>Nothing yet.</summary>
    None,

    /// <summary>"Kernel panic - not syncing: …" (also an oops under <c>oops=panic</c>, and init exiting).</summary>
    Panic,

    /// <summary>"reboot: Power down".</summary>
    PoweredOff,

    /// <summary>"reboot: System halted" (QEMU keeps running a halted CPU).</summary>
    Halted,

    /// <summary>"reboot: Restarting system" (QEMU runs with -no-reboot, so the VM ends).</summary>
    Rebooted,
}

/// <summary>
/// Follows the guest console (the file QEMU writes ttyS0 to) as it grows: keeps its last lines, cleaned
/// of control characters and bounded in length, and recognises the lines with which the kernel announces
/// that the guest is ending. The console is written by the guest, so it is untrusted: a guest can fake
/// these lines, but it could end itself anyway; it cannot make the host keep more than
/// <see cref="KeptLines"/> lines of <see cref="MaxLineLength"/> characters.
/// </summary>
internal sealed class GuestConsole : IDisposable
{
    public const int KeptLines = 400;
    public const int MaxLineLength = 512;

    /// <summary>The panic text: at most this many lines (its head and its tail when longer).</summary>
    private const int PanicHeadLines = 60, PanicTailLines = 30;

    /// <summary>How far before the panic line an oops's first line is looked for.</summary>
    private const int OopsSearchLines = 150;

    /// <summary>One call reads at most this much; a guest flooding its console is followed, not buffered.</summary>
    private const int MaxReadPerPoll = 4 << 20;

    private static readonly string[] OopsStarts = ["BUG:", "Oops", "general protection fault", "kernel BUG at", "Unable to handle kernel"];

    private readonly Lock _gate = new();
    private readonly string _path;
    private readonly Queue<string> _lines = new();
    private readonly StringBuilder _partial = new();
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly byte[] _bytes = new byte[64 * 1024];
    private readonly char[] _chars = new char[Encoding.UTF8.GetMaxCharCount(64 * 1024)];
    private readonly Action<string>? _onLine;
    private readonly List<(Regex Pattern, TaskCompletionSource<string> Match)> _waiters = [];
    private FileStream? _stream;
    private ConsoleEnd _end;

    /// <param name="path">The file QEMU writes the console to.</param>
    /// <param name="onLine">Called with each complete line, in order, as polls find them (keep it quick: polls wait for it).</param>
    public GuestConsole(string path, Action<string>? onLine = null)
    {
        _path = path;
        _onLine = onLine;
    }

    /// <summary>
    /// The first line matching <paramref name="pattern"/>: among the kept lines if one does already,
    /// else the next one that does (found by the polls).
    /// </summary>
    public async Task<string> WaitForLineAsync(Regex pattern, CancellationToken cancellationToken)
    {
        var match = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_lines.FirstOrDefault(pattern.IsMatch) is { } seen)
                return seen;
            _waiters.Add((pattern, match));
        }
        try
        {
            return await match.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
                _waiters.RemoveAll(waiter => waiter.Match == match);
        }
    }

    /// <summary>The first end the kernel announced (none yet: <see cref="ConsoleEnd.None"/>).</summary>
    public ConsoleEnd End
    {
        get
        {
            lock (_gate)
                return _end;
        }
    }

    /// <summary>Reads what the guest wrote since the last call; returns <see cref="End"/>.</summary>
    public ConsoleEnd Poll()
    {
        lock (_gate)
        {
            if (_stream is null && !TryOpen())
                return _end;
            var budget = MaxReadPerPoll;
            int read;
            while (budget > 0 && (read = _stream!.Read(_bytes, 0, Math.Min(_bytes.Length, budget))) > 0)
            {
                budget -= read;
                var count = _decoder.GetChars(_bytes, 0, read, _chars, 0, flush: false);
                Append(_chars.AsSpan(0, count));
            }
            return _end;
        }
    }

    /// <summary>
    /// The panic's text: from the first line of the oops that led to it (when one is found shortly before)
    /// or from "Kernel panic" itself, to the end of the console; null when there was no panic.
    /// </summary>
    public string? PanicText()
    {
        string[] lines;
        lock (_gate)
        {
            lines = [.. _lines, .. _partial.Length > 0 ? [_partial.ToString()] : Array.Empty<string>()];
        }
        // The first one: a panic stops the guest, and its last line ("---[ end Kernel panic ...") repeats the words.
        var panic = Array.FindIndex(lines, line => line.Contains("Kernel panic - not syncing", StringComparison.Ordinal));
        if (panic < 0)
            return null;
        var start = panic;
        for (var i = panic - 1; i >= Math.Max(0, panic - OopsSearchLines); i--)
        {
            if (OopsStarts.Any(marker => lines[i].Contains(marker, StringComparison.Ordinal)))
                start = i;
        }
        var text = lines[start..];
        if (text.Length <= PanicHeadLines + PanicTailLines)
            return string.Join('\n', text);
        return string.Join('\n', [.. text[..PanicHeadLines], $"[... {text.Length - PanicHeadLines - PanicTailLines} lines ...]", .. text[^PanicTailLines..]]);
    }

    /// <summary>The last <paramref name="count"/> lines (with an unfinished last line).</summary>
    public string Tail(int count)
    {
        lock (_gate)
        {
            var lines = _lines.Skip(Math.Max(0, _lines.Count - count));
            return string.Join('\n', _partial.Length > 0 ? lines.Append(_partial.ToString()) : lines);
        }
    }

    public void Dispose()
    {
        lock (_gate)
            _stream?.Dispose();
    }

    private bool TryOpen()
    {
        try
        {
            _stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;       // QEMU has not created it yet
        }
    }

    private void Append(ReadOnlySpan<char> chars)
    {
        foreach (var c in chars)
        {
            if (c == '\n')
            {
                Complete(_partial.ToString());
                _partial.Clear();
            }
            else if (_partial.Length < MaxLineLength && (c == '\t' || !char.IsControl(c)))
            {
                _partial.Append(c);     // '\r' and escape sequences' control characters are dropped
            }
        }
    }

    private void Complete(string line)
    {
        _lines.Enqueue(line);
        if (_lines.Count > KeptLines)
            _lines.Dequeue();
        _onLine?.Invoke(line);
        foreach (var (pattern, match) in _waiters)
        {
            if (pattern.IsMatch(line))
                match.TrySetResult(line);
        }
        if (_end != ConsoleEnd.None)
            return;
        _end = line switch
        {
            _ when line.Contains("Kernel panic - not syncing", StringComparison.Ordinal) => ConsoleEnd.Panic,
            _ when line.Contains("reboot: Power down", StringComparison.Ordinal) => ConsoleEnd.PoweredOff,
            _ when line.Contains("reboot: System halted", StringComparison.Ordinal) => ConsoleEnd.Halted,
            _ when line.Contains("reboot: Restarting system", StringComparison.Ordinal) => ConsoleEnd.Rebooted,
            _ => ConsoleEnd.None,
        };
    }
}
