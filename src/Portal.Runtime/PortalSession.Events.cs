using System.Diagnostics;
using System.Numerics;
using Microsoft.Extensions.Logging;
using Portal.Channels;
using Portal.Diagnostics;
using Portal.Hypersyscalls;
using Portal.Protocol;

namespace Portal;

/// <summary>The event path: one event from arrival to verdict, the guest giving up on one, and the guest's verdict reports.</summary>
public sealed partial class PortalSession
{
    private readonly LogThrottle _guestNoise = new();
    private int _reportsBeingLogged;

    /// <summary>
    /// The event a vCPU slot holds, or the last one it held (whose verdict report may still come).
    /// Ends exactly once, through its lease: with the verdict, or when the guest gives up.
    /// </summary>
    private sealed class HeldEvent(ulong eventId, SlotLease lease, CancellationTokenSource cancellation)
    {
        private int _abandoned;

        public ulong EventId { get; } = eventId;

        public SlotLease Lease { get; } = lease;

        public CancellationTokenSource Cancellation { get; } = cancellation;

        public long Started { get; } = Stopwatch.GetTimestamp();

        /// <summary>Set once the record is decoded.</summary>
        public HookRegistration? Hook { get; set; }

        /// <summary>The writes the verdict carried (set before it is posted: its report may arrive at once).</summary>
        public IReadOnlyList<VerdictWrite> Writes { get; set; } = [];

        /// <summary>
        /// Function arguments the verdict replaced (set with <see cref="Writes"/>). The guest writes
        /// those the calling convention puts on the stack (the fifth and sixth on mipsel and armel), and
        /// reports one it could not write as a failed write, though the verdict has no write entry for it.
        /// </summary>
        public int FunctionArgumentsSet { get; set; }

        /// <summary>A verdict went out and the guest's report on it has not come back yet.</summary>
        public bool AwaitingReport
        {
            get => Volatile.Read(ref _awaitingReport);
            set => Volatile.Write(ref _awaitingReport, value);
        }

        private bool _awaitingReport;

        /// <summary>True the first time only: an abandonment is counted once.</summary>
        public bool MarkAbandoned() => Interlocked.Exchange(ref _abandoned, 1) == 0;

        public bool WasAbandoned => Volatile.Read(ref _abandoned) == 1;
    }

    /// <summary>
    /// Handles one event: decode, run the handler, and answer with a verdict unless the guest has given
    /// up meanwhile (then <see cref="OnEventAbandoned"/> has ended the event). A handler that throws
    /// leaves the syscall untouched.
    /// </summary>
    private async ValueTask HandleEventAsync(IGuestChannel channel, CancellationToken transportToken)
    {
        var lease = new SlotLease(channel, Statistics, handler: null, _tracer);
        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(transportToken, _closing.Token);
        HeldEvent held;
        try
        {
            held = new HeldEvent(Region.Address(channel.Region), lease, cancellation);     // what the region says, even if it is not an event: the verdict names it
        }
        catch
        {
            cancellation.Dispose();
            throw;
        }
        Track(channel.Slot, held);

        var verdict = Verdict.Untouched;
        IReadOnlyList<VerdictWrite> writes = [];
        Exception? failure = null;             // what made the event fail (the handler, or a malformed record)
        TracedSyscall? traced = null;           // only with a tracer
        string? notHandled = null;              // why no handler ran, for the tracer
        try
        {
            var record = await lease.InspectAsync(Abi, static (abi, region) => SyscallEventRecord.Decode(region, abi)).ConfigureAwait(false);
            if (_tracer is not null)
                traced = new TracedSyscall(channel.Slot, held.EventId, held.Started,
                    record.IsFunction ? $"function at 0x{record.Number:x}" : Abi.Syscalls.GetName(record.Number) ?? $"syscall {record.Number}",
                    record.Phase, record.Pid, record.Tid, record.Comm);
            if (_closing.IsCancellationRequested || !_hooks.TryGetValue(record.HookId, out var hook))
            {
                notHandled = _closing.IsCancellationRequested ? "the session is closing" : $"no hook has id {record.HookId}";
                if (_guestNoise.TryEnter(out var suppressed))     // a hostile guest can send these at any rate
                    Log.UnknownHook(_logger, held.EventId, record.HookId, suppressed);
                return;
            }
            if (hook.Spec.Function is { } function)
            {
                if (!record.IsFunction || record.Phase != hook.Spec.Phase)
                    throw new PortalProtocolException(
                        $"Guest sent an event for function hook {hook.Id} ({function} {hook.Spec.Phase}) that is {(record.IsFunction ? "a function" : "a syscall")} {record.Phase} event.");
            }
            else if (record.IsFunction || record.Number != Abi.Syscalls.GetNumber(hook.Spec.Syscall) || record.Phase != hook.Spec.Phase)
            {
                throw new PortalProtocolException(
                    $"Guest sent an event for hook {hook.Id} ({hook.Spec.Syscall} {hook.Spec.Phase}) with {(record.IsFunction ? "function" : "syscall")} {record.Number} {record.Phase}.");
            }

            held.Hook = hook;
            lease.AttributeTo(hook.Statistics);
            if (traced is not null)
                _tracer!.HandlerStarted(traced, hook.Name);
            var context = new SyscallContext(this, hook, record, lease, cancellation.Token);
            _currentHandler.Value = context;
            Statistics.AddEvent();
            hook.Statistics.AddCall();
            PortalMetrics.Events.Add(1, new KeyValuePair<string, object?>(PortalMetrics.HandlerTag, hook.Name));
            try
            {
                await hook.Handler(context).ConfigureAwait(false);
                verdict = context.BuildVerdict();
            }
            finally
            {
                // Even when the handler failed: what it wrote (staged) completed from its point of view.
                writes = await FinishMemoryAsync(context, hook, held.EventId, cancellation.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (held.WasAbandoned || e is GuestTimeoutException { GuestGaveUp: true })
        {
            // What the handler did after the guest gave up fails by design (its token was cancelled, the
            // region is gone); OnEventAbandoned counts and logs the event (the handler's request may have
            // noticed first).
            verdict = Verdict.Untouched;
            writes = [];
            notHandled = "the guest gave up on it";
        }
        catch (Exception e)
        {
            failure = e;
            verdict = Verdict.Untouched;
            writes = [];
            if (held.Hook is null)
            {
                notHandled = $"malformed: {e.Message}";
                Statistics.AddMalformedEvent();
                if (_guestNoise.TryEnter(out var suppressed))
                    Log.MalformedEvent(_logger, e, held.EventId, channel.Slot, suppressed);
            }
            else
            {
                // An invalid answer is the guest's doing, at a rate the guest chooses: throttled like its other noise.
                if (e is not PortalProtocolException)
                    Log.HandlerFailed(_logger, e, held.Hook.Name, held.EventId);
                else if (_guestNoise.TryEnter(out var suppressed))
                    Log.HandlerGotInvalidAnswer(_logger, e, held.Hook.Name, held.EventId, suppressed);
                PortalMetrics.HandlerErrors.Add(1, new KeyValuePair<string, object?>(PortalMetrics.HandlerTag, held.Hook.Name));
            }
        }
        finally
        {
            _currentHandler.Value = null;
            held.Writes = writes;
            held.FunctionArgumentsSet = held.Hook?.Spec.Function is not null && (verdict.Flags & VerdictFlags.SetArgs) != 0
                ? BitOperations.PopCount(verdict.ArgMask)
                : 0;
            // Before the verdict goes out: once it has, the guest runs on, and the run (and its trace) may end before this thread resumes.
            if (_tracer is not null)
                TraceEnd(held, channel.Slot, traced, verdict, writes.Count, failure, notHandled);
            if (held.WasAbandoned)
            {
                // The guest gave up on the event (the handler may have ended only because its token was
                // cancelled): EndAbandonedAsync, queued when that was noticed, ends it and says so. A verdict
                // now would only race it, and which message the user saw would depend on thread timing.
                held.AwaitingReport = false;
            }
            else
            {
                held.AwaitingReport = Guest.Features.HasFlag(GuestFeatures.VerdictReports);     // before posting: the report may come at once
                if (!await lease.TryEndAsync((Verdict: verdict, held.EventId, Abi, Writes: writes),
                        static (state, region) => state.Verdict.WriteRequest(region, state.EventId, state.Abi, state.Writes),
                        "the handler's verdict was sent").ConfigureAwait(false))
                    held.AwaitingReport = false;
            }
            cancellation.Dispose();
            if (held.Hook is { } hook)
            {
                var elapsed = Stopwatch.GetTimestamp() - held.Started;
                hook.Statistics.AddCompletion(elapsed, failed: failure is not null);
                PortalMetrics.HandlerDuration.Record(Stopwatch.GetElapsedTime(held.Started).TotalMicroseconds,
                    new KeyValuePair<string, object?>(PortalMetrics.HandlerTag, hook.Name));
            }
        }
    }

    /// <summary>Tells the tracer how the event ends: the handler's span (up to its verdict), or why no handler ran.</summary>
    private void TraceEnd(HeldEvent held, int slot, TracedSyscall? traced, Verdict verdict, int verdictWrites, Exception? failure, string? notHandled)
    {
        var now = Stopwatch.GetTimestamp();
        if (held.Hook is { } hook && traced is not null)
        {
            var outcome = held.WasAbandoned ? HandlerOutcome.Abandoned : failure is not null ? HandlerOutcome.Failed : HandlerOutcome.Answered;
            _tracer!.HandlerEnded(traced, hook.Name, new TracedHandlerEnd(now, outcome, verdict.Describe(), verdictWrites, held.Lease.Exchanges,
                outcome == HandlerOutcome.Failed ? failure : null));
        }
        else
            _tracer!.EventNotHandled(slot, held.EventId, now, traced, notHandled ?? "no handler ran");
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

    /// <summary>
    /// Waits (bounded) until the guest has reported on every verdict sent and those reports are logged, so
    /// counters and logs read afterwards include every failed write. A guest that never reports costs
    /// the bound, nothing more.
    /// </summary>
    private async ValueTask SettleReportsAsync(TimeSpan bound, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(bound.TotalSeconds * Stopwatch.Frequency);
        while ((_heldEvents.Values.Any(held => held.AwaitingReport) || Volatile.Read(ref _reportsBeingLogged) > 0)
            && Stopwatch.GetTimestamp() < deadline)
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Remembers the event a slot holds. The slot number comes from the transport, not from what the guest
    /// says about itself: a guest that reports fewer vCPUs than it has slots cannot hide an event from the session.
    /// </summary>
    private void Track(int slot, HeldEvent held) => _heldEvents[slot] = held;

    private HeldEvent? Tracked(int slot, ulong eventId) =>
        _heldEvents.TryGetValue(slot, out var held) && held.EventId == eventId ? held : null;

    /// <summary>
    /// The guest gave up on an event (its bound expired): cancel the handler, hand the slot back (which
    /// acknowledges the abandonment, so later events on this vCPU are delivered again), count and log.
    /// Runs off the transport's thread: waiting for the slot's lock must not stall event delivery.
    /// </summary>
    private void OnEventAbandoned(IGuestChannel channel, ulong eventId)
    {
        var held = Tracked(channel.Slot, eventId);
        if (held is null)
        {
            Statistics.AddUnattributedAbandonment();
            if (_guestNoise.TryEnter(out var suppressed))
                Log.AbandonedUnknown(_logger, eventId, channel.Slot, suppressed);
            return;
        }
        held.AwaitingReport = false;     // a verdict the guest never saw is not reported
        if (!held.MarkAbandoned())
            return;
        // Counted here, before anything can observe the syscall's outcome; the slow part runs on the pool.
        if (held.Hook is { } hook)
            hook.Statistics.AddAbandoned();
        else
            Statistics.AddUnattributedAbandonment();
        ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Session.EndAbandonedAsync(state.Held), (Session: this, Held: held),
            preferLocal: false);
    }

    private async Task EndAbandonedAsync(HeldEvent held)
    {
        try
        {
            await held.Cancellation.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // the handler had already finished
        }
        var heldFor = Stopwatch.GetElapsedTime(held.Started);
        // An untouched verdict in the region, though the transport only acknowledges: should the guest
        // withdraw its abandonment (no real one does), what it finds is still a harmless answer.
        var endedHere = await held.Lease.TryEndAsync(held.EventId, static (eventId, region) => EventRegion.WriteUntouchedVerdict(region, eventId),
            "the guest gave up waiting for the verdict").ConfigureAwait(false);
        var name = held.Hook?.Name ?? "(not yet known)";
        if (endedHere)
            Log.Abandoned(_logger, name, held.EventId, heldFor.TotalMilliseconds);
        else if (_guestNoise.TryEnter(out var suppressed))     // rare from an honest guest; a hostile one can claim it for every event
            Log.VerdictTooLate(_logger, name, held.EventId, heldFor.TotalMilliseconds, suppressed);
    }

    /// <summary>What the guest did with a verdict: rejected verdicts and failed writes are counted and logged against the handler.</summary>
    private void OnVerdictReport(IGuestChannel channel, VerdictReport report)
    {
        var slot = channel.Slot;
        var held = Tracked(slot, report.EventId);
        held?.AwaitingReport = false;
        if (report.IsClean)
            return;     // the common case costs nothing more
        if (report.Outcome == VerdictOutcome.Missing)
        {
            if (Guest.Features.HasFlag(GuestFeatures.VerdictReports) && _guestNoise.TryEnter(out var skipped))
                Log.ReportMissing(_logger, report.EventId, slot, skipped);
            return;
        }
        if (held?.Hook is not { } hook)
        {
            if (_guestNoise.TryEnter(out var suppressed))
                Log.ReportUnknown(_logger, report.EventId, slot, suppressed);
            return;
        }
        // What can fail: the write entries, and the function arguments the guest writes on the stack.
        var failable = held.Writes.Count + held.FunctionArgumentsSet;
        if (report.Outcome == VerdictOutcome.Applied && failable == 0)
        {
            // Failed writes on a verdict that carried none: no honest guest says so, and it is not the handler's failure.
            if (_guestNoise.TryEnter(out var suppressed))
                Log.ReportImpossible(_logger, report.EventId, slot, report.WriteFailures, suppressed);
            return;
        }
        // Counted here, before the guest's syscall can return to its caller; the log lines are written on the pool.
        if (report.Outcome == VerdictOutcome.Rejected)
            hook.Statistics.AddRejectedVerdict();
        else
        {
            // The guest's count is untrusted: at least one write failed, at most every write the verdict carried.
            hook.Statistics.AddFailedVerdictWrites(Math.Clamp(report.WriteFailures, 1, failable));
            Statistics.AddVerdictWithFailedWrites();
        }
        Interlocked.Increment(ref _reportsBeingLogged);
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            try
            {
                state.Session.LogReport(state.Hook.Name, state.Held, state.Report);
            }
            finally
            {
                Interlocked.Decrement(ref state.Session._reportsBeingLogged);
            }
        }, (Session: this, Hook: hook, Held: held, Report: report), preferLocal: false);
    }

    private void LogReport(string handler, HeldEvent held, VerdictReport report)
    {
        var writes = held.Writes;
        if (report.Outcome == VerdictOutcome.Rejected)
        {
            // The host never sends a malformed verdict: a rejection is the guest's claim, at the guest's rate.
            if (_guestNoise.TryEnter(out var suppressed))
                Log.VerdictRejected(_logger, handler, report.EventId, suppressed);
            return;
        }
        for (var i = 0; i < Math.Min(writes.Count, 64); i++)
        {
            if ((report.FailedMask & (1UL << i)) != 0)
                Log.VerdictWriteFailed(_logger, handler, report.EventId, writes[i].Data.Length, writes[i].Address);
        }
        if (held.FunctionArgumentsSet > 0 && report.WriteFailures > BitOperations.PopCount(report.FailedMask))
        {
            // Failures the mask does not name: an argument on the stack (§4.6), whose page was not resident.
            var arguments = Math.Clamp(report.WriteFailures - BitOperations.PopCount(report.FailedMask), 1, held.FunctionArgumentsSet);
            Log.FunctionArgumentsNotWritten(_logger, handler, report.EventId, arguments, held.FunctionArgumentsSet);
        }
        else if (writes.Count > 64 || report.FailedMask == 0)
            Log.VerdictWritesFailed(_logger, handler, report.EventId, Math.Clamp(report.WriteFailures, 1, Math.Max(writes.Count, 1)), writes.Count);
    }

    /// <summary>Keeps <see cref="IGuestEventSink"/> off the session's public surface.</summary>
    private sealed class EventSink(PortalSession session) : IGuestEventSink
    {
        public ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken) =>
            session.HandleEventAsync(channel, cancellationToken);

        public void OnEventAbandoned(IGuestChannel channel, ulong eventId) => session.OnEventAbandoned(channel, eventId);

        public void OnVerdictReport(IGuestChannel channel, VerdictReport report) => session.OnVerdictReport(channel, report);
    }
}
