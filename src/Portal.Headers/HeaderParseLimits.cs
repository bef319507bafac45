using System.Globalization;

namespace Portal.Headers;

/// <summary>
/// What a header may cost. A header is untrusted input: an <c>#include "/dev/zero"</c> would make libclang read
/// forever, an included FIFO would block it, a binary file yields tens of thousands of errors. With limits,
/// libclang runs in a child process (the portal-headers worker) under a memory limit and a wall-clock time
/// limit, and is killed past them; see docs/layout-manifest.md ("Limits").
/// </summary>
public sealed record HeaderParseLimits
{
    /// <summary>The default time limit per ABI: 60 s.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The default memory limit of the worker: 2 GiB.</summary>
    public const long DefaultMemoryLimit = 2L << 30;

    /// <summary>The default size limit of the header file named on the command line: 16 MiB.</summary>
    public const long DefaultMaxHeaderSize = 16L << 20;

    /// <summary>The default number of errors reported in full: 20.</summary>
    public const int DefaultMaxDiagnostics = 20;

    /// <summary>The smallest memory limit accepted: below it the .NET runtime and libclang cannot start.</summary>
    public const long MinimumMemoryLimit = 128L << 20;

    /// <summary>The defaults: 60 s per ABI, 2 GiB, a 16 MiB header, 20 errors.</summary>
    public static HeaderParseLimits Default { get; } = new();

    /// <summary>
    /// The wall-clock time libclang may take to parse the header for one ABI (the parse and the macro
    /// evaluation); past it the worker is killed. A CPU-time limit of the same total backs it up.
    /// </summary>
    public TimeSpan Timeout
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the time limit must be positive");
    } = DefaultTimeout;

    /// <summary>
    /// The memory the worker may allocate, in bytes (its data segment, <c>RLIMIT_DATA</c>: what libclang and
    /// .NET allocate, not the address space .NET reserves or the files libclang maps).
    /// </summary>
    public long MemoryLimit
    {
        get;
        init => field = value >= MinimumMemoryLimit ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"the memory limit must be at least {FormatSize(MinimumMemoryLimit)}");
    } = DefaultMemoryLimit;

    /// <summary>The largest header file accepted (the one named, not the ones it includes: those count against <see cref="MemoryLimit"/>).</summary>
    public long MaxHeaderSize
    {
        get;
        init => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the size limit must be positive");
    } = DefaultMaxHeaderSize;

    /// <summary>How many errors a failed parse reports in full (<see cref="HeaderParseException.Errors"/>); the rest are only counted.</summary>
    public int MaxDiagnostics
    {
        get;
        init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the number of diagnostics cannot be negative");
    } = DefaultMaxDiagnostics;

    /// <summary>A size for people: <c>2 GiB</c>, <c>1.5 MiB</c>, <c>300 bytes</c>.</summary>
    public static string FormatSize(long bytes)
    {
        string[] units = ["KiB", "MiB", "GiB", "TiB"];
        if (bytes < 1024)
            return bytes.ToString(CultureInfo.InvariantCulture) + " bytes";
        double value = bytes;
        var unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return value.ToString(value % 1 == 0 ? "0" : "0.#", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>A time limit for people: <c>60 s</c>, <c>2.5 s</c>, <c>500 ms</c>.</summary>
    public static string FormatTime(TimeSpan time)
        => time < TimeSpan.FromSeconds(1)
            ? time.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms"
            : time.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture) + " s";

    /// <summary>
    /// Parses a size: a number of bytes, or a number with a binary unit <c>K</c>/<c>KiB</c>, <c>M</c>/<c>MiB</c>,
    /// <c>G</c>/<c>GiB</c> (case-insensitive; <c>KB</c>, <c>MB</c>, <c>GB</c> are read as the binary units too).
    /// </summary>
    public static bool TryParseSize(string text, out long bytes)
    {
        bytes = 0;
        var s = (text ?? "").Trim();
        var split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.'))
            split++;
        if (split == 0 || !decimal.TryParse(s.AsSpan(0, split), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            return false;
        decimal factor = s[split..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => 0,
        };
        if (factor == 0 || number * factor > long.MaxValue)
            return false;
        bytes = (long)(number * factor);
        return true;
    }

    /// <summary>Parses a time limit: seconds (<c>60</c>, <c>2.5</c>), or a number with <c>ms</c>, <c>s</c> or <c>m</c>.</summary>
    public static bool TryParseTime(string text, out TimeSpan time)
    {
        time = TimeSpan.Zero;
        var s = (text ?? "").Trim();
        var split = 0;
        while (split < s.Length && (char.IsAsciiDigit(s[split]) || s[split] == '.'))
            split++;
        if (split == 0 || !double.TryParse(s.AsSpan(0, split), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            return false;
        double? seconds = s[split..].Trim().ToUpperInvariant() switch
        {
            "" or "S" => number,
            "MS" => number / 1000,
            "M" or "MIN" => number * 60,
            _ => null,
        };
        if (seconds is not { } value || value > TimeSpan.MaxValue.TotalSeconds / 2)
            return false;
        time = TimeSpan.FromSeconds(value);
        return true;
    }
}
