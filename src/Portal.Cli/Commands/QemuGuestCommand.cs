using System.CommandLine;
using Portal.Cli.Terminal;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal guest build|shell</c>: the real guest by hand, built and booted exactly as Portal.Qemu does for
/// <c>portal run</c> and the tests (there is no other way to build or boot it).
/// </summary>
internal static class QemuGuestCommand
{
    public static Command Create(CliConsole console) =>
        new("guest", "Build the real guest's image, or boot the guest and type commands into it.")
        {
            GuestBuildCommand.Create(console),
            GuestShellCommand.Create(console),
        };
}
