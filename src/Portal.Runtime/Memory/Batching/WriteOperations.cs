using System.Buffers;
using System.Threading.Tasks.Sources;
using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>A write's fault, kept until someone sees it (the awaiter, a flush, or the end-of-handler log).</summary>
internal sealed class WriteFault(GuestFaultException exception)
{
    public GuestFaultException Exception { get; } = exception;

    public bool Observed { get; set; }
}

/// <summary>
/// Writes bytes, in pieces when they do not fit one entry (a piece of 4072 bytes goes alone as a
/// plain WRITE). Pooled; the data is copied when the operation starts, so the caller's buffer is
/// free at once. Awaited, it reports its fault; staged (not awaited), the fault goes to the
/// planner's list.
/// </summary>
internal sealed class WriteOperation(BatchPlanner planner) : TargetedOperation(planner), IOperationResult
{
    private const int MinimumPiece = 256;
    private byte[] _data = [];
    private int _length;
    private int _done;
    private int _piece;
    private WriteFault? _fault;

    public override bool IsWrite => true;

    public override bool MayContinue => PointerOnly || _done + _piece < _length;

    public void Start(GuestLocation location, ReadOnlySpan<byte> data, CancellationToken cancellationToken)
    {
        Begin(cancellationToken);
        StartAt(location);
        if (_data.Length < data.Length)
        {
            if (_data.Length > 0)
                ArrayPool<byte>.Shared.Return(_data);
            _data = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 16));
        }
        data.CopyTo(_data);
        _length = data.Length;
        _done = 0;
        _piece = 0;
        _fault = null;
    }

    public override bool TryPlan(BatchBuilder batch)
    {
        _piece = 0;
        var remaining = _length - _done;
        switch (PlanTarget(batch, PortalOp.Write, _done, remaining, out var address))
        {
            case TargetStep.NoRoom:
                return false;
            case TargetStep.Planned:
                return true;
        }
        var piece = Math.Min(remaining, batch.WriteRoom(address.Chase));
        if (piece <= 0 || (piece < remaining && piece < MinimumPiece))
            return false;
        Entry = batch.AddWrite(address, _data.AsSpan(_done, piece));
        _piece = piece;
        return Entry >= 0;
    }

    public override void Deliver(BatchResults results)
    {
        if (!TryTakeResult(results, PortalOp.Write, out var result))
            return;
        _done += result.Count;
        if (result.Status == EntryStatus.Ok)
        {
            if (_done == _length)
                Succeed();
            return;
        }
        Fail(Faults.Write(Planner.Abi, Target.Address ?? 0, Target.ToString(), _length, _done, result.Errno));
    }

    /// <summary>Every failure is also a write fault on record, so a staged write nobody awaits is not lost silently.</summary>
    public override void Fail(Exception exception)
    {
        _fault ??= Planner.RecordWriteFault(exception as GuestFaultException ?? new GuestFaultException(PortalOp.Write, Target.Address ?? 0, _done,
            (exception as GuestOperationException)?.Errno ?? 0, (exception as GuestOperationException)?.NativeErrno ?? 0,
            $"Write of {_length} bytes at {Target} was not delivered: {exception.Message}"));
        base.Fail(exception);
    }

    public override bool MayChange(PendingOperation reader) =>
        Target.Address is not { } start || reader.MayRead(start + (ulong)_done, start + (ulong)_length);

    public override bool Overlay(ulong address, Span<byte> destination, Span<bool> covered) =>
        Target.Address is { } start && WriteOverlay.Apply(start, _data.AsSpan(0, _length), address, destination, covered);

    /// <summary>The write as a verdict write, when its address is known.</summary>
    public bool TryGetVerdictWrite(out VerdictWrite write)
    {
        write = Target.Address is { } start && _done == 0 ? new VerdictWrite(start, _data.AsMemory(0, _length)) : default;
        return Target.Address is not null && _done == 0;
    }

    void IValueTaskSource.GetResult(short token)
    {
        Consume(token);
        Planner.Return(this);
    }

    protected override void Released(Exception observedError)
    {
        _fault?.Observed = true;
        Planner.Return(this);
    }

}

/// <summary>
/// Staged writes to known addresses, merged as they arrive: overlapping or adjacent ranges become
/// one range (later bytes win), so a run of setters and WriteX calls goes out as the fewest
/// contiguous writes. Nobody awaits it; faults go to the planner's list. Once planned into an
/// exchange it is sealed and new staged writes start a new run behind it.
/// </summary>
internal sealed class StagedWriteRun(BatchPlanner planner) : PendingOperation
{
    private const int MinimumPiece = 256;
    private readonly List<(ulong Start, byte[] Bytes)> _ranges = [];
    private readonly List<(int Entry, int Range, int Offset, int Length)> _planned = [];
    private int _range;
    private int _offset;

    public override bool IsWrite => true;

    /// <summary>Planned into an exchange: no more writes join it.</summary>
    public bool Sealed { get; private set; }

    public override bool MayContinue => _range < _ranges.Count;

    public IReadOnlyList<(ulong Start, byte[] Bytes)> Ranges => _ranges;

    /// <summary>Merges <paramref name="data"/> at <paramref name="address"/> (the caller checked the range does not wrap).</summary>
    public void Add(ulong address, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return;
        var start = address;
        var end = address + (ulong)data.Length;
        var first = 0;
        while (first < _ranges.Count && RangeEnd(first) < start)
            first++;
        var last = first;
        while (last < _ranges.Count && _ranges[last].Start <= end)
            last++;
        if (last > first)
        {
            start = Math.Min(start, _ranges[first].Start);
            end = Math.Max(end, RangeEnd(last - 1));
        }
        var merged = new byte[checked((int)(end - start))];
        for (var i = first; i < last; i++)
            _ranges[i].Bytes.CopyTo(merged, (int)(_ranges[i].Start - start));
        data.CopyTo(merged.AsSpan((int)(address - start)));
        _ranges.RemoveRange(first, last - first);
        _ranges.Insert(first, (start, merged));
    }

    private ulong RangeEnd(int index) => _ranges[index].Start + (ulong)_ranges[index].Bytes.Length;

    public override bool TryPlan(BatchBuilder batch)
    {
        Sealed = true;
        _planned.Clear();
        var range = _range;
        var offset = _offset;
        while (range < _ranges.Count)
        {
            var (start, bytes) = _ranges[range];
            var remaining = bytes.Length - offset;
            var piece = Math.Min(remaining, batch.WriteRoom(chase: false));
            if (piece <= 0 || (piece < remaining && piece < MinimumPiece))
                break;
            var entry = batch.AddWrite(EntryAddress.Absolute(start + (ulong)offset), bytes.AsSpan(offset, piece));
            if (entry < 0)
                break;
            _planned.Add((entry, range, offset, piece));
            offset += piece;
            if (offset == bytes.Length)
                (range, offset) = (range + 1, 0);
        }
        (_range, _offset) = (range, offset);
        return _planned.Count > 0;
    }

    public override void Deliver(BatchResults results)
    {
        foreach (var (entry, range, offset, length) in _planned)
        {
            ref readonly var result = ref results[entry];
            if (result.Status != EntryStatus.Ok)
            {
                var start = _ranges[range].Start + (ulong)offset;
                planner.RecordWriteFault(Faults.Write(planner.Abi, start, $"0x{start:x}", length, result.Count, result.Errno));
            }
        }
        _planned.Clear();
        Finished = _range >= _ranges.Count;
    }

    public override void Fail(Exception exception)
    {
        foreach (var (_, range, offset, length) in _planned)
        {
            var start = _ranges[range].Start + (ulong)offset;
            var errno = exception is GuestOperationException refused ? refused.NativeErrno : 0;
            planner.RecordWriteFault(new GuestFaultException(PortalOp.Write, start, 0, planner.Abi.ToErrno(errno), errno,
                $"Staged write of {length} bytes at 0x{start:x} was not delivered: {exception.Message}"));
        }
        _planned.Clear();
        Finished = _range >= _ranges.Count;
    }

    public override bool MayChange(PendingOperation reader)
    {
        for (var i = _range; i < _ranges.Count; i++)
        {
            var (start, bytes) = _ranges[i];
            var from = i == _range ? start + (ulong)_offset : start;
            if (reader.MayRead(from, start + (ulong)bytes.Length))
                return true;
        }
        return false;
    }

    public override bool Overlay(ulong address, Span<byte> destination, Span<bool> covered)
    {
        for (var i = _ranges.Count - 1; i >= 0; i--)
            WriteOverlay.Apply(_ranges[i].Start, _ranges[i].Bytes, address, destination, covered);
        return true;
    }
}

/// <summary>Copies the part of a write that falls in a window, where the window is not yet covered by a later write.</summary>
internal static class WriteOverlay
{
    public static bool Apply(ulong writeStart, ReadOnlySpan<byte> data, ulong windowStart, Span<byte> window, Span<bool> covered)
    {
        var writeEnd = writeStart + (ulong)data.Length;
        var windowEnd = windowStart + (ulong)window.Length;
        var from = Math.Max(writeStart, windowStart);
        var to = Math.Min(writeEnd, windowEnd);
        for (var a = from; a < to; a++)
        {
            var i = (int)(a - windowStart);
            if (!covered[i])
            {
                window[i] = data[(int)(a - writeStart)];
                covered[i] = true;
            }
        }
        return true;
    }
}
