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
        var errors = new ErrorLog(portal);
        string Errors() => errors.ToString();
        try
        {
            var started = await portal.StandardOutput.ReadLineAsync(TestContext.CancellationToken).AsTask()
                .WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            Assert.AreEqual("started", started, Errors());
            var qemu = int.Parse(QemuPid().Match(Errors()).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.IsTrue(IsAlive(qemu));

            var signalled = Stopwatch.GetTimestamp();
            await SignalAndWaitAsync(portal, signal);
            var stopping = Stopwatch.GetElapsedTime(signalled);
            TestContext.WriteLine($"stopped {stopping.TotalSeconds:F1} s after SIG{signal}\n{Errors()}");

            Assert.AreEqual(exitCode, portal.ExitCode, Errors());
            StringAssert.Contains(Errors(), "portal: interrupted: 'sh -c echo started; sleep 600' was stopped.");
            StringAssert.Contains(Errors(), "portal: Shutting the guest down");
            Assert.DoesNotContain("did not power off in time and was killed", Errors(), "the guest powered off: a clean shutdown");
            AssertNothingLeft(portal, qemu);
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
        var qemuStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new ErrorLog(portal, line =>
        {
            if (line.Contains("Started QEMU", StringComparison.Ordinal))
                qemuStarted.TrySetResult();
        });
        string Errors() => errors.ToString();
        try
        {
            await qemuStarted.Task.WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            var qemu = int.Parse(QemuPid().Match(Errors()).Groups[1].Value, CultureInfo.InvariantCulture);
            await SignalAndWaitAsync(portal, "INT");
            TestContext.WriteLine(Errors());

            // The guest may have come up just before the signal: then the command was interrupted instead.
            Assert.AreEqual(ExitCodes.Interrupted, portal.ExitCode, Errors());
            StringAssert.Matches(Errors(), new Regex("portal: interrupted"));
            await WaitUntilAsync(() => !IsAlive(qemu), TimeSpan.FromSeconds(10));
            AssertNothingLeft(portal, qemu);
        }
        finally
        {
            if (!portal.HasExited)
                portal.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Sends the signal with kill(1), as a user would, and waits for portal to exit.</summary>
    private async Task SignalAndWaitAsync(Process portal, string signal)
    {
        using (var kill = Process.Start("kill", ["-s", signal, portal.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync(TestContext.CancellationToken);
        await portal.WaitForExitAsync(TestContext.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.CancellationToken);
    }

    /// <summary>QEMU has exited, and portal's scratch directory and RAM file are gone.</summary>
    private static void AssertNothingLeft(Process portal, int qemu)
    {
        Assert.IsFalse(IsAlive(qemu), "QEMU has exited");
        Assert.IsEmpty(Directory.GetDirectories(Path.GetTempPath(), $"portal-guest-{portal.Id}-*"), "the scratch directory is gone");
        Assert.IsEmpty(Directory.GetFiles("/dev/shm", $"portal-{portal.Id}-*"), "nothing left in /dev/shm");
    }

    /// <summary>portal's stderr, collected line by line while it runs (each line also handed to <c>onLine</c>).</summary>
    private sealed class ErrorLog
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
