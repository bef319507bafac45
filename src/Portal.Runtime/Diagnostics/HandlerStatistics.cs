using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Portal.Diagnostics;

/// <summary>Counters of one handler (one hook registration), updated as events are handled.</summary>
public sealed class HandlerStatistics
{
    private long _calls, _exchanges, _errors, _ticks, _abandoned, _failedWrites, _rejectedVerdicts;

    internal HandlerStatistics(string name) => Name = name;

    /// <summary>The handler's name.</summary>
    public string Name { get; }

    /// <summary>Events delivered to the handler.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Exchanges spent by all calls.</summary>
    public long Exchanges => Interlocked.Read(ref _exchanges);

    /// <summary>Calls that threw (their syscalls were left untouched).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>
    /// Calls the guest gave up on before the verdict (the handler took longer than the guest's bound): the
    /// syscall continued unmodified and the handler's token was cancelled.
    /// </summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    /// <summary>Writes that rode on this handler's verdicts and failed in the guest (an unmapped or kernel address).</summary>
    public long FailedVerdictWrites => Interlocked.Read(ref _failedWrites);

    /// <summary>Verdicts the guest rejected as malformed (the syscall continued untouched): a Portal bug if ever nonzero.</summary>
    public long RejectedVerdicts => Interlocked.Read(ref _rejectedVerdicts);

    /// <summary>Time from event arrival to verdict, summed over the calls that returned.</summary>
    public TimeSpan TotalTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _ticks));

    internal void AddExchange() => Interlocked.Increment(ref _exchanges);

    /// <summary>An event reached the handler (counted on arrival: a handler that never returns still counts).</summary>
    internal void AddCall() => Interlocked.Increment(ref _calls);

    /// <summary>The handler returned (or threw) after <paramref name="elapsedTicks"/>.</summary>
    internal void AddCompletion(long elapsedTicks, bool failed)
    {
        Interlocked.Add(ref _ticks, elapsedTicks);
        if (failed)
            Interlocked.Increment(ref _errors);
    }

    internal void AddAbandoned() => Interlocked.Increment(ref _abandoned);

    internal void AddFailedVerdictWrites(int count) => Interlocked.Add(ref _failedWrites, count);

    internal void AddRejectedVerdict() => Interlocked.Increment(ref _rejectedVerdicts);

    /// <inheritdoc/>
    public override string ToString()
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"handler {Name}: calls={Calls} exchanges={Exchanges}"));
        if (Errors > 0)
            text.Append(CultureInfo.InvariantCulture, $" errors={Errors}");
        if (Abandoned > 0)
            text.Append(CultureInfo.InvariantCulture, $" abandoned={Abandoned}");
        if (FailedVerdictWrites > 0)
            text.Append(CultureInfo.InvariantCulture, $" failed-writes={FailedVerdictWrites}");
        if (RejectedVerdicts > 0)
            text.Append(CultureInfo.InvariantCulture, $" rejected-verdicts={RejectedVerdicts}");
        return text.ToString();
    }
}
