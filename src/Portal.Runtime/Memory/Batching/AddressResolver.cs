using Portal.Abi;
using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>How far planning an address got.</summary>
internal enum AddressStep
{
    /// <summary>The address is ready for an entry (absolute, or chased in this batch).</summary>
    Ready,
    /// <summary>A pointer on the way had to be read first (no chasing here); the address is known after this exchange.</summary>
    PointerFirst,
    /// <summary>Nothing fits in this batch.</summary>
    NoRoom,
}

/// <summary>
/// Turns an indirect <see cref="GuestLocation"/> into entry addresses, batch after batch. On a guest
/// with BATCH the pointer read and the access go in one exchange (the access chases the pointer,
/// and reuses a read already in the batch whose result holds it); without, or once known, the
/// pointer's value is kept and later entries (chunks of a large access) use the absolute address.
/// A pointer is read once per operation: the operation sees one instant of it.
/// </summary>
internal sealed class AddressResolver
{
    private readonly GuestLocation _location;
    private readonly GuestAbi _abi;
    private readonly AddressResolver? _slot;
    private ulong? _pointer;
    private int _pointerEntry = -1;
    private int _pointerOffset;

    public AddressResolver(GuestLocation location, GuestAbi abi)
    {
        if (location.Via is null)
            throw new ArgumentException("An absolute location needs no resolving.", nameof(location));
        _location = location;
        _abi = abi;
        var slot = location.Via.Slot;
        _slot = slot.IsAbsolute ? null : new AddressResolver(slot, abi);
    }

    /// <summary>The absolute address, once the pointers on the way have been read.</summary>
    public ulong? Resolved => _pointer is { } pointer ? pointer + _location.Offset : null;

    /// <summary>Why the address cannot be known: a pointer on the way was unreadable (set by <see cref="Deliver"/>).</summary>
    public string? Failure { get; private set; }

    /// <summary>The errno that stopped a pointer read (with <see cref="Failure"/>).</summary>
    public long FailureErrno { get; private set; }

    /// <summary>Plans the address, plus <paramref name="delta"/> bytes, of an entry about to be added to <paramref name="batch"/>.</summary>
    public AddressStep Plan(BatchBuilder batch, long delta, out EntryAddress address)
    {
        address = default;
        if (Resolved is { } known)
        {
            address = EntryAddress.Absolute(known + (ulong)delta);
            return AddressStep.Ready;
        }
        var slot = _location.Via!.Slot;
        EntryAddress slotAddress;
        if (_slot is null)
            slotAddress = EntryAddress.Absolute(slot.Offset);
        else
        {
            var step = _slot.Plan(batch, 0, out slotAddress);
            if (step != AddressStep.Ready)
                return step;
        }

        var pointerSize = _abi.PointerSize;
        if (!batch.TryFindPointer(slotAddress.Key, pointerSize, out var baseIndex, out var offset))
        {
            baseIndex = batch.AddRead(PortalOp.Read, pointerSize, slotAddress);
            offset = 0;
            if (baseIndex < 0)
                return AddressStep.NoRoom;
        }
        _pointerEntry = baseIndex;
        _pointerOffset = offset;
        if (!batch.CanChase)
            return AddressStep.PointerFirst;
        var target = _location.Add(delta);
        address = new EntryAddress(true, target.Offset, baseIndex, offset, target);
        return AddressStep.Ready;
    }

    /// <summary>Learns the pointers' values from the results of the batch planned last.</summary>
    public void Deliver(BatchResults results)
    {
        _slot?.Deliver(results);
        if (_pointerEntry < 0)
            return;
        var index = _pointerEntry;
        _pointerEntry = -1;
        ref readonly var result = ref results[index];
        var pointerSize = _abi.PointerSize;
        if (result.Status == EntryStatus.Ok && result.Count >= _pointerOffset + pointerSize)
        {
            var bytes = results.Bytes(index).Slice(_pointerOffset, pointerSize);
            _pointer = pointerSize == 4 ? _abi.ReadUInt32(bytes) : _abi.ReadUInt64(bytes);
        }
        else if (Failure is null)
        {
            var slot = _location.Via!.Slot;
            FailureErrno = result.Status == EntryStatus.Skipped ? _slot?.FailureErrno ?? 0 : result.Errno;
            Failure = _slot?.Failure ?? $"the pointer at {slot} could not be read ({_abi.ToErrno(FailureErrno)})";
        }
    }

    /// <summary>"[0x1000]+0x10 = 0x5010" once resolved, else the location.</summary>
    public override string ToString() => Resolved is { } known ? $"{_location} = 0x{known:x}" : _location.ToString();
}
