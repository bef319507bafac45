using System.Globalization;
using Portal.Memory;

namespace Portal.Typed;

/// <summary>
/// An untyped guest pointer (<c>void *</c>, <c>char *</c>, or a pointer to something the manifest does
/// not describe): an address, and the memory API to follow it with.
/// </summary>
public readonly struct GuestAddress : IEquatable<GuestAddress>
{
    /// <summary>Creates the pointer.</summary>
    public GuestAddress(ulong value, GuestMemory? memory)
    {
        Value = value;
        Memory = memory;
    }

    /// <summary>The address.</summary>
    public ulong Value { get; }

    /// <summary>The memory API it belongs to (null when not bound to a guest).</summary>
    public GuestMemory? Memory { get; }

    /// <summary>True for NULL.</summary>
    public bool IsNull => Value == 0;

    /// <summary>The same address as a typed pointer.</summary>
    public GuestPtr<T> As<T>() where T : struct, IGuestRecord<T> => new(Value, Memory);

    /// <summary>Reads the NUL-terminated string it points to.</summary>
    public ValueTask<string> ReadStrAsync(int maxLength = GuestMemory.DefaultMaxStringLength, CancellationToken cancellationToken = default) =>
        BoundMemory.ReadStrAsync(Value, maxLength, cancellationToken);

    /// <summary>The address plus a byte offset.</summary>
    public GuestAddress Offset(long bytes) => new(Value + (ulong)bytes, Memory);

    private GuestMemory BoundMemory => Memory ?? throw new InvalidOperationException($"0x{Value:x} is not bound to a guest's memory.");

    /// <inheritdoc/>
    public bool Equals(GuestAddress other) => Value == other.Value && ReferenceEquals(Memory, other.Memory);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is GuestAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"0x{Value:x}");

    /// <summary>Equality.</summary>
    public static bool operator ==(GuestAddress left, GuestAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(GuestAddress left, GuestAddress right) => !left.Equals(right);
}
