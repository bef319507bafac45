using Portal.Abi;

namespace Portal.Qemu.Tests;

/// <summary>
/// One booted guest per test class, for the suites that run the same tests on every architecture (one
/// sealed class per ABI, booting in its [ClassInitialize] and shutting down in its [ClassCleanup]).
/// </summary>
internal static class ClassGuests
{
    private static readonly Dictionary<Type, QemuGuest> Guests = [];

    /// <summary>Boots the class's guest and clears its kernel log: the boot messages go, only new ones count.</summary>
    public static async Task BootAsync(Type suite, QemuGuestOptions options, CancellationToken cancellationToken)
    {
        var guest = await QemuGuest.StartAsync(options, cancellationToken);
        lock (Guests)
            Guests[suite] = guest;
        await KernelLog.AssertCleanAsync(guest, cancellationToken);
    }

    public static async Task ShutDownAsync(Type suite)
    {
        QemuGuest? guest;
        lock (Guests)
            Guests.Remove(suite, out guest);
        if (guest is not null)
            await guest.DisposeAsync();
    }

    public static QemuGuest Of(Type suite)
    {
        lock (Guests)
            return Guests[suite];
    }
}
