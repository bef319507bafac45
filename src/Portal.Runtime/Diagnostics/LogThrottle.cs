using System.Diagnostics;

namespace Portal.Diagnostics;

/// <summary>
/// Limits how often one message about untrusted input is logged: a hostile or broken guest can post
/// garbage hundreds of thousands of times, and each occurrence must be counted without flooding the
/// log. Allows <c>burst</c> messages per window; the rest are counted, and the next message that is
/// allowed says how many were suppressed. Thread-safe.
/// </summary>
public sealed class LogThrottle
{
    private readonly int _burst;
    private readonly long _windowTicks;
    private readonly Lock _lock = new();
    private long _windowStart = long.MinValue;
    private int _inWindow;
    private long _suppressed;
    private long _total;

    /// <summary>Creates a throttle that lets <paramref name="burst"/> messages through per <paramref name="window"/>.</summary>
    public LogThrottle(int burst = 10, TimeSpan? window = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _burst = burst;
        _windowTicks = (long)((window ?? TimeSpan.FromSeconds(10)).TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Every occurrence, logged or not.</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>
    /// Counts one occurrence; true if it may be logged, with <paramref name="suppressed"/> = the
    /// occurrences dropped since the last one that was logged (say so in the message).
    /// </summary>
    public bool TryEnter(out long suppressed)
    {
        Interlocked.Increment(ref _total);
        var now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (now - _windowStart >= _windowTicks)
            {
                _windowStart = now;
                _inWindow = 0;
            }
            if (_inWindow >= _burst)
            {
                _suppressed++;
                suppressed = 0;
                return false;
            }
            _inWindow++;
            suppressed = _suppressed;
            _suppressed = 0;
            return true;
        }
    }

    /// <summary>Occurrences dropped since the last logged one, and resets that count (for a final summary line).</summary>
    public long TakeSuppressed()
    {
        lock (_lock)
        {
            var suppressed = _suppressed;
            _suppressed = 0;
            return suppressed;
        }
    }
}
