using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Portal.Abi;
using Portal.Qemu.Agent;
using Portal.Qemu.Firmware;

namespace Portal.Qemu;

/// <summary>Booting a firmware's root filesystem (<see cref="QemuGuestOptions.Firmware"/>; docs/rehosting.md).</summary>
public sealed partial class QemuGuest
{
    /// <summary>Where guest/firmware-init waits for the firmware's init path.</summary>
    private const string FirmwareGoFifo = "/.portal/run/go";

    private string? _firmwareInit;                      // the firmware's init that BootFirmwareAsync starts (set at boot)
    private bool _firmwareWithoutInit;                  // a firmware booted with RunInit = false (set at boot)
    private int _firmwareBooted;

    /// <summary>The firmware's init that <see cref="BootFirmwareAsync"/> starts, or null (no firmware, or one booted without its init).</summary>
    public string? FirmwareInit => _firmwareInit;

    /// <summary>
    /// Starts the firmware's init (<see cref="FirmwareInit"/>) as the guest's PID 1. The guest of a
    /// <see cref="QemuGuestOptions.Firmware"/> waits for this, so that hooks registered before it see the
    /// firmware's boot from its first syscall. Returns once the init has been started; follow the boot
    /// with <see cref="WaitForConsoleAsync"/> or <see cref="QemuGuestOptions.ConsoleLine"/>. Once only.
    /// </summary>
    /// <exception cref="InvalidOperationException">No firmware, one booted with <see cref="FirmwareOptions.RunInit"/> off, or already started.</exception>
    public async Task BootFirmwareAsync(CancellationToken cancellationToken = default)
    {
        var init = _firmwareInit ?? throw new InvalidOperationException(_firmwareWithoutInit
            ? "This firmware was booted with FirmwareOptions.RunInit = false: its init does not run."
            : "This guest boots no firmware (QemuGuestOptions.Firmware).");
        if (Interlocked.Exchange(ref _firmwareBooted, 1) == 1)
            throw new InvalidOperationException("The firmware's init has been started already.");
        // The pre-init (guest/firmware-init) reads the init's path from this FIFO, then execs it.
        var result = await RunShellAsync($"printf '%s\\n' {ShellCommandLine.Quote(init)} >{FirmwareGoFifo}", null, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new GuestBootException($"Could not start the firmware's init {init} (exit {result.ExitCode}): {result.Output.Trim()}");
    }

    /// <summary>
    /// Reads the firmware, picks the guest from its binaries (an ABI the options name must agree) and
    /// finds its init when it is to run.
    /// </summary>
    private static async Task<(FirmwareRootfs Firmware, GuestAbi Abi, string? Init)> ReadFirmwareAsync(FirmwareOptions firmwareOptions,
        QemuGuestOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var firmware = await Task.Run(() => FirmwareRootfs.Load(firmwareOptions.RootFilesystem, cancellationToken), cancellationToken).ConfigureAwait(false);
        var abi = FirmwareArchitecture.Detect(firmware);
        if (options.AbiGiven && abi != options.Abi)
            throw new FirmwareRootfsException($"The {firmware.Source} is {abi.Name}, not {options.Abi.Name} as asked.");
        var init = firmwareOptions.RunInit ? FindInit(firmware, firmwareOptions.Init) : null;
        Log.FirmwareRead(logger, firmware.Source, abi.Name, firmware.Entries.Count, firmware.ContentBytes / (1024.0 * 1024),
            Stopwatch.GetElapsedTime(started).TotalSeconds);
        return (firmware, abi, init);
    }

    /// <summary>The firmware's init: the one asked for, else the first candidate it has; it must be an executable file.</summary>
    private static string FindInit(FirmwareRootfs firmware, string? asked)
    {
        foreach (var candidate in asked is null ? FirmwareOptions.InitCandidates : [asked])
        {
            if (firmware.Resolve(candidate) is { Kind: FirmwareEntryKind.File } file && (file.Permissions & 0x49) != 0)
                return FirmwareRootfs.Normalize(candidate);
        }
        throw new FirmwareRootfsException(asked is null
            ? $"The {firmware.Source} has no init: none of {string.Join(", ", FirmwareOptions.InitCandidates)} is an executable file in it. Name one with --init (FirmwareOptions.Init)."
            : $"The {firmware.Source} has no executable file at {asked} (the init asked for).");
    }
}
