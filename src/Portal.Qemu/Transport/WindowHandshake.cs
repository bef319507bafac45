namespace Portal.Qemu.Transport;

/// <summary>
/// The start of docs/protocol.md §5.1 on the host's side: waiting until the guest (portal.ko, or a guest
/// program playing it) has laid out the window, and checking that layout before anything trusts it.
/// </summary>
internal static class WindowHandshake
{
    private const string Magic = "PORTAL01";

    /// <summary>
    /// Waits until <paramref name="owner"/> has laid out the window, checks that it speaks protocol version 1
    /// with slots that lie inside the mapping, and returns the slot count.
    /// </summary>
    /// <exception cref="InvalidOperationException">QEMU exited first, or the layout is not one this host can use.</exception>
    public static async Task<int> WaitForSlotsAsync(SharedWindow window, Func<bool> qemuAlive, string owner, CancellationToken cancellationToken)
    {
        while (!(window.State == SharedWindow.ReadyState && window.Magic == Magic))
        {
            if (!qemuAlive())
                throw new InvalidOperationException($"QEMU exited before {owner} was ready.");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        // Each field read once: the guest may change them at any time, and only the values checked here are used.
        var (version, stride, slots) = (window.Version, window.Stride, window.SlotCount);
        var maxSlots = (window.Size - SharedWindow.HeaderSize) / SharedWindow.SlotStride;
        if (version != 1 || stride != SharedWindow.SlotStride || slots < 2 || slots > maxSlots)
            throw new InvalidOperationException(
                $"{owner}'s window is not protocol version 1 with 2..{maxSlots} slots (version {version}, stride {stride}, {slots} slots).");
        return (int)slots;
    }
}
