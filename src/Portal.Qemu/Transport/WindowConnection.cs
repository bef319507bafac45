using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Portal.Channels;

namespace Portal.Qemu.Transport;

/// <summary>
/// The host side of a real guest's window: the control slot, and a poller thread that watches the
/// vCPU slots for events and hands them to the attached session. The poller spins while events
/// come (sub-microsecond pickup), yields for 100 ms after the last one, then sleeps 1 ms between
/// scans, so an idle guest costs the host almost nothing. While the host holds every vCPU's slot no
/// event can come, so it blocks until one is released: a handler that awaits something and goes on
/// on another thread does not compete for a core with a spinning poller (and, under TCG, with the
/// vCPU itself).
/// </summary>
internal sealed partial class WindowConnection : IGuestConnection
{
    private const ulong OpEvent = 0xf000_0100;
    private static readonly long SpinTicks = Stopwatch.Frequency / 10;

    private readonly SharedWindow _window;
    private readonly WindowChannel[] _cpus;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ManualResetEventSlim _slotReleased = new(false);
    private readonly GuestState _guest = new();
    private readonly Thread _poller;
    private IGuestEventSink? _sink;
    private long _eventsDelivered;
    private int _disposed;

    public WindowConnection(SharedWindow window, TimeSpan exchangeTimeout, ILogger logger)
    {
        _window = window;
        _logger = logger;
        var slots = (int)window.SlotCount;
        ControlChannel = new WindowChannel(window.Slot(0), 0, exchangeTimeout, _guest);
        _cpus = [.. Enumerable.Range(1, slots - 1).Select(i => new WindowChannel(window.Slot(i), i, exchangeTimeout, _guest, _slotReleased))];
        _poller = new Thread(Poll) { IsBackground = true, Name = "portal-event-poller" };
        _poller.Start();
    }

    public WindowChannel ControlChannel { get; }

    public IGuestChannel Control => ControlChannel;

    /// <summary>Events the poller handed to a session.</summary>
    public long EventsDelivered => Interlocked.Read(ref _eventsDelivered);

    /// <summary>
    /// The guest is gone (panic, power-off, QEMU exited, no longer responding): every exchange, running
    /// or future, fails at once with <paramref name="reason"/> instead of waiting out its timeout.
    /// </summary>
    public void MarkLost(GuestLostException reason) => _guest.MarkLost(reason);

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
        _poller.Join(TimeSpan.FromSeconds(5));
        _window.HostSession = 0;
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Poll()
    {
        var lastActivity = Stopwatch.GetTimestamp();
        while (!_stop.IsCancellationRequested)
        {
            _slotReleased.Reset();      // before the check: a release after it sets the event again
            if (Array.TrueForAll(_cpus, slot => slot.HostOwned))
            {
                try
                {
                    _slotReleased.Wait(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                lastActivity = Stopwatch.GetTimestamp();
                continue;
            }
            var active = false;
            foreach (var slot in _cpus)
            {
                if (slot.HostOwned)
                    continue;
                slot.AcknowledgeStaleAbandonment();
                var seq = slot.GuestSeq;
                if (seq == slot.LastGuestSeq)
                    continue;
                slot.LastGuestSeq = seq;
                active = true;
                Deliver(slot);
            }
            if (active)
                lastActivity = Stopwatch.GetTimestamp();
            else if (Stopwatch.GetTimestamp() - lastActivity < SpinTicks)
                Thread.SpinWait(20);
            else
                Thread.Sleep(1);
        }
    }

    private void Deliver(WindowChannel slot)
    {
        var region = slot.Region;
        var op = BinaryPrimitives.ReadUInt64LittleEndian(region);
        if (op != OpEvent)
        {
            Log.UnexpectedPost(_logger, slot.Slot, op);
            return;
        }
        slot.HeldEventId = BinaryPrimitives.ReadUInt64LittleEndian(region[8..]);
        slot.HostOwned = true;
        var sink = Volatile.Read(ref _sink);
        if (sink is null)
        {
            slot.ReleaseUntouched();    // nobody listens: let the syscall go at once rather than after the guest's timeout
            return;
        }
        Interlocked.Increment(ref _eventsDelivered);
        try
        {
            // Inline: a handler whose exchanges are answered quickly completes here, with no thread switch.
            var handling = sink.OnEventAsync(slot, _stop.Token);
            if (!handling.IsCompleted)
                _ = ObserveAsync(handling, slot);
            else
                handling.GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Fail(slot, e);
        }
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
        [LoggerMessage(1, LogLevel.Warning, "Slot {Slot}: the guest posted 0x{Op:x} where only an event may arrive; ignored")]
        public static partial void UnexpectedPost(ILogger logger, int slot, ulong op);

        [LoggerMessage(2, LogLevel.Error, "Slot {Slot}: the event sink failed; the syscall was released untouched")]
        public static partial void SinkFailed(ILogger logger, Exception exception, int slot);
    }
}
