using System.Diagnostics;
using System.Globalization;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Qemu.Tests;

/// <summary>What a guest may leave behind: a QEMU process, its RAM file in /dev/shm, its scratch directory.</summary>
internal static class Leftovers
{
    /// <summary>Whether the process runs (a zombie has exited and only waits to be reaped).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>QEMU gone, its scratch directory gone, nothing of this host process in /dev/shm or /tmp.</summary>
    public static void AssertNone(int qemu, string workDirectory)
    {
        Assert.IsFalse(IsAlive(qemu), $"QEMU {qemu} still runs");
        AssertNoneOfThisProcess();
        Assert.IsFalse(Directory.Exists(workDirectory), $"{workDirectory} was left behind");
    }

    /// <summary>No QEMU with this process's RAM file, no RAM file, no scratch directory of this process.</summary>
    public static void AssertNoneOfThisProcess()
    {
        var host = Environment.ProcessId;
        Assert.IsEmpty(Directory.GetFiles("/dev/shm", $"portal-{host}-*"), "nothing left in /dev/shm");
        Assert.IsEmpty(Directory.GetDirectories(Path.GetTempPath(), $"portal-guest-{host}-*"), "no scratch directory left");
        var qemus = Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(d => d!.All(char.IsAsciiDigit))
            .Select(d => int.Parse(d!, CultureInfo.InvariantCulture))
            .Where(pid => IsAlive(pid) && CommandLine(pid).Contains($"/dev/shm/portal-{host}-", StringComparison.Ordinal)).ToList();
        Assert.IsEmpty(qemus, "no QEMU of this host runs");
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit, string failure)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
                Assert.Fail(failure);
            await Task.Delay(20);
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline");
        }
        catch (IOException)
        {
            return "";
        }
    }
}
