using Portal.Memory;
using Portal.Memory.Batching;

namespace Portal.Typed;

/// <summary>
/// An untyped guest pointer (<c>void *</c>, <c>char *</c>, or a pointer to something the manifest does
/// not describe): an address, and the memory API to follow it with. Like <see cref="GuestPtr{T}"/>
/// it may be indirect (made by <see cref="GuestPointerExtensions.Deref"/>): then the guest reads
/// the pointer in the same exchange as the access.
/// </summary>
public readonly struct GuestAddress : IEquatable<GuestAddress>
{
    private readonly GuestLocation _location;

    /// <summary>Creates the pointer.</summary>
    public GuestAddress(ulong value, GuestMemory? memory)
        : this(GuestLocation.At(value), memory)
    {
    }

    internal GuestAddress(GuestLocation location, GuestMemory? memory)
    {
        _location = location;
        Memory = memory;
    }

    /// <summary>The address.</summary>
    /// <exception cref="InvalidOperationException">The pointer is <see cref="IsIndirect"/>: only the guest knows it.</exception>
    public ulong Address => _location.IsAbsolute ? _location.Offset
        : throw new InvalidOperationException($"{_location} is reached through a pointer in guest memory; only the guest knows its value.");

    /// <summary>True when the address is a pointer stored in guest memory, resolved by the guest on each use.</summary>
    public bool IsIndirect => !_location.IsAbsolute;

    /// <summary>The memory API it belongs to (null when not bound to a guest).</summary>
    public GuestMemory? Memory { get; }

    /// <summary>True for NULL.</summary>
    public bool IsNull => _location is { IsAbsolute: true, Offset: 0 };

    /// <summary>The same address as a typed pointer.</summary>
    public GuestPtr<T> As<T>() where T : struct, IGuestRecord<T> => new(_location, Memory);

    /// <summary>Reads the NUL-terminated string it points to.</summary>
    public ValueTask<string> ReadStrAsync(int maxLength = GuestMemory.DefaultMaxStringLength, CancellationToken cancellationToken = default) =>
        BoundMemory.ReadStr(_location, maxLength, cancellationToken);

    /// <summary>Reads <paramref name="count"/> bytes it points to.</summary>
    public ValueTask<byte[]> ReadBytesAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return BoundMemory.ReadBytes(_location, new byte[count], cancellationToken);
    }

    /// <summary>
    /// The pointer stored where this address points (<c>*(void **)p</c>), as an indirect address: an
    /// access through it is one exchange, the guest reading the pointer and following it.
    /// </summary>
    public GuestAddress Deref() => new(_location.Deref(), Memory);

    /// <summary>The address plus a byte offset.</summary>
    public GuestAddress Offset(long bytes) => new(_location.Add(bytes), Memory);

    private GuestMemory BoundMemory => Memory ?? throw new InvalidOperationException($"{_location} is not bound to a guest's memory.");

    /// <inheritdoc/>
    public bool Equals(GuestAddress other) => _location == other._location && ReferenceEquals(Memory, other.Memory);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is GuestAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _location.GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => _location.ToString();

    /// <summary>Equality.</summary>
    public static bool operator ==(GuestAddress left, GuestAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(GuestAddress left, GuestAddress right) => !left.Equals(right);
}
