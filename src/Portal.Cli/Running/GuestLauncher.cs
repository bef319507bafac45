using Microsoft.Extensions.Logging;
using Portal.Abi;
using Portal.Guests;
using Portal.Qemu;
using Portal.Qemu.Image;
using Portal.Testing;

namespace Portal.Cli.Running;

/// <summary>Which guest <c>portal run</c> boots.</summary>
internal enum GuestKind
{
    /// <summary>A real Linux guest under QEMU with portal.ko (<see cref="QemuGuest.RealGuestAbis"/>).</summary>
    Qemu,

    /// <summary>The in-process emulated guest: any ABI, only its built-in programs.</summary>
    Emulated,
}

/// <summary>Starts either kind of guest and runs a command in it with its output streamed.</summary>
internal static class GuestLauncher
{
    public static async Task<IGuest> StartAsync(GuestKind kind, GuestAbi abi, IReadOnlyList<GuestFile> files, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        if (kind == GuestKind.Qemu)
            return await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi, Files = files, LoggerFactory = loggerFactory }, cancellationToken).ConfigureAwait(false);
        var guest = new EmulatedGuest(abi);
        foreach (var file in files)
            guest.AddFile(file.GuestPath, await File.ReadAllBytesAsync(file.HostPath, cancellationToken).ConfigureAwait(false));
        return guest;
    }

    /// <summary>
    /// Runs the command; the QEMU guest's output is written as it arrives, the emulated guest's when the
    /// program ends (its programs are C# methods that collect their output).
    /// </summary>
    public static async Task<GuestCommandResult> RunAsync(IGuest guest, GuestCommand command, TextWriter output, CancellationToken cancellationToken)
    {
        if (guest is QemuGuest qemu)
        {
            return await qemu.RunAsync(command, chunk =>
            {
                output.Write(chunk);
                output.Flush();
            }, cancellationToken).ConfigureAwait(false);
        }
        var result = await guest.RunAsync(command, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(result.Output).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }
}
