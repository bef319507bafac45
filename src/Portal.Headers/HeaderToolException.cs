using System.Globalization;

namespace Portal.Headers;

/// <summary>A failure to produce a manifest that is not a problem of the header itself (missing libclang or sysroot).</summary>
public class HeaderToolException : Exception
{
    /// <summary>Creates the exception with its user-facing message.</summary>
    public HeaderToolException(string message) : base(message) { }

    /// <summary>Creates the exception with its user-facing message and cause.</summary>
    public HeaderToolException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception.</summary>
    public HeaderToolException() { }
}

/// <summary>A bad request: unknown ABI, missing header or include directory, malformed define, unknown <c>--struct</c> (exit code 2).</summary>
public sealed class HeaderArgumentException : HeaderToolException
{
    /// <summary>Creates the exception with its user-facing message.</summary>
    public HeaderArgumentException(string message) : base(message) { }

    /// <summary>Creates the exception with its user-facing message and cause.</summary>
    public HeaderArgumentException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception.</summary>
    public HeaderArgumentException() { }
}

/// <summary>The header does not parse for the ABI: every error and fatal diagnostic (exit code 1).</summary>
public sealed class HeaderParseException : HeaderToolException
{
    /// <summary>Creates the exception from the errors, each one printed as <c>file:line:column: message</c>.</summary>
    public HeaderParseException(string abi, IReadOnlyList<HeaderDiagnostic> errors)
        : this(abi, errors, (errors ?? []).Count)
    {
    }

    /// <summary>
    /// Creates the exception from the first errors (<paramref name="errors"/>) and the number of errors in all
    /// (<paramref name="errorCount"/>, at least as many): a binary file yields tens of thousands.
    /// </summary>
    public HeaderParseException(string abi, IReadOnlyList<HeaderDiagnostic> errors, int errorCount)
        : base(string.Create(CultureInfo.InvariantCulture, $"{Math.Max(errorCount, (errors ?? []).Count):N0} error(s) parsing the header for {abi}"))
    {
        Abi = abi;
        Errors = errors ?? [];
        ErrorCount = Math.Max(errorCount, Errors.Count);
    }

    /// <summary>Creates the exception.</summary>
    public HeaderParseException() : this("", []) { }

    /// <summary>Creates the exception with a message.</summary>
    public HeaderParseException(string message) : base(message)
    {
        Abi = "";
        Errors = [];
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    public HeaderParseException(string message, Exception innerException) : base(message, innerException)
    {
        Abi = "";
        Errors = [];
    }

    /// <summary>The ABI the header was parsed for.</summary>
    public string Abi { get; }

    /// <summary>
    /// The error and fatal diagnostics in clang's order: all of them, or the first
    /// <see cref="HeaderParseLimits.MaxDiagnostics"/> when the parse ran with limits.
    /// </summary>
    public IReadOnlyList<HeaderDiagnostic> Errors { get; }

    /// <summary>How many error and fatal diagnostics there were in all (<see cref="Errors"/> may list fewer).</summary>
    public int ErrorCount { get; }
}

/// <summary>Which of <see cref="HeaderParseLimits"/> a parse exceeded.</summary>
public enum HeaderLimit
{
    /// <summary><see cref="HeaderParseLimits.Timeout"/> (or the CPU time that backs it up).</summary>
    Time,

    /// <summary><see cref="HeaderParseLimits.MemoryLimit"/>.</summary>
    Memory,

    /// <summary><see cref="HeaderParseLimits.MaxHeaderSize"/>.</summary>
    HeaderSize,
}

/// <summary>
/// The header, or something it includes, exceeded a limit (<see cref="HeaderParseLimits"/>): libclang was
/// stopped and no manifest was produced (exit code 3).
/// </summary>
public sealed class HeaderLimitException : HeaderToolException
{
    /// <summary>Creates the exception with its user-facing message.</summary>
    public HeaderLimitException(HeaderLimit limit, string abi, string message) : base(message)
    {
        Limit = limit;
        Abi = abi;
    }

    /// <summary>Creates the exception with its user-facing message.</summary>
    public HeaderLimitException(string message) : base(message) => Abi = "";

    /// <summary>Creates the exception with its user-facing message and cause.</summary>
    public HeaderLimitException(string message, Exception innerException) : base(message, innerException) => Abi = "";

    /// <summary>Creates the exception.</summary>
    public HeaderLimitException() => Abi = "";

    /// <summary>The limit exceeded.</summary>
    public HeaderLimit Limit { get; }

    /// <summary>The ABI being parsed when it was exceeded (empty for the header size, checked before any).</summary>
    public string Abi { get; }
}

/// <summary>A clang diagnostic.</summary>
/// <param name="File">The file (empty for a command-line or built-in location).</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Message">clang's message.</param>
public sealed record HeaderDiagnostic(string File, int Line, int Column, string Message)
{
    /// <summary><c>file:line:column: message</c>.</summary>
    public override string ToString() => $"{(File.Length == 0 ? "<command line>" : File)}:{Line}:{Column}: {Message}";
}
