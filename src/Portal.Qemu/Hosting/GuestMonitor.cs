using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Portal.Channels;
using Portal.Qemu.Agent;

namespace Portal.Qemu.Hosting;

/// <summary>What ended the guest: a one-line summary and, for a panic, the console's text.</summary>
internal sealed record GuestLoss(string Summary, string? Details = null)
{
    public override string ToString() => Details is { Length: > 0 } ? $"{Summary}:\n{Details}" : Summary;
}

/// <summary>
/// The one owner of "is the guest still there?" for a <see cref="QemuGuest"/>, from QEMU's start to
/// its shutdown. It notices, without being asked:
/// <list type="bullet">
/// <item>QEMU exiting: from the process's exit (the runtime reaps it on SIGCHLD; nothing polls for it),
/// explained by the console: a panic (the kernel boots with <c>panic=-1</c>, and QEMU with
/// <c>-no-reboot</c> exits at the panic's reboot), a power-off, a reboot; else QEMU's own exit code or
/// signal;</item>
/// <item>the kernel announcing the end on the console while QEMU still runs: a halt (the host then stops
/// QEMU), or a panic or power-off after which QEMU did not exit within <see cref="EndGrace"/>;</item>
/// <item>silence: once <see cref="WatchLiveness"/> has started it, a guest from which nothing (an answer or
/// command output) arrived for the liveness timeout is "not responding". The agent is pinged only once the
/// guest has been silent for half that timeout, then every second until it answers, like a TCP keepalive:
/// a guest that talks is not disturbed, and a ping costs the guest an interrupt and a wake-up that can
/// land in the middle of a held syscall.</item>
/// </list>
/// The first loss is final: the handlers registered with <see cref="OnLost"/> run (QemuGuest marks the
/// window lost and fails the agent's commands), then <see cref="LostToken"/> is cancelled and
/// <see cref="Lost"/> completes. After <see cref="BeginShutdown"/> the host is ending the guest itself,
/// and nothing counts as a loss.
/// </summary>
/// <remarks>
/// The liveness clock measures the guest's silence with the host's clock, so a host that was itself
/// paused (SIGSTOP, a debugger, a starved thread pool) would blame the guest for its own absence. The
/// monitor checks every <see cref="Interval"/>; when a check comes more than <see cref="HostStall"/> late,
/// the host was not running, and the clock restarts instead of declaring the guest dead.
/// </remarks>
internal sealed partial class GuestMonitor : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan HostStall = TimeSpan.FromSeconds(2);

    /// <summary>After a panic or power-off line QEMU exits within milliseconds; past this it is declared lost anyway.</summary>
    private static readonly TimeSpan EndGrace = TimeSpan.FromSeconds(2);

    /// <summary>The agent's connection closed: how long QEMU's exit (or the console) may take to explain why.</summary>
    private static readonly TimeSpan AgentClosedGrace = TimeSpan.FromSeconds(3);

    private readonly QemuProcess _qemu;
    private readonly GuestConsole _console;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly List<Action<GuestLostException>> _handlers = [];
    private readonly TaskCompletionSource<GuestLostException> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lostSignal = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watching;
    private GuestLostException? _exception;
    private bool _shuttingDown;
    private AgentClient? _agent;
    private TimeSpan _livenessTimeout = Timeout.InfiniteTimeSpan;
    private long _livenessSince;

    public GuestMonitor(QemuProcess qemu, string consolePath, ILogger logger, Action<string>? consoleLine = null)
    {
        _qemu = qemu;
        _console = new GuestConsole(consolePath, consoleLine);
        _logger = logger;
        _watching = Task.WhenAll(WatchExitAsync(), WatchAsync());
    }

    /// <summary>Completes with the reason when the guest is lost; cancelled when it is shut down first.</summary>
    public Task<GuestLostException> Lost => _lost.Task;

    /// <summary>Cancelled when the guest is lost (booting links it to give up at once).</summary>
    public CancellationToken LostToken => _lostSignal.Token;

    /// <summary>Why the guest was lost, or null.</summary>
    public GuestLostException? Reason
    {
        get
        {
            lock (_gate)
                return _exception;
        }
    }

    /// <summary>The reason, waiting up to <paramref name="wait"/> for one (QEMU just exited: the monitor is about to say why).</summary>
    public async Task<GuestLostException?> ReasonAsync(TimeSpan wait)
    {
        if (Reason is not null || wait <= TimeSpan.Zero)
            return Reason;
        try
        {
            return await _lost.Task.WaitAsync(wait).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>The guest console's last lines (it is also read here, so this is as fresh as a poll).</summary>
    public string ConsoleTail(int lines)
    {
        _console.Poll();
        return _console.Tail(lines);
    }

    /// <summary>The first console line matching <paramref name="pattern"/> (kept or still to come).</summary>
    public Task<string> WaitForConsoleLineAsync(System.Text.RegularExpressions.Regex pattern, CancellationToken cancellationToken) =>
        _console.WaitForLineAsync(pattern, cancellationToken);

    /// <summary>Runs <paramref name="handler"/> when the guest is lost, before <see cref="Lost"/> completes (at once if it already is).</summary>
    public void OnLost(Action<GuestLostException> handler)
    {
        GuestLostException? already;
        lock (_gate)
        {
            already = _exception;
            if (already is null)
                _handlers.Add(handler);
        }
        if (already is not null)
            handler(already);
    }

    /// <summary>Starts pinging the agent (once it is ready): a guest silent for <paramref name="timeout"/> is lost.</summary>
    public void WatchLiveness(AgentClient agent, TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
            return;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        lock (_gate)
        {
            (_agent, _livenessTimeout, _livenessSince) = (agent, timeout, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>
    /// The host is ending the guest (agent quit, power-off, or killing QEMU): nothing counts as a loss
    /// from now on. Returns whether the guest was lost before, in which case there is nothing to shut down in order.
    /// </summary>
    public bool BeginShutdown()
    {
        lock (_gate)
        {
            _shuttingDown = true;
            return _exception is not null;
        }
    }

    /// <summary>
    /// The agent's connection failed with <paramref name="cause"/>: waits briefly for QEMU's exit or the
    /// console to say why, else declares the guest lost for that. Null when the host is shutting the guest down.
    /// </summary>
    public async Task<GuestLostException?> ExplainAsync(Exception cause)
    {
        try
        {
            return await _lost.Task.WaitAsync(AgentClosedGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Declare(new GuestLoss("the guest agent's connection closed", cause.Message));
            return Reason;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        BeginShutdown();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watching.ConfigureAwait(false);
        _lost.TrySetCanceled();
        _console.Dispose();
        _stop.Dispose();
        _lostSignal.Dispose();
    }

    private async Task WatchExitAsync()
    {
        try
        {
            await _qemu.Exited.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_gate)
        {
            if (_shuttingDown)
                return;         // the host stopped it (and may have disposed the process already)
        }
        var end = _console.Poll();      // QEMU has written everything: the whole panic is there
        Declare(end == ConsoleEnd.None ? QemuEnded() : Ended(end));
    }

    private async Task WatchAsync()
    {
        var lastCheck = Stopwatch.GetTimestamp();
        long endSeen = 0, lastPing = 0;
        Task ping = Task.CompletedTask;
        while (true)
        {
            try
            {
                await Task.Delay(Interval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            var now = Stopwatch.GetTimestamp();
            var late = Stopwatch.GetElapsedTime(lastCheck, now);
            lastCheck = now;
            AgentClient? agent;
            TimeSpan livenessTimeout;
            lock (_gate)
            {
                if (_exception is not null || _shuttingDown)
                    return;
                if (late > HostStall && _agent is not null)
                {
                    _livenessSince = now;
                    Log.HostStalled(_logger, late.TotalSeconds);
                }
                (agent, livenessTimeout) = (_agent, _livenessTimeout);
            }

            var end = _console.Poll();
            if (end != ConsoleEnd.None)
            {
                endSeen = endSeen == 0 ? now : endSeen;
                // A halted guest never makes QEMU exit; a panic or power-off that did not end QEMU in time is over anyway.
                if (end == ConsoleEnd.Halted || Stopwatch.GetElapsedTime(endSeen, now) > EndGrace)
                {
                    Declare(Ended(end));
                    _qemu.Kill();
                    return;
                }
                continue;
            }

            if (agent is null)
                continue;
            long since;
            lock (_gate)
                since = Math.Max(_livenessSince, agent.LastHeard);
            var silence = Stopwatch.GetElapsedTime(since, now);
            if (silence >= livenessTimeout / 2 && Stopwatch.GetElapsedTime(lastPing, now) >= PingInterval && ping.IsCompleted)
            {
                lastPing = now;
                ping = PingAsync(agent);
            }
            if (silence > livenessTimeout)
            {
                Declare(new GuestLoss(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"the guest is not responding: nothing from it for {silence.TotalSeconds:F1} s (QEMU paused, or the guest wedged?)")));
                return;
            }
        }
    }

    private async Task PingAsync(AgentClient agent)
    {
        try
        {
            await agent.PingAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // the connection is going: its reader reports that, and QEMU's exit explains it
        }
    }

    private GuestLoss Ended(ConsoleEnd end) => end switch
    {
        ConsoleEnd.Panic => new GuestLoss("the guest kernel panicked", _console.PanicText()),
        ConsoleEnd.PoweredOff => new GuestLoss("the guest powered off"),
        ConsoleEnd.Halted => new GuestLoss("the guest halted (the host stopped its QEMU)"),
        _ => new GuestLoss("the guest rebooted, which ends it (QEMU runs with -no-reboot)"),
    };

    private GuestLoss QemuEnded()
    {
        var errors = _qemu.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new GuestLoss($"QEMU (pid {_qemu.Id}) {_qemu.ExitDescription}", errors.Length == 0 ? null : string.Join('\n', errors.TakeLast(5)));
    }

    private void Declare(GuestLoss loss)
    {
        GuestLostException exception;
        Action<GuestLostException>[] handlers;
        lock (_gate)
        {
            if (_exception is not null || _shuttingDown)
                return;
            _exception = exception = new GuestLostException(loss.ToString());
            handlers = [.. _handlers];
            _handlers.Clear();
        }
        Log.Lost(_logger, _qemu.Id, loss.Summary);
        if (loss.Details is not null)
            Log.LostDetails(_logger, loss.Details);
        foreach (var handler in handlers)
            handler(exception);
        try
        {
            _lostSignal.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // disposed meanwhile (an agent failure explained during shutdown): nobody boots any more
        }
        _lost.TrySetResult(exception);
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "The guest (QEMU pid {Pid}) is lost: {Summary}")]
        public static partial void Lost(ILogger logger, int pid, string summary);

        [LoggerMessage(21, LogLevel.Debug, "The guest's last words:\n{Details}")]
        public static partial void LostDetails(ILogger logger, string details);

        [LoggerMessage(22, LogLevel.Debug, "The host did not run for {Seconds:F1} s (paused or starved): the guest's liveness clock restarts")]
        public static partial void HostStalled(ILogger logger, double seconds);
    }
}
