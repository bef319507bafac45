using System.Globalization;

namespace Portal.Headers;

/// <summary>
/// Writes portal-headers' errors. As text (the default) for people: <c>portal-headers: message</c>, and clang's
/// errors as <c>file:line:column: message</c>. In MSBuild's canonical format (<c>--error-format msbuild</c>, which
/// build/Portal.targets passes) each error is <c>origin: error PTLnnnn: message</c>, which MSBuild's Exec reports
/// as a build error of its own, with its code, file and line: the reason is the build's error, not an exit code.
/// </summary>
/// <remarks>
/// Codes (docs/typed-proxies.md, "Build errors"): PTL0104 bad metadata (exit 2), at the &lt;PortalHeader&gt; item;
/// PTL0105 each clang error, at its file, line and column; PTL0106 a limit exceeded (exit 3), at the header;
/// PTL0107 no manifest for another reason (libclang or a sysroot missing, the output not writable), at the item.
/// </remarks>
internal sealed class ToolErrorWriter
{
    public const string BadMetadata = "PTL0104";
    public const string ParseError = "PTL0105";
    public const string LimitExceeded = "PTL0106";
    public const string ToolFailure = "PTL0107";

    private readonly TextWriter _error;
    private readonly string _toolName;
    private readonly bool _msbuild;
    private readonly string _item;

    /// <param name="error">Where errors go.</param>
    /// <param name="toolName">The prefix of text errors, and the origin of MSBuild errors that have no file.</param>
    /// <param name="msbuild">Write MSBuild's canonical format.</param>
    /// <param name="declaredIn">The project file that declares the &lt;PortalHeader&gt; item, or null.</param>
    /// <param name="declaredAs">The item's Include as written there, to find its line, or null.</param>
    public ToolErrorWriter(TextWriter error, string toolName, bool msbuild, string? declaredIn, string? declaredAs)
    {
        _error = error;
        _toolName = toolName;
        _msbuild = msbuild;
        _item = declaredIn is { Length: > 0 } ? ItemOrigin(declaredIn, declaredAs) : toolName;
    }

    /// <summary>A bad request: unknown ABI or struct, malformed define, missing header or include directory (exit 2).</summary>
    public void Metadata(string message) => Write(_item, BadMetadata, message);

    /// <summary>The header does not parse: each error at its place, then how many there were (exit 1).</summary>
    public void Parse(HeaderParseException exception, string header)
    {
        foreach (var diagnostic in exception.Errors)
        {
            if (!_msbuild)
                _error.WriteLine(diagnostic.ToString());
            else
            {
                // A command-line location (a -D that does not parse) belongs to the item that gave it.
                var origin = diagnostic.File.Length == 0 ? _item
                    : string.Create(CultureInfo.InvariantCulture, $"{diagnostic.File}({diagnostic.Line},{diagnostic.Column})");
                Write(origin, ParseError, $"{diagnostic.Message} (for {exception.Abi})");
            }
        }
        // Not errors of their own: plain lines, which MSBuild shows as messages.
        if (exception.ErrorCount > exception.Errors.Count)
            _error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_toolName}: … and {exception.ErrorCount - exception.Errors.Count:N0} more errors (--max-diagnostics shows more)"));
        if (exception.Errors.Count == 0 && _msbuild)
            Write(header, ParseError, $"{exception.Message}; no manifest written");
        else
            _error.WriteLine($"{_toolName}: {exception.Message}; no manifest written");
    }

    /// <summary>A limit exceeded while reading the header (exit 3).</summary>
    public void Limit(string message, string header) => Write(header, LimitExceeded, $"{message}; no manifest written");

    /// <summary>No manifest for a reason that is not the header's: libclang or a sysroot missing, the output not writable (exit 1).</summary>
    public void Failure(string message) => Write(_item, ToolFailure, message);

    private void Write(string origin, string code, string message) =>
        _error.WriteLine(_msbuild ? $"{origin}: error {code}: {message}" : $"{_toolName}: {message}");

    /// <summary>
    /// "Sample.csproj(12,5)": the project file and the line that declares the item (the first line holding its
    /// Include in quotes); the file alone when no line does (a wildcard, an Include built from properties).
    /// </summary>
    internal static string ItemOrigin(string projectFile, string? include)
    {
        if (include is not { Length: > 0 })
            return projectFile;
        string[] lines;
        try
        {
            lines = File.ReadAllLines(projectFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return projectFile;
        }
        for (var i = 0; i < lines.Length; i++)
        {
            var at = lines[i].IndexOf($"\"{include}\"", StringComparison.Ordinal);
            if (at < 0)
                at = lines[i].IndexOf($"'{include}'", StringComparison.Ordinal);
            if (at < 0)
                continue;
            var element = lines[i].LastIndexOf("<PortalHeader", at, StringComparison.Ordinal);
            return string.Create(CultureInfo.InvariantCulture, $"{projectFile}({i + 1},{(element >= 0 ? element : at) + 1})");
        }
        return projectFile;
    }
}
