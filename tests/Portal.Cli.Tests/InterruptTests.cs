using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>Ctrl-C (and SIGTERM) stop the guest command, shut the guest down in order and leave nothing behind.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed partial class InterruptTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("INT", ExitCodes.Interrupted), DataRow("TERM", ExitCodes.Terminated)]
    public async Task A_signal_while_the_command_runs_shuts_the_guest_down_cleanly(string signal, int exitCode)
    {
        using var portal = Cli.Start("run", "--verbose", "--", "sh", "-c", "echo started; sleep 600");
        var errors = new StringBuilder();
        portal.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        portal.BeginErrorReadLine();
        string Errors() { lock (errors) return errors.ToString(); }
        try
        {
            var started = await portal.StandardOutput.ReadLineAsync(TestContext.CancellationToken).AsTask()
                .WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            Assert.AreEqual("started", started, Errors());
            var qemu = int.Parse(QemuPid().Match(Errors()).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.IsTrue(IsAlive(qemu));

            var signalled = Stopwatch.GetTimestamp();
            using (var kill = Process.Start("kill", ["-s", signal, portal.Id.ToString(CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync(TestContext.CancellationToken);
            await portal.WaitForExitAsync(TestContext.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.CancellationToken);
            var stopping = Stopwatch.GetElapsedTime(signalled);
            TestContext.WriteLine($"stopped {stopping.TotalSeconds:F1} s after SIG{signal}\n{Errors()}");

            Assert.AreEqual(exitCode, portal.ExitCode, Errors());
            StringAssert.Contains(Errors(), "portal: interrupted: 'sh -c echo started; sleep 600' was stopped.");
            StringAssert.Contains(Errors(), "portal: Shutting the guest down");
            Assert.DoesNotContain("did not power off in time and was killed", Errors(), "the guest powered off: a clean shutdown");
            Assert.IsFalse(IsAlive(qemu), "QEMU has exited");
            Assert.IsEmpty(Directory.GetDirectories(Path.GetTempPath(), $"portal-guest-{portal.Id}-*"), "the scratch directory is gone");
            Assert.IsEmpty(Directory.GetFiles("/dev/shm", $"portal-{portal.Id}-*"), "nothing left in /dev/shm");
        }
        finally
        {
            if (!portal.HasExited)
                portal.Kill(entireProcessTree: true);
        }
    }

    [TestMethod]
    public async Task Ctrl_C_while_the_guest_boots_stops_it_and_leaves_nothing()
    {
        using var portal = Cli.Start("run", "--verbose", "--", "true");
        var errors = new StringBuilder();
        var qemuStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        portal.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
                errors.AppendLine(e.Data);
            if (e.Data?.Contains("Started QEMU", StringComparison.Ordinal) == true)
                qemuStarted.TrySetResult();
        };
        portal.BeginErrorReadLine();
        string Errors() { lock (errors) return errors.ToString(); }
        try
        {
            await qemuStarted.Task.WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            var qemu = int.Parse(QemuPid().Match(Errors()).Groups[1].Value, CultureInfo.InvariantCulture);
            using (var kill = Process.Start("kill", ["-s", "INT", portal.Id.ToString(CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync(TestContext.CancellationToken);
            await portal.WaitForExitAsync(TestContext.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.CancellationToken);
            TestContext.WriteLine(Errors());

            // The guest may have come up just before the signal: then the command was interrupted instead.
            Assert.AreEqual(ExitCodes.Interrupted, portal.ExitCode, Errors());
            StringAssert.Matches(Errors(), new Regex("portal: interrupted"));
            await WaitUntilAsync(() => !IsAlive(qemu), TimeSpan.FromSeconds(10));
            Assert.IsFalse(IsAlive(qemu), "QEMU has exited");
            Assert.IsEmpty(Directory.GetDirectories(Path.GetTempPath(), $"portal-guest-{portal.Id}-*"), "the scratch directory is gone");
            Assert.IsEmpty(Directory.GetFiles("/dev/shm", $"portal-{portal.Id}-*"), "nothing left in /dev/shm");
        }
        finally
        {
            if (!portal.HasExited)
                portal.Kill(entireProcessTree: true);
        }
    }

    [GeneratedRegex(@"Started QEMU \(pid (\d+)\)")]
    private static partial Regex QemuPid();

    private static bool IsAlive(int pid)
    {
        try
        {
            // "pid (comm) S ..." — a zombie (Z) has exited and only waits to be reaped.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (!condition() && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(50);
    }
}
