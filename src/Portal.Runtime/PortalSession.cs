using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Portal.Abi;
using Portal.Channels;
using Portal.Diagnostics;
using Portal.Hypersyscalls;
using Portal.Protocol;

namespace Portal;

/// <summary>Options of a <see cref="PortalSession"/>.</summary>
public sealed class PortalSessionOptions
{
    /// <summary>Where the session logs (handler failures, protocol errors). Default: nowhere.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>When set, attaching fails unless the guest reports this ABI.</summary>
    public GuestAbi? ExpectedAbi { get; init; }
}

/// <summary>
/// The host's side of Portal on one guest: registers hooks (the guest evaluates their filters), runs
/// handlers for the events that match, and answers each event with a verdict. Handlers get a
/// <see cref="SyscallContext"/> with the memory API bound to the calling process.
/// </summary>
public sealed partial class PortalSession : IAsyncDisposable
{
    private readonly IGuestConnection _connection;
    private readonly ILogger _logger;
    private readonly SlotLease _control;
    private readonly ConcurrentDictionary<uint, HookRegistration> _hooks = new();
    private readonly AsyncLocal<SyscallContext?> _currentHandler = new();
    private readonly CancellationTokenSource _closing = new();
    private IDisposable? _attachment;
    private int _disposed;

    private PortalSession(IGuestConnection connection, GuestInfo guest, PortalStatistics statistics, SlotLease control, ILogger logger)
    {
        _connection = connection;
        Guest = guest;
        Statistics = statistics;
        _control = control;
        _logger = logger;
    }

    /// <summary>What the guest said about itself.</summary>
    public GuestInfo Guest { get; }

    /// <summary>The guest's ABI.</summary>
    public GuestAbi Abi => Guest.Abi;

    /// <summary>Exchange and handler counters.</summary>
    public PortalStatistics Statistics { get; }

    /// <summary>The hooks currently registered by this session.</summary>
    public IReadOnlyCollection<HookRegistration> Hooks => [.. _hooks.Values.OrderBy(h => h.Id)];

    /// <summary>
    /// Attaches to a guest: asks for its info (ABI, slots), removes hooks left by an earlier host,
    /// and starts receiving events. Costs two control exchanges.
    /// </summary>
    /// <exception cref="PortalProtocolException">The guest's answer is malformed or of another protocol version.</exception>
    /// <exception cref="InvalidOperationException">The guest is not the expected ABI, or another session is attached.</exception>
    public static async Task<PortalSession> AttachAsync(IGuestConnection connection, PortalSessionOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new PortalSessionOptions();
        var statistics = new PortalStatistics();
        var control = new SlotLease(connection.Control, statistics, handler: null);

        GuestInfo guest;
        await control.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(control.Channel.Region, PortalOp.GuestInfo, 0, 0);
            await control.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            guest = GuestInfo.Decode(control.Channel.Region);
        }
        finally
        {
            control.Gate.Release();
        }
        if (options.ExpectedAbi is { } expected && expected != guest.Abi)
            throw new InvalidOperationException($"Expected a {expected.Name} guest, but the guest reports {guest.Abi.Name}.");

        var session = new PortalSession(connection, guest, statistics, control, options.LoggerFactory.CreateLogger<PortalSession>());
        await session.ControlAsync(PortalOp.HookReset, 0, cancellationToken).ConfigureAwait(false);
        session._attachment = connection.Attach(new EventSink(session));
        return session;
    }

    /// <summary>Starts a fluent hook registration for <paramref name="syscall"/>.</summary>
    public HookBuilder OnSyscall(string syscall, SyscallPhase phase)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        return new HookBuilder(this, syscall, phase);
    }

    /// <summary>
    /// Installs a hook in the guest. Called from inside a handler, the registration travels through
    /// the held slot (a one-vCPU guest can serve nothing else meanwhile).
    /// </summary>
    /// <exception cref="ArgumentException">The spec cannot work on this guest's ABI; the message lists why.</exception>
    /// <exception cref="Memory.GuestOperationException">The guest refused it (for example, its hook table is full: ENOSPC).</exception>
    public async ValueTask<HookRegistration> RegisterAsync(HookSpec spec, Func<SyscallContext, ValueTask> handler, string? name = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfDisposed();
        spec.Validate(Abi);
        name ??= DefaultName(spec, handler);

        var lease = CurrentLease();
        ExtensionResult result;
        await lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            HookDescriptor.WriteRequest(lease.Channel.Region, spec, Abi);
            await lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            result = ResponseReader.ExtResult(lease.Channel.Region, PortalOp.HookRegister);
        }
        finally
        {
            lease.Gate.Release();
        }
        if (!result.Ok)
            throw new Memory.GuestOperationException(PortalOp.HookRegister, Abi.ToErrno(result.Errno), result.Errno,
                $"The guest refused the hook on {spec.Syscall} ({spec.Phase}): {Abi.ToErrno(result.Errno)} ({result.Errno}).");
        if (result.Value is 0 or > uint.MaxValue || _hooks.ContainsKey((uint)result.Value))
            throw new PortalProtocolException($"Guest answered HookRegister with hook id {result.Value}, which is zero, too large or already in use.");

        var registration = new HookRegistration(this, (uint)result.Value, spec, name, handler);
        _hooks[registration.Id] = registration;
        Log.Registered(_logger, registration.ToString());
        return registration;
    }

    /// <summary>Registers every <see cref="HypersyscallAttribute"/> method of <paramref name="plugin"/>.</summary>
    /// <exception cref="ArgumentException">The plugin has no handlers, or one has the wrong signature or an invalid filter.</exception>
    public async ValueTask<PluginRegistration> LoadPluginAsync(object plugin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var discovered = PluginLoader.Discover(plugin);
        foreach (var (spec, _, _) in discovered)
            spec.Validate(Abi);     // all or nothing: check every hook before installing any
        var hooks = new List<HookRegistration>();
        try
        {
            foreach (var (spec, name, handler) in discovered)
                hooks.Add(await RegisterAsync(spec, handler, name, cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            foreach (var hook in hooks)
                await hook.UnregisterAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        return new PluginRegistration(plugin, hooks);
    }

    /// <summary>The guest's own counters (events sent, timeouts, syscalls filtered out in the guest...).</summary>
    public async ValueTask<GuestStatistics> GetGuestStatisticsAsync(CancellationToken cancellationToken = default)
    {
        var lease = CurrentLease();
        await lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(lease.Channel.Region, PortalOp.Stats, 0, 0);
            await lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            return GuestStatistics.Decode(lease.Channel.Region);
        }
        finally
        {
            lease.Gate.Release();
        }
    }

    /// <summary>One round trip that does nothing (for latency measurements).</summary>
    public async ValueTask PingAsync(CancellationToken cancellationToken = default)
    {
        var token = (ulong)Stopwatch.GetTimestamp();
        var echoed = await ControlAsync(PortalOp.Ping, token, cancellationToken).ConfigureAwait(false);
        if (echoed != token)
            throw new PortalProtocolException($"Guest answered Ping 0x{token:x} with 0x{echoed:x}.");
    }

    /// <summary>Removes every hook, stops receiving events, and detaches from the guest.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _closing.CancelAsync().ConfigureAwait(false);   // events from now on get an untouched verdict
        try
        {
            await ControlAsync(PortalOp.HookReset, 0, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Channels.GuestLostException)
        {
            // the guest is gone, and its hooks with it: nothing to remove, nothing to warn about
        }
        catch (Exception e) when (e is PortalException or Memory.GuestOperationException)
        {
            Log.ResetFailed(_logger, e);
        }
        foreach (var hook in _hooks.Values)
            hook.MarkUnregistered();
        _hooks.Clear();
        _attachment?.Dispose();
        _closing.Dispose();
    }

    internal async ValueTask UnregisterAsync(HookRegistration hook, CancellationToken cancellationToken)
    {
        if (!_hooks.TryRemove(hook.Id, out _) || Volatile.Read(ref _disposed) == 1)
            return;
        await ControlAsync(PortalOp.HookUnregister, hook.Id, cancellationToken).ConfigureAwait(false);
        Log.Unregistered(_logger, hook.ToString());
    }

    /// <summary>An extension request without data; returns the EXT_OK value.</summary>
    private async ValueTask<ulong> ControlAsync(PortalOp op, ulong address, CancellationToken cancellationToken)
    {
        var lease = CurrentLease();
        ExtensionResult result;
        await lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(lease.Channel.Region, op, address, 0);
            await lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            result = ResponseReader.ExtResult(lease.Channel.Region, op);
        }
        finally
        {
            lease.Gate.Release();
        }
        return result.Ok
            ? result.Value
            : throw new Memory.GuestOperationException(op, Abi.ToErrno(result.Errno), result.Errno,
                $"The guest refused {op}: {Abi.ToErrno(result.Errno)} ({result.Errno}).");
    }

    /// <summary>The held slot when called from a handler of this session, else the control slot.</summary>
    private SlotLease CurrentLease() => _currentHandler.Value is { } context && context.Session == this ? context.Lease : _control;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);

    private static string DefaultName(HookSpec spec, Func<SyscallContext, ValueTask> handler)
    {
        var method = handler.Method.Name;
        return method.Contains('<', StringComparison.Ordinal) ? $"{spec.Syscall}:{spec.Phase}" : method;
    }

    /// <summary>
    /// Handles one event: decode, run the handler, and ALWAYS answer with a verdict, so the guest's
    /// syscall never waits for a verdict that does not come. A handler that throws leaves the syscall
    /// untouched.
    /// </summary>
    private async ValueTask HandleEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var eventId = Region.Address(channel.Region);
        var verdict = Verdict.Untouched;
        HookRegistration? hook = null;
        IReadOnlyList<VerdictWrite> writes = [];
        var failed = false;
        try
        {
            var record = SyscallEventRecord.Decode(channel.Region, Abi);
            if (_closing.IsCancellationRequested || !_hooks.TryGetValue(record.HookId, out hook))
            {
                Log.UnknownHook(_logger, eventId, record.HookId);
                return;
            }
            var expectedNumber = Abi.Syscalls.GetNumber(hook.Spec.Syscall);
            if (record.Number != expectedNumber || record.Phase != hook.Spec.Phase)
                throw new PortalProtocolException(
                    $"Guest sent an event for hook {hook.Id} ({hook.Spec.Syscall} {hook.Spec.Phase}) with syscall {record.Number} {record.Phase}.");

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
            var context = new SyscallContext(this, hook, record, new SlotLease(channel, Statistics, hook.Statistics), linked.Token);
            _currentHandler.Value = context;
            Statistics.AddEvent();
            PortalMetrics.Events.Add(1, new KeyValuePair<string, object?>(PortalMetrics.HandlerTag, hook.Name));
            try
            {
                await hook.Handler(context).ConfigureAwait(false);
                verdict = context.BuildVerdict();
            }
            finally
            {
                // Even when the handler failed: what it wrote (staged) completed from its point of view.
                writes = await FinishMemoryAsync(context, hook, eventId, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            failed = true;
            verdict = Verdict.Untouched;
            if (hook is null)
                Log.MalformedEvent(_logger, e, eventId, channel.Slot);
            else
            {
                Log.HandlerFailed(_logger, e, hook.Name, eventId);
                PortalMetrics.HandlerErrors.Add(1, new KeyValuePair<string, object?>(PortalMetrics.HandlerTag, hook.Name));
            }
        }
        finally
        {
            _currentHandler.Value = null;
            verdict.WriteRequest(channel.Region, eventId, Abi, writes);
            channel.ReleaseToGuest();
            if (hook is not null)
            {
                var elapsed = Stopwatch.GetTimestamp() - started;
                hook.Statistics.AddCall(elapsed, failed);
                PortalMetrics.HandlerDuration.Record(Stopwatch.GetElapsedTime(started).TotalMicroseconds,
                    new KeyValuePair<string, object?>(PortalMetrics.HandlerTag, hook.Name));
            }
        }
    }

    /// <summary>
    /// Ends the handler's memory: writes still staged go on the verdict (or out first, when they do not
    /// fit it); faults the handler never observed are logged, not lost.
    /// </summary>
    private async ValueTask<IReadOnlyList<VerdictWrite>> FinishMemoryAsync(SyscallContext context, HookRegistration hook, ulong eventId,
        CancellationToken cancellationToken)
    {
        try
        {
            var (writes, unobserved) = await context.Memory.Planner.FinishAsync(cancellationToken).ConfigureAwait(false);
            foreach (var fault in unobserved)
                Log.StagedWriteFailed(_logger, fault, hook.Name, eventId);
            return writes;
        }
        catch (Exception e) when (e is PortalException or OperationCanceledException)
        {
            Log.StagedWritesLost(_logger, e, hook.Name, eventId);
            return [];
        }
    }

    /// <summary>Keeps <see cref="IGuestEventSink"/> off the session's public surface.</summary>
    private sealed class EventSink(PortalSession session) : IGuestEventSink
    {
        public ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken) =>
            session.HandleEventAsync(channel, cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Registered {Hook}")]
        public static partial void Registered(ILogger logger, string hook);

        [LoggerMessage(2, LogLevel.Debug, "Unregistered {Hook}")]
        public static partial void Unregistered(ILogger logger, string hook);

        [LoggerMessage(3, LogLevel.Warning, "Could not remove the hooks from the guest while detaching.")]
        public static partial void ResetFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Debug, "Event {EventId} for hook {HookId}, which is not registered: syscall left untouched.")]
        public static partial void UnknownHook(ILogger logger, ulong eventId, uint hookId);

        [LoggerMessage(5, LogLevel.Error, "Malformed event {EventId} on slot {Slot}: syscall left untouched.")]
        public static partial void MalformedEvent(ILogger logger, Exception exception, ulong eventId, int slot);

        [LoggerMessage(6, LogLevel.Error, "Handler {Handler} failed on event {EventId}: syscall left untouched.")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string handler, ulong eventId);

        [LoggerMessage(7, LogLevel.Warning, "Handler {Handler}, event {EventId}: a staged write failed and the handler did not observe it (FlushAsync reports these).")]
        public static partial void StagedWriteFailed(ILogger logger, Exception exception, string handler, ulong eventId);

        [LoggerMessage(8, LogLevel.Error, "Handler {Handler}, event {EventId}: staged writes could not be sent before the verdict.")]
        public static partial void StagedWritesLost(ILogger logger, Exception exception, string handler, ulong eventId);
    }
}
