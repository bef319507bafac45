using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>
/// A hostile header (docs/reliability.md, "Hostile header files"): the built tool, in its own process as MSBuild
/// runs it, must refuse what is not a regular file without opening it, end within its limits whatever the
/// header includes, print a bounded number of errors, and leave no process behind. Every run is watched by
/// the test's own guard (wall clock and memory of the whole process tree), so a regression fails the test
/// instead of taking the machine down.
/// </summary>
[TestClass]
[TestCategory("Reliability")]
public sealed partial class HostileHeaderTests
{
    const long MiB = 1L << 20;

    /// <summary>The test's guard: far above the limits under test, far below what would hurt the machine.</summary>
    const long MemoryGuard = 3072 * MiB;

    static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    // Limits small enough to keep the tests fast (the defaults, 2 GiB and 60 s, are measured in docs/reliability.md).
    static readonly string[] SmallMemory = ["--memory-limit", "512MiB"];
    static readonly string[] ShortTimeout = ["--timeout", "3"];

    static GuardedResult Dump(string header, params string[] extra) => GuardedProcess.Tool(Guard, MemoryGuard, ["dump", header, "--abi", "x86_64", .. extra]);

    static string Mkfifo(ScratchDirectory scratch, string name)
    {
        var path = scratch.File(name);
        var made = Toolchain.Run("mkfifo", [path]);
        Assert.AreEqual(0, made.ExitCode, made.Both);
        return path;
    }

    [TestMethod]
    public void An_include_of_dev_zero_ends_quickly_at_the_memory_limit_with_bounded_memory()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("zero.h", "struct before { int a; };\n#include \"/dev/zero\"\n");
        var run = Dump(header, SmallMemory);
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(3, run.ExitCode, run.Describe());
        Assert.AreEqual("", run.Output);
        Assert.AreEqual($"portal-headers: libclang exceeded the 512 MiB memory limit reading {header} for x86_64 (an #include of a device or a huge file?); no manifest written\n", run.Error);
        Assert.IsLessThan(768 * MiB, run.PeakBytes, $"the limit holds for the whole tree: {run.Describe()}");
        Assert.IsLessThan(45.0, run.Elapsed.TotalSeconds, run.Describe());
        AssertNothingLeft(run);
    }

    [TestMethod]
    public void A_fifo_as_the_header_is_refused_without_being_opened()
    {
        using var scratch = TestPaths.Scratch();
        var fifo = Mkfifo(scratch, "pipe.h");
        var run = Dump(fifo);
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(2, run.ExitCode, run.Describe());
        Assert.AreEqual($"portal-headers: {fifo} is a FIFO (named pipe), not a header file\n", run.Error);
        Assert.IsLessThan(15.0, run.Elapsed.TotalSeconds, run.Describe());
        Assert.IsEmpty(run.Descendants, "refused before any worker starts");
    }

    [TestMethod]
    public void A_device_as_the_header_is_refused_without_being_opened()
    {
        var run = Dump("/dev/zero");
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(2, run.ExitCode, run.Describe());
        Assert.AreEqual("portal-headers: /dev/zero is a character device, not a header file\n", run.Error);
    }

    [TestMethod]
    public void A_fifo_included_from_a_header_ends_at_the_time_limit_and_leaves_no_process()
    {
        using var scratch = TestPaths.Scratch();
        var fifo = Mkfifo(scratch, "pipe.h");
        var header = scratch.Write("top.h", $"struct top {{ int a; }};\n#include \"{fifo}\"\n");
        var run = Dump(header, ShortTimeout);
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(3, run.ExitCode, run.Describe());
        Assert.AreEqual($"portal-headers: libclang did not finish reading {header} for x86_64 within the 3 s time limit (an #include of a FIFO, a device or a huge file?); no manifest written\n", run.Error);
        Assert.IsLessThan(3 + 20.0, run.Elapsed.TotalSeconds, run.Describe());
        AssertNothingLeft(run);
    }

    [TestMethod]
    public void A_worker_whose_parent_is_killed_exits_too()
    {
        // The tool is killed (as a cancelled build kills it) while its worker is blocked opening a FIFO:
        // the worker notices its stdin close and exits, though nothing kills it.
        using var scratch = TestPaths.Scratch();
        var fifo = Mkfifo(scratch, "pipe.h");
        var header = scratch.Write("top.h", $"#include \"{fifo}\"\n");
        var worker = 0;
        var run = GuardedProcess.Run("dotnet", [TestPaths.Tool, "dump", header, "--abi", "x86_64", "--timeout", "60"], Guard, MemoryGuard, (tool, descendants) =>
        {
            if (worker == 0 && descendants.FirstOrDefault(d => d.Value.Contains("--portal-headers-worker", StringComparison.Ordinal)).Key is > 0 and var pid)
            {
                worker = pid;
                Thread.Sleep(1000); // let it reach the FIFO
                tool.Kill(entireProcessTree: false);
            }
        });
        Assert.AreNotEqual(0, worker, $"a worker process runs libclang: {run.Describe()}");
        Assert.IsNull(run.Killed, run.Describe());
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (GuardedProcess.IsAlive(worker) && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.IsFalse(GuardedProcess.IsAlive(worker), "the orphaned worker exits");
    }

    [TestMethod]
    public void A_directory_as_the_header_says_so()
    {
        using var scratch = TestPaths.Scratch();
        var directory = scratch.File("dir.h");
        Directory.CreateDirectory(directory);
        var run = Dump(directory);
        Assert.AreEqual(2, run.ExitCode, run.Describe());
        Assert.AreEqual($"portal-headers: {directory} is a directory, not a header file\n", run.Error);
    }

    [TestMethod]
    public void A_binary_file_prints_a_bounded_number_of_errors_and_counts_the_rest()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.File("ls.h");
        File.Copy("/bin/ls", header);
        var run = Dump(header);
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(1, run.ExitCode, run.Describe());
        Assert.AreEqual("", run.Output);
        Assert.IsLessThan(8 * 1024, run.ErrorLength, $"a screenful, not megabytes: {run.ErrorLength} characters");
        var lines = run.Error.TrimEnd('\n').Split('\n');
        Assert.HasCount(22, lines, run.Error);
        Assert.IsTrue(lines[..20].All(l => l.StartsWith(header + ":", StringComparison.Ordinal)), run.Error);
        var more = MoreErrors().Match(lines[20]);
        Assert.IsTrue(more.Success, lines[20]);
        var total = TotalErrors().Match(lines[21]);
        Assert.IsTrue(total.Success, lines[21]);
        var hidden = int.Parse(more.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
        Assert.IsGreaterThan(1000, hidden, "a binary file has thousands of errors");
        Assert.AreEqual(20 + hidden, int.Parse(total.Groups[1].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture), "the count covers them all");

        var three = Dump(header, "--max-diagnostics", "3");
        var threeLines = three.Error.TrimEnd('\n').Split('\n');
        Assert.HasCount(5, threeLines, three.Error);
        Assert.AreEqual(lines[21], threeLines[4], "the same total");
    }

    [TestMethod]
    public void An_oversized_header_is_refused_before_libclang_reads_it()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.File("huge.h");
        using (var file = File.Create(header))
            file.SetLength(17 * MiB); // sparse: costs no disk
        var run = Dump(header);
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(3, run.ExitCode, run.Describe());
        Assert.AreEqual($"portal-headers: {header} is 17 MiB, over the 16 MiB size limit for a header file; no manifest written\n", run.Error);
        Assert.IsEmpty(run.Descendants, "refused before any worker starts");
    }

    [TestMethod]
    public void A_huge_file_included_from_a_header_ends_at_a_limit()
    {
        using var scratch = TestPaths.Scratch();
        var huge = scratch.File("huge.inc");
        using (var file = File.Create(huge))
            file.SetLength(4096 * MiB); // sparse: 4 GiB of NUL bytes that cost no disk
        var header = scratch.Write("top.h", "#include \"huge.inc\"\n");
        var run = Dump(header, [.. SmallMemory, .. ShortTimeout]);
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(3, run.ExitCode, run.Describe());
        StringAssert.StartsWith(run.Error, "portal-headers: libclang ");
        StringAssert.Contains(run.Error, $"reading {header} for x86_64");
        Assert.IsLessThan(3 + 20.0, run.Elapsed.TotalSeconds, run.Describe());
        AssertNothingLeft(run);
    }

    [TestMethod]
    public void A_normal_header_still_parses_within_the_default_limits()
    {
        var run = Dump(TestPaths.Raeth);
        Assert.IsNull(run.Killed, run.Describe());
        Assert.AreEqual(0, run.ExitCode, run.Describe());
        Assert.AreEqual("", run.Error);
        StringAssert.Contains(run.Output, "\"name\": \"esw_reg\"");
        Assert.IsLessThan(1024 * MiB, run.PeakBytes, run.Describe());
        AssertNothingLeft(run);
    }

    static void AssertNothingLeft(GuardedResult run)
    {
        foreach (var (pid, command) in run.Descendants)
            Assert.IsFalse(GuardedProcess.IsAlive(pid), $"process {pid} ({command}) outlived the tool");
    }

    [GeneratedRegex(@"^portal-headers: … and ([\d,]+) more errors \(--max-diagnostics shows more\)$")]
    private static partial Regex MoreErrors();

    [GeneratedRegex(@"^portal-headers: ([\d,]+) error\(s\) parsing the header for x86_64; no manifest written$")]
    private static partial Regex TotalErrors();
}
