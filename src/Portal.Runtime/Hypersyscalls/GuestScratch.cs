using System.Text;
using Portal.Memory;

namespace Portal.Hypersyscalls;

/// <summary>
/// Memory in the calling thread a handler may fill and point an argument at, on enter: e.g. make
/// <c>openat("/dev/mtdblock3")</c> open another path, where the original string is read-only. The
/// guest offers part of the thread's stack below its stack pointer, which nothing uses while the
/// thread is in the kernel (docs/protocol.md §4.1): valid from the event until the syscall returns,
/// up to 2048 bytes, less (or none) when those stack pages are not resident.
/// <code>
/// context.Args[1] = await context.Scratch.PlaceStringAsync("/dev/null");
/// </code>
/// </summary>
public sealed class GuestScratch
{
    private readonly GuestMemory _memory;
    private readonly string? _whyNone;
    private int _used;

    internal GuestScratch(GuestMemory memory, ulong address, int size, string? whyNone)
    {
        _memory = memory;
        Address = address;
        Size = size;
        _whyNone = whyNone;
    }

    /// <summary>Where the area starts (0 when there is none).</summary>
    public ulong Address { get; }

    /// <summary>Its length in bytes (0 when there is none).</summary>
    public int Size { get; }

    /// <summary>Bytes not yet placed.</summary>
    public int Remaining => Size - _used;

    /// <summary>
    /// Writes <paramref name="data"/> into the area (8-byte aligned, from its start) and returns its
    /// address; a write like any other: one exchange, or staged in a batch scope.
    /// </summary>
    /// <exception cref="InvalidOperationException">There is no scratch area for this event, or not enough of it left (the message says which).</exception>
    /// <exception cref="GuestFaultException">The guest could not write there.</exception>
    public async ValueTask<ulong> PlaceAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var at = Reserve(data.Length);
        await _memory.WriteBytesAsync(at, data, cancellationToken).ConfigureAwait(false);
        return at;
    }

    /// <summary>Writes <paramref name="value"/> as UTF-8 with its NUL into the area and returns its address.</summary>
    /// <exception cref="ArgumentException">The string contains a NUL.</exception>
    /// <exception cref="InvalidOperationException">There is no scratch area for this event, or not enough of it left.</exception>
    public ValueTask<ulong> PlaceStringAsync(string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0'))
            throw new ArgumentException("The string contains a NUL; the guest would see it cut short. Use PlaceAsync for binary data.", nameof(value));
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return PlaceAsync(bytes, cancellationToken);
    }

    private ulong Reserve(int length)
    {
        if (_whyNone is not null)
            throw new InvalidOperationException(_whyNone);
        var start = (_used + 7) & ~7;
        if (length > Size - start)
            throw new InvalidOperationException($"The scratch area has {Math.Max(0, Size - start)} of its {Size} bytes left; {length} asked.");
        _used = start + length;
        return Address + (ulong)start;
    }
}
