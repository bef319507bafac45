using Portal.Channels;

namespace Portal.Qemu.Transport;

/// <summary>Whether the guest behind a window is still there, shared by all of its slots.</summary>
internal sealed class GuestState
{
    private volatile GuestLostException? _lost;

    /// <summary>Why the guest was lost, or null while it is there.</summary>
    public GuestLostException? Lost => _lost;

    /// <summary>Records the first reason; later ones are ignored (the first says what happened).</summary>
    public void MarkLost(GuestLostException reason) => Interlocked.CompareExchange(ref _lost, reason, null);

    public void ThrowIfLost()
    {
        if (_lost is { } lost)
            throw new GuestLostException(lost.Message, lost);
    }
}
