using System.Diagnostics;
using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>
/// <c>portal run</c> when the guest is lost under the command (docs/reliability.md): it says what
/// happened, exits <see cref="ExitCodes.GuestLost"/> within seconds, never claims the command exited,
/// and leaves nothing behind. Also: the <c>dotnet run</c> wrapper killed outright takes portal and QEMU with it.
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed class GuestLossTests
{
    /// <summary>From the fault to portal's exit (noticing, the statistics, the shutdown of what is left).</summary>
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(10);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod, Timeout(150_000, CooperativeCancellation = true)]
    public async Task A_guest_kernel_panic_ends_portal_run_with_the_panic_text()
    {
        var errors = await LoseAsync("echo c > /proc/sysrq-trigger", portal => Task.CompletedTask);
        StringAssert.Contains(errors, "portal: lost the guest while 'sh -c echo started; sleep 1; echo c > /proc/sysrq-trigger' ran: the guest kernel panicked");
        StringAssert.Contains(errors, "Kernel panic - not syncing: sysrq triggered crash");
    }

    [TestMethod, Timeout(150_000, CooperativeCancellation = true)]
    public async Task A_guest_power_off_ends_portal_run()
    {
        var errors = await LoseAsync("poweroff -f", portal => Task.CompletedTask);
        StringAssert.Contains(errors, "ran: the guest powered off");
    }

    [TestMethod, Timeout(150_000, CooperativeCancellation = true)]
    public async Task Qemu_killed_while_the_command_runs_ends_portal_run_at_once()
    {
        var errors = await LoseAsync("sleep 600", qemu => PortalProcess.SignalAsync(qemu, "KILL"));
        StringAssert.Contains(errors, "ran: QEMU (pid ");
        StringAssert.Contains(errors, ") was killed by signal 9 (SIGKILL)");
        Assert.DoesNotContain("Could not remove the hooks", errors, "no waiting on a dead guest");
    }

    [TestMethod, Timeout(150_000, CooperativeCancellation = true)]
    public async Task A_paused_host_does_not_count_against_the_guest()
    {
        // portal stopped for longer than the guest's 10 s liveness timeout: on waking, the guest's silence
        // meanwhile was the host's own absence, and the command goes on.
        using var portal = Cli.Start("run", "--verbose", "--", "sh", "-c", "echo started; sleep 25; echo finished");
        var errors = new ErrorLog(portal);
        try
        {
            var started = await portal.StandardOutput.ReadLineAsync(TestContext.CancellationToken).AsTask()
                .WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            Assert.AreEqual("started", started, errors.ToString());
            await PortalProcess.SignalAsync(portal.Id, "STOP");
            await Task.Delay(TimeSpan.FromSeconds(14), TestContext.CancellationToken);
            await PortalProcess.SignalAsync(portal.Id, "CONT");
            var rest = await portal.StandardOutput.ReadToEndAsync(TestContext.CancellationToken);
            await portal.WaitForExitAsync(TestContext.CancellationToken);
            TestContext.WriteLine(errors.ToString());
            Assert.AreEqual(0, portal.ExitCode, errors.ToString());
            Assert.AreEqual("finished\n", rest);
            StringAssert.Contains(errors.ToString(), "the guest's liveness clock restarts", "the monitor saw the host's pause");
        }
        finally
        {
            if (!portal.HasExited)
                portal.Kill(entireProcessTree: true);
        }
    }

    [TestMethod, Timeout(150_000, CooperativeCancellation = true)]
    public async Task Killing_the_dotnet_run_wrapper_stops_portal_and_qemu()
    {
        // The README's form: dotnet run starts portal as its child. --no-build: the tests built it already.
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        using var wrapper = Process.Start(new ProcessStartInfo("env",
            ["--default-signal=INT,TERM,HUP,QUIT", "dotnet", "run", "--no-build", "-c", configuration, "--project", Path.Combine(Cli.Root, "src", "Portal.Cli"),
                "--", "run", "--verbose", "--", "sh", "-c", "echo started; sleep 600"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Cli.Root,
        })!;
        var errors = new ErrorLog(wrapper);
        int portal = 0, qemu = 0;
        try
        {
            var started = await wrapper.StandardOutput.ReadLineAsync(TestContext.CancellationToken).AsTask()
                .WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            Assert.AreEqual("started", started, errors.ToString());
            qemu = PortalProcess.QemuPid(errors.ToString());
            portal = ChildrenOf(wrapper.Id).Single(pid => File.ReadAllText($"/proc/{pid}/cmdline").Contains("portal", StringComparison.Ordinal));
            Assert.IsTrue(PortalProcess.IsAlive(qemu));

            var killed = Stopwatch.GetTimestamp();
            await PortalProcess.SignalAsync(wrapper.Id, "KILL");
            await WaitUntilAsync(() => !PortalProcess.IsAlive(portal) && !PortalProcess.IsAlive(qemu), ExitBound);
            TestContext.WriteLine($"portal and QEMU gone {Stopwatch.GetElapsedTime(killed).TotalSeconds:F2} s after the wrapper was killed\n{errors}");
            Assert.IsFalse(PortalProcess.IsAlive(portal), "portal outlived its dotnet run wrapper");
            Assert.IsFalse(PortalProcess.IsAlive(qemu), "QEMU outlived the dotnet run wrapper");
            // In order, not killed: the kernel signals once per dying wrapper thread, and that burst counts as one signal.
            await WaitUntilAsync(() => errors.ToString().Contains("portal: Shutting the guest down", StringComparison.Ordinal), TimeSpan.FromSeconds(2));
            StringAssert.Contains(errors.ToString(), "portal: interrupted: 'sh -c echo started; sleep 600' was stopped.");
            StringAssert.Contains(errors.ToString(), "portal: Shutting the guest down");
            PortalProcess.AssertNothingLeft(portal, qemu);
        }
        finally
        {
            foreach (var pid in new[] { portal, qemu })
                if (pid != 0 && PortalProcess.IsAlive(pid))
                    await PortalProcess.SignalAsync(pid, "KILL");
            if (!wrapper.HasExited)
                wrapper.Kill(entireProcessTree: true);
        }
    }

    /// <summary>
    /// Runs <c>sh -c 'echo started; sleep 1; COMMAND'</c> (the pause lets "started" leave the guest before a
    /// COMMAND that kills it: the agent may hold output a moment to send it in larger frames), applies
    /// <paramref name="fault"/> to QEMU once it has started, and checks portal exits with GuestLost in time, without "exited with status", leaving nothing.
    /// </summary>
    private async Task<string> LoseAsync(string command, Func<int, Task> fault)
    {
        using var portal = Cli.Start("run", "--verbose", "--", "sh", "-c", $"echo started; sleep 1; {command}");
        var errors = new ErrorLog(portal);
        try
        {
            var started = await portal.StandardOutput.ReadLineAsync(TestContext.CancellationToken).AsTask()
                .WaitAsync(TimeSpan.FromMinutes(3), TestContext.CancellationToken);
            Assert.AreEqual("started", started, errors.ToString());
            var qemu = PortalProcess.QemuPid(errors.ToString());
            var faulted = Stopwatch.GetTimestamp();
            await fault(qemu);
            await portal.WaitForExitAsync(TestContext.CancellationToken);
            var exiting = Stopwatch.GetElapsedTime(faulted);
            TestContext.WriteLine($"'{command}': portal exited {exiting.TotalSeconds:F2} s after the fault, code {portal.ExitCode}\n{errors}");

            Assert.AreEqual(ExitCodes.GuestLost, portal.ExitCode, errors.ToString());
            Assert.DoesNotContain("exited with status", errors.ToString(), "the command did not exit");
            Assert.IsLessThan(ExitBound, exiting);
            PortalProcess.AssertNothingLeft(portal, qemu);
            return errors.ToString();
        }
        finally
        {
            if (!portal.HasExited)
                portal.Kill(entireProcessTree: true);
        }
    }

    private static List<int> ChildrenOf(int parent) =>
        [.. Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(d => d!.All(char.IsAsciiDigit)).Select(d => int.Parse(d!, System.Globalization.CultureInfo.InvariantCulture))
            .Where(pid => ParentOf(pid) == parent)];

    private static int ParentOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (!condition() && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(50);
    }
}
