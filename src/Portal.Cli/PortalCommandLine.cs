using System.CommandLine;
using System.CommandLine.Parsing;
using Portal.Cli.Commands;
using Portal.Cli.Terminal;

namespace Portal.Cli;

/// <summary>The <c>portal</c> command line: <c>run</c>, <c>boot</c>, <c>setup</c>, <c>guest</c>, <c>headers</c>, <c>inspect</c> (and its aliases <c>ps</c>, <c>maps</c>, <c>fds</c>, <c>cat</c>).</summary>
internal static class PortalCommandLine
{
    public static async Task<int> RunAsync(string[] args, CliConsole console)
    {
        var root = new RootCommand("portal: run guest commands with C# syscall handlers (Portal for .NET).")
        {
            RunCommand.Create(console),
            BootCommand.Create(console),
            SetupCommand.Create(console),
            QemuGuestCommand.Create(console),
            HeadersCommand.Create(console),
            InspectCommand.Create(console),
        };
        foreach (var alias in InspectCommand.CreateAliases(console))
            root.Subcommands.Add(alias);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            // An unknown word explains the errors that follow from it: say only that.
            var errors = result.Errors.Where(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)).ToList();
            foreach (var error in errors.Count > 0 ? errors : result.Errors)
                console.Fail(error.Message);
            console.Fail($"see: portal {CommandPath(result.CommandResult)}--help");
            return ExitCodes.Usage;
        }
        // Ctrl-C belongs to the commands (portal run shuts the guest down in order), not to the parser.
        return await result.InvokeAsync(new InvocationConfiguration
        {
            Output = console.Out,
            Error = console.Error,
            ProcessTerminationTimeout = null,
        }).ConfigureAwait(false);
    }

    /// <summary>"guest build " for <c>portal guest build</c>, "" for portal itself: the words before --help.</summary>
    private static string CommandPath(CommandResult command)
    {
        var path = "";
        for (var current = command; current.Parent is CommandResult parent; current = parent)
            path = current.Command.Name + " " + path;
        return path;
    }
}
