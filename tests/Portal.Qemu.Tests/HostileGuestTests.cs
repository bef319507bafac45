using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Channels;
using Portal.Conformance;
using Portal.Hypersyscalls;

namespace Portal.Qemu.Tests;

/// <summary>
/// A hostile guest cannot crash, hang or bloat the host (DESIGN.md, fault model). With portal.ko not
/// loaded, <c>portal-hostile</c> lays the shared window out itself and drives it as a malicious module
/// would: garbage events, invalid answers, answers that never come, forged "gave up" markers, lying
/// verdict reports, a flood of posts that are not events, a header changed under the host. The guest
/// program checks every answer the host gives (an untouched verdict within a bound, for each event);
/// the test checks the host's side: it survives, its session still works and disposes cleanly, its
/// memory stays flat, its log stays short and says how much it left out, and its counters count.
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed partial class HostileGuestTests
{
    /// <summary>How long the guest program waits for the host's answer to one event.</summary>
    private const int BoundMs = 5000;

    /// <summary>The flood: posts that are not events, one every 2 µs of guest time.</summary>
    private const int FloodPosts = 200_000;

    /// <summary>Short, so that an exchange the guest never answers ends well inside the bound.</summary>
    private static readonly TimeSpan ExchangeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Warm-up (every path JIT-compiled, caches filled), then the baseline, then the attacks.</summary>
    private static readonly string Scenarios = string.Join(' ',
        "sane:40", "garbage-events:1200", "flood:2000", "wrong-answers:48", "forged-abandon:10", "bogus-reports:8",
        "gate:baseline",
        $"flood:{FloodPosts}:2", "garbage-events:12000", "wrong-answers:96", "sane:40", "silent-request:1", "silent-control", "late-control:3000",
        "forged-abandon:25", "bogus-reports:20", "corrupt-header", "sane:20");

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task A_hostile_guest_driving_the_window_cannot_crash_hang_or_bloat_the_host()
    {
        var cancellationToken = TestContext.CancellationToken;
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions
        {
            LoadPortalModule = false,
            ExchangeTimeout = ExchangeTimeout,
            LoggerFactory = loggerFactory,
        }, cancellationToken);
        var output = new ProgramOutput();
        var program = guest.RunShellAsync($"portal-hostile --slots 2 --bound-ms {BoundMs} --bad-header {Scenarios}", output.Add, cancellationToken);

        // A header whose slots do not fit the window is refused, before anything is read through it.
        await output.WaitForAsync("gate=bad-header", program, cancellationToken);
        var refused = await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => guest.ConnectWindowAsync(cancellationToken));
        StringAssert.Contains(refused.Message, "100000 slots");
        await guest.RunShellAsync("touch /tmp/portal-hostile.bad-header", cancellationToken: cancellationToken);
        await output.WaitForAsync("window slots=3", program, cancellationToken);

        await using var connection = await guest.ConnectWindowAsync(cancellationToken);
        await using var session = await PortalSession.AttachAsync(connection, new PortalSessionOptions { LoggerFactory = loggerFactory }, cancellationToken);
        var hook = await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7001)).RegisterAsync(HandleAsync, "Hostile",
            cancellationToken);

        await output.WaitForAsync("gate=baseline", program, cancellationToken);
        var baseline = HostMemory.Measure();
        var postsBefore = connection.UnexpectedPosts;
        var logBefore = logs.Entries.Count;
        await guest.RunShellAsync("touch /tmp/portal-hostile.baseline", cancellationToken: cancellationToken);

        // The control slot goes silent for one request: the exchange times out, the next one works.
        await output.WaitForAsync("scenario=silent-control muted=1", program, cancellationToken);
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsExactlyAsync<GuestTimeoutException>(() => session.PingAsync(cancellationToken).AsTask());
        var silentFor = clock.Elapsed;
        await session.PingAsync(cancellationToken);

        // The same, but the guest answers after all, long after the host gave up: that answer is not the next request's.
        await output.WaitForAsync("scenario=late-control muted=1", program, cancellationToken);
        await Assert.ThrowsExactlyAsync<GuestTimeoutException>(() => session.PingAsync(cancellationToken).AsTask());
        await output.WaitForAsync("scenario=late-control answered_late=1", program, cancellationToken);
        await session.PingAsync(cancellationToken);
        await session.PingAsync(cancellationToken);

        await output.WaitForAsync("done", program, cancellationToken);
        var final = HostMemory.Measure();
        var postsDuring = connection.UnexpectedPosts - postsBefore;
        var logDuring = logs.Entries.Skip(logBefore).ToList();

        // Still usable after all that, and it detaches cleanly (the program exits once it has).
        await session.PingAsync(cancellationToken);
        var accounting = await session.GetSyscallAccountingAsync(cancellationToken);
        await session.DisposeAsync();
        await connection.DisposeAsync();
        var run = await program.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);

        var lines = run.Lines.Where(line => line.StartsWith("scenario=", StringComparison.Ordinal)).ToList();
        TestContext.WriteLine(string.Join('\n', lines));
        TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory: managed {baseline.Managed / 1024} -> {final.Managed / 1024} KiB, RSS {baseline.Rss / 1024} -> {final.Rss / 1024} KiB; unexpected posts seen {postsDuring:N0} of {FloodPosts:N0}; log lines after the baseline {logDuring.Count} ({logDuring.Count(e => e.Level >= LogLevel.Warning)} warnings or worse); silent control exchange failed after {silentFor.TotalSeconds:F2} s"));
        TestContext.WriteLine(accounting.ToString());
        foreach (var group in logDuring.GroupBy(e => (e.Level, Text: Shorten(Regex.Replace(e.Message, @"\d+", "N")))).OrderByDescending(g => g.Count()).Take(25))
            TestContext.WriteLine($"log x{group.Count()} {group.Key.Level}: {group.Key.Text}");
        TestContext.WriteLine(session.Statistics.ForHandler("Hostile").ToString());

        // The guest program's own verdict: every event answered untouched (or acknowledged as given up) within the bound.
        Assert.AreEqual(0, run.ExitCode, run.Output);
        StringAssert.Contains(run.Output, "done failures=0");
        var scenarios = lines.Select(Fields).ToList();
        foreach (var scenario in scenarios.Where(s => s.ContainsKey("answered")))
        {
            var name = scenario["scenario"];
            Assert.AreEqual(scenario.Number("posted"), scenario.Number("answered") + scenario.Number("acked"), $"{name}: every event ends");
            Assert.AreEqual(0, scenario.Number("bad"), name);
            Assert.AreEqual(0, scenario.Number("unanswered"), name);
            Assert.IsLessThanOrEqualTo(BoundMs * 1000L, scenario.Number("max_wait_us"), name);
            if (name is not ("sane" or "bogus-reports" or "corrupt-header"))
                Assert.AreEqual(scenario.Number("answered"), scenario.Number("untouched"), $"{name}: every verdict untouched");
        }
        var silent = scenarios.Single(s => s["scenario"] == "silent-request");
        Assert.IsGreaterThanOrEqualTo((long)(ExchangeTimeout.TotalMicroseconds * 0.9), silent.Number("min_wait_us"), "the host waited for the answer it asked for");
        Assert.IsGreaterThanOrEqualTo(ExchangeTimeout * 0.9, silentFor);
        Assert.IsLessThan(ExchangeTimeout * 2, silentFor);
        Assert.IsGreaterThan(0, scenarios.Where(s => s["scenario"] == "wrong-answers").Sum(s => s.Number("batches")), "BATCH answers were attacked too");

        // The host counted what it saw.
        var malformed = scenarios.Where(s => s.ContainsKey("malformed")).Sum(s => s.Number("malformed"));
        Assert.AreEqual(malformed, session.Statistics.MalformedEvents);
        Assert.AreEqual(malformed, accounting.MalformedEvents);
        Assert.IsGreaterThanOrEqualTo(50, postsDuring, "the host saw the flood (it samples guest_seq: under load it sees fewer)");
        Assert.IsLessThanOrEqualTo(FloodPosts + 2_000, postsDuring);
        var forged = scenarios.Where(s => s["scenario"] == "forged-abandon").Sum(s => s.Number("forged"));
        Assert.IsGreaterThanOrEqualTo(forged / 2, session.Statistics.UnattributedAbandonments);
        var wrongAnswers = scenarios.Where(s => s["scenario"] is "wrong-answers" or "silent-request").Sum(s => s.Number("posted"));
        Assert.IsGreaterThanOrEqualTo(wrongAnswers, hook.Statistics.Errors);
        Assert.AreEqual(0, hook.Statistics.FailedVerdictWrites, "no verdict carried writes: failed writes the guest reports on them are not the handler's");
        Assert.AreEqual(0, accounting.FailedVerdicts);

        // The log: the flood costs a bounded number of lines, and they say how many posts they left out.
        var postLines = logDuring.Count(e => e.Message.Contains("where only an event may arrive; ignored", StringComparison.Ordinal));
        Assert.IsLessThanOrEqualTo(50, postLines, "warnings about the flood");
        var allPostLines = logs.Entries.Count(e => e.Message.Contains("where only an event may arrive; ignored", StringComparison.Ordinal));
        var leftOut = logs.Entries.Sum(e => SuppressedCount(e.Message));
        Assert.AreEqual(connection.UnexpectedPosts, allPostLines + leftOut, "each post the host saw is logged or counted in a line that is");
        // Everything else the guest did wrong, at whatever rate it chose, costs a bounded number of lines too, with a summary.
        Assert.IsLessThanOrEqualTo(60, logDuring.Count(e => e.Level >= LogLevel.Warning), "warnings and errors after the baseline");
        Assert.IsLessThanOrEqualTo(100, logDuring.Count, "log lines of any level after the baseline");
        Assert.IsTrue(logs.Entries.Any(e => SuppressedCount(e.Message, "messages") > 0), "the log says how many messages about the guest it left out");

        // Flat memory: the attacks after the baseline (200,000 posts, 12,000 garbage events, ...) leave nothing behind.
        Assert.IsLessThan(4L << 20, final.Managed - baseline.Managed, "managed heap growth");
        Assert.IsLessThan(32L << 20, final.Rss - baseline.Rss, "resident set growth");
    }

    /// <summary>
    /// The handler the guest program's sane answers are computed for: mode 1 reads a long, 2 a long and a
    /// string (one BATCH), 3 a string; the verdict skips the call with (value &amp; 0xffff) + 1.
    /// </summary>
    private static async ValueTask HandleAsync(SyscallContext context)
    {
        var address = context.Args[2];
        var memory = context.Memory;
        var token = context.CancellationToken;
        ulong value;
        switch (context.Args[3])
        {
            case 1:
                value = await memory.ReadLongAsync(address, token);
                break;
            case 2:
                var number = memory.ReadLongAsync(address, token);
                var text = memory.ReadStrAsync(address + 0x1000, 64, token);
                value = await number + (ulong)(await text).Length;
                break;
            case 3:
                value = (ulong)(await memory.ReadStrAsync(address, 64, token)).Length;
                break;
            default:
                value = 0;
                break;
        }
        context.SkipSyscall = true;
        context.Retval = (long)(value & 0xffff) + 1;
    }

    private static Dictionary<string, string> Fields(string line) =>
        line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(field => field.Split('=', 2)).Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);

    private static string Shorten(string text) => text.Length > 110 ? text[..110] : text;

    /// <summary>N in "N similar posts" or "N similar messages": what a throttled line says it left out.</summary>
    private static long SuppressedCount(string message, string what = "posts")
    {
        var match = SuppressedPattern().Match(message);
        return match.Success && match.Groups[2].Value == what ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"(\d+) similar (posts|messages)")]
    private static partial Regex SuppressedPattern();

    /// <summary>The host's own memory: the managed heap after a full collection, and the resident set.</summary>
    private static class HostMemory
    {
        public static (long Managed, long Rss) Measure()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var managed = GC.GetTotalMemory(forceFullCollection: true);
            var rss = File.ReadLines("/proc/self/status").Where(line => line.StartsWith("VmRSS:", StringComparison.Ordinal))
                .Select(line => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024).Single();
            return (managed, rss);
        }
    }

    /// <summary>The guest program's output as it streams in, line by line, with waits for a line to appear.</summary>
    private sealed class ProgramOutput
    {
        private readonly Lock _lock = new();
        private readonly StringBuilder _partial = new();
        private readonly List<string> _lines = [];
        private readonly List<(string Prefix, TaskCompletionSource Seen)> _waiters = [];

        public void Add(string chunk)
        {
            lock (_lock)
            {
                _partial.Append(chunk);
                var text = _partial.ToString();
                var end = text.LastIndexOf('\n');
                if (end < 0)
                    return;
                _partial.Clear().Append(text, end + 1, text.Length - end - 1);
                foreach (var line in text[..end].Split('\n'))
                {
                    _lines.Add(line);
                    foreach (var waiter in _waiters.Where(w => line.StartsWith(w.Prefix, StringComparison.Ordinal)))
                        waiter.Seen.TrySetResult();
                }
            }
        }

        /// <summary>Waits (at most 120 s) for a line starting with <paramref name="prefix"/>; fails at once if the program ends first.</summary>
        public async Task WaitForAsync(string prefix, Task<Guests.GuestCommandResult> program, CancellationToken cancellationToken)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_lines.Any(line => line.StartsWith(prefix, StringComparison.Ordinal)))
                    return;
                _waiters.Add((prefix, seen));
            }
            var first = await Task.WhenAny(seen.Task, program, Task.Delay(TimeSpan.FromSeconds(120), cancellationToken));
            if (first != seen.Task)
            {
                string text;
                lock (_lock)
                    text = string.Join('\n', _lines) + "\n" + _partial;
                Assert.Fail($"portal-hostile did not print '{prefix}' ({(program.IsCompleted ? "it ended" : "timed out")}):\n{text}");
            }
        }
    }
}

/// <summary>Reads a number field of a guest program's key=value line.</summary>
internal static class FieldExtensions
{
    public static long Number(this Dictionary<string, string> fields, string name) =>
        long.Parse(fields[name], CultureInfo.InvariantCulture);
}
