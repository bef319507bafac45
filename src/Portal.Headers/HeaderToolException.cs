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
        : base($"{(errors ?? []).Count} error(s) parsing the header for {abi}")
    {
        Abi = abi;
        Errors = errors ?? [];
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

    /// <summary>The error and fatal diagnostics, in clang's order.</summary>
    public IReadOnlyList<HeaderDiagnostic> Errors { get; }
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
