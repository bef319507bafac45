using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Qemu.Hosting;

namespace Portal.Qemu.Tests;

/// <summary>
/// The guest monitor and console follower without a guest: a stand-in process plays QEMU and the test
/// writes the console, so every way of ending is checked in milliseconds (GuestLossTests does it for real).
/// </summary>
[TestClass, TestCategory("Reliability")]
public sealed class GuestMonitorTests
{
    public TestContext TestContext { get; set; } = null!;

    private string _directory = null!;

    [TestInitialize]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("portal-monitor-test-").FullName;

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private string ConsolePath => Path.Combine(_directory, "console.log");

    [TestMethod]
    public void The_panic_text_runs_from_the_oops_to_the_end_and_is_cleaned()
    {
        File.WriteAllText(ConsolePath, string.Join('\n',
            "portal-init: starting portal-agent on /dev/ttyS1",
            "[    2.1] BUG: kernel NULL pointer dereference, address: 0000000000000000",
            "[    2.1] #PF: supervisor read access in kernel mode",
            "[    2.1] Oops: 0000 [#1] PREEMPT SMP NOPTI",
            "[    2.1] RIP: 0010:portal_oops_init+0x13/0x1000 [portal_oops]\u001b[31m\r",
            "[    2.2] Kernel panic - not syncing: Fatal exception",
            "[    2.2] ---[ end Kernel panic - not syncing: Fatal exception ]---",
            ""));
        using var console = new GuestConsole(ConsolePath);
        Assert.AreEqual(ConsoleEnd.Panic, console.Poll());
        var text = console.PanicText();
        Assert.IsNotNull(text);
        StringAssert.StartsWith(text, "[    2.1] BUG: kernel NULL pointer dereference");
        StringAssert.EndsWith(text, "---[ end Kernel panic - not syncing: Fatal exception ]---");
        Assert.DoesNotContain("portal-init", text, "what came before the oops is not part of it");
        Assert.DoesNotContain("\u001b", text, "control characters from the guest are dropped");
        Assert.DoesNotContain("\r", text);
    }

    [TestMethod]
    public void A_long_panic_is_bounded_and_a_flood_keeps_the_last_lines()
    {
        var lines = new List<string> { "[ 1.0] Kernel panic - not syncing: test" };
        lines.AddRange(Enumerable.Range(0, 300).Select(i => $"[ 1.0] trace line {i} " + new string('x', 2000)));
        File.WriteAllText(ConsolePath, string.Join('\n', lines) + "\n");
        using var console = new GuestConsole(ConsolePath);
        console.Poll();
        var text = console.PanicText()!;
        Assert.IsLessThanOrEqualTo(91, text.Split('\n').Length);
        StringAssert.Contains(text, "lines ...]");
        Assert.IsTrue(text.Split('\n').All(line => line.Length <= GuestConsole.MaxLineLength));

        File.AppendAllText(ConsolePath, string.Concat(Enumerable.Range(0, 10_000).Select(i => $"flood {i}\n")));
        console.Poll();
        var tail = console.Tail(GuestConsole.KeptLines + 100).Split('\n');
        Assert.HasCount(GuestConsole.KeptLines, tail);
        Assert.AreEqual("flood 9999", tail[^1]);
    }

    [TestMethod]
    [DataRow("reboot: Power down", "PoweredOff"), DataRow("reboot: System halted", "Halted"), DataRow("reboot: Restarting system", "Rebooted")]
    public void The_kernel_s_last_words_are_recognised(string line, string end)
    {
        File.WriteAllText(ConsolePath, $"[    9.1] {line}\n");
        using var console = new GuestConsole(ConsolePath);
        Assert.AreEqual(Enum.Parse<ConsoleEnd>(end), console.Poll());
    }

    [TestMethod, Timeout(30_000, CooperativeCancellation = true)]
    public async Task Qemu_killed_by_a_signal_is_reported_at_once()
    {
        var qemu = QemuProcess.Start("sleep", ["600"]);
        await using var monitor = new GuestMonitor(qemu, ConsolePath, NullLogger.Instance);
        var killed = Stopwatch.GetTimestamp();
        Process.GetProcessById(qemu.Id).Kill();
        var lost = await monitor.Lost.WaitAsync(TestContext.CancellationToken);
        TestContext.WriteLine($"noticed after {Stopwatch.GetElapsedTime(killed).TotalMilliseconds:F0} ms");
        Assert.AreEqual($"QEMU (pid {qemu.Id}) was killed by signal 9 (SIGKILL)", lost.Message);
        Assert.IsTrue(monitor.LostToken.IsCancellationRequested);
        qemu.Dispose();
    }

    [TestMethod, Timeout(30_000, CooperativeCancellation = true)]
    public async Task Qemu_exiting_with_an_error_reports_its_code_and_what_it_said()
    {
        var qemu = QemuProcess.Start("sh", ["-c", "sleep 0.3; echo 'qemu-system-x86_64: something broke' >&2; exit 1"]);
        await using var monitor = new GuestMonitor(qemu, ConsolePath, NullLogger.Instance);
        var lost = await monitor.Lost.WaitAsync(TestContext.CancellationToken);
        Assert.AreEqual($"QEMU (pid {qemu.Id}) exited with code 1:\nqemu-system-x86_64: something broke", lost.Message);
        qemu.Dispose();
    }

    [TestMethod, Timeout(30_000, CooperativeCancellation = true)]
    public async Task A_halted_guest_is_reported_and_its_qemu_stopped()
    {
        var qemu = QemuProcess.Start("sleep", ["600"]);
        await using var monitor = new GuestMonitor(qemu, ConsolePath, NullLogger.Instance);
        await File.WriteAllTextAsync(ConsolePath, "[   3.0] reboot: System halted\n", TestContext.CancellationToken);
        var lost = await monitor.Lost.WaitAsync(TestContext.CancellationToken);
        StringAssert.StartsWith(lost.Message, "the guest halted");
        await qemu.Exited.WaitAsync(TimeSpan.FromSeconds(5), TestContext.CancellationToken);
        qemu.Dispose();
    }

    [TestMethod, Timeout(30_000, CooperativeCancellation = true)]
    public async Task A_panic_that_does_not_end_qemu_is_declared_after_a_grace_and_qemu_stopped()
    {
        // As with a user's own panic=0: the kernel spins after the panic instead of rebooting.
        var qemu = QemuProcess.Start("sleep", ["600"]);
        await using var monitor = new GuestMonitor(qemu, ConsolePath, NullLogger.Instance);
        var written = Stopwatch.GetTimestamp();
        await File.WriteAllTextAsync(ConsolePath, "[   3.0] Kernel panic - not syncing: stuck\n", TestContext.CancellationToken);
        var lost = await monitor.Lost.WaitAsync(TestContext.CancellationToken);
        var noticed = Stopwatch.GetElapsedTime(written);
        Assert.IsGreaterThan(TimeSpan.FromSeconds(1.5), noticed, "QEMU was given its chance to exit");
        Assert.AreEqual("the guest kernel panicked:\n[   3.0] Kernel panic - not syncing: stuck", lost.Message);
        await qemu.Exited.WaitAsync(TimeSpan.FromSeconds(5), TestContext.CancellationToken);
        qemu.Dispose();
    }

    [TestMethod, Timeout(30_000, CooperativeCancellation = true)]
    public async Task Nothing_is_a_loss_once_the_host_shuts_the_guest_down()
    {
        var qemu = QemuProcess.Start("sleep", ["600"]);
        var monitor = new GuestMonitor(qemu, ConsolePath, NullLogger.Instance);
        Assert.IsFalse(monitor.BeginShutdown());
        await File.WriteAllTextAsync(ConsolePath, "[   3.0] reboot: Power down\n", TestContext.CancellationToken);
        qemu.Dispose();
        await monitor.DisposeAsync();
        Assert.IsTrue(monitor.Lost.IsCanceled);
        Assert.IsNull(monitor.Reason);
    }

    [TestMethod]
    public void Exit_descriptions_read_signals_from_codes_above_128()
    {
        var qemu = QemuProcess.Start("sh", ["-c", "exit 3"]);
        qemu.Exited.Wait(TimeSpan.FromSeconds(10), TestContext.CancellationToken);
        Assert.AreEqual("exited with code 3", qemu.ExitDescription);
        qemu.Dispose();
        var killed = QemuProcess.Start("sh", ["-c", "kill -TERM $$"]);
        killed.Exited.Wait(TimeSpan.FromSeconds(10), TestContext.CancellationToken);
        Assert.AreEqual(string.Create(CultureInfo.InvariantCulture, $"was killed by signal 15 (SIGTERM)"), killed.ExitDescription);
        killed.Dispose();
    }
}
