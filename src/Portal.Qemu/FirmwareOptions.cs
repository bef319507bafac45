namespace Portal.Qemu;

/// <summary>
/// Boots a firmware's own root filesystem as the guest's <c>/</c> (<see cref="QemuGuestOptions.Firmware"/>):
/// Portal's kernel, portal.ko and agent, the firmware's userland. The guest works on a copy in its
/// RAM: nothing it does reaches the image. The architecture comes from the firmware's ELF binaries.
/// <code>
/// await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Firmware = new FirmwareOptions("fw.squashfs") });
/// await using var session = await PortalSession.AttachAsync(guest.Connection);
/// session.LoadPlugin(new RaethPlugin());                 // hooks first: they see the boot from its first syscall
/// await guest.BootFirmwareAsync();                        // the firmware's init starts now
/// await guest.WaitForConsoleAsync(new Regex("boot complete"));
/// </code>
/// </summary>
/// <param name="RootFilesystem">
/// A directory, a tarball (<c>.tar</c>, <c>.tar.gz</c>, <c>.tar.xz</c>, <c>.tar.bz2</c>), a squashfs image, or a
/// raw firmware image with a squashfs in it (found with binwalk).
/// </param>
public sealed record FirmwareOptions(string RootFilesystem)
{
    /// <summary>Where the firmware's init is looked for, in order, when <see cref="Init"/> is not given.</summary>
    public static IReadOnlyList<string> InitCandidates { get; } = ["/sbin/init", "/etc/preinit", "/init"];

    /// <summary>The firmware's init (a path inside it), or null for the first of <see cref="InitCandidates"/> it has.</summary>
    public string? Init { get; init; }

    /// <summary>
    /// True (default): the guest waits, with the firmware's init not started, until
    /// <see cref="QemuGuest.BootFirmwareAsync"/>; the firmware must have an init. False: its init never
    /// runs, and commands (<see cref="QemuGuest.RunAsync(Portal.Guests.GuestCommand, CancellationToken)"/>) run in the
    /// firmware's root with its programs first on PATH (<c>portal run --rootfs</c>).
    /// </summary>
    public bool RunInit { get; init; } = true;
}
