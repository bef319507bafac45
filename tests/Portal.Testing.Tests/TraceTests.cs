using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Diagnostics;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Testing.Programs;
using Portal.Tests.Shared;

namespace Portal.Testing.Tests;

/// <summary>The session's timeline as a Chrome trace (ChromeTraceWriter), read back as a viewer reads it.</summary>
[TestClass]
public sealed class TraceTests
{
    private readonly List<string> _traces = [];

    public TestContext TestContext { get; set; } = null!;

    /// <summary>A fresh file for the test's trace; deleted when the test passes, kept (its path in the test's output) when it fails.</summary>
    private string TracePath()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("portal-trace-").FullName, "trace.json");
        TestContext.WriteLine($"trace: {path}");
        _traces.Add(path);
        return path;
    }

    [TestCleanup]
    public void DeletePassedTraces()
    {
        if (TestContext.CurrentTestOutcome == UnitTestOutcome.Passed)
            foreach (var path in _traces)
                Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [TestMethod]
    public async Task Each_handler_call_is_a_span_on_its_vcpu_track_with_its_exchanges_and_their_operations_inside()
    {
        var path = TracePath();
        HookRegistration hook;
        PortalStatistics statistics;
        using (var trace = ChromeTraceWriter.Create(path))
        {
            await using var guest = new EmulatedGuest(GuestAbi.X86_64, new EmulatedGuestOptions { CpuCount = 2 });
            await using var session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { Tracer = trace }, TestContext.CancellationToken);
            // The first two calls wait for each other: both vCPUs hold a syscall at once, so both tracks have a span.
            var arrived = 0;
            var bothHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            statistics = session.Statistics;
            hook = await session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(Mtk7530Switch.RaethEswRegRead))
                .RegisterAsync(async context =>
                {
                    if (Interlocked.Increment(ref arrived) == 2)
                        bothHeld.TrySetResult();
                    await bothHeld.Task.WaitAsync(TimeSpan.FromSeconds(5), context.CancellationToken);
                    // struct ifreq on x86_64: ifr_name[16], then ifr_data, which points to esw_reg { off, val }.
                    var name = context.Memory.ReadStrAsync(context.Args[2], 16);
                    var register = context.Memory.ReadPtrAsync(context.Args[2] + 16);
                    Assert.AreEqual("eth0", await name);                                    // exchange 1: both reads
                    var pointer = await register;
                    var offset = await context.Memory.ReadIntAsync(pointer);                 // exchange 2
                    await context.Memory.WriteIntAsync(pointer + 4, offset == Mtk7530Switch.RegEswWtMacAd0 ? 2u : 0u);   // exchange 3
                    context.Retval = 0;
                }, "SwitchRegister", TestContext.CancellationToken);

            var runs = await Task.WhenAll(
                guest.RunAsync(GuestCommand.Of(Mtk7530Switch.Name, "table_del"), TestContext.CancellationToken),
                guest.RunAsync(GuestCommand.Of(Mtk7530Switch.Name, "table_del"), TestContext.CancellationToken));
            foreach (var run in runs)
                Assert.AreEqual("done.\n", run.Output);
        }

        var events = ChromeTrace.Load(path);
        var spans = events.Handlers();
        Assert.HasCount(2, spans, "one span per call");
        Assert.AreEqual(hook.Statistics.Calls, spans.Count);
        CollectionAssert.AreEquivalent(new[] { 1, 2 }, spans.Select(s => s.Tid).ToArray(), "each vCPU's call on its own track");
        Assert.AreEqual("vCPU slot 1", events.TrackName(1));
        Assert.AreEqual("vCPU slot 2", events.TrackName(2));
        foreach (var span in spans)
        {
            Assert.AreEqual("SwitchRegister", span.Name);
            Assert.AreEqual("ioctl", span.Arg("syscall"));
            Assert.AreEqual("return", span.Arg("phase"));
            Assert.AreEqual(Mtk7530Switch.Name, span.Arg("comm"));
            Assert.AreEqual("answered", span.Arg("outcome"));
            Assert.AreEqual("retval=0", span.Arg("verdict"));
            Assert.AreEqual("3", span.Arg("exchanges"));

            var exchanges = events.ExchangesIn(span);
            CollectionAssert.AreEqual(new[] { "Batch", "Read", "Write" }, exchanges.Select(e => e.Name).ToArray(), "the handler's three exchanges, in order");
            CollectionAssert.AreEqual(new[] { "ReadStr", "Read" }, exchanges[0].Operations());
            Assert.AreEqual("1", exchanges[0].Args.GetProperty("counts").GetProperty("ReadStr").ToString());
            Assert.AreEqual("1", exchanges[0].Args.GetProperty("counts").GetProperty("Read").ToString());
            CollectionAssert.AreEqual(new[] { "Read" }, exchanges[1].Operations());
            CollectionAssert.AreEqual(new[] { "Write" }, exchanges[2].Operations());
            Assert.AreEqual("4", exchanges[2].Args.GetProperty("ops")[0].GetProperty("size").ToString());
            Assert.AreEqual("4", exchanges[2].Arg("request_bytes"), "the written bytes travel in the request");
            Assert.AreEqual("4", exchanges[1].Arg("response_bytes"), "the read bytes come back in the response");
            foreach (var exchange in exchanges)
                Assert.AreEqual("SwitchRegister", exchange.Arg("handler"));
        }
        var onVcpus = events.Exchanges().Where(e => e.Tid != 0).ToList();
        Assert.AreEqual(hook.Statistics.Exchanges, onVcpus.Count, "every handler exchange is in the trace");
        foreach (var exchange in onVcpus)
            Assert.IsTrue(spans.Any(span => span.Contains(exchange)), $"exchange at {exchange.Start} µs on track {exchange.Tid} lies within a handler span on that track");

        var control = events.Exchanges().Where(e => e.Tid == 0).ToList();
        Assert.AreEqual("control slot", events.TrackName(0));
        CollectionAssert.AreEqual(new[] { "GuestInfo", "HookReset", "Stats", "HookRegister", "HookReset" }, control.Select(e => e.Name).ToArray(),
            "attach, the registration and detach, on the control track");
        Assert.AreEqual(statistics.ControlExchanges, control.Count);
        Assert.IsTrue(control.All(e => e.Arg("handler") == "(control)" && e.Operations().Length == 0), "extensions carry no memory operations");
    }

    [TestMethod]
    public async Task A_failing_handler_is_a_failed_span_with_its_exception_and_the_guests_comm_is_escaped()
    {
        const string Comm = "q\"\\\t\u0001ü";     // a guest may name its process anything: quote, backslash, control characters, UTF-8
        var path = TracePath();
        using (var trace = ChromeTraceWriter.Create(path))
        {
            await using var guest = new EmulatedGuest(GuestAbi.MipsEl);
            await using var session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { Tracer = trace }, TestContext.CancellationToken);
            await session.OnSyscall("getpid", SyscallPhase.Enter).RegisterAsync(_ => throw new InvalidOperationException("no \"pid\" for you"),
                "Refuses", TestContext.CancellationToken);
            var (_, exitCode) = await guest.RunAsync(async context =>
            {
                await context.SetNameAsync(Comm);
                await context.GetPidAsync();
                return 0;
            }, ["/bin/renamer"], TestContext.CancellationToken);
            Assert.AreEqual(0, exitCode);
        }

        var span = ChromeTrace.Load(path).Handlers().Single();
        Assert.AreEqual("Refuses", span.Name);
        Assert.AreEqual(Comm, span.Arg("comm"), "the comm comes back byte for byte");
        Assert.AreEqual("failed", span.Arg("outcome"));
        Assert.AreEqual("untouched", span.Arg("verdict"));
        Assert.AreEqual("InvalidOperationException: no \"pid\" for you", span.Arg("exception"));
        Assert.Contains("\\u0022pid\\u0022", File.ReadAllText(path), "quotes inside strings are escaped, not raw");
    }

    [TestMethod]
    public async Task A_handler_the_guest_gave_up_on_is_an_abandoned_span_with_an_untouched_verdict()
    {
        var path = TracePath();
        using (var trace = ChromeTraceWriter.Create(path))
        {
            var ended = new HandlerEndSignal(trace);
            await using var guest = new EmulatedGuest(GuestAbi.X86_64, new EmulatedGuestOptions { HostTimeout = TimeSpan.FromMilliseconds(200) });
            await using var session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { Tracer = ended }, TestContext.CancellationToken);
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7001)).RegisterAsync(async context =>
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);     // never answers
            }, "Hangs", TestContext.CancellationToken);
            var run = await guest.RunAsync(new GuestCommand([PortalSelfTest.Name, "ioctl", "0x7001", "0"]), TestContext.CancellationToken);
            StringAssert.Contains(run.Output, "arg=0x0 rc=-1 errno=25", "the guest gave up: the syscall continued unmodified");
            // The handler ends after the guest moved on (its token is cancelled on the pool): wait for that, not for a time.
            await ended.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.CancellationToken);
        }

        var span = ChromeTrace.Load(path).Handlers().Single();
        Assert.AreEqual("Hangs", span.Name);
        Assert.AreEqual("abandoned", span.Arg("outcome"));
        Assert.AreEqual("untouched", span.Arg("verdict"));
        Assert.IsFalse(span.Args.TryGetProperty("exception", out _), "being cancelled because the guest gave up is not a failure");
    }

    [TestMethod]
    public async Task A_trace_closed_while_a_handler_runs_is_valid_json_with_that_span_unfinished()
    {
        var path = TracePath();
        var trace = ChromeTraceWriter.Create(path);
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        await using var session = await PortalSession.AttachAsync(guest.Connection, new PortalSessionOptions { Tracer = trace }, TestContext.CancellationToken);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await session.OnSyscall("getpid", SyscallPhase.Return).RegisterAsync(async context =>
        {
            await context.Memory.GetProcPidAsync();
            running.TrySetResult();
            await release.Task;
        }, "Stuck", TestContext.CancellationToken);
        var run = guest.RunAsync(GuestCommand.Of(PortalSelfTest.Name, "getpid"), TestContext.CancellationToken);
        await running.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.CancellationToken);

        trace.Dispose();        // what portal does on Ctrl-C or when the guest dies, with the handler still running
        var events = ChromeTrace.Load(path);
        var span = events.Handlers().Single();
        Assert.AreEqual("Stuck", span.Name);
        Assert.AreEqual("unfinished", span.Arg("outcome"));
        Assert.AreEqual("ReadProcPid", events.ExchangesIn(span).Single().Name, "the exchange it made before the trace closed");
        var closedLength = new FileInfo(path).Length;

        release.SetResult();
        await run;
        await session.DisposeAsync();      // one more control exchange, after the trace closed
        Assert.IsNull(trace.WriteFailure);
        Assert.AreEqual(closedLength, new FileInfo(path).Length, "nothing is written after the trace closed");
    }

    /// <summary>Passes everything on to the trace, and completes when a handler's span has been written.</summary>
    private sealed class HandlerEndSignal(IPortalTracer trace) : IPortalTracer
    {
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Task => _ended.Task;

        public void HandlerStarted(TracedSyscall syscall, string handler) => trace.HandlerStarted(syscall, handler);

        public void HandlerEnded(TracedSyscall syscall, string handler, TracedHandlerEnd ending)
        {
            trace.HandlerEnded(syscall, handler, ending);
            _ended.TrySetResult();
        }

        public void EventNotHandled(int slot, ulong eventId, long timestamp, TracedSyscall? syscall, string reason) =>
            trace.EventNotHandled(slot, eventId, timestamp, syscall, reason);

        public void ExchangeEnded(TracedExchange exchange) => trace.ExchangeEnded(exchange);
    }
}
