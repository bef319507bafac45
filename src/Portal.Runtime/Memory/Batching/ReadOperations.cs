using System.Text;
using System.Threading.Tasks.Sources;
using Portal.Abi;
using Portal.Protocol;
using Portal.Typed;

namespace Portal.Memory.Batching;

/// <summary>
/// Reads a run of bytes: one entry when it fits the batch, else pieces over several exchanges (a
/// read of 4072 bytes or more goes as plain READs, which carry a whole region each).
/// </summary>
internal abstract class MemoryReadOperation(BatchPlanner planner) : TargetedOperation(planner)
{
    /// <summary>Reads smaller than this are not split across exchanges (not worth the extra round trip).</summary>
    private const int MinimumPiece = 256;

    private int _length;
    private int _done;
    private int _piece;

    public override bool IsWrite => false;

    public override bool MayContinue => PointerOnly || _done + _piece < _length;

    public override bool MayRead(ulong start, ulong end) =>
        Target.Address is not { } address || Overlaps(End(address, (ulong)(_done + _piece)), End(address, (ulong)_length), start, end);

    /// <summary>The absolute address read, once known (after the first exchange for an indirect location).</summary>
    public ulong? Address => Target.Address;

    protected int Length => _length;

    /// <summary>Where the bytes go (<see cref="Length"/> of them).</summary>
    protected abstract Span<byte> Destination { get; }

    protected void BeginRead(GuestLocation location, int length, CancellationToken cancellationToken)
    {
        Begin(cancellationToken);
        StartAt(location);
        _length = length;
        _done = 0;
        _piece = 0;
    }

    public override bool TryPlan(BatchBuilder batch)
    {
        _piece = 0;
        var remaining = _length - _done;
        switch (PlanTarget(batch, PortalOp.Read, _done, remaining, out var address))
        {
            case TargetStep.NoRoom:
                return false;
            case TargetStep.Planned:
                return true;
        }
        var room = batch.ReadRoom(address.Chase);
        var piece = Math.Min(remaining, room);
        if (piece <= 0 || (piece < remaining && piece < MinimumPiece))
            return false;
        Entry = batch.AddRead(PortalOp.Read, piece, address);
        _piece = piece;
        return Entry >= 0;
    }

    public override void Deliver(BatchResults results)
    {
        if (!TryTakeResult(results, PortalOp.Read, out var result))
            return;
        results.Bytes(Entry).CopyTo(Destination[_done..]);
        _done += result.Count;
        if (result.Status == EntryStatus.Ok)
        {
            if (_done == _length)
                Succeed();
            return;
        }
        var start = Target.Address ?? 0;
        Fail(Faults.Read(Planner.Abi, PortalOp.Read, start, Target.ToString(), _length, Destination[.._done].ToArray(), result.Errno));
    }
}

/// <summary>A 1-, 2-, 4- or 8-byte integer (pooled: scalar reads allocate nothing).</summary>
internal sealed class ScalarReadOperation(BatchPlanner planner) : MemoryReadOperation(planner), IOperationResult<uint>, IOperationResult<ulong>
{
    private readonly byte[] _bytes = new byte[8];

    protected override Span<byte> Destination => _bytes.AsSpan(0, Length);

    public void Start(GuestLocation location, int size, CancellationToken cancellationToken) => BeginRead(location, size, cancellationToken);

    private ulong Take(short token)
    {
        Consume(token);
        var abi = Planner.Abi;
        var value = Length switch
        {
            1 => _bytes[0],
            2 => abi.ReadUInt16(_bytes),
            4 => abi.ReadUInt32(_bytes),
            _ => abi.ReadUInt64(_bytes),
        };
        Planner.Return(this);
        return value;
    }

    protected override void Released(Exception observedError) => Planner.Return(this);

    uint IValueTaskSource<uint>.GetResult(short token) => (uint)Take(token);
    ulong IValueTaskSource<ulong>.GetResult(short token) => Take(token);
}

/// <summary>Bytes into a caller's buffer (<see cref="IValueTaskSource"/>) or a new array (<see cref="IValueTaskSource{TResult}"/>).</summary>
internal class BytesReadOperation : MemoryReadOperation, IOperationResult, IOperationResult<byte[]>
{
    private readonly Memory<byte> _destination;

    public BytesReadOperation(BatchPlanner planner, GuestLocation location, Memory<byte> destination, CancellationToken cancellationToken)
        : base(planner)
    {
        _destination = destination;
        BeginRead(location, destination.Length, cancellationToken);
    }

    protected override Span<byte> Destination => _destination.Span;

    /// <summary>The bytes, when the destination is an array of exactly that length (the <c>byte[]</c> overloads).</summary>
    protected byte[] Buffer => System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(_destination, out var segment) && segment.Offset == 0
        && segment.Count == segment.Array!.Length ? segment.Array : _destination.ToArray();

    void IValueTaskSource.GetResult(short token) => Consume(token);
    byte[] IValueTaskSource<byte[]>.GetResult(short token)
    {
        Consume(token);
        return Buffer;
    }
}

/// <summary>A generated record: its bytes, bound as a snapshot at the address they came from.</summary>
internal sealed class RecordLoadOperation<T>(BatchPlanner planner, GuestLocation location, int size, CancellationToken cancellationToken)
    : BytesReadOperation(planner, location, new byte[size], cancellationToken), IOperationResult<T>
    where T : struct, IGuestRecord<T>
{
    T IValueTaskSource<T>.GetResult(short token)
    {
        Consume(token);
        return T.Bind(new RecordView(Buffer, 0, Planner.Abi, Address!.Value, Planner.Memory, new ChangeSet()));
    }
}

/// <summary>One member (a scalar or a pointer), decoded from its bytes.</summary>
internal sealed class FieldReadOperation<T>(BatchPlanner planner, GuestLocation location, int size, Func<RecordView, T> decode,
    CancellationToken cancellationToken)
    : BytesReadOperation(planner, location, new byte[size], cancellationToken), IOperationResult<T>
{
    T IValueTaskSource<T>.GetResult(short token)
    {
        Consume(token);
        return decode(new RecordView(Buffer, 0, Planner.Abi, Address!.Value, Planner.Memory, new ChangeSet()));
    }
}

/// <summary>
/// A NUL-terminated string, window by window. The first window is flexible: it takes what the batch
/// has left (at least <see cref="MinimumWindow"/> bytes), so a short string rides along with other
/// reads; a string longer than its window continues in the next exchange.
/// </summary>
internal sealed class StringReadOperation : TargetedOperation, IOperationResult<string>, IOperationResult<byte[]>
{
    private const int MinimumWindow = 64;
    private readonly int _maxLength;
    private byte[] _text;
    private int _length;

    public StringReadOperation(BatchPlanner planner, GuestLocation location, int maxLength, CancellationToken cancellationToken) : base(planner)
    {
        Begin(cancellationToken);
        _maxLength = maxLength;
        StartAt(location);
        _text = new byte[Math.Min(maxLength, 256)];
    }

    public override bool IsWrite => false;

    public override bool MayContinue => true;        // the NUL may lie beyond the window

    public override bool MayRead(ulong start, ulong end) =>
        Target.Address is not { } address || Overlaps(End(address, (ulong)_length), End(address, (ulong)_maxLength + 1), start, end);

    public override bool TryPlan(BatchBuilder batch)
    {
        // Scan one byte beyond maxLength so that a string of exactly maxLength bytes still finds its NUL.
        var desired = (int)Math.Min(BatchBuilder.Capacity, (long)_maxLength + 1 - _length);
        switch (PlanTarget(batch, PortalOp.ReadStr, _length, desired, out var address))
        {
            case TargetStep.NoRoom:
                return false;
            case TargetStep.Planned:
                return true;
        }
        var minimum = Math.Min(desired, MinimumWindow);
        if (batch.ReadRoom(address.Chase) < minimum)
            return false;
        Entry = batch.AddRead(PortalOp.ReadStr, minimum, address, desired > minimum ? desired : 0);
        return Entry >= 0;
    }

    public override void Deliver(BatchResults results)
    {
        if (!TryTakeResult(results, PortalOp.ReadStr, out var result))
            return;
        var window = results.Batch[Entry].Size;
        if (_length + result.Count > _text.Length)
            Array.Resize(ref _text, Math.Max(_text.Length * 2, _length + result.Count));
        results.Bytes(Entry).CopyTo(_text.AsSpan(_length));
        _length += result.Count;
        if (result.Status != EntryStatus.Ok)
        {
            var start = Target.Address ?? 0;
            Fail(Faults.Read(Planner.Abi, PortalOp.ReadStr, start, Target.ToString(), _length + 1, _text.AsSpan(0, _length).ToArray(), result.Errno));
        }
        else if (result.Count < window)
            Succeed();                                                  // the NUL was in the window
        else if (_length > _maxLength)
            Fail(new GuestOperationException(PortalOp.ReadStr, GuestErrno.ENAMETOOLONG, Planner.Abi.ToNativeErrno(GuestErrno.ENAMETOOLONG),
                $"The string at {Target} has no NUL within {_maxLength} bytes (raise maxLength to read longer strings)."));
    }

    private byte[] Bytes => _length == _text.Length ? _text : _text[.._length];

    byte[] IValueTaskSource<byte[]>.GetResult(short token)
    {
        Consume(token);
        return Bytes;
    }

    string IValueTaskSource<string>.GetResult(short token)
    {
        Consume(token);
        return Encoding.UTF8.GetString(_text, 0, _length);
    }

}
