using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Qemu.Tests;

/// <summary>Reads and clears the guest's kernel log and fails on anything that means the kernel suffered.</summary>
internal static class KernelLog
{
    private static readonly string[] Problems =
        ["Oops", "WARNING:", "BUG:", "soft lockup", "hard LOCKUP", "Call Trace", "general protection", "rcu_sched self-detected stall", "segfault"];

    /// <summary>Fails when the log since the last call holds a problem; returns the log.</summary>
    public static async Task<string> AssertCleanAsync(QemuGuest guest, CancellationToken cancellationToken)
    {
        var log = await guest.RunShellAsync("dmesg -c", cancellationToken: cancellationToken);
        Assert.AreEqual(0, log.ExitCode, log.Output);
        var bad = log.Lines.Where(line => Problems.Any(p => line.Contains(p, StringComparison.Ordinal))).ToList();
        Assert.IsEmpty(bad, "the guest kernel logged:\n" + string.Join('\n', bad) + "\n--- full log ---\n" + log.Output);
        return log.Output;
    }
}
