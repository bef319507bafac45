using System.CommandLine;
using Microsoft.Extensions.Logging;
using Portal.Abi;
using Portal.Cli.Inspecting;
using Portal.Cli.Running;
using Portal.Cli.Terminal;
using Portal.Guests;
using Portal.Qemu;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal inspect [--guest qemu|emulated] [--abi A] [--rootfs R] [--plugin asm]… [--json] [QUERY…]</c>: boots the guest as
/// <c>portal run</c> does, attaches a session with the plugins' hooks, runs each query (<c>ps</c>, <c>maps 1</c>, <c>cat /proc/version</c>…)
/// and prints its result, then shuts the guest down. Without queries it reads them from stdin, one a line: a
/// shell over one session. Every query given on the command line is checked before booting. Also
/// <c>portal ps</c>, <c>portal maps</c>, <c>portal fds</c> and <c>portal cat</c>: inspect with that one query.
/// Exits 0 when every query succeeded, <see cref="ExitCodes.QueryFailed"/> when one failed (the others still ran),
/// <see cref="ExitCodes.Unavailable"/> when the guest's module serves no queries, <see cref="ExitCodes.SyscallsUnhandled"/>
/// when the plugins' hooks left syscalls unhandled (unless --allow-unhandled).
/// </summary>
internal static class InspectCommand
{
    public static Command Create(CliConsole console)
    {
        var options = new InspectOptions();
        var queries = new Argument<string[]>("query")
        {
            Description = "Queries, each one argument ('maps 1'); without any, read from stdin one a line. " +
                string.Join("; ", QueryParser.Queries.Select(q => q.Usage)) + ".",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var inspect = new Command("inspect", "Boot a guest and look inside: its processes, their mappings and open files, its files (docs/introspection.md).");
        foreach (var option in options.All)
            inspect.Options.Add(option);
        inspect.Arguments.Add(queries);
        inspect.SetAction((parse, _) => RunAsync(console, options, parse, () => ParseCommandLine(parse.GetValue(queries) ?? [])));
        return inspect;
    }

    /// <summary>
    /// <c>portal ps</c>, <c>portal maps PID [ADDRESS]</c>, <c>portal fds [PID]</c>, <c>portal cat PATH</c>: inspect with
    /// that one query, its arguments given as the command's (checked by the same parser, with the same messages).
    /// </summary>
    public static IEnumerable<Command> CreateAliases(CliConsole console)
    {
        yield return Alias(console, "ps", "List the guest's processes (portal inspect ps).");
        yield return Alias(console, "maps", "Print a guest process's memory mappings, or the one containing an address (portal inspect 'maps PID [ADDRESS]').",
            ("PID", "The process."), ("ADDRESS", "An address (0x... or decimal): print only the mapping containing it."));
        yield return Alias(console, "fds", "Print a guest process's open files, or every process's (portal inspect 'fds [PID]').",
            ("PID", "The process (default: every process)."));
        yield return Alias(console, "cat", "Print a guest file's bytes (portal inspect 'cat PATH').", ("PATH", "The file's absolute path in the guest."));
    }

    private static Command Alias(CliConsole console, string name, string description, params (string Name, string Description)[] parameters)
    {
        var options = new InspectOptions();
        // Each argument optional for the parser: the query parser says what is missing, with the query's usage.
        var arguments = parameters.Select(p => new Argument<string>(p.Name) { Description = p.Description, Arity = ArgumentArity.ZeroOrOne }).ToList();
        var command = new Command(name, description);
        foreach (var option in options.All)
            command.Options.Add(option);
        foreach (var argument in arguments)
            command.Arguments.Add(argument);
        command.SetAction((parse, _) => RunAsync(console, options, parse, () =>
        {
            string[] words = [name, .. arguments.Select(parse.GetValue).OfType<string>()];
            return [QueryParser.Parse(words, string.Join(' ', words))];
        }));
        return command;
    }

    /// <summary>Each argument is one query ('maps 1'); all are checked before anything boots.</summary>
    private static List<Query> ParseCommandLine(string[] arguments)
    {
        var queries = new List<Query>();
        foreach (var argument in arguments)
        {
            // An option the parser does not know lands among the queries: no query starts with '-'.
            if (argument.StartsWith('-'))
                throw new QueryUsageException($"unknown option '{argument}'");
            try
            {
                queries.Add(QueryParser.Parse(argument));
            }
            catch (QueryUsageException e) when (e.MissingWords && arguments.Length > 1)
            {
                // 'portal inspect maps 1' gives two queries, 'maps' and '1': say how to give one with its arguments.
                throw new QueryUsageException($"{e.Message} (give each query as one argument: portal inspect ps 'maps 1' 'cat /etc/passwd')");
            }
        }
        return queries;
    }

    private static async Task<int> RunAsync(CliConsole console, InspectOptions options, ParseResult parse, Func<IReadOnlyList<Query>> readQueries)
    {
        InspectOptions.Choice choice;
        IReadOnlyList<Query> queries;
        try
        {
            choice = options.Read(parse);
            queries = readQueries();
        }
        catch (Exception e) when (e is ArgumentException or QueryUsageException)
        {
            console.Fail(e.Message);
            return ExitCodes.Usage;
        }
        return await InspectAsync(console, choice, queries).ConfigureAwait(false);
    }

    private static async Task<int> InspectAsync(CliConsole console, InspectOptions.Choice choice, IReadOnlyList<Query> queries)
    {
        using var signals = new InterruptSignals();
        using var loggerFactory = GuestSteps.CreateLoggerFactory(console, choice.Verbose);
        // As portal run: a firmware's architecture is known once its image is read; its hooks' syscalls are checked then.
        var knownAbi = choice.Rootfs is null ? choice.Abi ?? GuestAbi.X86_64 : choice.Abi;
        if (GuestSteps.CreatePlugins(console, choice.Plugins, loggerFactory, knownAbi) is not { } plugins)
            return ExitCodes.PluginFailure;
        var abiName = (choice.Abi ?? GuestAbi.X86_64).Name;
        var description = choice switch
        {
            { Guest: GuestKind.Emulated } => $"Starting the emulated {abiName} guest",
            { Rootfs: not null } => "Booting a QEMU guest with the firmware's root filesystem",
            _ => $"Booting the {abiName} QEMU guest",
        };
        // As portal run --rootfs: the firmware's files are the guest's, its init does not run.
        var firmware = choice.Rootfs is null ? null : new FirmwareOptions(choice.Rootfs) { RunInit = false };
        var (guest, startFailure) = await GuestSteps.StartAsync(console, description,
            () => GuestLauncher.StartAsync(choice.Guest, choice.Abi, choice.Files, firmware, loggerFactory, consoleLine: null, signals.Token), signals)
            .ConfigureAwait(false);
        if (guest is null)
            return startFailure;
        try
        {
            return await QueryAsync(console, choice, queries, guest, plugins, loggerFactory, signals).ConfigureAwait(false);
        }
        finally
        {
            await console.StepAsync("Shutting the guest down", () => guest.DisposeAsync().AsTask()).ConfigureAwait(false);
        }
    }

    private static async Task<int> QueryAsync(CliConsole console, InspectOptions.Choice choice, IReadOnlyList<Query> queries, IGuest guest,
        List<object> plugins, ILoggerFactory loggerFactory, InterruptSignals signals)
    {
        var (session, attachFailure) = await GuestSteps.AttachAsync(console, guest, plugins, loggerFactory, trace: null, "the queries", signals.Token)
            .ConfigureAwait(false);
        if (session is null)
            return attachFailure;
        await using (session.ConfigureAwait(false))
        {
            IQueryFormatter formatter = choice.Json ? new JsonFormatter(console) : new TextFormatter(console);
            var shell = new QueryShell(console, new QueryRunner(session, guest, formatter.StreamsCommandOutput ? console.Out : null), formatter, choice.Verbose);
            try
            {
                if (queries.Count == 0)
                    await shell.RunLinesAsync(console.In, console.InputIsTerminal, (guest as QemuGuest)?.Lost, signals.Token).ConfigureAwait(false);
                foreach (var query in queries)
                    await shell.RunAsync(query, signals.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (signals.Interrupted)
            {
                console.Fail("interrupted.");
                return signals.ExitCode;
            }
            catch (Exception e) when (e is PortalException or IOException)
            {
                // GuestLostException says what happened (the panic text, how QEMU ended); anything else broke the link to the guest.
                console.Fail($"lost the guest: {e.Message}");
                return ExitCodes.GuestLost;
            }
            if (plugins.Count == 0)
                return shell.ExitCode;
            // As portal run: each handler's line, and never 0 when a syscall a hook should have handled was not.
            var unhandled = await HandlerReport.PrintAsync(console, session, choice.Verbose, account: true).ConfigureAwait(false);
            if (unhandled != 0 && !choice.AllowUnhandled)
            {
                console.Say($"portal: exiting with status {ExitCodes.SyscallsUnhandled}: matching syscalls went unhandled (--allow-unhandled keeps the queries' status)");
                return ExitCodes.SyscallsUnhandled;
            }
            return shell.ExitCode;
        }
    }
}
