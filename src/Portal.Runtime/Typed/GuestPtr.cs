using Portal.Memory;
using Portal.Memory.Batching;

namespace Portal.Typed;

/// <summary>
/// A typed pointer into a guest process: a location, the memory API of the process, and the type's
/// layout for the guest's ABI (chosen when the pointer is used). A reference: it holds no data.
/// <see cref="LoadAsync(CancellationToken)"/> reads the whole record in one exchange (per 4072
/// bytes) and returns a snapshot whose properties decode without further exchanges.
/// </summary>
/// <remarks>
/// A pointer made by <see cref="GuestPointerExtensions.Deref{T}"/> (<c>ifr.IfrData.Deref&lt;EswReg&gt;()</c>)
/// is <see cref="IsIndirect"/>: its address is the pointer stored in guest memory, read by the guest
/// in the same exchange as the access (a chased BATCH entry). Such a pointer is re-read each time it
/// is used; <see cref="ResolveAsync"/> pins its current value.
/// </remarks>
public readonly struct GuestPtr<T> : IEquatable<GuestPtr<T>> where T : struct, IGuestRecord<T>
{
    private readonly GuestMemory? _memory;
    private readonly GuestLocation _location;

    /// <summary>Creates the pointer (<paramref name="memory"/> may be null for a pointer read from a detached record: it cannot be followed).</summary>
    public GuestPtr(ulong address, GuestMemory? memory)
        : this(GuestLocation.At(address), memory)
    {
    }

    internal GuestPtr(GuestLocation location, GuestMemory? memory)
    {
        _location = location;
        _memory = memory;
    }

    /// <summary>The address.</summary>
    /// <exception cref="InvalidOperationException">The pointer is <see cref="IsIndirect"/>: only the guest knows the address (see <see cref="ResolveAsync"/>).</exception>
    public ulong Address => _location.IsAbsolute ? _location.Offset
        : throw new InvalidOperationException($"{this} is reached through a pointer in guest memory; its address is known after ResolveAsync (or from a loaded record's View.Address).");

    /// <summary>True when the address is a pointer stored in guest memory (plus an offset), resolved by the guest on each use.</summary>
    public bool IsIndirect => !_location.IsAbsolute;

    internal GuestLocation Location => _location;

    /// <summary>The memory API it belongs to.</summary>
    /// <exception cref="InvalidOperationException">The pointer is not bound to a guest.</exception>
    public GuestMemory Memory => _memory ?? throw new InvalidOperationException($"({T.CName} *){_location} is not bound to a guest's memory.");

    /// <summary>True for NULL (an indirect pointer is never known to be NULL on the host).</summary>
    public bool IsNull => _location is { IsAbsolute: true, Offset: 0 };

    /// <summary><c>sizeof(T)</c> on the guest's ABI.</summary>
    public int Size => T.SizeOf(Memory.Abi);

    /// <summary>Reads the record: one exchange (more only beyond 4072 bytes), shared with whatever else is queued.</summary>
    /// <exception cref="GuestFaultException">The record is not readable (NULL, unmapped...), or a pointer on the way is not.</exception>
    public ValueTask<T> LoadAsync(CancellationToken cancellationToken = default) => Memory.LoadRecord<T>(_location, cancellationToken);

    /// <summary>
    /// Reads the record and what one of its pointers points to, in one exchange: the guest reads the
    /// record, takes the pointer from it and reads the target (a chase), e.g.
    /// <c>var (ifr, reg) = await ifrPtr.LoadAsync(p =&gt; p.IfrData.Deref&lt;EswReg&gt;());</c>
    /// </summary>
    /// <param name="prefetch">Picks the target from this pointer (usually a member pointer, dereferenced).</param>
    /// <param name="cancellationToken">Cancels the wait for the guest.</param>
    /// <exception cref="GuestFaultException">The record, or the target, is not readable (a NULL pointer member, say).</exception>
    public async ValueTask<(T Record, TTarget Target)> LoadAsync<TTarget>(Func<GuestPtr<T>, GuestPtr<TTarget>> prefetch,
        CancellationToken cancellationToken = default) where TTarget : struct, IGuestRecord<TTarget>
    {
        ArgumentNullException.ThrowIfNull(prefetch);
        var record = LoadAsync(cancellationToken);
        var target = prefetch(this).LoadAsync(cancellationToken);
        return (await record.ConfigureAwait(false), await target.ConfigureAwait(false));
    }

    /// <summary>Writes a whole record here (e.g. one made with <see cref="GuestRecord.Create{T}"/>); staged inside a batch scope.</summary>
    /// <exception cref="ArgumentException">The record was laid out for another ABI.</exception>
    public ValueTask StoreAsync(T record, CancellationToken cancellationToken = default)
    {
        if (record.View.Abi != Memory.Abi)
            throw new ArgumentException($"The {T.CName} is laid out for {record.View.Abi.Name}, the guest is {Memory.Abi.Name}.", nameof(record));
        return Memory.Write(_location, record.View.Buffer.AsSpan(record.View.Start, Size), cancellationToken);
    }

    /// <summary>For an indirect pointer: reads the pointers on the way (one exchange) and returns the plain pointer they give now.</summary>
    public async ValueTask<GuestPtr<T>> ResolveAsync(CancellationToken cancellationToken = default)
    {
        if (_location.IsAbsolute)
            return this;
        var pointer = await Memory.ReadScalar(_location.Via!.Slot, Memory.Abi.PointerSize, cancellationToken).ConfigureAwait(false);
        return new GuestPtr<T>(pointer + _location.Offset, _memory);
    }

    /// <summary>Pointer arithmetic: <c>p + count</c> in elements of <c>sizeof(T)</c>.</summary>
    public GuestPtr<T> Offset(long count) => new(_location.Add(count * Size), _memory);

    /// <summary>The same address as another type.</summary>
    public GuestPtr<TOther> Cast<TOther>() where TOther : struct, IGuestRecord<TOther> => new(_location, _memory);

    /// <summary>The same address, untyped.</summary>
    public GuestAddress AsAddress() => new(_location, _memory);

    /// <summary>A pointer to a member at <paramref name="offset"/> (generated member pointers use this).</summary>
    public GuestFieldPtr<TField> Field<TField>(int offset, int size) => new(_location.Add(offset), size, Memory, isNetworkOrder: false);

    /// <summary>A pointer to a member at <paramref name="offset"/> stored big-endian on every ABI (network byte order: <c>sin_port</c>).</summary>
    public GuestFieldPtr<TField> NetworkOrderField<TField>(int offset, int size) => new(_location.Add(offset), size, Memory, isNetworkOrder: true);

    /// <summary>A pointer to a nested record at <paramref name="offset"/>.</summary>
    public GuestPtr<TRecord> Record<TRecord>(int offset) where TRecord : struct, IGuestRecord<TRecord> => new(_location.Add(offset), _memory);

    /// <inheritdoc/>
    public bool Equals(GuestPtr<T> other) => _location == other._location && ReferenceEquals(_memory, other._memory);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is GuestPtr<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _location.GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => $"({T.CName} *){_location}";

    /// <summary>Equality.</summary>
    public static bool operator ==(GuestPtr<T> left, GuestPtr<T> right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(GuestPtr<T> left, GuestPtr<T> right) => !left.Equals(right);
}
