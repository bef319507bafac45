using System.Text;
using System.Text.Json;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Diagnostics;
using Portal.Hypersyscalls;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>The trace writer on its own: many slots at once, text it must not choke on, a file system that fails.</summary>
[TestClass]
public sealed class ChromeTraceWriterTests
{
    private static TracedExchange Exchange(int slot, long at) =>
        new(slot, "H", at, at + 10, PortalOp.Batch, [new(PortalOp.Read, 8, 0x1000), new(PortalOp.Write, 4, 0x2000)], 40, 24, null);

    private static TracedSyscall Syscall(int slot, ulong eventId) => new(slot, eventId, 0, "ioctl", SyscallPhase.Enter, 100, 100, "tool");

    [TestMethod]
    public void Events_written_from_many_threads_at_once_all_arrive_in_valid_json()
    {
        const int Threads = 8, EventsPerThread = 500;
        var stream = new MemoryStream();
        using (var trace = new ChromeTraceWriter(stream))
        {
            Parallel.For(0, Threads, slot =>
            {
                for (var i = 0; i < EventsPerThread; i++)
                {
                    var syscall = Syscall(slot + 1, (ulong)i);
                    trace.HandlerStarted(syscall, "H");
                    trace.ExchangeEnded(Exchange(slot + 1, i));
                    trace.HandlerEnded(syscall, "H", new TracedHandlerEnd(i + 20, HandlerOutcome.Answered, "untouched", 0, 1, null));
                }
            });
        }

        using var document = JsonDocument.Parse(stream.ToArray());
        var events = document.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        static string? Category(JsonElement e) => e.TryGetProperty("cat", out var category) ? category.GetString() : null;
        Assert.AreEqual(Threads * EventsPerThread, events.Count(e => Category(e) == "exchange"));
        Assert.AreEqual(Threads * EventsPerThread, events.Count(e => Category(e) == "handler"));
        Assert.AreEqual(Threads, events.Count(e => e.GetProperty("name").GetString() == "thread_name"), "each track named once");
        Assert.IsFalse(events.Any(e => e.TryGetProperty("args", out var a) && a.TryGetProperty("outcome", out var o) && o.GetString() == "unfinished"),
            "every span that ended was closed, none left open");
    }

    [TestMethod]
    public void Text_that_is_not_valid_utf16_is_written_replaced_not_thrown()
    {
        var stream = new MemoryStream();
        using (var trace = new ChromeTraceWriter(stream))
        {
            var syscall = Syscall(1, 1);
            trace.HandlerStarted(syscall, "half \uD800 a pair");
            trace.HandlerEnded(syscall, "half \uD800 a pair",
                new TracedHandlerEnd(5, HandlerOutcome.Failed, "untouched", 0, 0, new InvalidOperationException("lone \uDC00 surrogate")));
            Assert.IsNull(trace.WriteFailure);
        }

        using var document = JsonDocument.Parse(stream.ToArray());
        var span = document.RootElement.GetProperty("traceEvents").EnumerateArray().Single(e => e.TryGetProperty("cat", out var c) && c.GetString() == "handler");
        Assert.AreEqual("half \uFFFD a pair", span.GetProperty("name").GetString());
        Assert.AreEqual("InvalidOperationException: lone \uFFFD surrogate", span.GetProperty("args").GetProperty("exception").GetString());
    }

    [TestMethod]
    public void A_write_that_fails_stops_the_trace_and_says_why_without_disturbing_the_caller()
    {
        var stream = new FailingStream(failAfter: 2048);
        var trace = new ChromeTraceWriter(stream);
        for (var i = 0; i < 100; i++)
            trace.ExchangeEnded(Exchange(1, i));         // never throws: the session's event path must not fail because of its trace
        trace.Dispose();

        Assert.IsInstanceOfType<IOException>(trace.WriteFailure);
        StringAssert.Contains(trace.WriteFailure!.Message, "No space left on device");
        Assert.IsTrue(stream.Disposed, "the file is closed even so");
        Assert.IsLessThanOrEqualTo(2048L, stream.Written, "nothing more was attempted after the failure");
    }

    /// <summary>A disk that fills up after <c>failAfter</c> bytes.</summary>
    private sealed class FailingStream(int failAfter) : Stream
    {
        public long Written { get; private set; }

        public bool Disposed { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Written + count > failAfter)
                throw new IOException("No space left on device");
            Written += count;
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
