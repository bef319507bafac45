using System.Text.RegularExpressions;
using Portal.Headers.Clang;

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
}

/// <summary>Parses a C header with libclang for a target ABI and describes its layouts (docs/layout-manifest.md).</summary>
public static partial class HeaderParser
{
    /// <summary>Parses <paramref name="header"/> for the ABI called <paramref name="abi"/>.</summary>
    /// <exception cref="HeaderArgumentException">Unknown ABI, missing header or include directory, malformed define, unknown struct.</exception>
    /// <exception cref="HeaderParseException">The header does not parse: every error diagnostic.</exception>
    /// <exception cref="HeaderToolException">libclang or the ABI's system headers are missing.</exception>
    public static LayoutManifest Parse(string header, string abi, IEnumerable<string>? includeDirectories = null, IEnumerable<string>? defines = null)
        => Parse(header, HeaderAbi.Get(abi), new HeaderParseOptions
        {
            IncludeDirectories = [.. includeDirectories ?? []],
            Defines = [.. defines ?? []],
        });

    /// <summary>Parses <paramref name="header"/> for <paramref name="abi"/>.</summary>
    /// <exception cref="HeaderArgumentException">Missing header or include directory, malformed define, unknown struct.</exception>
    /// <exception cref="HeaderParseException">The header does not parse: every error diagnostic.</exception>
    /// <exception cref="HeaderToolException">libclang or the ABI's system headers are missing.</exception>
    public static LayoutManifest Parse(string header, HeaderAbi abi, HeaderParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(abi);
        options ??= new HeaderParseOptions();
        var path = ValidateHeader(header);
        ValidateOptions(options);
        abi.EnsureInstalled();
        var arguments = ClangArguments(abi, options);
        using var unit = TranslationUnit.Parse(path, arguments);
        ThrowOnErrors(unit, abi, probe: null);
        var builder = new ManifestBuilder(unit, abi, header, options.Structs);
        builder.Collect();
        var probes = builder.MacroProbes();
        var probeFile = Path.Combine(Path.GetDirectoryName(path)!, $".portal-headers-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.c");
        using var probeUnit = TranslationUnit.Parse(probeFile, arguments,
            new Dictionary<string, string> { [probeFile] = MacroProbe.Source(path, probes) });
        ThrowOnErrors(probeUnit, abi, probe: probeFile);
        var results = MacroProbe.Evaluate(probeUnit, probeFile, probes.Count);
        return builder.Build(results);
    }

    /// <summary>Parses <paramref name="header"/> for each ABI, in order, into a multi-ABI manifest file.</summary>
    /// <exception cref="HeaderArgumentException">Unknown ABI, missing header or include directory, malformed define, unknown struct.</exception>
    /// <exception cref="HeaderParseException">The header does not parse for one of the ABIs.</exception>
    /// <exception cref="HeaderToolException">libclang or an ABI's system headers are missing.</exception>
    public static ManifestFile ParseAll(string header, IEnumerable<string> abis, HeaderParseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(abis);
        var list = abis.Select(HeaderAbi.Get).ToList();
        if (list.Count == 0)
            throw new HeaderArgumentException($"no ABI given: expected one or more of {string.Join(", ", HeaderAbi.Names)}");
        var duplicate = list.GroupBy(a => a.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new HeaderArgumentException($"ABI '{duplicate.Key}' requested twice");
        return new ManifestFile { Header = header, Manifests = [.. list.Select(abi => Parse(header, abi, options))] };
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

    static string ValidateHeader(string header)
    {
        if (string.IsNullOrWhiteSpace(header))
            throw new HeaderArgumentException("no header given");
        var path = Path.GetFullPath(header);
        if (!File.Exists(path))
            throw new HeaderArgumentException($"header not found: {header}");
        return path;
    }

    static void ValidateOptions(HeaderParseOptions options)
    {
        foreach (var directory in options.IncludeDirectories)
        {
            if (!Directory.Exists(directory))
                throw new HeaderArgumentException($"include directory not found: {directory}");
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

    static void ThrowOnErrors(TranslationUnit unit, HeaderAbi abi, string? probe)
    {
        var errors = unit.Diagnostics()
            .Where(d => d.IsError && (probe is null || d.Location.File != probe))
            .Select(d => new HeaderDiagnostic(d.Location.File, (int)d.Location.Line, (int)d.Location.Column, d.Message))
            .ToList();
        if (errors.Count > 0)
            throw new HeaderParseException(abi.Name, errors);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    internal static partial Regex IdentifierPattern();
}
