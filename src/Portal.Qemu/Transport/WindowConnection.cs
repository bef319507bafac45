using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Portal.Channels;
using Portal.Diagnostics;

namespace Portal.Qemu.Transport;

/// <summary>
/// The host side of a real guest's window: the control slot, and a poller thread that watches the
/// vCPU slots for events, abandonments and verdict reports and hands them to the attached session.
/// </summary>
/// <remarks>
/// <para><b>Delivery.</b> The poller runs a handler inline: one whose exchanges the guest answers at
/// once completes on the poller thread, with no thread switch. A handler that keeps the thread longer
/// than <see cref="InlineBudget"/> (it blocks, or is slow to compile) loses it: a watchdog starts a new
/// poller, which serves the other vCPUs (and notices the guest giving up on this one), and the old
/// thread ends when the handler returns. So one vCPU's slow handler never stalls another's events.
/// Exactly one thread scans at a time: the inline marker is claimed by compare-and-swap, either by the
/// poller when the handler returns or by the watchdog, never both.</para>
/// <para><b>Waiting.</b> Spinning costs a host core that QEMU's vCPU thread needs, so the poller only
/// spins for as long as the next event is likely to come: twice the recent gap between events, at least
/// <see cref="MinSpin"/> and only if that gap is under <see cref="MaxSpin"/> (a tight loop of hooked
/// syscalls). Otherwise it sleeps between scans, longer the longer it has been quiet (1 to 10 ms,
/// <see cref="SleepAfter"/>). While the host holds every vCPU slot, no event can come: it waits for a
/// release, waking every 10 ms only to notice abandonments.</para>
/// <para><b>Abandonment</b> (§5.3). When the guest gives up on an event it writes the id to
/// <c>abandoned_event</c>; the poller tells the sink once per id (the sink ends its event, which
/// acknowledges) and acknowledges itself any abandonment of a slot the host no longer holds.</para>
/// </remarks>
internal sealed partial class WindowConnection : IGuestConnection
{
    private static readonly long InlineBudget = Stopwatch.Frequency / 100;     // 10 ms
    private static readonly long MinSpin = Stopwatch.Frequency / 10_000;       // 100 µs
    private static readonly long MaxSpin = Stopwatch.Frequency / 2_000;        // 500 µs
    private static readonly TimeSpan HeldWait = TimeSpan.FromMilliseconds(10);

    private readonly SharedWindow _window;
    private readonly WindowChannel[] _cpus;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ManualResetEventSlim _slotReleased = new(false);
    private readonly GuestState _guest = new();
    private readonly LogThrottle _unexpectedPosts = new();
    private readonly Thread _watchdog;
    private IGuestEventSink? _sink;
    private Thread _poller;
    private int _generation;
    private long _inlineToken;      // nonzero while a poller runs a handler inline
    private long _inlineSince;
    private long _nextInlineToken;
    private long _eventsDelivered;
    private long _takeovers;
    private int _disposed;

    /// <param name="window">The mapped window.</param>
    /// <param name="slots">The slot count from the header, checked against the mapping: not read again, since the guest may change it.</param>
    /// <param name="exchangeTimeout">How long an exchange waits for the guest.</param>
    /// <param name="logger">Where transport problems are logged.</param>
    public WindowConnection(SharedWindow window, int slots, TimeSpan exchangeTimeout, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 2);
        _window = window;
        _logger = logger;
        ControlChannel = new WindowChannel(window.Slot(0), 0, exchangeTimeout, _guest);
        _cpus = [.. Enumerable.Range(1, slots - 1).Select(i => new WindowChannel(window.Slot(i), i, exchangeTimeout, _guest, _slotReleased))];
        _poller = StartPoller(0);
        // A plain thread that sleeps: a timer's callbacks would wake the thread pool 100 times a second.
        _watchdog = new Thread(WatchInlineHandlers) { IsBackground = true, Name = "portal-event-watchdog" };
        _watchdog.Start();
    }

    public WindowChannel ControlChannel { get; }

    public IGuestChannel Control => ControlChannel;

    /// <summary>Events the poller handed to a session.</summary>
    public long EventsDelivered => Interlocked.Read(ref _eventsDelivered);

    /// <summary>Times a handler kept the poller thread past the inline budget and a new poller took over.</summary>
    public long Takeovers => Interlocked.Read(ref _takeovers);

    /// <summary>Posts from the guest that were not events where only an event may arrive (a broken or hostile guest).</summary>
    public long UnexpectedPosts => _unexpectedPosts.Total;

    /// <summary>
    /// The guest is gone (panic, power-off, QEMU exited, no longer responding): every exchange, running
    /// or future, fails at once with <paramref name="reason"/> instead of waiting out its timeout.
    /// </summary>
    public void MarkLost(GuestLostException reason)
    {
        _guest.MarkLost(reason);
        _slotReleased.Set();    // a poller waiting for a release looks again, and stops
    }

    public IDisposable Attach(IGuestEventSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (Interlocked.CompareExchange(ref _sink, sink, null) is not null)
            throw new InvalidOperationException("Another Portal session is attached to this guest; dispose it first.");
        _window.HostSession = (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        return new Detachment(this, sink);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return ValueTask.CompletedTask;
        _stop.Cancel();
        _slotReleased.Set();
        Volatile.Read(ref _poller).Join(TimeSpan.FromSeconds(5));
        _watchdog.Join(TimeSpan.FromSeconds(1));
        _window.HostSession = 0;
        // The throttle reports what it held back with the next warning it lets through; after the last one, here.
        if (_unexpectedPosts.TakeSuppressed() is var suppressed and > 0)
            Log.UnexpectedPostsSuppressed(_logger, suppressed, _unexpectedPosts.Total);
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }

    private Thread StartPoller(int generation)
    {
        var thread = new Thread(() => Poll(generation)) { IsBackground = true, Name = $"portal-event-poller-{generation}" };
        thread.Start();
        return thread;
    }

    private bool IsCurrent(int generation) => Volatile.Read(ref _generation) == generation && !_stop.IsCancellationRequested && _guest.Lost is null;

    private void Poll(int generation)
    {
        var lastActivity = Stopwatch.GetTimestamp();
        var lastEvent = lastActivity;
        var typicalGap = long.MaxValue / 2;
        while (IsCurrent(generation))
        {
            _slotReleased.Reset();      // before the check: a release after it sets the event again
            if (Array.TrueForAll(_cpus, slot => slot.HostOwned))
            {
                foreach (var slot in _cpus)
                    CheckAbandonment(slot);
                _slotReleased.Wait(HeldWait);
                lastActivity = Stopwatch.GetTimestamp();
                continue;
            }
            var delivered = false;
            foreach (var slot in _cpus)
            {
                CheckAbandonment(slot);
                if (slot.HostOwned)
                    continue;
                var seq = slot.GuestSeq;
                if (seq == slot.LastGuestSeq)
                {
                    // Only with nothing unread: acknowledging lets the guest overwrite the region.
                    slot.AcknowledgeStaleAbandonment();
                    CheckReport(slot, eventFollows: false);
                    continue;
                }
                slot.LastGuestSeq = seq;
                CheckReport(slot, eventFollows: true);
                var now = Stopwatch.GetTimestamp();
                typicalGap += (now - lastEvent - typicalGap) / 8;
                lastEvent = now;
                delivered = true;
                if (!Deliver(slot))
                    return;     // superseded while the handler ran inline: the new poller owns the slots
                if (!IsCurrent(generation))
                    return;
            }
            if (delivered)
            {
                lastActivity = Stopwatch.GetTimestamp();
                continue;
            }
            var idle = Stopwatch.GetTimestamp() - lastActivity;
            var spin = typicalGap < MaxSpin ? Math.Max(MinSpin, 2 * typicalGap) : MinSpin;
            if (idle < spin)
                Thread.SpinWait(20);
            else
                Thread.Sleep(SleepAfter(idle));
        }
    }

    /// <summary>
    /// How long to sleep between scans after <paramref name="idleTicks"/> without an event: the longer the
    /// quiet, the less likely an event is now, and each wake-up costs the host (and, under TCG, QEMU) CPU.
    /// The first event after a long quiet waits at most 10 ms, far below the guest's bound.
    /// </summary>
    private static int SleepAfter(long idleTicks)
    {
        var idleMs = idleTicks * 1000 / Stopwatch.Frequency;
        return idleMs switch
        {
            < 10 => 1,
            < 100 => 2,
            < 1000 => 5,
            _ => 10,
        };
    }

    /// <summary>Tells the sink, once per id, that the guest gave up on an event (§5.3).</summary>
    private void CheckAbandonment(WindowChannel slot)
    {
        var abandoned = slot.AbandonedEvent;
        if (abandoned == 0 || abandoned == slot.LastSeenAbandonment)
            return;
        slot.LastSeenAbandonment = abandoned;
        if (slot.PendingReport == abandoned)
            slot.PendingReport = 0;     // the guest gave up before it saw the verdict: no report will come
        try
        {
            Volatile.Read(ref _sink)?.OnEventAbandoned(slot, abandoned);
        }
        catch (Exception e)
        {
            Log.SinkCallbackFailed(_logger, e, slot.Slot);
        }
    }

    /// <summary>
    /// Hands the guest's report on the last verdict to the sink once it is there. When the next event
    /// follows without one, the report is missing (a guest without reports, or a broken one).
    /// </summary>
    private void CheckReport(WindowChannel slot, bool eventFollows)
    {
        var pending = slot.PendingReport;
        if (pending == 0)
            return;
        VerdictReport report;
        if (slot.ReportedEvent == pending)
            report = slot.ReadReport();
        else if (eventFollows)
            report = VerdictReport.MissingFor(pending);
        else
            return;
        slot.PendingReport = 0;
        try
        {
            Volatile.Read(ref _sink)?.OnVerdictReport(slot, report);
        }
        catch (Exception e)
        {
            Log.SinkCallbackFailed(_logger, e, slot.Slot);
        }
    }

    /// <summary>Hands an event to the sink, running it inline. False when a new poller took over meanwhile.</summary>
    private bool Deliver(WindowChannel slot)
    {
        if (!EventRegion.TryReadEvent(slot.Region, out var eventId))
        {
            if (_unexpectedPosts.TryEnter(out var suppressed))
                Log.UnexpectedPost(_logger, slot.Slot, EventRegion.Op(slot.Region), suppressed);
            return true;
        }
        slot.HeldEventId = eventId;
        slot.HostOwned = true;
        var sink = Volatile.Read(ref _sink);
        if (slot.GaveUpOn(eventId))
        {
            slot.ReleaseToGuest();      // the guest gave up before the host saw the event (the sink was told): acknowledge
            return true;
        }
        if (sink is null)
        {
            slot.ReleaseUntouched();    // nobody listens: let the syscall go at once rather than after the guest's timeout
            return true;
        }
        Interlocked.Increment(ref _eventsDelivered);

        var token = Interlocked.Increment(ref _nextInlineToken);
        Volatile.Write(ref _inlineSince, Stopwatch.GetTimestamp());
        Volatile.Write(ref _inlineToken, token);
        ValueTask handling;
        try
        {
            // Inline: a handler whose exchanges are answered quickly completes here, with no thread switch.
            handling = sink.OnEventAsync(slot, _stop.Token);
        }
        catch (Exception e)
        {
            handling = ValueTask.FromException(e);
        }
        var keptThread = Interlocked.CompareExchange(ref _inlineToken, 0, token) == token;
        if (!handling.IsCompleted)
            _ = ObserveAsync(handling, slot);
        else
        {
            try
            {
                handling.GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                Fail(slot, e);
            }
        }
        return keptThread;
    }

    /// <summary>The watchdog's thread: looks at the inline handler twice per budget, until the connection ends.</summary>
    private void WatchInlineHandlers()
    {
        var period = (int)(InlineBudget * 1000 / Stopwatch.Frequency / 2);
        while (!_stop.IsCancellationRequested)
        {
            Thread.Sleep(period);
            CheckInlineHandler();
        }
    }

    /// <summary>
    /// A handler that has kept the poller thread past the inline budget loses it, and a new poller
    /// starts, so other vCPUs' events (and this one's abandonment) are still seen.
    /// </summary>
    private void CheckInlineHandler()
    {
        var token = Volatile.Read(ref _inlineToken);
        if (token == 0 || Stopwatch.GetTimestamp() - Volatile.Read(ref _inlineSince) < InlineBudget)
            return;
        if (Interlocked.CompareExchange(ref _inlineToken, 0, token) != token)
            return;     // the handler returned meanwhile: the poller keeps its thread
        var generation = Interlocked.Increment(ref _generation);
        Interlocked.Increment(ref _takeovers);
        Log.PollerTakeover(_logger, InlineBudget * 1000 / Stopwatch.Frequency, generation);
        Volatile.Write(ref _poller, StartPoller(generation));
    }

    private async Task ObserveAsync(ValueTask handling, WindowChannel slot)
    {
        try
        {
            await handling.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Fail(slot, e);
        }
    }

    /// <summary>A sink must always release the slot; if it threw instead, release it untouched.</summary>
    private void Fail(WindowChannel slot, Exception error)
    {
        Log.SinkFailed(_logger, error, slot.Slot);
        if (slot.HostOwned)
            slot.ReleaseUntouched();
    }

    private sealed class Detachment(WindowConnection connection, IGuestEventSink sink) : IDisposable
    {
        public void Dispose()
        {
            if (Interlocked.CompareExchange(ref connection._sink, null, sink) == sink)
                connection._window.HostSession = 0;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Slot {Slot}: the guest posted 0x{Op:x} where only an event may arrive; ignored ({Suppressed} similar posts suppressed before this one)")]
        public static partial void UnexpectedPost(ILogger logger, int slot, ulong op, long suppressed);

        [LoggerMessage(2, LogLevel.Error, "Slot {Slot}: the event sink failed; the syscall was released untouched")]
        public static partial void SinkFailed(ILogger logger, Exception exception, int slot);

        [LoggerMessage(3, LogLevel.Error, "Slot {Slot}: the event sink's callback failed")]
        public static partial void SinkCallbackFailed(ILogger logger, Exception exception, int slot);

        [LoggerMessage(4, LogLevel.Debug, "A handler kept the event thread for more than {BudgetMs} ms: poller {Generation} takes over the other vCPUs' events")]
        public static partial void PollerTakeover(ILogger logger, long budgetMs, int generation);

        [LoggerMessage(5, LogLevel.Warning, "{Suppressed} similar posts (not events, where only an event may arrive) were not logged one by one; {Total} in all")]
        public static partial void UnexpectedPostsSuppressed(ILogger logger, long suppressed, long total);
    }
}
