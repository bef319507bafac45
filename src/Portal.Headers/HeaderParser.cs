using System.Text.RegularExpressions;
using Portal.Headers.Building;
using Portal.Headers.Clang;
using Portal.Headers.Isolation;

namespace Portal.Headers;

/// <summary>Options of a header parse.</summary>
public sealed class HeaderParseOptions
{
    /// <summary>User include directories (<c>-I</c>), searched before the target's system headers.</summary>
    public IReadOnlyList<string> IncludeDirectories { get; init; } = [];

    /// <summary>Macro definitions (<c>-D</c>): <c>NAME</c> or <c>NAME=VALUE</c>.</summary>
    public IReadOnlyList<string> Defines { get; init; } = [];

    /// <summary>
    /// When not null, only these records (and everything they reference, transitively) are listed in
    /// <see cref="LayoutManifest.Structs"/> and <see cref="LayoutManifest.Typedefs"/>; enums, constants and aliases are all kept.
    /// </summary>
    public IReadOnlyList<string>? Structs { get; init; }

    /// <summary>
    /// What the parse may cost (<see cref="HeaderParseLimits.Default"/> unless set). With limits, libclang runs in a
    /// child process that is killed past them; <see langword="null"/> parses in this process with no limit at
    /// all, which only suits headers you trust: an <c>#include</c> of a device or a FIFO would exhaust or hang it.
    /// </summary>
    public HeaderParseLimits? Limits { get; init; } = HeaderParseLimits.Default;
}

/// <summary>Parses a C header with libclang for a target ABI and describes its layouts (docs/layout-manifest.md).</summary>
public static partial class HeaderParser
{
    /// <summary>Parses <paramref name="header"/> for the ABI called <paramref name="abi"/>, within the default limits.</summary>
    /// <exception cref="HeaderArgumentException">Unknown ABI, missing header or include directory, not a regular file, malformed define, unknown struct.</exception>
    /// <exception cref="HeaderParseException">The header does not parse: its first errors and their count.</exception>
    /// <exception cref="HeaderLimitException">The header, or a file it includes, exceeded one of <see cref="HeaderParseLimits.Default"/>.</exception>
    /// <exception cref="HeaderToolException">libclang or the ABI's system headers are missing.</exception>
    public static LayoutManifest Parse(string header, string abi, IEnumerable<string>? includeDirectories = null, IEnumerable<string>? defines = null)
        => Parse(header, HeaderAbi.Get(abi), new HeaderParseOptions
        {
            IncludeDirectories = [.. includeDirectories ?? []],
            Defines = [.. defines ?? []],
        });

    /// <summary>Parses <paramref name="header"/> for <paramref name="abi"/>.</summary>
    /// <exception cref="HeaderArgumentException">Missing header or include directory, not a regular file, malformed define, unknown struct.</exception>
    /// <exception cref="HeaderParseException">The header does not parse: its errors (the first <see cref="HeaderParseLimits.MaxDiagnostics"/>) and their count.</exception>
    /// <exception cref="HeaderLimitException">The header, or a file it includes, exceeded one of <see cref="HeaderParseOptions.Limits"/>.</exception>
    /// <exception cref="HeaderToolException">libclang or the ABI's system headers are missing.</exception>
    public static LayoutManifest Parse(string header, HeaderAbi abi, HeaderParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(abi);
        return ParseChecked(header, [abi], options ?? new HeaderParseOptions())[0];
    }

    /// <summary>Parses <paramref name="header"/> for each ABI, in order, into a multi-ABI manifest file (with limits: all ABIs in one worker).</summary>
    /// <exception cref="HeaderArgumentException">Unknown ABI, missing header or include directory, not a regular file, malformed define, unknown struct.</exception>
    /// <exception cref="HeaderParseException">The header does not parse for one of the ABIs.</exception>
    /// <exception cref="HeaderLimitException">The header, or a file it includes, exceeded one of <see cref="HeaderParseOptions.Limits"/>.</exception>
    /// <exception cref="HeaderToolException">libclang or an ABI's system headers are missing.</exception>
    public static ManifestFile ParseAll(string header, IEnumerable<string> abis, HeaderParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(abis);
        var list = abis.Select(HeaderAbi.Get).ToList();
        if (list.Count == 0)
            throw new HeaderArgumentException($"no ABI given: expected one or more of {string.Join(", ", HeaderAbi.Names)}");
        var duplicate = list.GroupBy(a => a.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new HeaderArgumentException($"ABI '{duplicate.Key}' requested twice");
        return new ManifestFile { Header = header, Manifests = ParseChecked(header, list, options ?? new HeaderParseOptions()) };
    }

    /// <summary>Checks everything that can be checked without libclang, then parses in a worker (with limits) or here.</summary>
    static IReadOnlyList<LayoutManifest> ParseChecked(string header, IReadOnlyList<HeaderAbi> abis, HeaderParseOptions options)
    {
        var path = ValidateHeader(header, options.Limits);
        ValidateOptions(options);
        foreach (var abi in abis)
            abi.EnsureInstalled();
        if (options.Limits is { } limits)
            return HeaderWorker.Parse(path, header, abis, options, limits);
        return [.. abis.Select(abi => ParseInProcess(path, header, abi, options, int.MaxValue))];
    }

    /// <summary>
    /// Parses in this process, without limits: what the worker runs, and what <see cref="HeaderParseOptions.Limits"/>
    /// = null asks for. <paramref name="path"/> is the checked full path, <paramref name="header"/> the name as given.
    /// </summary>
    internal static LayoutManifest ParseInProcess(string path, string header, HeaderAbi abi, HeaderParseOptions options, int maxDiagnostics)
    {
        var arguments = ClangArguments(abi, options);
        using var unit = TranslationUnit.Parse(path, arguments);
        ThrowOnErrors(unit, abi, probe: null, maxDiagnostics);
        return ManifestBuilder.Build(unit, abi, header, options.Structs, macros => EvaluateMacros(path, abi, arguments, macros, maxDiagnostics));
    }

    /// <summary>Evaluates <paramref name="macros"/> in a second translation unit that includes the header (<see cref="MacroProbe"/>).</summary>
    static ProbeResults EvaluateMacros(string path, HeaderAbi abi, IReadOnlyList<string> arguments, IReadOnlyList<string> macros, int maxDiagnostics)
    {
        var probeFile = Path.Combine(Path.GetDirectoryName(path)!, $".portal-headers-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.c");
        using var probeUnit = TranslationUnit.Parse(probeFile, arguments,
            new Dictionary<string, string> { [probeFile] = MacroProbe.Source(path, macros) });
        ThrowOnErrors(probeUnit, abi, probe: probeFile, maxDiagnostics);
        return MacroProbe.Evaluate(probeUnit, probeFile, macros.Count);
    }

    /// <summary>
    /// The clang command line used for <paramref name="abi"/> (without the file): target, no host system headers,
    /// clang's builtin headers, the <c>-I</c> directories, the target's system headers, the defines.
    /// </summary>
    public static IReadOnlyList<string> ClangArguments(HeaderAbi abi, HeaderParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(abi);
        options ??= new HeaderParseOptions();
        var args = new List<string>
        {
            "-x", "c", "-std=gnu11", $"--target={abi.Triple}",
            "-nostdlibinc", "-resource-dir", LibClang.ResourceDirectory(),
            "-ferror-limit=0", "-fno-spell-checking",
            // Warnings are never used, and kept they cost memory: a file of NUL bytes is one warning per byte.
            "-w",
        };
        foreach (var directory in options.IncludeDirectories)
            args.Add("-I" + Path.GetFullPath(directory));
        foreach (var directory in abi.SystemIncludeDirectories)
        {
            args.Add("-isystem");
            args.Add(directory);
        }
        foreach (var define in options.Defines)
            args.Add("-D" + define);
        return args;
    }

    /// <summary>
    /// The header's full path, once it is known to be a regular file within the size limit. Nothing is opened:
    /// opening a FIFO blocks until a writer comes, reading a device may never end.
    /// </summary>
    static string ValidateHeader(string header, HeaderParseLimits? limits)
    {
        if (string.IsNullOrWhiteSpace(header))
            throw new HeaderArgumentException("no header given");
        var path = Path.GetFullPath(header);
        var facts = Posix.Stat(path);
        if (facts.Error is not null)
            throw new HeaderArgumentException($"cannot examine header {header}: {facts.Error}");
        switch (facts.Kind)
        {
            case FileKind.Missing:
                throw new HeaderArgumentException($"header not found: {header}");
            case FileKind.Regular:
                break;
            default:
                throw new HeaderArgumentException($"{header} is {facts.Describe()}, not a header file");
        }
        if (limits is not null && facts.Size > limits.MaxHeaderSize)
        {
            throw new HeaderLimitException(HeaderLimit.HeaderSize, "",
                $"{header} is {HeaderParseLimits.FormatSize(facts.Size)}, over the {HeaderParseLimits.FormatSize(limits.MaxHeaderSize)} size limit for a header file");
        }
        return path;
    }

    static void ValidateOptions(HeaderParseOptions options)
    {
        foreach (var directory in options.IncludeDirectories)
        {
            var facts = Posix.Stat(Path.GetFullPath(directory));
            if (facts.Kind == FileKind.Missing)
                throw new HeaderArgumentException($"include directory not found: {directory}");
            if (facts.Error is not null)
                throw new HeaderArgumentException($"cannot examine include directory {directory}: {facts.Error}");
            if (facts.Kind != FileKind.Directory)
                throw new HeaderArgumentException($"include directory {directory} is {facts.Describe()}, not a directory");
        }
        foreach (var define in options.Defines)
        {
            var name = define.Split('=', 2)[0];
            if (!IdentifierPattern().IsMatch(name))
                throw new HeaderArgumentException($"malformed define '{define}': expected NAME or NAME=VALUE with NAME a C identifier");
        }
        foreach (var name in options.Structs ?? [])
        {
            if (!IdentifierPattern().IsMatch(name))
                throw new HeaderArgumentException($"malformed struct name '{name}': expected a C identifier");
        }
    }

    static void ThrowOnErrors(TranslationUnit unit, HeaderAbi abi, string? probe, int maxDiagnostics)
    {
        // The probe's own errors are answers (this macro is not a constant), not failures.
        var (first, count) = unit.Errors(maxDiagnostics, probe is null ? null : location => location.File != probe);
        if (count > 0)
        {
            throw new HeaderParseException(abi.Name,
                [.. first.Select(d => new HeaderDiagnostic(d.Location.File, (int)d.Location.Line, (int)d.Location.Column, d.Message))], count);
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    internal static partial Regex IdentifierPattern();
}
