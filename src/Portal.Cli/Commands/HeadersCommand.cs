using System.CommandLine;
using System.CommandLine.Invocation;
using Portal.Cli.Terminal;
using Portal.Headers;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal headers dump|manifest …</c>: the portal-headers tool's commands (Portal.Headers), nested, with the same
/// limits (libclang runs in a portal-headers worker process). Its exit codes are mapped onto portal's: bad arguments
/// → <see cref="ExitCodes.Usage"/>; a header that does not parse or exceeds a limit → <see cref="ExitCodes.HeaderFailure"/>.
/// </summary>
internal static class HeadersCommand
{
    public static Command Create(CliConsole console)
    {
        var headers = new Command("headers", "Parse a C header with libclang for target ABIs: print one ABI's layouts (dump) or write a manifest.");
        foreach (var command in HeadersCommandLine.CreateCommands(console.Out, console.Error, "portal headers"))
        {
            var inner = (SynchronousCommandLineAction)command.Action!;
            command.SetAction(parse => inner.Invoke(parse) switch
            {
                HeadersCommandLine.Success => ExitCodes.Success,
                HeadersCommandLine.BadArguments => ExitCodes.Usage,
                // The message says which limit; portal keeps one code for "no manifest".
                HeadersCommandLine.LimitExceeded => ExitCodes.HeaderFailure,
                _ => ExitCodes.HeaderFailure,
            });
            headers.Subcommands.Add(command);
        }
        return headers;
    }
}
