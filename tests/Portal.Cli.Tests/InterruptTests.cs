using System.Diagnostics;
using System.Globalization;
using Portal.Cli;
using Portal.Tests.Shared;

namespace Portal.Cli.Tests;

/// <summary>Ctrl-C (and SIGTERM, SIGHUP, SIGQUIT) stop the guest command, shut the guest down in order and leave nothing behind.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class InterruptTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("INT", ExitCodes.Interrupted), DataRow("TERM", ExitCodes.Terminated)]
    [DataRow("HUP", ExitCodes.HungUp), DataRow("QUIT", ExitCodes.Quit)]
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
            var qemu = PortalProcess.QemuPid(Errors());
            Assert.IsTrue(PortalProcess.IsAlive(qemu));

            var signalled = Stopwatch.GetTimestamp();
            await SignalAndWaitAsync(portal, signal);
            var stopping = Stopwatch.GetElapsedTime(signalled);
            TestContext.WriteLine($"stopped {stopping.TotalSeconds:F1} s after SIG{signal}\n{Errors()}");

            Assert.AreEqual(exitCode, portal.ExitCode, Errors());
            StringAssert.Contains(Errors(), "portal: interrupted: 'sh -c echo started; sleep 600' was stopped.");
            StringAssert.Contains(Errors(), "portal: Shutting the guest down");
            Assert.DoesNotContain("exited with status", Errors(), "the command did not exit by itself");
            Assert.DoesNotContain("did not power off in time and was killed", Errors(), "the guest powered off: a clean shutdown");
            PortalProcess.AssertNothingLeft(portal, qemu);
        }
        finally
        {
            if (!portal.HasExited)
                portal.Kill(entireProcessTree: true);
        }
    }

    /// <summary>portal boot without --until runs until Ctrl-C: the firmware is stopped, the guest powered off in order.</summary>
    [TestMethod]
    public async Task Ctrl_C_while_a_firmware_boots_shuts_the_guest_down_cleanly()
    {
        using var portal = Cli.Start("boot", "--verbose", "--rootfs", DemoFirmware.Squashfs("mipsel"));
        var errors = new ErrorLog(portal);
        string Errors() => errors.ToString();
        try
        {
            string? line;
            do
            {
                line = await portal.StandardOutput.ReadLineAsync(TestContext.CancellationToken).AsTask()
                    .WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            }
            while (line is not null && !line.StartsWith("swRegRead", StringComparison.Ordinal));
            Assert.IsNotNull(line, Errors());
            var qemu = PortalProcess.QemuPid(Errors());

            await SignalAndWaitAsync(portal, "INT");
            TestContext.WriteLine(Errors());
            Assert.AreEqual(ExitCodes.Interrupted, portal.ExitCode, Errors());
            StringAssert.Contains(Errors(), "portal: interrupted: the firmware was stopped.");
            StringAssert.Contains(Errors(), "portal: Shutting the guest down");
            Assert.DoesNotContain("did not power off in time and was killed", Errors(), "the agent powered the guest off: a clean shutdown");
            PortalProcess.AssertNothingLeft(portal, qemu);
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
            var qemu = PortalProcess.QemuPid(Errors());
            await SignalAndWaitAsync(portal, "INT");
            TestContext.WriteLine(Errors());

            // The guest may have come up just before the signal: then the command was interrupted instead.
            Assert.AreEqual(ExitCodes.Interrupted, portal.ExitCode, Errors());
            StringAssert.Contains(Errors(), "portal: interrupted");
            await WaitUntilAsync(() => !PortalProcess.IsAlive(qemu), TimeSpan.FromSeconds(10));
            PortalProcess.AssertNothingLeft(portal, qemu);
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

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (!condition() && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(50);
    }
}
