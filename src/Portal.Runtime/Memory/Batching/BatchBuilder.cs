using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>Where an entry's address comes from: absolute, or a pointer in an earlier entry's result plus an offset.</summary>
/// <param name="Chase">The address is <c>pointer + Address</c>, the pointer being in entry <paramref name="Base"/>'s result.</param>
/// <param name="Address">The absolute address, or with <paramref name="Chase"/> the offset added to the pointer.</param>
/// <param name="Base">Chase: the entry whose result holds the pointer.</param>
/// <param name="PointerOffset">Chase: where the pointer is in that result.</param>
/// <param name="Key">The location the entry reads, so later chases can find a pointer inside its result.</param>
internal readonly record struct EntryAddress(bool Chase, ulong Address, int Base, int PointerOffset, GuestLocation Key)
{
    public static EntryAddress Absolute(ulong address) => new(false, address, 0, 0, GuestLocation.At(address));
}

/// <summary>
/// Packs the entries of one exchange. Capacities are the protocol's: at most 255 entries, requests
/// and results (every read counted at its full size) within the 4072-byte data area. An entry too
/// big for a batch (a 4072-byte read) can still go alone as a plain op; so can anything on a guest
/// without BATCH, where an exchange carries exactly one unchased entry. Flexible entries (string,
/// name and block windows) are placed at a minimum size and grown into what is left at the end.
/// </summary>
internal sealed class BatchBuilder
{
    public const int Capacity = RegionLayout.DataCapacity;

    private readonly WireEntry[] _entries = new WireEntry[BatchWire.MaxEntries];
    private readonly EntryPlan[] _plans = new EntryPlan[BatchWire.MaxEntries];
    private readonly byte[] _writeBuffer = new byte[Capacity];
    private int _requestBytes;
    private int _responseBytes;
    private int _writeLength;
    private int _lastWrite;
    private bool _alone;

    private struct EntryPlan
    {
        public GuestLocation Key;
        public bool Flexible;
        public int Desired;
    }

    /// <summary>A point to roll back to when an operation's entries do not all fit.</summary>
    public readonly record struct Mark(int Count, int RequestBytes, int ResponseBytes, int WriteLength, int LastWrite, bool Alone);

    /// <summary>The guest has BATCH: several entries per exchange, and chases.</summary>
    public bool BatchMode { get; private set; }

    public int Count { get; private set; }

    public bool IsEmpty => Count == 0;

    /// <summary>Chased entries can be planned (otherwise pointers are read first and resolved on the host).</summary>
    public bool CanChase => BatchMode;

    public ReadOnlySpan<WireEntry> Entries => _entries.AsSpan(0, Count);

    public ref readonly WireEntry this[int index] => ref _entries[index];

    public ReadOnlySpan<byte> WriteBuffer => _writeBuffer.AsSpan(0, _writeLength);

    /// <summary>One unchased entry goes as a plain op: no batch overhead, and any guest understands it.</summary>
    public bool SendsAlone => Count == 1 && !_entries[0].Chase;

    public void Reset(bool batchMode)
    {
        BatchMode = batchMode;
        Count = 0;
        _requestBytes = _responseBytes = _writeLength = 0;
        _lastWrite = -1;
        _alone = false;
    }

    public Mark Save() => new(Count, _requestBytes, _responseBytes, _writeLength, _lastWrite, _alone);

    public void Rollback(Mark mark) =>
        (Count, _requestBytes, _responseBytes, _writeLength, _lastWrite, _alone) =
        (mark.Count, mark.RequestBytes, mark.ResponseBytes, mark.WriteLength, mark.LastWrite, mark.Alone);

    /// <summary>Most bytes a read entry could carry if added now; -1 when no entry fits any more.</summary>
    public int ReadRoom(bool chase)
    {
        if (!HasRoomForEntry(chase))
            return -1;
        if (Count == 0 && !chase)
            return Capacity;                        // alone if it has to be
        if (_requestBytes + BatchWire.EntryHeaderLength > Capacity)
            return -1;
        var room = Capacity - _responseBytes - BatchWire.ResultHeaderLength;
        return room < 0 ? -1 : room & ~7;
    }

    /// <summary>Most bytes a write entry could carry if added now; -1 when no entry fits any more.</summary>
    public int WriteRoom(bool chase)
    {
        if (!HasRoomForEntry(chase))
            return -1;
        if (Count == 0 && !chase)
            return Capacity;
        if (_responseBytes + BatchWire.ResultHeaderLength > Capacity)
            return -1;
        var room = Capacity - _requestBytes - BatchWire.EntryHeaderLength;
        return room < 0 ? -1 : room & ~7;
    }

    private bool HasRoomForEntry(bool chase) =>
        !_alone && Count < BatchWire.MaxEntries && (BatchMode ? true : Count == 0 && !chase);

    /// <summary>Adds a read-type entry; returns its index, or -1 when it does not fit.</summary>
    /// <param name="op">READ, READ_STR, READ_FD_NAME, READ_PROCARGS, READ_PROCENV or READ_PROCPID.</param>
    /// <param name="size">Its size, or for a flexible entry the least it accepts.</param>
    /// <param name="address">Where it reads.</param>
    /// <param name="desired">A flexible entry: the most it wants (0: fixed size).</param>
    public int AddRead(PortalOp op, int size, in EntryAddress address, int desired = 0)
    {
        var entry = new WireEntry { Op = op, Size = size, Address = address.Address, Chase = address.Chase, Base = address.Base, PointerOffset = address.PointerOffset };
        return Add(entry, address.Key, desired);
    }

    /// <summary>Adds a WRITE of <paramref name="data"/>; returns its index, or -1 when it does not fit.</summary>
    public int AddWrite(in EntryAddress address, ReadOnlySpan<byte> data)
    {
        var entry = new WireEntry
        {
            Op = PortalOp.Write, Size = data.Length, Address = address.Address, Chase = address.Chase, Base = address.Base,
            PointerOffset = address.PointerOffset, DataStart = _writeLength,
        };
        var index = Add(entry, address.Key, 0);
        if (index >= 0)
        {
            data.CopyTo(_writeBuffer.AsSpan(_writeLength));
            _writeLength += data.Length;
            _lastWrite = index;
        }
        return index;
    }

    private int Add(in WireEntry entry, GuestLocation key, int desired)
    {
        if (!HasRoomForEntry(entry.Chase))
            return -1;
        var request = BatchWire.RequestLength(entry);
        var response = BatchWire.ResponseLength(entry);
        var alone = false;
        if (!BatchMode || _requestBytes + request > Capacity || _responseBytes + response > Capacity)
        {
            // Too big for a batch entry: it can still go alone as a plain op, first and unchased.
            if (Count > 0 || entry.Chase || entry.Size > Capacity || _writeLength + (entry.Op == PortalOp.Write ? entry.Size : 0) > Capacity)
                return -1;
            alone = true;
        }
        var index = Count++;
        _entries[index] = entry;
        _plans[index] = new EntryPlan { Key = key, Flexible = desired > 0, Desired = desired };
        _requestBytes += request;
        _responseBytes += response;
        _alone = alone;
        return index;
    }

    /// <summary>
    /// Finds a fixed-size READ in this batch, after its last write, whose result holds the pointer
    /// stored at <paramref name="slot"/>, so a chase can use it instead of reading the pointer again.
    /// </summary>
    public bool TryFindPointer(GuestLocation slot, int pointerSize, out int baseIndex, out int offset)
    {
        for (var i = _lastWrite + 1; i < Count; i++)
        {
            ref readonly var entry = ref _entries[i];
            ref readonly var plan = ref _plans[i];
            if (entry.Op != PortalOp.Read || plan.Flexible || !Equals(plan.Key.Via, slot.Via) || slot.Offset < plan.Key.Offset)
                continue;
            var distance = slot.Offset - plan.Key.Offset;
            if (distance <= (ulong)(entry.Size - pointerSize) && entry.Size >= pointerSize)
            {
                baseIndex = i;
                offset = (int)distance;
                return true;
            }
        }
        baseIndex = offset = 0;
        return false;
    }

    /// <summary>Grows the flexible entries into the room left, evenly, each up to what it wants.</summary>
    public void FinishSizes()
    {
        if (SendsAlone)
        {
            if (_plans[0].Flexible)
                _entries[0].Size = Math.Min(_plans[0].Desired, Capacity);
            return;
        }
        var left = Capacity - _responseBytes;
        while (left >= 8)
        {
            var wanting = 0;
            for (var i = 0; i < Count; i++)
                if (_plans[i].Flexible && BatchWire.Pad(_entries[i].Size) < BatchWire.Pad(_plans[i].Desired))
                    wanting++;
            if (wanting == 0)
                return;
            var share = Math.Max(8, (left / wanting) & ~7);
            for (var i = 0; i < Count && left >= 8; i++)
            {
                ref var entry = ref _entries[i];
                var padded = BatchWire.Pad(entry.Size);
                var want = BatchWire.Pad(_plans[i].Desired) - padded;
                if (!_plans[i].Flexible || want <= 0)
                    continue;
                var grow = Math.Min(Math.Min(share, want), left & ~7);
                entry.Size = Math.Min(_plans[i].Desired, padded + grow);
                left -= grow;
                _responseBytes += grow;
            }
        }
    }
}
