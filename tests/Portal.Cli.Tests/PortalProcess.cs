using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Portal.Cli.Tests;

/// <summary>Helpers for tests that run portal as its own process with a real guest: its log, QEMU's pid, leftovers.</summary>
internal static partial class PortalProcess
{
    /// <summary>QEMU's pid from portal's --verbose log ("Started QEMU (pid N)").</summary>
    public static int QemuPid(string log)
    {
        var match = StartedQemu().Match(log);
        Assert.IsTrue(match.Success, "no 'Started QEMU' in the log:\n" + log);
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>Whether the process runs (a zombie has exited and only waits to be reaped).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            // "pid (comm) S ..."
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>QEMU has exited, and portal's scratch directory and RAM file are gone.</summary>
    public static void AssertNothingLeft(Process portal, int qemu) => AssertNothingLeft(portal.Id, qemu);

    /// <inheritdoc cref="AssertNothingLeft(Process, int)"/>
    public static void AssertNothingLeft(int portal, int qemu)
    {
        Assert.IsFalse(IsAlive(qemu), "QEMU has exited");
        Assert.IsEmpty(Directory.GetDirectories(Path.GetTempPath(), $"portal-guest-{portal}-*"), "the scratch directory is gone");
        Assert.IsEmpty(Directory.GetFiles("/dev/shm", $"portal-{portal}-*"), "nothing left in /dev/shm");
    }

    /// <summary>Sends a signal with kill(1), as a user would.</summary>
    public static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-s", signal, pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    [GeneratedRegex(@"Started QEMU \(pid (\d+)\)")]
    private static partial Regex StartedQemu();
}

/// <summary>A process's stderr, collected line by line while it runs (each line also handed to <c>onLine</c>).</summary>
internal sealed class ErrorLog
{
    private readonly StringBuilder _text = new();

    public ErrorLog(Process process, Action<string>? onLine = null)
    {
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_text)
                _text.AppendLine(e.Data);
            onLine?.Invoke(e.Data);
        };
        process.BeginErrorReadLine();
    }

    public override string ToString()
    {
        lock (_text)
            return _text.ToString();
    }
}
