namespace Portal.Testing.Emulation;

/// <summary>The guest's counters, in the order of the STATS record (docs/protocol.md §4.5).</summary>
internal sealed class GuestCounters
{
    private long _eventsSent, _verdictsApplied, _hostTimeouts, _staleVerdicts, _badVerdicts, _verdictWriteFaults,
        _filteredOut, _opsServed, _eventsDropped, _eventsOverBudget, _filterFaults;

    // skips_failed: the emulated kernel skips a syscall by not running it, which cannot fail.
    private const long SkipsFailed = 0;

    public void EventSent() => Interlocked.Increment(ref _eventsSent);
    public void VerdictApplied() => Interlocked.Increment(ref _verdictsApplied);
    public void HostTimeout() => Interlocked.Increment(ref _hostTimeouts);
    public void StaleVerdict() => Interlocked.Increment(ref _staleVerdicts);
    public void BadVerdict() => Interlocked.Increment(ref _badVerdicts);
    public void VerdictWriteFault() => Interlocked.Increment(ref _verdictWriteFaults);
    public void FilteredOut() => Interlocked.Increment(ref _filteredOut);
    public void OpServed() => Interlocked.Increment(ref _opsServed);
    public void EventDropped() => Interlocked.Increment(ref _eventsDropped);
    public void EventOverBudget() => Interlocked.Increment(ref _eventsOverBudget);
    public void FilterFault() => Interlocked.Increment(ref _filterFaults);

    public long[] Snapshot() =>
    [
        Interlocked.Read(ref _eventsSent), Interlocked.Read(ref _verdictsApplied), Interlocked.Read(ref _hostTimeouts),
        Interlocked.Read(ref _staleVerdicts), Interlocked.Read(ref _badVerdicts), Interlocked.Read(ref _verdictWriteFaults),
        Interlocked.Read(ref _filteredOut), Interlocked.Read(ref _opsServed), Interlocked.Read(ref _eventsDropped),
        Interlocked.Read(ref _eventsOverBudget), SkipsFailed, Interlocked.Read(ref _filterFaults),
    ];
}
