using System.Globalization;

namespace Portal.Memory.Batching;

/// <summary>
/// Where an operation reads or writes: an absolute address, or an address known only inside the
/// guest — the pointer stored at <see cref="PointerHop.Slot"/> plus <see cref="Offset"/> — which a
/// batch resolves there with a chased entry (docs/protocol.md §3.3). Hops chain: <c>a-&gt;b-&gt;c</c> is
/// a location whose slot is itself indirect. Values, compared by structure, so two pointers built the
/// same way from the same field find each other's pointer reads in a batch.
/// </summary>
internal readonly record struct GuestLocation(PointerHop? Via, ulong Offset)
{
    /// <summary>An absolute address.</summary>
    public static GuestLocation At(ulong address) => new(null, address);

    /// <summary>True when the address is known on the host.</summary>
    public bool IsAbsolute => Via is null;

    /// <summary>Hops to resolve in the guest before this address is known.</summary>
    public int Depth => Via is null ? 0 : 1 + Via.Slot.Depth;

    /// <summary>This location plus <paramref name="bytes"/> (wrapping, as C pointer arithmetic on the guest's address).</summary>
    public GuestLocation Add(long bytes) => this with { Offset = Offset + (ulong)bytes };

    /// <summary>Longest pointer chain one location may hold (each hop is one more entry in a batch).</summary>
    public const int MaxDepth = 16;

    /// <summary>The location the pointer stored here points to.</summary>
    /// <exception cref="InvalidOperationException">The chain would be longer than <see cref="MaxDepth"/>.</exception>
    public GuestLocation Deref() =>
        Depth < MaxDepth ? new(new PointerHop(this), 0)
        : throw new InvalidOperationException($"A pointer chain is limited to {MaxDepth} dereferences.");

    /// <summary>"0x1000" for an address, "[0x1000]+0x10" for 16 bytes past the pointer stored at 0x1000.</summary>
    public override string ToString() =>
        Via is null ? string.Create(CultureInfo.InvariantCulture, $"0x{Offset:x}")
        : Offset == 0 ? $"[{Via.Slot}]"
        : (long)Offset < 0 ? string.Create(CultureInfo.InvariantCulture, $"[{Via.Slot}]-0x{-(long)Offset:x}")
        : string.Create(CultureInfo.InvariantCulture, $"[{Via.Slot}]+0x{Offset:x}");
}

/// <summary>One pointer dereference: the pointer is read from <see cref="Slot"/> (guest pointer size and byte order).</summary>
internal sealed record PointerHop(GuestLocation Slot);
