using System.CommandLine;
using System.Globalization;

namespace Portal.Headers;

/// <summary>
/// The <c>portal-headers</c> command line: <c>dump</c> prints one ABI's manifest, <c>manifest</c> writes the
/// multi-ABI file, <c>abi-tables</c> writes Portal.Runtime's syscall and errno tables. Exit codes: 0 success, 1 the
/// header does not parse (or libclang/a sysroot is missing), 2 bad arguments, 3 a limit was exceeded (time, memory,
/// header size).
/// </summary>
public static class HeadersCommandLine
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Success = 0;

    /// <summary>Exit code when no manifest could be produced: parse errors, missing libclang or sysroot, unwritable output.</summary>
    public const int Failure = 1;

    /// <summary>Exit code for bad arguments: unknown ABI, missing header or not a regular file, malformed define, unknown option.</summary>
    public const int BadArguments = 2;

    /// <summary>Exit code when the header, or a file it includes, exceeded a limit (<c>--timeout</c>, <c>--memory-limit</c>, <c>--max-header-size</c>).</summary>
    public const int LimitExceeded = 3;

    /// <summary>Runs the command line; never throws for user errors.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var root = new RootCommand("portal-headers: parse a C header with libclang for target ABIs and describe its layouts (docs/layout-manifest.md).");
        foreach (var command in CreateCommands(output, error, "portal-headers"))
            root.Subcommands.Add(command);
        root.Subcommands.Add(CreateAbiTablesCommand(error));
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            // An unknown word explains the rest ("Required command was not provided."): say only that.
            var errors = result.Errors.Where(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)).ToList();
            foreach (var e in errors.Count > 0 ? errors : result.Errors)
                error.WriteLine($"portal-headers: {e.Message}");
            error.WriteLine("portal-headers: see portal-headers --help");
            return BadArguments;
        }
        return result.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    /// <summary>
    /// The <c>dump</c> and <c>manifest</c> commands, for a command line of its own or nested in another
    /// (<c>portal headers</c>). Their actions return the exit codes above and write errors prefixed with <paramref name="toolName"/>.
    /// </summary>
    public static IReadOnlyList<Command> CreateCommands(TextWriter output, TextWriter error, string toolName)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentException.ThrowIfNullOrEmpty(toolName);

        var includes = new Option<string[]>("-I", "--include-directory")
        {
            Description = "Add a user include directory (repeatable), searched before the target's system headers.",
            HelpName = "dir",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var includeList = new Option<string[]>("--include-dirs")
        {
            Description = "Include directories separated by ';' (as MSBuild passes them); may be empty.",
            HelpName = "dir;dir",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var defines = new Option<string[]>("-D", "--define")
        {
            Description = "Define a macro: NAME or NAME=VALUE (repeatable).",
            HelpName = "name=value",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var defineList = new Option<string[]>("--defines")
        {
            Description = "Macro definitions separated by ';' (NAME=VALUE;NAME); may be empty.",
            HelpName = "name=value;name",
            Arity = ArgumentArity.ZeroOrMore,
        };

        var timeout = new Option<string>("--timeout")
        {
            Description = $"Wall-clock time libclang may take per ABI: seconds, or with ms, s or m (default {HeaderParseLimits.FormatTime(HeaderParseLimits.DefaultTimeout)}).",
            HelpName = "seconds",
        };
        var memoryLimit = new Option<string>("--memory-limit")
        {
            Description = $"Memory libclang may allocate: bytes, or with K, M or G (binary; default {HeaderParseLimits.FormatSize(HeaderParseLimits.DefaultMemoryLimit)}).",
            HelpName = "size",
        };
        var maxHeaderSize = new Option<string>("--max-header-size")
        {
            Description = $"Largest header file accepted (default {HeaderParseLimits.FormatSize(HeaderParseLimits.DefaultMaxHeaderSize)}).",
            HelpName = "size",
        };
        var maxDiagnostics = new Option<string>("--max-diagnostics")
        {
            Description = $"Errors printed in full when the header does not parse; the rest are counted (default {HeaderParseLimits.DefaultMaxDiagnostics}).",
            HelpName = "count",
        };
        Option<string>[] limits = [timeout, memoryLimit, maxHeaderSize, maxDiagnostics];

        var errorFormat = new Option<string>("--error-format")
        {
            Description = "text (default): errors for people; msbuild: each error as 'file(line,col): error PTLnnnn: message', which MSBuild reports as a build error.",
            DefaultValueFactory = _ => "text",
        };
        errorFormat.AcceptOnlyFromAmong("text", "msbuild");
        var declaredIn = new Option<string>("--declared-in")
        {
            Description = "With --error-format msbuild: the project file that declares the <PortalHeader>, where errors in its metadata point.",
            HelpName = "project",
        };
        var declaredAs = new Option<string>("--declared-as")
        {
            Description = "With --declared-in: the <PortalHeader>'s Include as written there (its line is found by it).",
            HelpName = "include",
        };
        Option<string>[] reporting = [errorFormat, declaredIn, declaredAs];
        ToolErrorWriter Errors(ParseResult parse) => new(error, toolName, parse.GetValue(errorFormat) == "msbuild", parse.GetValue(declaredIn), parse.GetValue(declaredAs));

        var dumpHeader = new Argument<string>("header") { Description = "The C header to parse." };
        var abi = new Option<string>("--abi") { Description = $"The target ABI: {string.Join(", ", HeaderAbi.Names)}.", Required = true };
        var dump = new Command("dump", "Print the single-ABI layout manifest of a header as JSON on stdout.") { dumpHeader, abi, includes, includeList, defines, defineList };
        foreach (var option in limits.Concat(reporting))
            dump.Options.Add(option);
        dump.SetAction(parse => Guard(Errors(parse), parse.GetValue(dumpHeader)!, () =>
        {
            var manifest = HeaderParser.Parse(parse.GetValue(dumpHeader)!, HeaderAbi.Get(parse.GetValue(abi)!),
                Options(parse, includes, includeList, defines, defineList, null, null, limits));
            output.Write(ManifestJson.Serialize(manifest));
        }));

        var manifestHeader = new Argument<string>("header") { Description = "The C header to parse." };
        var abis = new Option<string[]>("--abis")
        {
            Description = "The target ABIs, separated by ';' or ',' (or repeated), in the order the file lists them.",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var outputFile = new Option<string>("--output", "-o") { Description = "The manifest file to write (*.portal.json); written atomically, never on failure.", Required = true };
        var structs = new Option<string[]>("--struct")
        {
            Description = "Keep only this struct/union and what it references (repeatable); constants, enums and aliases are all kept.",
            HelpName = "name",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var structList = new Option<string[]>("--structs")
        {
            Description = "Records to keep, separated by ';' (as MSBuild passes them); empty keeps everything.",
            HelpName = "name;name",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var manifest = new Command("manifest", "Write the multi-ABI layout manifest file of a header.") { manifestHeader, abis, outputFile, includes, includeList, defines, defineList, structs, structList };
        foreach (var option in limits.Concat(reporting))
            manifest.Options.Add(option);
        manifest.SetAction(parse => Guard(Errors(parse), parse.GetValue(manifestHeader)!, () =>
        {
            var names = parse.GetValue(abis)!.SelectMany(a => a.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            var file = HeaderParser.ParseAll(parse.GetValue(manifestHeader)!, names,
                Options(parse, includes, includeList, defines, defineList, structs, structList, limits));
            var target = parse.GetValue(outputFile)!;
            try
            {
                ManifestJson.WriteAtomically(file, target);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new HeaderToolException($"cannot write {target}: {e.Message}", e);
            }
        }));

        return [dump, manifest];
    }

    /// <summary>
    /// <c>abi-tables</c>: the repository's own generator (<see cref="AbiTableGenerator"/>), so only on <c>portal-headers</c>,
    /// not nested in <c>portal headers</c>.
    /// </summary>
    static Command CreateAbiTablesCommand(TextWriter error)
    {
        var outputFile = new Option<string>("--output", "-o")
        {
            Description = $"The C# file to write ({AbiTableGenerator.RepositoryPath} in the repository); written atomically, never on failure.",
            Required = true,
        };
        var command = new Command("abi-tables", "Write Portal.Runtime's syscall and errno tables, evaluated from each ABI's Linux headers (asm/unistd.h, asm/errno.h).")
        {
            outputFile,
        };
        command.SetAction(parse => Guard(new ToolErrorWriter(error, "portal-headers", false, null, null), "asm/unistd.h",
            () => AbiTableGenerator.Write(parse.GetValue(outputFile)!)));
        return command;
    }

    static HeaderParseOptions Options(ParseResult parse, Option<string[]> includes, Option<string[]> includeList,
        Option<string[]> defines, Option<string[]> defineList, Option<string[]>? structs, Option<string[]>? structList, Option<string>[] limits)
    {
        var kept = Values(parse, structs, structList);
        return new HeaderParseOptions
        {
            IncludeDirectories = Values(parse, includes, includeList),
            Defines = Values(parse, defines, defineList),
            Structs = kept.Count > 0 ? kept : null,
            Limits = Limits(parse, limits[0], limits[1], limits[2], limits[3]),
        };
    }

    /// <summary>The limits given, the defaults for the others (an empty value, as MSBuild passes an unset one, is unset).</summary>
    static HeaderParseLimits Limits(ParseResult parse, Option<string> timeout, Option<string> memoryLimit, Option<string> maxHeaderSize, Option<string> maxDiagnostics)
    {
        static string? Given(ParseResult parse, Option<string> option) => parse.GetValue(option) is { } text && !string.IsNullOrWhiteSpace(text) ? text.Trim() : null;

        var limits = HeaderParseLimits.Default;
        if (Given(parse, timeout) is { } time)
        {
            if (!HeaderParseLimits.TryParseTime(time, out var value) || value <= TimeSpan.Zero)
                throw new HeaderArgumentException($"malformed --timeout '{time}': expected a positive number of seconds (60, 2.5) or one with ms, s or m (500ms, 2m)");
            limits = limits with { Timeout = value };
        }
        if (Given(parse, memoryLimit) is { } memory)
        {
            if (!HeaderParseLimits.TryParseSize(memory, out var value) || value < HeaderParseLimits.MinimumMemoryLimit)
            {
                throw new HeaderArgumentException(
                    $"malformed --memory-limit '{memory}': expected a size of at least {HeaderParseLimits.FormatSize(HeaderParseLimits.MinimumMemoryLimit)}, in bytes or with K, M or G (512M, 2GiB)");
            }
            limits = limits with { MemoryLimit = value };
        }
        if (Given(parse, maxHeaderSize) is { } size)
        {
            if (!HeaderParseLimits.TryParseSize(size, out var value) || value <= 0)
                throw new HeaderArgumentException($"malformed --max-header-size '{size}': expected a positive size, in bytes or with K, M or G (64K, 16MiB)");
            limits = limits with { MaxHeaderSize = value };
        }
        if (Given(parse, maxDiagnostics) is { } count)
        {
            if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                throw new HeaderArgumentException($"malformed --max-diagnostics '{count}': expected a number of errors (0 or more)");
            limits = limits with { MaxDiagnostics = value };
        }
        return limits;
    }

    /// <summary>The repeatable option's values, then the ';'-separated list option's non-empty items.</summary>
    static List<string> Values(ParseResult parse, Option<string[]>? single, Option<string[]>? list)
    {
        var values = new List<string>();
        if (single is not null)
            values.AddRange(parse.GetValue(single) ?? []);
        if (list is not null)
        {
            foreach (var item in parse.GetValue(list) ?? [])
                values.AddRange(item.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }
        return values;
    }

    static int Guard(ToolErrorWriter errors, string header, Action action)
    {
        try
        {
            action();
            return Success;
        }
        catch (HeaderArgumentException e)
        {
            errors.Metadata(e.Message);
            return BadArguments;
        }
        catch (HeaderParseException e)
        {
            errors.Parse(e, header);
            return Failure;
        }
        catch (HeaderLimitException e)
        {
            errors.Limit(e.Message, header);
            return LimitExceeded;
        }
        catch (HeaderToolException e)
        {
            errors.Failure(e.Message);
            return Failure;
        }
    }
}
