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

    /// <summary>
    /// Receives the session's timeline (handler spans, events answered without a handler, every exchange with
    /// its operations), e.g. a <see cref="ChromeTraceWriter"/>. Default: none, at the cost of a null check.
    /// </summary>
    public IPortalTracer? Tracer { get; init; }
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
    private readonly IPortalTracer? _tracer;
    private readonly ConcurrentDictionary<uint, HookRegistration> _hooks = new();
    private readonly AsyncLocal<SyscallContext?> _currentHandler = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly ConcurrentDictionary<int, HeldEvent> _heldEvents = new();     // by slot
    private readonly FunctionHooks.FunctionResolver _functions;
    private GuestStatistics? _guestBaseline;
    private GuestScope? _scope;
    private IDisposable? _attachment;
    private int _disposed;

    private PortalSession(IGuestConnection connection, GuestInfo guest, PortalStatistics statistics, SlotLease control, ILogger logger,
        IPortalTracer? tracer)
    {
        _connection = connection;
        _tracer = tracer;
        Guest = guest;
        Statistics = statistics;
        _control = control;
        _logger = logger;
        var queries = new Introspection.QueryChannel(control, guest, () => _currentHandler.Value is { } context && context.Session == this);
        Processes = new Introspection.GuestProcesses(queries);
        Files = new Introspection.GuestFiles(queries);
        _functions = new FunctionHooks.FunctionResolver(Files, guest.Abi);
    }

    /// <summary>What the guest said about itself.</summary>
    public GuestInfo Guest { get; }

    /// <summary>The guest's ABI.</summary>
    public GuestAbi Abi => Guest.Abi;

    /// <summary>Exchange and handler counters.</summary>
    public PortalStatistics Statistics { get; }

    /// <summary>
    /// The processes every hook registered from now on sees (plugin hooks and hooks registered by handlers
    /// included), on top of each hook's own scope; null (the default) for every process. Hooks already
    /// registered keep what they had. A hook opts out with <see cref="HookBuilder.IgnoringSessionScope"/>
    /// (<see cref="HookSpec.IgnoresSessionScope"/>, <c>[Scope(IgnoreSessionScope = true)]</c>). The guest
    /// needs the scope filters feature (<see cref="GuestFeatures.ScopeFilters"/>). For a firmware:
    /// <c>GuestScope.Subtree(1).Excluding(agentPid)</c>, so hooks do not fire for Portal's own agent.
    /// </summary>
    public GuestScope? Scope
    {
        get => Volatile.Read(ref _scope);
        set => Volatile.Write(ref _scope, value);
    }

    /// <summary>The guest's processes: the list, mappings, open files, paths (docs/protocol.md §3.4).</summary>
    public Introspection.GuestProcesses Processes { get; }

    /// <summary>The guest's files by path: read, write, list, stat (docs/protocol.md §3.4).</summary>
    public Introspection.GuestFiles Files { get; }

    /// <summary>The hooks currently registered by this session.</summary>
    public IReadOnlyCollection<HookRegistration> Hooks => [.. _hooks.Values.OrderBy(h => h.Id)];

    /// <summary>
    /// Attaches to a guest: asks for its info (ABI, slots), removes hooks left by an earlier host,
    /// notes the guest's counters (so <see cref="GetSyscallAccountingAsync"/> counts from now on), and
    /// starts receiving events. Costs three control exchanges.
    /// </summary>
    /// <exception cref="PortalProtocolException">The guest's answer is malformed or of another protocol version.</exception>
    /// <exception cref="InvalidOperationException">The guest is not the expected ABI, or another session is attached.</exception>
    public static async Task<PortalSession> AttachAsync(IGuestConnection connection, PortalSessionOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new PortalSessionOptions();
        var statistics = new PortalStatistics();
        var control = new SlotLease(connection.Control, statistics, handler: null, options.Tracer);

        var guest = await control.RoundTripAsync(0, static (_, region) => Region.WriteHeader(region, PortalOp.GuestInfo, 0, 0),
            static (_, region) => GuestInfo.Decode(region), cancellationToken).ConfigureAwait(false);
        if (options.ExpectedAbi is { } expected && expected != guest.Abi)
            throw new InvalidOperationException($"Expected a {expected.Name} guest, but the guest reports {guest.Abi.Name}.");

        var session = new PortalSession(connection, guest, statistics, control, options.LoggerFactory.CreateLogger<PortalSession>(), options.Tracer);
        await session.ControlAsync(PortalOp.HookReset, 0, cancellationToken).ConfigureAwait(false);
        session._guestBaseline = await session.GetGuestStatisticsAsync(cancellationToken).ConfigureAwait(false);
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
    /// Starts a fluent registration of a function hook (a uprobe, docs/protocol.md §4.6): the function
    /// <paramref name="symbol"/> of the binary <paramref name="path"/> in the guest, at its entry
    /// (<see cref="SyscallPhase.Enter"/>) or when it returns (<see cref="SyscallPhase.Return"/>).
    /// </summary>
    public HookBuilder OnFunction(string path, string symbol, SyscallPhase phase) =>
        new(this, new FunctionHooks.FunctionTarget(path, symbol), phase);

    /// <summary>A function hook at the instruction at file offset <paramref name="offset"/> of <paramref name="path"/> (a stripped binary).</summary>
    public HookBuilder OnFunction(string path, ulong offset, SyscallPhase phase) =>
        new(this, new FunctionHooks.FunctionTarget(path, offset), phase);

    /// <summary>
    /// Installs a hook in the guest. Called from inside a handler, the registration travels through
    /// the held slot (a one-vCPU guest can serve nothing else meanwhile). A function hook is installed
    /// by the guest's control thread (placing a breakpoint sleeps), after the host has found the
    /// function's file offset in the binary, which it reads from the guest once per binary.
    /// </summary>
    /// <exception cref="ArgumentException">The spec cannot work on this guest's ABI; the message lists why.</exception>
    /// <exception cref="Memory.GuestOperationException">The guest refused it (for example, its hook table is full: ENOSPC).</exception>
    public async ValueTask<HookRegistration> RegisterAsync(HookSpec spec, Func<SyscallContext, ValueTask> handler, string? name = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfDisposed();
        spec = ForThisGuest(spec);
        name ??= DefaultName(spec, handler);
        var lease = CurrentLease();
        if (spec.Function is not null)
        {
            if (Guest.CpuSlots == 1 && lease != _control)
                throw new InvalidOperationException(
                    $"A function hook ({spec.Function}) is installed by the guest's control thread, which cannot run while a handler holds this guest's only vCPU. " +
                    "Register it outside the handler, or give the guest a second vCPU.");
            spec = spec with { Function = await _functions.ResolveAsync(spec.Function, cancellationToken).ConfigureAwait(false) };
            lease = _control;
        }

        var result = await lease.RoundTripAsync((Spec: spec, Abi), static (state, region) => HookDescriptor.WriteRequest(region, state.Spec, state.Abi),
            static (_, region) => ResponseReader.ExtResult(region, PortalOp.HookRegister), cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// The spec with the session's scope added (unless it ignores it) and its ABI-dependent filters made for
    /// this guest, checked against its ABI and features: what is installed and what the registration shows.
    /// </summary>
    /// <exception cref="ArgumentException">It cannot work on this guest; the message lists why.</exception>
    private HookSpec ForThisGuest(HookSpec spec)
    {
        if (Scope is { } sessionScope && !spec.IgnoresSessionScope)
            spec = spec with { Scope = GuestScope.AllOf([sessionScope, spec.Scope]) };
        var resolved = spec.ForAbi(Abi);
        resolved.Validate(Abi);
        resolved.RequireFeatures(Guest.Features);
        return resolved;
    }

    /// <summary>Registers every <see cref="HypersyscallAttribute"/> method of <paramref name="plugin"/>.</summary>
    /// <exception cref="ArgumentException">The plugin has no handlers, or one has the wrong signature or an invalid filter.</exception>
    public async ValueTask<PluginRegistration> LoadPluginAsync(object plugin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plugin);
        var discovered = PluginHooks.Discover(plugin, null);
        foreach (var (spec, _, _) in discovered)
            ForThisGuest(spec);     // all or nothing: check every hook before installing any
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
    public ValueTask<GuestStatistics> GetGuestStatisticsAsync(CancellationToken cancellationToken = default) =>
        CurrentLease().RoundTripAsync(0, static (_, region) => Region.WriteHeader(region, PortalOp.Stats, 0, 0),
            static (_, region) => GuestStatistics.Decode(region), cancellationToken);

    /// <summary>
    /// What happened to the syscalls this session's hooks matched since it attached: delivered, and
    /// every way one went unhandled (handler errors, the guest giving up, drops, failed verdict writes),
    /// from the host's and the guest's counters. Waits (at most a second) for the guest's reports on the
    /// verdicts already sent, so the per-handler counters are complete too. Costs one exchange.
    /// </summary>
    public async ValueTask<SyscallAccounting> GetSyscallAccountingAsync(CancellationToken cancellationToken = default)
    {
        await SettleReportsAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        var now = await GetGuestStatisticsAsync(cancellationToken).ConfigureAwait(false);
        var start = _guestBaseline!;    // set by AttachAsync before any event can arrive
        var handlers = Statistics.Handlers;
        // With verdict reports the host knows which verdicts had failing writes; without, the guest's count of failed writes stands in.
        var failedVerdicts = Guest.Features.HasFlag(GuestFeatures.VerdictReports)
            ? Statistics.VerdictsWithFailedWrites
            : now.VerdictWriteFaults - start.VerdictWriteFaults;
        return new SyscallAccounting(
            Delivered: Statistics.Events,
            HandlerErrors: handlers.Sum(h => h.Errors),
            MalformedEvents: Statistics.MalformedEvents,
            TimedOut: now.HostTimeouts - start.HostTimeouts,
            Dropped: now.EventsDropped - start.EventsDropped,
            OverBudget: now.EventsOverBudget - start.EventsOverBudget,
            RejectedVerdicts: now.BadVerdicts - start.BadVerdicts,
            FailedVerdicts: failedVerdicts,
            FailedSkips: now.SkipsFailed - start.SkipsFailed,
            FilterFaults: now.FilterFaults - start.FilterFaults);
    }

    /// <summary>One round trip that does nothing (for latency measurements).</summary>
    public async ValueTask PingAsync(CancellationToken cancellationToken = default)
    {
        var token = (ulong)Stopwatch.GetTimestamp();
        var echoed = await ControlAsync(PortalOp.Ping, token, cancellationToken).ConfigureAwait(false);
        if (echoed != token)
            throw new PortalProtocolException($"Guest answered Ping 0x{token:x} with 0x{echoed:x}.");
    }

    /// <summary>
    /// Removes every hook, stops receiving events, and detaches from the guest, after waiting (at most a
    /// second) for the guest's reports on the verdicts already sent, so the statistics are complete.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _closing.CancelAsync().ConfigureAwait(false);   // events from now on get an untouched verdict
        await SettleReportsAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);     // statistics complete before detaching
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
        // The throttle reports what it held back with the next message it lets through; after the last one, here.
        if (_guestNoise.TakeSuppressed() is var suppressed and > 0)
            Log.GuestNoiseSuppressed(_logger, suppressed);
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
        var result = await CurrentLease().RoundTripAsync((Op: op, Address: address), static (state, region) => Region.WriteHeader(region, state.Op, state.Address, 0),
            static (state, region) => ResponseReader.ExtResult(region, state.Op), cancellationToken).ConfigureAwait(false);
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
        return method.Contains('<', StringComparison.Ordinal) ? $"{spec.Function?.Symbol ?? spec.Syscall}:{spec.Phase}" : method;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Registered {Hook}")]
        public static partial void Registered(ILogger logger, string hook);

        [LoggerMessage(2, LogLevel.Debug, "Unregistered {Hook}")]
        public static partial void Unregistered(ILogger logger, string hook);

        [LoggerMessage(3, LogLevel.Warning, "Could not remove the hooks from the guest while detaching.")]
        public static partial void ResetFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Debug, "Event {EventId} for hook {HookId}, which is not registered: syscall left untouched ({Suppressed} similar messages suppressed before this one).")]
        public static partial void UnknownHook(ILogger logger, ulong eventId, uint hookId, long suppressed);

        [LoggerMessage(5, LogLevel.Error, "Malformed event {EventId} on slot {Slot}: syscall left untouched ({Suppressed} similar messages suppressed before this one).")]
        public static partial void MalformedEvent(ILogger logger, Exception exception, ulong eventId, int slot, long suppressed);

        [LoggerMessage(6, LogLevel.Error, "Handler {Handler} failed on event {EventId}: syscall left untouched.")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string handler, ulong eventId);

        [LoggerMessage(7, LogLevel.Warning, "Handler {Handler}, event {EventId}: a staged write failed and the handler did not observe it (FlushAsync reports these).")]
        public static partial void StagedWriteFailed(ILogger logger, Exception exception, string handler, ulong eventId);

        [LoggerMessage(8, LogLevel.Error, "Handler {Handler}, event {EventId}: staged writes could not be sent before the verdict.")]
        public static partial void StagedWritesLost(ILogger logger, Exception exception, string handler, ulong eventId);

        [LoggerMessage(9, LogLevel.Warning, "Handler {Handler} did not answer event {EventId} in time: the guest gave up after {HeldMs:F0} ms and let the syscall continue unmodified; the handler's token was cancelled and its verdict will be discarded.")]
        public static partial void Abandoned(ILogger logger, string handler, ulong eventId, double heldMs);

        [LoggerMessage(10, LogLevel.Warning, "Handler {Handler}, event {EventId}: the verdict arrived as the guest gave up ({HeldMs:F0} ms); the syscall continued unmodified ({Suppressed} similar messages suppressed before this one).")]
        public static partial void VerdictTooLate(ILogger logger, string handler, ulong eventId, double heldMs, long suppressed);

        [LoggerMessage(11, LogLevel.Warning, "Slot {Slot}: the guest reported giving up on event {EventId}, which no handler held ({Suppressed} similar messages suppressed before this one).")]
        public static partial void AbandonedUnknown(ILogger logger, ulong eventId, int slot, long suppressed);

        [LoggerMessage(12, LogLevel.Error, "Handler {Handler}, event {EventId}: the guest could not apply a write that rode on the verdict: {Length} bytes at 0x{Address:x} (EFAULT: unmapped, read-only or not user memory).")]
        public static partial void VerdictWriteFailed(ILogger logger, string handler, ulong eventId, int length, ulong address);

        [LoggerMessage(13, LogLevel.Error, "Handler {Handler}, event {EventId}: {Failures} of the {Count} writes that rode on the verdict failed in the guest.")]
        public static partial void VerdictWritesFailed(ILogger logger, string handler, ulong eventId, int failures, int count);

        [LoggerMessage(14, LogLevel.Error, "Handler {Handler}, event {EventId}: the guest rejected the verdict as malformed; the syscall continued untouched ({Suppressed} similar messages suppressed before this one).")]
        public static partial void VerdictRejected(ILogger logger, string handler, ulong eventId, long suppressed);

        [LoggerMessage(15, LogLevel.Warning, "Slot {Slot}: the guest posted its next event without reporting the verdict of event {EventId} ({Suppressed} similar messages suppressed before this one).")]
        public static partial void ReportMissing(ILogger logger, ulong eventId, int slot, long suppressed);

        [LoggerMessage(16, LogLevel.Warning, "Slot {Slot}: the guest reported on the verdict of event {EventId}, which no handler answered ({Suppressed} similar messages suppressed before this one).")]
        public static partial void ReportUnknown(ILogger logger, ulong eventId, int slot, long suppressed);

        [LoggerMessage(17, LogLevel.Error, "Handler {Handler} failed on event {EventId}: the guest's answer is invalid; syscall left untouched ({Suppressed} similar messages suppressed before this one).")]
        public static partial void HandlerGotInvalidAnswer(ILogger logger, Exception exception, string handler, ulong eventId, long suppressed);

        [LoggerMessage(18, LogLevel.Warning, "Slot {Slot}: the guest reported {Failures} failed writes on the verdict of event {EventId}, which carried none; ignored ({Suppressed} similar messages suppressed before this one).")]
        public static partial void ReportImpossible(ILogger logger, ulong eventId, int slot, int failures, long suppressed);

        [LoggerMessage(19, LogLevel.Warning, "{Suppressed} similar messages about what the guest sent (malformed events, invalid answers, unknown hooks, abandonments and reports of events no handler held) were not logged one by one; the statistics count them.")]
        public static partial void GuestNoiseSuppressed(ILogger logger, long suppressed);

        [LoggerMessage(20, LogLevel.Error, "Handler {Handler}, event {EventId}: the guest could not write {Failures} of the {Count} function arguments the verdict replaced (those on the stack: its page was not resident); the function ran with their old values.")]
        public static partial void FunctionArgumentsNotWritten(ILogger logger, string handler, ulong eventId, int failures, int count);
    }
}
