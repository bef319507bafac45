using System.Diagnostics;
using System.Globalization;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Qemu.Tests;

/// <summary>A guest leaves nothing behind: no QEMU, no /dev/shm file, no scratch directory, however its host ends.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class CleanupTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Disposing_the_guest_stops_qemu_and_removes_everything()
    {
        int qemu;
        string work;
        await using (var guest = await QemuGuest.StartAsync(cancellationToken: TestContext.CancellationToken))
        {
            (qemu, work) = (guest.QemuProcessId, guest.WorkDirectory);
            Assert.IsTrue(IsAlive(qemu));
            Assert.IsEmpty(SharedMemoryFilesOf(Environment.ProcessId), "the RAM file is unlinked once both sides have it");
        }
        Assert.IsFalse(IsAlive(qemu), "QEMU stopped");
        Assert.IsFalse(Directory.Exists(work), "scratch directory removed");
    }

    [TestMethod]
    public async Task Cancelling_the_boot_leaves_nothing()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAsync<OperationCanceledException>(async () => await QemuGuest.StartAsync(cancellationToken: cancel.Token));
        Assert.IsEmpty(SharedMemoryFilesOf(Environment.ProcessId));
        Assert.IsEmpty(QemuProcessesOf(Environment.ProcessId), "no QEMU runs with this process's RAM file");
        Assert.IsEmpty(Directory.GetDirectories(Path.GetTempPath(), $"portal-guest-{Environment.ProcessId}-*"));
    }

    [TestMethod]
    [DataRow("TERM"), DataRow("INT"), DataRow("KILL")]
    public async Task When_the_host_process_dies_qemu_dies_with_it(string signal)
    {
        var fixture = Path.Combine(AppContext.BaseDirectory.Replace("Portal.Qemu.Tests", "Portal.Qemu.Fixture", StringComparison.Ordinal),
            "Portal.Qemu.Fixture.dll");
        using var host = new Process
        {
            // A background job's SIGINT is ignored, and that is inherited: start the fixture with the
            // default disposition of every signal under test, as an interactive program would have.
            StartInfo = new ProcessStartInfo("env", ["--default-signal=INT,TERM,HUP,QUIT", "dotnet", fixture])
            {
                RedirectStandardOutput = true,
                RedirectStandardInput = true,
                RedirectStandardError = true,
            },
        };
        var log = new System.Text.StringBuilder();
        host.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        host.Start();
        host.BeginErrorReadLine();
        string Log() { lock (log) return log.ToString(); }
        var ready = await host.StandardOutput.ReadLineAsync(TestContext.CancellationToken).AsTask()
            .WaitAsync(TimeSpan.FromMinutes(2), TestContext.CancellationToken);
        Assert.IsNotNull(ready, "the fixture ended before its guest was ready:\n" + Log());
        var fields = ready.Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
        var qemu = int.Parse(fields["qemu"], CultureInfo.InvariantCulture);
        var work = fields["work"];
        Assert.IsTrue(IsAlive(qemu));

        using (var kill = Process.Start("kill", ["-s", signal, host.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync(TestContext.CancellationToken);
        await host.WaitForExitAsync(TestContext.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.CancellationToken);
        TestContext.WriteLine($"exit code {host.ExitCode}\n" + Log());

        await WaitUntilAsync(() => !IsAlive(qemu), TimeSpan.FromSeconds(15), $"QEMU {qemu} outlived its host ({signal})");
        Assert.IsEmpty(SharedMemoryFilesOf(host.Id), "nothing left in /dev/shm");
        if (signal != "KILL")
        {
            Assert.IsFalse(Directory.Exists(work), "a host that exits cleans its scratch directory");
            return;
        }
        // Nothing runs on SIGKILL: the next guest to start removes the dead host's scratch directory.
        Assert.IsTrue(Directory.Exists(work));
        await using (await QemuGuest.StartAsync(cancellationToken: TestContext.CancellationToken))
            Assert.IsFalse(Directory.Exists(work), "swept by the next start");
    }

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

    private static string[] SharedMemoryFilesOf(int hostPid) => Directory.GetFiles("/dev/shm", $"portal-{hostPid}-*");

    private static List<int> QemuProcessesOf(int hostPid) =>
        [.. Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(d => d!.All(char.IsAsciiDigit)).Select(d => int.Parse(d!, CultureInfo.InvariantCulture))
            .Where(pid => IsAlive(pid) && ReadCommandLine(pid).Contains($"/dev/shm/portal-{hostPid}-", StringComparison.Ordinal))];

    private static string ReadCommandLine(int pid)
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

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit, string failure)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
                Assert.Fail(failure);
            await Task.Delay(50);
        }
    }
}
