using System.CommandLine;
using Portal.Cli.Commands;
using Portal.Cli.Terminal;

namespace Portal.Cli;

/// <summary>The <c>portal</c> command line: <c>run</c>, <c>boot</c>, <c>setup</c>, <c>headers</c>.</summary>
internal static class PortalCommandLine
{
    public static async Task<int> RunAsync(string[] args, CliConsole console)
    {
        var root = new RootCommand("portal: run guest commands with C# syscall handlers (Portal for .NET).")
        {
            RunCommand.Create(console),
            BootCommand.Create(console),
            SetupCommand.Create(console),
            HeadersCommand.Create(console),
        };
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            // An unknown word explains the errors that follow from it: say only that.
            var errors = result.Errors.Where(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)).ToList();
            foreach (var error in errors.Count > 0 ? errors : result.Errors)
                console.Fail(error.Message);
            var command = result.CommandResult.Command;
            console.Fail($"see: portal {(command == root ? "" : command.Name + " ")}--help");
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
}
