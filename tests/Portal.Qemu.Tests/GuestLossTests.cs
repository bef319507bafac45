using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Channels;
using Portal.Guests;

namespace Portal.Qemu.Tests;

/// <summary>
/// The guest dies or stops answering (docs/reliability.md): the host notices within seconds, says what
/// happened (the panic text from the console), fails what was waiting with <see cref="GuestLostException"/>
/// and leaves nothing behind. Each figure the tests print ("noticed after") is the time from the fault to
/// the waiting command failing.
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed class GuestLossTests
{
    /// <summary>A dead guest is noticed within this (it is usually well under a second; the machine may be loaded).</summary>
    private static readonly TimeSpan NoticeBound = TimeSpan.FromSeconds(10);

    /// <summary>Disposing a lost guest waits for nothing.</summary>
    private static readonly TimeSpan DisposeBound = TimeSpan.FromSeconds(3);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod, Timeout(180_000, CooperativeCancellation = true)]
    public async Task A_kernel_panic_ends_the_guest_at_once_and_reports_the_panic_text()
    {
        var lost = await LoseWhileRunningAsync(new QemuGuestOptions(), "echo c > /proc/sysrq-trigger");
        StringAssert.StartsWith(lost.Message, "the guest kernel panicked");
        StringAssert.Contains(lost.Message, "Kernel panic - not syncing: sysrq triggered crash");
        StringAssert.Contains(lost.Message, "Call Trace:", "the panic text comes with its trace");
    }

    [TestMethod, Timeout(240_000, CooperativeCancellation = true)]
    public async Task A_kernel_oops_ends_the_guest_and_reports_the_oops()
    {
        var module = await GuestModules.BuildAsync("portal_oops", ScratchRoot, TestContext.CancellationToken);
        var lost = await LoseWhileRunningAsync(new QemuGuestOptions { Files = [new Image.GuestFile(module, "/root/portal_oops.ko")] },
            "insmod /root/portal_oops.ko");
        StringAssert.StartsWith(lost.Message, "the guest kernel panicked");
        StringAssert.Contains(lost.Message, "BUG: kernel NULL pointer dereference");
        StringAssert.Contains(lost.Message, "portal_oops_init", "the oops's trace names the culprit");
        StringAssert.Contains(lost.Message, "Kernel panic - not syncing: Fatal exception");
    }

    [TestMethod, Timeout(240_000, CooperativeCancellation = true)]
    public async Task Without_PanicOnOops_an_oops_kills_only_its_process()
    {
        var module = await GuestModules.BuildAsync("portal_oops", ScratchRoot, TestContext.CancellationToken);
        var options = new QemuGuestOptions { PanicOnOops = false, Files = [new Image.GuestFile(module, "/root/portal_oops.ko")] };
        await using var guest = await QemuGuest.StartAsync(options, TestContext.CancellationToken);
        var insmod = await guest.RunShellAsync("insmod /root/portal_oops.ko", cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual(128 + 9, insmod.ExitCode, "the oops killed insmod: " + insmod.Output);
        var after = await guest.RunAsync(GuestCommand.Of("portal-selftest", "getpid"), TestContext.CancellationToken);
        StringAssert.StartsWith(after.Output, "pid=", "the guest goes on");
        Assert.IsFalse(guest.Lost.IsCompleted);
    }

    [TestMethod, Timeout(180_000, CooperativeCancellation = true)]
    public async Task A_guest_that_powers_off_is_reported_as_powered_off()
    {
        var lost = await LoseWhileRunningAsync(new QemuGuestOptions(), "poweroff -f");
        StringAssert.StartsWith(lost.Message, "the guest powered off");
    }

    [TestMethod, Timeout(180_000, CooperativeCancellation = true)]
    public async Task A_guest_that_halts_is_reported_and_its_qemu_stopped()
    {
        var lost = await LoseWhileRunningAsync(new QemuGuestOptions(), "halt -f", qemuExitsByItself: false);
        StringAssert.StartsWith(lost.Message, "the guest halted");
    }

    [TestMethod, Timeout(180_000, CooperativeCancellation = true)]
    public async Task Qemu_killed_while_a_command_runs_is_noticed_at_once()
    {
        var guest = await QemuGuest.StartAsync(cancellationToken: TestContext.CancellationToken);
        var (qemu, work) = (guest.QemuProcessId, guest.WorkDirectory);
        await using (guest)
        {
            var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
            var command = guest.RunShellAsync("sleep 600", cancellationToken: TestContext.CancellationToken);
            await Task.Delay(500, TestContext.CancellationToken);
            var killed = Stopwatch.GetTimestamp();
            await SignalAsync(qemu, "KILL");
            var lost = await Assert.ThrowsAsync<GuestLostException>(() => command.WaitAsync(TimeSpan.FromSeconds(60), TestContext.CancellationToken));
            var noticed = Stopwatch.GetElapsedTime(killed);
            TestContext.WriteLine($"noticed after {noticed.TotalSeconds:F2} s: {lost.Message}");
            Assert.IsLessThan(NoticeBound, noticed);
            StringAssert.StartsWith(lost.Message, $"QEMU (pid {qemu}) was killed by signal 9");

            // Exchanges fail at once instead of waiting out their timeout, and detaching does not wait either.
            var started = Stopwatch.GetTimestamp();
            await Assert.ThrowsAsync<GuestLostException>(async () => await session.PingAsync());
            await session.DisposeAsync();
            TestContext.WriteLine($"ping failed and the session detached in {Stopwatch.GetElapsedTime(started).TotalSeconds:F2} s");
            Assert.IsLessThan(TimeSpan.FromSeconds(1), Stopwatch.GetElapsedTime(started));
            await AssertDisposesQuicklyAsync(guest);
        }
        Leftovers.AssertNone(qemu, work);
    }

    [TestMethod, Timeout(180_000, CooperativeCancellation = true)]
    public async Task A_paused_qemu_is_reported_as_not_responding()
    {
        var liveness = TimeSpan.FromSeconds(3);
        var guest = await QemuGuest.StartAsync(new QemuGuestOptions { LivenessTimeout = liveness }, TestContext.CancellationToken);
        var (qemu, work) = (guest.QemuProcessId, guest.WorkDirectory);
        try
        {
            await using (guest)
            {
                var command = guest.RunShellAsync("sleep 600", cancellationToken: TestContext.CancellationToken);
                await Task.Delay(500, TestContext.CancellationToken);
                var paused = Stopwatch.GetTimestamp();
                await SignalAsync(qemu, "STOP");
                var lost = await Assert.ThrowsAsync<GuestLostException>(() => command.WaitAsync(TimeSpan.FromSeconds(60), TestContext.CancellationToken));
                var noticed = Stopwatch.GetElapsedTime(paused);
                TestContext.WriteLine($"noticed after {noticed.TotalSeconds:F2} s: {lost.Message}");
                Assert.IsGreaterThanOrEqualTo(liveness - TimeSpan.FromSeconds(1.5), noticed, "not before the liveness timeout (pings go out every second)");
                Assert.IsLessThan(liveness + TimeSpan.FromSeconds(3), noticed);
                StringAssert.Contains(lost.Message, "not responding");
                await AssertDisposesQuicklyAsync(guest);
            }
            Leftovers.AssertNone(qemu, work);
        }
        finally
        {
            if (Leftovers.IsAlive(qemu))
                await SignalAsync(qemu, "KILL");
        }
    }

    [TestMethod, Timeout(120_000, CooperativeCancellation = true)]
    public async Task Init_exiting_during_boot_fails_the_boot_within_seconds_with_the_panic_text()
    {
        // busybox run without an applet prints its usage and exits: init is gone, the kernel panics.
        var started = Stopwatch.GetTimestamp();
        var error = await Assert.ThrowsAsync<GuestBootException>(() =>
            QemuGuest.StartAsync(new QemuGuestOptions { KernelArguments = ["rdinit=/bin/busybox"] }, TestContext.CancellationToken));
        var failed = Stopwatch.GetElapsedTime(started);
        TestContext.WriteLine($"boot failed after {failed.TotalSeconds:F1} s:\n{error.Message}");
        Assert.IsLessThan(TimeSpan.FromSeconds(45), failed, "not the 90 s boot timeout");
        StringAssert.StartsWith(error.Message, "The guest kernel panicked during boot");
        StringAssert.Contains(error.Message, "Kernel panic - not syncing: Attempted to kill init!");
        Leftovers.AssertNoneOfThisProcess();
    }

    [TestMethod, Timeout(120_000, CooperativeCancellation = true)]
    public async Task Qemu_killed_during_boot_says_so()
    {
        using var loggers = new QemuStartWatcher(pid => SignalAsync(pid, "KILL").GetAwaiter().GetResult());
        var error = await Assert.ThrowsAsync<GuestBootException>(() =>
            QemuGuest.StartAsync(new QemuGuestOptions { LoggerFactory = loggers }, TestContext.CancellationToken));
        TestContext.WriteLine(error.Message);
        StringAssert.StartsWith(error.Message, $"QEMU (pid {loggers.Pid}) was killed by signal 9 (SIGKILL) during boot.");
        Assert.DoesNotContain("--- QEMU ---\n\n", error.Message, "no empty sections");
        Assert.DoesNotContain("..", error.Message);
        Leftovers.AssertNoneOfThisProcess();
    }

    private string ScratchRoot => TestContext.TestRunDirectory ?? Path.GetTempPath();

    /// <summary>Boots a guest, runs a command that ends it, and checks the loss is noticed in time and cleaned up.</summary>
    private async Task<GuestLostException> LoseWhileRunningAsync(QemuGuestOptions options, string command, bool qemuExitsByItself = true)
    {
        var guest = await QemuGuest.StartAsync(options, TestContext.CancellationToken);
        var (qemu, work) = (guest.QemuProcessId, guest.WorkDirectory);
        GuestLostException lost;
        await using (guest)
        {
            var started = Stopwatch.GetTimestamp();
            lost = await Assert.ThrowsAsync<GuestLostException>(() => guest.RunShellAsync(command, cancellationToken: TestContext.CancellationToken));
            var noticed = Stopwatch.GetElapsedTime(started);
            TestContext.WriteLine($"'{command}': noticed after {noticed.TotalSeconds:F2} s:\n{lost.Message}");
            Assert.IsLessThan(NoticeBound, noticed);
            Assert.IsTrue(guest.Lost.IsCompletedSuccessfully, "QemuGuest.Lost has the reason");
            Assert.AreEqual(lost.Message, (await guest.Lost).Message);
            // QEMU ends by itself (panic=-1 with -no-reboot, ACPI power-off); a halted guest's QEMU is stopped by the host.
            await Leftovers.WaitUntilAsync(() => !Leftovers.IsAlive(qemu), TimeSpan.FromSeconds(5),
                qemuExitsByItself ? "QEMU did not end with its guest" : "the host did not stop the halted guest's QEMU");
            await AssertDisposesQuicklyAsync(guest);
        }
        Leftovers.AssertNone(qemu, work);
        return lost;
    }

    private async Task AssertDisposesQuicklyAsync(QemuGuest guest)
    {
        var started = Stopwatch.GetTimestamp();
        await guest.DisposeAsync();
        var disposing = Stopwatch.GetElapsedTime(started);
        TestContext.WriteLine($"disposed in {disposing.TotalSeconds:F2} s");
        Assert.IsLessThan(DisposeBound, disposing, "disposing a lost guest waits for no power-off");
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-s", signal, pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>A logger factory that calls back with QEMU's pid as soon as QemuGuest logs "Started QEMU (pid N)".</summary>
    private sealed class QemuStartWatcher(Action<int> onStart) : ILoggerFactory, ILoggerProvider, ILogger
    {
        public int Pid { get; private set; }

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            const string Prefix = "Started QEMU (pid ";
            if (Pid == 0 && message.StartsWith(Prefix, StringComparison.Ordinal))
            {
                Pid = int.Parse(message[Prefix.Length..message.IndexOf(')', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
                onStart(Pid);
            }
        }

        public void Dispose()
        {
        }
    }
}
