using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Portal.Headers.Tests;

/// <summary>How a guarded run ended, and what it cost the machine.</summary>
/// <param name="ExitCode">The exit code (-1 when the guard killed it).</param>
/// <param name="Output">stdout (at most <see cref="GuardedProcess.MaxCapture"/> characters kept).</param>
/// <param name="Error">stderr (likewise).</param>
/// <param name="ErrorLength">How many characters stderr had in all.</param>
/// <param name="Elapsed">Wall-clock time until it exited or was killed.</param>
/// <param name="PeakBytes">The sum over the process and its descendants of each one's peak resident memory (VmHWM): an upper bound of the tree's peak.</param>
/// <param name="Descendants">Every descendant seen, with its command line.</param>
/// <param name="Killed">Why the guard killed the tree, or null.</param>
internal sealed record GuardedResult(int ExitCode, string Output, string Error, long ErrorLength, TimeSpan Elapsed, long PeakBytes,
    IReadOnlyDictionary<int, string> Descendants, string? Killed)
{
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"exit {ExitCode}, {Elapsed.TotalSeconds:0.0} s, peak {PeakBytes >> 20} MiB{(Killed is null ? "" : ", killed: " + Killed)}\nstderr: {(Error.Length > 2000 ? Error[..2000] + "…" : Error)}");
}

/// <summary>
/// Runs a command while watching its process tree, killing the whole tree past a wall-clock or memory guard,
/// so that a test of a hostile input cannot take the machine down even when the code under test fails
/// (the guard is the test's own, independent of the limits being tested).
/// </summary>
internal static class GuardedProcess
{
    public const int MaxCapture = 1 << 20;
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>portal-headers, built, in its own process: the way MSBuild runs it.</summary>
    public static GuardedResult Tool(TimeSpan timeout, long memoryGuard, params string[] args)
        => Run("dotnet", [TestPaths.Tool, .. args], timeout, memoryGuard);

    public static GuardedResult Run(string file, IEnumerable<string> args, TimeSpan timeout, long memoryGuard, Action<Process, IReadOnlyDictionary<int, string>>? whileRunning = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = new Process { StartInfo = info };
        var output = new Capture();
        var error = new Capture();
        process.OutputDataReceived += (_, e) => output.Add(e.Data);
        process.ErrorDataReceived += (_, e) => error.Add(e.Data);
        var clock = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var peaks = new Dictionary<int, long>();
        var descendants = new Dictionary<int, string>();
        string? killed = null;
        while (!process.WaitForExit(Poll))
        {
            long resident = 0;
            foreach (var pid in Tree(process.Id))
            {
                if (pid != process.Id && !descendants.ContainsKey(pid))
                    descendants[pid] = CommandLine(pid);
                var (rss, hwm) = Memory(pid);
                resident += rss;
                peaks[pid] = Math.Max(peaks.GetValueOrDefault(pid), hwm);
            }
            whileRunning?.Invoke(process, descendants);
            if (resident > memoryGuard)
                killed = $"the process tree grew past the test's guard of {memoryGuard >> 20} MiB";
            else if (clock.Elapsed > timeout)
                killed = $"still running after the test's guard of {timeout.TotalSeconds} s";
            if (killed is not null)
            {
                process.Kill(entireProcessTree: true);
                break;
            }
        }
        process.WaitForExit();
        clock.Stop();
        return new GuardedResult(killed is null ? process.ExitCode : -1, output.Text, error.Text, error.Length, clock.Elapsed, peaks.Values.Sum(), descendants, killed);
    }

    /// <summary>Whether <paramref name="pid"/> is still a live process (a zombie waiting to be reaped is not).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
            return state != "Z" && state != "X";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary><paramref name="root"/> and its descendants, from every thread's <c>children</c> list.</summary>
    static List<int> Tree(int root)
    {
        var all = new List<int> { root };
        for (var i = 0; i < all.Count; i++)
        {
            try
            {
                foreach (var task in Directory.GetDirectories($"/proc/{all[i]}/task"))
                {
                    foreach (var child in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        all.Add(int.Parse(child, CultureInfo.InvariantCulture));
                }
            }
            catch (IOException)
            {
                // Exited meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return all;
    }

    static (long Rss, long Hwm) Memory(int pid)
    {
        long rss = 0, hwm = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    rss = Kilobytes(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    hwm = Kilobytes(line);
            }
        }
        catch (IOException)
        {
        }
        return (rss, hwm);

        static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>A bounded capture of one stream: the first <see cref="MaxCapture"/> characters, and how many there were.</summary>
    sealed class Capture
    {
        readonly StringBuilder _text = new();
        long _length;

        public void Add(string? line)
        {
            if (line is null)
                return;
            lock (_text)
            {
                _length += line.Length + 1;
                if (_text.Length < MaxCapture)
                    _text.Append(line).Append('\n');
            }
        }

        public string Text
        {
            get
            {
                lock (_text)
                    return _text.ToString();
            }
        }

        public long Length
        {
            get
            {
                lock (_text)
                    return _length;
            }
        }
    }
}
