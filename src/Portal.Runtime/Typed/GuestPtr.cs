using System.Globalization;
using Portal.Memory;

namespace Portal.Typed;

/// <summary>
/// A typed pointer into a guest process: an address, the memory API of the process, and the type's
/// layout for the guest's ABI (chosen when the pointer is used). A reference: it holds no data.
/// <see cref="LoadAsync"/> reads the whole record in one exchange (per 4072 bytes) and returns a
/// snapshot whose properties decode without further exchanges.
/// </summary>
public readonly struct GuestPtr<T> : IEquatable<GuestPtr<T>> where T : struct, IGuestRecord<T>
{
    /// <summary>Creates the pointer (<paramref name="memory"/> may be null for a pointer read from a detached record: it cannot be followed).</summary>
    public GuestPtr(ulong address, GuestMemory? memory)
    {
        Address = address;
        _memory = memory;
    }

    private readonly GuestMemory? _memory;

    /// <summary>The address.</summary>
    public ulong Address { get; }

    /// <summary>The memory API it belongs to.</summary>
    /// <exception cref="InvalidOperationException">The pointer is not bound to a guest.</exception>
    public GuestMemory Memory => _memory ?? throw new InvalidOperationException($"({T.CName} *)0x{Address:x} is not bound to a guest's memory.");

    /// <summary>True for NULL.</summary>
    public bool IsNull => Address == 0;

    /// <summary><c>sizeof(T)</c> on the guest's ABI.</summary>
    public int Size => T.SizeOf(Memory.Abi);

    /// <summary>Reads the record: one exchange (more only beyond 4072 bytes).</summary>
    /// <exception cref="GuestFaultException">The record is not readable (NULL, unmapped...).</exception>
    public async ValueTask<T> LoadAsync(CancellationToken cancellationToken = default)
    {
        var bytes = await Memory.ReadBytesAsync(Address, Size, cancellationToken).ConfigureAwait(false);
        return T.Bind(new RecordView(bytes, 0, Memory.Abi, Address, Memory, new ChangeSet()));
    }

    /// <summary>Writes a whole record here (e.g. one made with <see cref="GuestRecord.Create{T}"/>).</summary>
    /// <exception cref="ArgumentException">The record was laid out for another ABI.</exception>
    public ValueTask StoreAsync(T record, CancellationToken cancellationToken = default)
    {
        if (record.View.Abi != Memory.Abi)
            throw new ArgumentException($"The {T.CName} is laid out for {record.View.Abi.Name}, the guest is {Memory.Abi.Name}.", nameof(record));
        return Memory.WriteBytesAsync(Address, record.View.Buffer.AsMemory(record.View.Start, Size), cancellationToken);
    }

    /// <summary>Pointer arithmetic: <c>p + count</c> in elements of <c>sizeof(T)</c>.</summary>
    public GuestPtr<T> Offset(long count) => new(Address + (ulong)(count * Size), _memory);

    /// <summary>The same address as another type.</summary>
    public GuestPtr<TOther> Cast<TOther>() where TOther : struct, IGuestRecord<TOther> => new(Address, _memory);

    /// <summary>The same address, untyped.</summary>
    public GuestAddress AsAddress() => new(Address, _memory);

    /// <summary>A pointer to a member at <paramref name="offset"/> (generated member pointers use this).</summary>
    public GuestFieldPtr<TField> Field<TField>(int offset, int size) => new(Address + (ulong)offset, size, Memory);

    /// <summary>A pointer to a nested record at <paramref name="offset"/>.</summary>
    public GuestPtr<TRecord> Record<TRecord>(int offset) where TRecord : struct, IGuestRecord<TRecord> => new(Address + (ulong)offset, _memory);

    /// <inheritdoc/>
    public bool Equals(GuestPtr<T> other) => Address == other.Address && ReferenceEquals(_memory, other._memory);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is GuestPtr<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Address.GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"({T.CName} *)0x{Address:x}");

    /// <summary>Equality.</summary>
    public static bool operator ==(GuestPtr<T> left, GuestPtr<T> right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(GuestPtr<T> left, GuestPtr<T> right) => !left.Equals(right);
}
