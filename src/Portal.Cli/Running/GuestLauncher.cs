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
    /// <param name="kind">Which guest.</param>
    /// <param name="abi">The architecture asked for; null: the firmware's, else x86_64.</param>
    /// <param name="files">Host files to copy into the guest.</param>
    /// <param name="firmware">A firmware to boot as the QEMU guest's root filesystem, or null.</param>
    /// <param name="loggerFactory">Logging.</param>
    /// <param name="consoleLine">Called with each line of the QEMU guest's console, or null.</param>
    /// <param name="cancellationToken">Stops the boot.</param>
    public static async Task<IGuest> StartAsync(GuestKind kind, GuestAbi? abi, IReadOnlyList<GuestFile> files, FirmwareOptions? firmware,
        ILoggerFactory loggerFactory, Action<string>? consoleLine, CancellationToken cancellationToken)
    {
        if (kind == GuestKind.Qemu)
        {
            var options = abi is null
                ? new QemuGuestOptions { Files = files, Firmware = firmware, ConsoleLine = consoleLine, LoggerFactory = loggerFactory }
                : new QemuGuestOptions { Abi = abi, Files = files, Firmware = firmware, ConsoleLine = consoleLine, LoggerFactory = loggerFactory };
            return await QemuGuest.StartAsync(options, cancellationToken).ConfigureAwait(false);
        }
        var guest = new EmulatedGuest(abi ?? GuestAbi.X86_64);
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
