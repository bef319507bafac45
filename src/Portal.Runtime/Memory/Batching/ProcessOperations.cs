using System.Buffers;
using System.Text;
using Portal.Abi;
using System.Threading.Tasks.Sources;
using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>
/// The path of a file descriptor. The window starts flexible; a name cut short (ENAMETOOLONG) in a
/// window smaller than a region is asked again with a whole region, alone.
/// </summary>
internal sealed class FdNameOperation : AwaitedOperation, IOperationResult<string>
{
    private const int MinimumWindow = 256;
    private readonly int _fd;
    private bool _wholeRegion;
    private int _entry = -1;
    private string _name = "";

    public FdNameOperation(BatchPlanner planner, int fd, CancellationToken cancellationToken) : base(planner)
    {
        Begin(cancellationToken);
        _fd = fd;
    }

    public override bool IsWrite => false;

    public override bool MayContinue => !_wholeRegion;

    public override bool MayRead(ulong start, ulong end) => false;     // a kernel path, not the process's memory

    public override bool TryPlan(BatchBuilder batch)
    {
        var minimum = _wholeRegion ? BatchBuilder.Capacity : MinimumWindow;
        _entry = batch.ReadRoom(chase: false) < minimum ? -1
            : batch.AddRead(PortalOp.ReadFdName, minimum, EntryAddress.Absolute((ulong)(long)_fd), _wholeRegion ? 0 : BatchBuilder.Capacity);
        return _entry >= 0;
    }

    public override void Deliver(BatchResults results)
    {
        ref readonly var result = ref results[_entry];
        var window = results.Batch[_entry].Size;
        if (result.Status == EntryStatus.Ok)
        {
            _name = Encoding.UTF8.GetString(results.Bytes(_entry));
            Succeed();
        }
        else if (result.Status == EntryStatus.Partial && window < BatchBuilder.Capacity
            && Planner.Abi.ToErrno(result.Errno) == GuestErrno.ENAMETOOLONG)
            _wholeRegion = true;                                        // ask again with room for the whole name
        else
            Fail(Faults.Failed(Planner.Abi, PortalOp.ReadFdName, result.Errno, $"Reading the name of fd {_fd}"));
    }

    string IValueTaskSource<string>.GetResult(short token)
    {
        Consume(token);
        return _name;
    }
}

/// <summary>
/// The held process's argument or environment block: a flexible first window (the guest says the
/// block's total length), then exactly what remains. Grown as bytes arrive: the total is the
/// guest's claim, not a size to allocate up front.
/// </summary>
internal sealed class BlockOperation : AwaitedOperation, IOperationResult<IReadOnlyList<string>>, IOperationResult<IReadOnlyDictionary<string, string>>
{
    private const int MinimumWindow = 256;
    private readonly PortalOp _op;
    private readonly ArrayBufferWriter<byte> _block = new();
    private long? _total;
    private int _entry = -1;

    public BlockOperation(BatchPlanner planner, PortalOp op, CancellationToken cancellationToken) : base(planner)
    {
        Begin(cancellationToken);
        _op = op;
    }

    public override bool IsWrite => false;

    public override bool MayContinue => _total is not { } total || total - _block.WrittenCount > BatchBuilder.Capacity;

    private string What => _op == PortalOp.ReadProcArgs ? "arguments" : "environment";

    public override bool TryPlan(BatchBuilder batch)
    {
        var remaining = _total is { } total ? (int)Math.Min(BatchBuilder.Capacity, total - _block.WrittenCount) : BatchBuilder.Capacity;
        var minimum = Math.Min(remaining, MinimumWindow);
        _entry = batch.ReadRoom(chase: false) < minimum ? -1
            : batch.AddRead(_op, minimum, EntryAddress.Absolute((ulong)_block.WrittenCount), remaining > minimum ? remaining : 0);
        return _entry >= 0;
    }

    public override void Deliver(BatchResults results)
    {
        ref readonly var result = ref results[_entry];
        if (result.Status != EntryStatus.Ok)
        {
            Fail(Faults.Failed(Planner.Abi, _op, result.Errno, $"Reading the {What} (stopped after {_block.WrittenCount} bytes)"));
            return;
        }
        if (_total is { } known && known != result.Extra)
        {
            Fail(new PortalProtocolException($"Guest changed the length of the {_op} block from {known} to {result.Extra} while it was read."));
            return;
        }
        _total = result.Extra;
        _block.Write(results.Bytes(_entry));
        if (_block.WrittenCount >= _total)
            Succeed();
    }

    /// <summary>Splits the block's NUL-terminated strings (the last NUL may be missing).</summary>
    private string[] Strings()
    {
        if (_block.WrittenCount == 0)
            return [];
        var text = Encoding.UTF8.GetString(_block.WrittenSpan);
        if (text.EndsWith('\0'))
            text = text[..^1];
        return text.Split('\0');
    }

    IReadOnlyList<string> IValueTaskSource<IReadOnlyList<string>>.GetResult(short token)
    {
        Consume(token);
        return Strings();
    }

    /// <summary>As an environment: when a name appears twice the first entry wins, as with <c>getenv</c>; an entry without <c>=</c> maps to "".</summary>
    IReadOnlyDictionary<string, string> IValueTaskSource<IReadOnlyDictionary<string, string>>.GetResult(short token)
    {
        Consume(token);
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in Strings())
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            environment.TryAdd(equals < 0 ? entry : entry[..equals], equals < 0 ? "" : entry[(equals + 1)..]);
        }
        return environment;
    }
}

/// <summary>The held process's id (its tgid).</summary>
internal sealed class PidOperation : AwaitedOperation, IOperationResult<int>
{
    private int _entry = -1;
    private int _pid;

    public PidOperation(BatchPlanner planner, CancellationToken cancellationToken) : base(planner) => Begin(cancellationToken);

    public override bool IsWrite => false;

    public override bool TryPlan(BatchBuilder batch)
    {
        _entry = batch.AddRead(PortalOp.ReadProcPid, 0, EntryAddress.Absolute(0));
        return _entry >= 0;
    }

    public override void Deliver(BatchResults results)
    {
        ref readonly var result = ref results[_entry];
        if (result.Status == EntryStatus.Ok)
        {
            _pid = result.Count;
            Succeed();
        }
        else
            Fail(Faults.Failed(Planner.Abi, PortalOp.ReadProcPid, result.Errno, "Reading the process id"));
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        Consume(token);
        return _pid;
    }
}
