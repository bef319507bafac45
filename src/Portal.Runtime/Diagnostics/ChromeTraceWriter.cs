using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Portal.Hypersyscalls;

namespace Portal.Diagnostics;

/// <summary>
/// Writes a session's timeline as a Chrome trace (the JSON object format with <c>traceEvents</c>), which
/// Perfetto UI ("Open trace file") and chrome://tracing open: one track per slot (control, then one per
/// vCPU), a complete ("X") event per handler span (event arrival to verdict) and per exchange (with its
/// operations in <c>args</c>), an instant ("i") event per event answered without a handler.
/// </summary>
/// <remarks>
/// Events are streamed to the file as they end (16 KiB at a time), under a lock: handlers run on several slots at once.
/// <see cref="Dispose"/> closes the JSON, so the file is valid however the run ended (the command done,
/// Ctrl-C, the guest lost); handler spans still open then are written up to that moment, with outcome
/// "unfinished". A write that fails (disk full) stops the trace without disturbing the session:
/// <see cref="WriteFailure"/> says why. Strings from the guest (comm) are escaped by <see cref="Utf8JsonWriter"/>.
/// </remarks>
public sealed class ChromeTraceWriter : IPortalTracer, IDisposable
{
    /// <summary>The trace's single process id: all tracks belong to this Portal session.</summary>
    private const int ProcessId = 1;

    /// <summary>
    /// Bytes kept before they go to the stream. Flushing every event cost a write(2) per event (a handled syscall on
    /// the emulated guest took 25 µs instead of 13, docs/performance.md); at 16 KiB, one per ~50 events, memory bounded.
    /// </summary>
    private const int FlushThreshold = 16 * 1024;

    private readonly Lock _gate = new();
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;
    private readonly long _origin = Stopwatch.GetTimestamp();
    private readonly HashSet<int> _namedSlots = [];                                          // under _gate
    private readonly Dictionary<(int Slot, ulong EventId), (TracedSyscall Syscall, string Handler)> _openSpans = [];     // under _gate
    private Exception? _failure;        // under _gate
    private bool _closed;               // under _gate

    /// <summary>Starts a trace on <paramref name="stream"/>, which the writer owns (disposes).</summary>
    public ChromeTraceWriter(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _json = new Utf8JsonWriter(stream);
        Write(0, static (writer, _) => writer.WriteHeader());
    }

    /// <summary>Creates (or replaces) the trace file at <paramref name="path"/>.</summary>
    /// <exception cref="IOException">The file cannot be created (no such directory, a directory by that name, disk full).</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to write it.</exception>
    public static ChromeTraceWriter Create(string path) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0));     // the JSON writer buffers

    /// <summary>Why writing the trace stopped early (the file is then cut off where the write failed), or null.</summary>
    public Exception? WriteFailure
    {
        get
        {
            lock (_gate)
                return _failure;
        }
    }

    /// <inheritdoc/>
    public void HandlerStarted(TracedSyscall syscall, string handler)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
            _openSpans[(syscall.Slot, syscall.EventId)] = (syscall, handler);
    }

    /// <inheritdoc/>
    public void HandlerEnded(TracedSyscall syscall, string handler, TracedHandlerEnd ending)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(ending);
        lock (_gate)
        {
            _openSpans.Remove((syscall.Slot, syscall.EventId));
            Write((syscall, handler, ending), static (writer, span) =>
                writer.WriteHandlerSpan(span.syscall, span.handler, span.ending.Ended, Outcome(span.ending.Outcome), span.ending));
        }
    }

    /// <inheritdoc/>
    public void EventNotHandled(int slot, ulong eventId, long timestamp, TracedSyscall? syscall, string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        lock (_gate)
            Write((slot, eventId, timestamp, syscall, reason), static (writer, e) => writer.WriteInstant(e.slot, e.eventId, e.timestamp, e.syscall, e.reason));
    }

    /// <inheritdoc/>
    public void ExchangeEnded(TracedExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        lock (_gate)
            Write(exchange, static (writer, e) => writer.WriteExchange(e));
    }

    private void WriteExchange(TracedExchange exchange)
    {
        NameTrack(exchange.Slot);
        _json.WriteStartObject();
        _json.WriteString("name", exchange.Request.ToString());
        _json.WriteString("cat", "exchange");
        _json.WriteString("ph", "X");
        WriteSpan(exchange.Started, exchange.Ended);
        WriteTrack(exchange.Slot);
        _json.WriteStartObject("args");
        _json.WriteString("handler", exchange.Handler is null ? "(control)" : Clean(exchange.Handler));
        _json.WriteNumber("request_bytes", exchange.RequestBytes);
        _json.WriteNumber("response_bytes", exchange.ResponseBytes);
        WriteCounts(exchange.Operations);
        _json.WriteStartArray("ops");
        for (var i = 0; i < exchange.Operations.Count; i++)
        {
            var op = exchange.Operations[i];
            _json.WriteStartObject();
            _json.WriteString("op", op.Op.ToString());
            _json.WriteNumber("size", op.Size);
            if (op.ChaseBase is { } chaseBase)
            {
                _json.WriteNumber("chase_base", chaseBase);
                _json.WriteNumber("pointer_offset", op.PointerOffset);
                _json.WriteNumber("offset", unchecked((long)op.Address));     // signed: added to the pointer
            }
            else
                WriteHex("addr", op.Address);
            _json.WriteEndObject();
        }
        _json.WriteEndArray();
        if (exchange.Failure is { } failure)
            _json.WriteString("failure", Describe(failure));
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    /// <summary>How many operations of each kind, in the order the kinds first appear (at most 169 entries: no dictionary needed).</summary>
    private void WriteCounts(IReadOnlyList<TracedOperation> operations)
    {
        _json.WriteStartObject("counts");
        for (var i = 0; i < operations.Count; i++)
        {
            var op = operations[i].Op;
            var seenBefore = false;
            for (var j = 0; j < i && !seenBefore; j++)
                seenBefore = operations[j].Op == op;
            if (seenBefore)
                continue;
            var count = 0;
            for (var j = i; j < operations.Count; j++)
                count += operations[j].Op == op ? 1 : 0;
            _json.WriteNumber(op.ToString(), count);
        }
        _json.WriteEndObject();
    }

    private void WriteInstant(int slot, ulong eventId, long timestamp, TracedSyscall? syscall, string reason)
    {
        NameTrack(slot);
        _json.WriteStartObject();
        _json.WriteString("name", syscall is null ? "event (no handler)" : $"{syscall.Syscall} {Phase(syscall)} (no handler)");
        _json.WriteString("cat", "event");
        _json.WriteString("ph", "i");
        _json.WriteString("s", "t");         // the instant belongs to its slot's track
        WriteTime("ts", timestamp);
        WriteTrack(slot);
        _json.WriteStartObject("args");
        _json.WriteNumber("event_id", eventId);
        if (syscall is not null)
            WriteSyscall(syscall);
        _json.WriteString("reason", Clean(reason));
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    /// <summary>Writes the spans still open as "unfinished", closes the JSON and the file. Idempotent.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_closed)
                return;
            var now = Stopwatch.GetTimestamp();
            foreach (var (syscall, handler) in _openSpans.Values.OrderBy(span => span.Syscall.Received))
                Write((syscall, handler, now), static (writer, span) => writer.WriteHandlerSpan(span.syscall, span.handler, span.now, "unfinished", end: null));
            _openSpans.Clear();
            Write(0, static (writer, _) =>
            {
                writer._json.WriteEndArray();
                writer._json.WriteEndObject();
            });
            _closed = true;
            try
            {
                _json.Dispose();
            }
            catch (IOException e)
            {
                _failure ??= e;
            }
            try
            {
                _stream.Dispose();      // flushes the file; closes it even when that fails
            }
            catch (IOException e)
            {
                _failure ??= e;
            }
        }
    }

    /// <summary>
    /// Runs one event's writing (under the lock) unless the trace is closed or has failed; the first I/O failure
    /// stops the trace. Static delegates with their state: no closure allocated per event.
    /// </summary>
    private void Write<TState>(TState state, Action<ChromeTraceWriter, TState> write)
    {
        if (_closed || _failure is not null)
            return;
        try
        {
            write(this, state);
            if (_json.BytesPending >= FlushThreshold)
                _json.Flush();      // the file grows as the run goes, in 16 KiB steps
        }
        catch (IOException e)
        {
            _failure = e;
        }
    }

    private void WriteHeader()
    {
        _json.WriteStartObject();
        _json.WriteString("displayTimeUnit", "ms");
        _json.WriteStartObject("otherData");
        _json.WriteString("generator", "Portal for .NET");
        _json.WriteString("timestamps", "microseconds since the trace started");
        _json.WriteEndObject();
        _json.WriteStartArray("traceEvents");
        WriteMetadata("process_name", 0, "portal");
    }

    private void WriteHandlerSpan(TracedSyscall syscall, string handler, long ended, string outcome, TracedHandlerEnd? end)
    {
        NameTrack(syscall.Slot);
        _json.WriteStartObject();
        _json.WriteString("name", Clean(handler));
        _json.WriteString("cat", "handler");
        _json.WriteString("ph", "X");
        WriteSpan(syscall.Received, ended);
        WriteTrack(syscall.Slot);
        _json.WriteStartObject("args");
        _json.WriteNumber("event_id", syscall.EventId);
        WriteSyscall(syscall);
        _json.WriteString("outcome", outcome);
        if (end is not null)
        {
            _json.WriteString("verdict", end.Verdict);
            _json.WriteNumber("verdict_writes", end.VerdictWrites);
            _json.WriteNumber("exchanges", end.Exchanges);
            if (end.Exception is { } exception)
                _json.WriteString("exception", Describe(exception));
        }
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void WriteSyscall(TracedSyscall syscall)
    {
        _json.WriteString("syscall", syscall.Syscall);
        _json.WriteString("phase", Phase(syscall));
        _json.WriteNumber("pid", syscall.Pid);
        _json.WriteNumber("tid", syscall.Tid);
        _json.WriteString("comm", syscall.Comm);     // the guest's bytes: Utf8JsonWriter escapes them
    }

    /// <summary>The first time a slot appears, names its track (the control slot is 0, vCPU slots 1..N).</summary>
    private void NameTrack(int slot)
    {
        if (!_namedSlots.Add(slot))
            return;
        WriteMetadata("thread_name", slot, slot == 0 ? "control slot" : string.Create(CultureInfo.InvariantCulture, $"vCPU slot {slot}"));
        WriteMetadata("thread_sort_index", slot, sortIndex: slot);
    }

    private void WriteMetadata(string name, int slot, string? value = null, int? sortIndex = null)
    {
        _json.WriteStartObject();
        _json.WriteString("name", name);
        _json.WriteString("ph", "M");
        WriteTrack(slot);
        _json.WriteStartObject("args");
        if (sortIndex is { } index)
            _json.WriteNumber("sort_index", index);
        else
            _json.WriteString("name", value);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }

    private void WriteTrack(int slot)
    {
        _json.WriteNumber("pid", ProcessId);
        _json.WriteNumber("tid", slot);
    }

    /// <summary>"ts" and "dur" in whole nanoseconds (written as microseconds), so that ts + dur is the end: nested spans stay nested.</summary>
    private void WriteSpan(long started, long ended)
    {
        var start = Nanoseconds(started);
        _json.WriteNumber("ts", start / 1000.0);
        _json.WriteNumber("dur", Math.Max(0, Nanoseconds(ended) - start) / 1000.0);
    }

    private void WriteTime(string name, long timestamp) => _json.WriteNumber(name, Nanoseconds(timestamp) / 1000.0);

    private long Nanoseconds(long timestamp) => (long)Math.Round((timestamp - _origin) * 1_000_000_000.0 / Stopwatch.Frequency);

    private static string Phase(TracedSyscall syscall) => syscall.Phase == SyscallPhase.Enter ? "enter" : "return";

    private static string Outcome(HandlerOutcome outcome) => outcome switch
    {
        HandlerOutcome.Answered => "answered",
        HandlerOutcome.Failed => "failed",
        _ => "abandoned",
    };

    /// <summary>An address as "0x…" text (a JSON number could not hold 64 bits exactly), without allocating a string.</summary>
    private void WriteHex(string name, ulong value)
    {
        Span<char> text = stackalloc char[18];
        "0x".CopyTo(text);
        value.TryFormat(text[2..], out var digits, "x", CultureInfo.InvariantCulture);
        _json.WriteString(name, text[..(2 + digits)]);
    }

    private static string Describe(Exception exception) => Clean($"{exception.GetType().Name}: {exception.Message}");

    /// <summary>
    /// Host-made text (exception messages, names) may hold lone UTF-16 surrogates, which <see cref="Utf8JsonWriter"/>
    /// refuses: they become U+FFFD, as the guest's bytes already did when decoded.
    /// </summary>
    private static string Clean(string text) =>
        text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0 ? text : Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
}
