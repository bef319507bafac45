using System.Buffers;
using Portal.Abi;
using Portal.Channels;
using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>
/// The queue behind one handler's <see cref="GuestMemory"/>. Operations are queued when they start
/// and sent when somebody first waits for one of them: then everything queued goes out together,
/// packed into as few exchanges as the protocol allows (one BATCH per 4072 bytes; one plain op per
/// exchange on a guest without BATCH), in program order. Staged writes (setters, writes inside a
/// <see cref="GuestBatch"/>) complete at once and ride on the next exchange, or on the verdict.
/// </summary>
/// <remarks>
/// Order: each exchange executes its entries in order, and the planner never lets a write overtake
/// an operation queued before it, nor an operation overtake an unfinished write; a write joins an
/// exchange after a read that may continue in a later one (a string whose NUL is not yet found)
/// only when it cannot change what that read has left to read. A read that the
/// queued writes fully determine is answered from them without an exchange (read-your-writes).
/// <para>Concurrency: the handler's code and the run loop may run on different threads (a continuation
/// registered just after its operation completed runs on the thread pool while the loop goes on), so
/// the queue and the loop's state are touched only under <c>_gate</c>; waiters are woken outside it.
/// The loop runs only while someone waits for a queued operation (<see cref="PendingOperation.Demanded"/>):
/// staged writes alone never start or prolong an exchange, so they ride on the next exchange somebody
/// needs anyway, or on the verdict (issue: an extra exchange after the handler returned, 0–6 per 2,000 calls).</para>
/// </remarks>
internal sealed class BatchPlanner
{
    private const int MaxLocalRead = BatchWorkspace.MaxLocalRead;

    private readonly SlotLease _lease;
    private readonly bool _batchMode;
    private readonly bool _verdictWrites;
    private readonly CancellationToken _defaultToken;
    private readonly List<PendingOperation> _queue = [];
    private readonly List<PendingOperation> _planned = [];
    private readonly List<PendingOperation> _finished = [];
    private readonly List<PendingOperation> _openReads = [];
    private readonly List<WriteFault> _faults = [];
    private BatchWorkspace? _workspace;
    private readonly Stack<ScalarReadOperation> _scalarPool = new();
    private readonly Stack<WriteOperation> _writePool = new();
    private readonly Lock _gate = new();
    private bool _running;      // under _gate
    private bool _exchanging;   // under _gate: the run loop awaits an exchange (rather than delivering, or signalling waiters)
    private TaskCompletionSource? _landed;      // under _gate: made by a FinishAsync that waits for the exchange under way to be delivered
    private bool _ended;

    public BatchPlanner(GuestMemory memory, SlotLease lease, GuestAbi abi, GuestFeatures features, CancellationToken cancellationToken)
    {
        Memory = memory;
        _lease = lease;
        Abi = abi;
        _batchMode = features.HasFlag(GuestFeatures.Batch);
        _verdictWrites = features.HasFlag(GuestFeatures.VerdictWrites);
        _defaultToken = cancellationToken;
    }

    public GuestAbi Abi { get; }

    /// <summary>Rented on first use, returned by <see cref="FinishAsync"/>.</summary>
    private BatchWorkspace Workspace => _workspace ??= BatchWorkspace.Rent();

    public GuestMemory Memory { get; }

    /// <summary>Nesting depth of open <see cref="GuestBatch"/> scopes: writes are staged while it is above 0.</summary>
    public int StagingDepth { get; set; }

    // ---- queueing ---------------------------------------------------------------------------------

    public void Enqueue(PendingOperation operation)
    {
        lock (_gate)
        {
            ThrowIfEnded();
            _queue.Add(operation);
        }
    }

    public ScalarReadOperation RentScalar() => _scalarPool.TryPop(out var op) ? op : new ScalarReadOperation(this);

    public WriteOperation RentWrite() => _writePool.TryPop(out var op) ? op : new WriteOperation(this);

    public void Return(ScalarReadOperation operation) => _scalarPool.Push(operation);

    public void Return(WriteOperation operation) => _writePool.Push(operation);

    /// <summary>Stages a write to a known address: merged into the run at the end of the queue, nobody waits.</summary>
    public void Stage(ulong address, ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            ThrowIfEnded();
            if (_queue.Count == 0 || _queue[^1] is not StagedWriteRun { Sealed: false } run)
            {
                run = new StagedWriteRun(this);
                _queue.Add(run);
            }
            run.Add(address, data);
        }
    }

    /// <summary>
    /// The bytes at [address, address + destination.Length) as the queued writes leave them, if they
    /// cover every byte (false otherwise, or when a queued write's address is not known on the host).
    /// </summary>
    public bool TryReadQueuedWrites(ulong address, Span<byte> destination)
    {
        lock (_gate)
            return TryReadQueuedWritesLocked(address, destination);
    }

    private bool TryReadQueuedWritesLocked(ulong address, Span<byte> destination)
    {
        if (destination.Length > MaxLocalRead || !HasQueuedWrites())
            return false;
        var covered = Workspace.Covered.AsSpan(0, destination.Length);
        covered.Clear();
        for (var i = _queue.Count - 1; i >= 0; i--)
        {
            if (_queue[i].IsWrite && !_queue[i].Overlay(address, destination, covered))
                return false;
        }
        return !covered.Contains(false);
    }

    /// <summary>A string's bytes (NUL excluded) if the queued writes determine them up to a NUL within <paramref name="window"/>.</summary>
    public bool TryReadQueuedString(ulong address, int window, out ReadOnlySpan<byte> text)
    {
        lock (_gate)
            return TryReadQueuedStringLocked(address, window, out text);
    }

    private bool TryReadQueuedStringLocked(ulong address, int window, out ReadOnlySpan<byte> text)
    {
        text = default;
        window = Math.Min(window, MaxLocalRead);
        if (!HasQueuedWrites() || address + (ulong)window < address)
            return false;
        var bytes = Workspace.Overlay.AsSpan(0, window);
        var covered = Workspace.Covered.AsSpan(0, window);
        covered.Clear();
        for (var i = _queue.Count - 1; i >= 0; i--)
        {
            if (_queue[i].IsWrite && !_queue[i].Overlay(address, bytes, covered))
                return false;
        }
        for (var i = 0; i < window && covered[i]; i++)
        {
            if (bytes[i] == 0)
            {
                text = bytes[..i];
                return true;
            }
        }
        return false;
    }

    private bool HasQueuedWrites()
    {
        foreach (var op in _queue)
            if (op.IsWrite)
                return true;
        return false;
    }

    public WriteFault RecordWriteFault(GuestFaultException exception)
    {
        var fault = new WriteFault(exception);
        lock (_gate)
            _faults.Add(fault);
        return fault;
    }

    // ---- running ----------------------------------------------------------------------------------

    /// <summary>
    /// Someone waits for <paramref name="operation"/>: send it and what is queued before it (unless a run is
    /// under way; it picks demanded operations up).
    /// </summary>
    public void Demand(PendingOperation operation, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            operation.Demanded = true;
            if (_running || !HasDemandedWork())
                return;
            _running = true;
        }
        _ = RunAsync(cancellationToken.CanBeCanceled ? cancellationToken : _defaultToken);
    }

    /// <summary>Whether someone waits for a queued operation (staged writes alone wait for the next exchange or the verdict).</summary>
    private bool HasDemandedWork()
    {
        foreach (var op in _queue)
            if (op.Demanded)
                return true;
        return false;
    }

    /// <summary>Sends everything queued (pending reads included), then throws the first write fault nobody has seen.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
            ThrowIfEnded();
        await SendAllAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (var fault in _faults)
            {
                if (!fault.Observed)
                {
                    fault.Observed = true;
                    throw fault.Exception;
                }
            }
        }
    }

    private ValueTask SendAllAsync(CancellationToken cancellationToken)
    {
        Barrier barrier;
        lock (_gate)
        {
            if (_queue.Count == 0 && !_running)
                return ValueTask.CompletedTask;
            barrier = new Barrier(this);
            _queue.Add(barrier);
        }
        Demand(barrier, cancellationToken);
        return barrier.Task;
    }

    /// <summary>
    /// After the handler: drops reads nobody awaited, and returns the queued writes for the verdict
    /// when they fit it (addresses known, guest takes verdict writes); otherwise sends them first.
    /// Returns the faults nobody observed. No operation is accepted afterwards.
    /// </summary>
    public async ValueTask<(IReadOnlyList<VerdictWrite> Writes, IReadOnlyList<GuestFaultException> Unobserved)> FinishAsync(CancellationToken cancellationToken)
    {
        List<VerdictWrite> writes = [];
        try
        {
            // Let an exchange under way land first (its operations are delivered), without sending the staged
            // writes on their own: they go on the verdict. Not waited for when the handler returned from inside
            // the run loop (resumed as the loop signalled its waiters): nothing is under way then.
            bool collected;
            while (true)
            {
                Task landing;
                lock (_gate)
                {
                    if (!_exchanging)
                    {
                        DropReads();
                        collected = TryCollectVerdictWrites(writes);
                        if (collected)
                            _queue.Clear();
                        _ended = collected;     // no operation is accepted afterwards (else once the rest is sent)
                        break;
                    }
                    _landed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);     // resumes on the pool, not in the loop
                    landing = _landed.Task;
                }
                await landing.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            SignalFinished();       // the dropped reads' waiters (there are none unless a detached task awaits them)
            if (!collected)
            {
                writes.Clear();
                await SendAllAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (_gate)
            {
                _ended = true;
                if (!_running && _workspace is not null)     // an exchange still under way (cancelled) keeps its workspace
                {
                    BatchWorkspace.Return(_workspace);
                    _workspace = null;
                }
            }
        }
        List<GuestFaultException> unobserved;
        lock (_gate)
            unobserved = _faults.Where(f => !f.Observed).Select(f => f.Exception).ToList();
        return (writes, unobserved);
    }

    /// <summary>Reads still queued when the handler returns were never awaited: they are not sent.</summary>
    private void DropReads()
    {
        var dropped = new InvalidOperationException("The handler returned before awaiting this operation; it was not sent.");
        foreach (var op in _queue)
        {
            if (!op.IsWrite)
            {
                op.Fail(dropped);
                _finished.Add(op);
            }
        }
        _queue.RemoveAll(op => !op.IsWrite);
    }

    /// <summary>
    /// Wakes the waiters of the operations in <see cref="_finished"/>. Their continuations run inline and
    /// may re-enter the planner (queue more, or finish the handler), so the list is emptied first.
    /// </summary>
    private void SignalFinished()
    {
        PendingOperation[] waking;
        int count;
        lock (_gate)
        {
            count = _finished.Count;
            if (count == 0)
                return;
            waking = ArrayPool<PendingOperation>.Shared.Rent(count);
            _finished.CopyTo(waking);
            _finished.Clear();
        }
        try
        {
            for (var i = 0; i < count; i++)
                waking[i].Signal();
        }
        finally
        {
            ArrayPool<PendingOperation>.Shared.Return(waking, clearArray: true);
        }
    }

    private bool TryCollectVerdictWrites(List<VerdictWrite> writes)
    {
        if (!_verdictWrites)
            return _queue.Count == 0;
        var length = Verdict.HeaderLength;
        foreach (var op in _queue)
        {
            switch (op)
            {
                case StagedWriteRun run:
                    foreach (var (start, bytes) in run.Ranges)
                        writes.Add(new VerdictWrite(start, bytes));
                    break;
                case WriteOperation write when write.TryGetVerdictWrite(out var verdictWrite):
                    writes.Add(verdictWrite);
                    break;
                default:
                    return false;
            }
        }
        foreach (var write in writes)
            length += Verdict.EntryLength(write.Data.Length);
        return length <= RegionLayout.DataCapacity;
    }

    /// <summary>
    /// The run loop: while someone waits for a queued operation, plan the next exchange, make it, deliver
    /// its results and wake the waiters (outside the lock: their code may run inline and queue more).
    /// Started by <see cref="Demand"/> with <see cref="_running"/> already set.
    /// </summary>
    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            bool exchange;
            lock (_gate)
            {
                if (!HasDemandedWork())
                {
                    _running = false;
                    if (_ended && _workspace is not null)    // the handler finished while this loop ran: its workspace goes back now
                    {
                        BatchWorkspace.Return(_workspace);
                        _workspace = null;
                    }
                    return;
                }
                try
                {
                    Plan();
                }
                catch (Exception e)
                {
                    // A fault in the planner itself: no waiter may hang on it.
                    foreach (var op in _queue)
                        op.Fail(e);
                    _planned.Clear();
                }
                exchange = _planned.Count > 0 && Workspace.Batch.Count > 0;
                _exchanging = exchange;
            }
            Exception? failure = null;
            if (exchange)
            {
                try
                {
                    await ExchangeAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }
            TaskCompletionSource? landed;
            lock (_gate)
            {
                foreach (var op in _planned)
                {
                    if (failure is null)
                        Deliver(op);
                    else
                        op.Fail(failure);
                }
                Retire();
                _exchanging = false;
                (landed, _landed) = (_landed, null);
            }
            landed?.TrySetResult();
            SignalFinished();
        }
    }

    /// <summary>Packs as many queued operations as fit, in order, into the next exchange.</summary>
    private void Plan()
    {
        var batch = Workspace.Batch;
        batch.Reset(_batchMode);
        _planned.Clear();
        var allWait = false;        // an earlier write is not done: nothing may overtake it
        _openReads.Clear();         // earlier reads that are not done: a write must not change what they read next
        foreach (var op in _queue)
        {
            if (allWait || (op.IsWrite && ChangesOpenReads(op)))
                break;
            var mark = batch.Save();
            if (!op.TryPlan(batch))
            {
                batch.Rollback(mark);
                break;
            }
            _planned.Add(op);
            if (!op.Finished && op.MayContinue)
            {
                if (op.IsWrite)
                    allWait = true;
                else
                    _openReads.Add(op);
            }
        }
        if (_planned.Count == 0)
            throw new InvalidOperationException($"The planner could not place {_queue[0].GetType().Name} in an empty batch.");
        batch.FinishSizes();
    }

    private ValueTask<bool> ExchangeAsync(CancellationToken cancellationToken) =>
        _lease.RoundTripAsync(this, static (planner, region) => planner.EncodeBatch(region), static (planner, region) => planner.DecodeBatch(region),
            cancellationToken);

    private void EncodeBatch(Span<byte> region)
    {
        var batch = Workspace.Batch;
        if (batch.SendsAlone)
            BatchWire.WriteSingle(region, batch[0], batch.WriteBuffer);
        else
            BatchWire.WriteBatch(region, batch.Entries, batch.WriteBuffer);
    }

    private bool DecodeBatch(Span<byte> region)
    {
        var (batch, results) = (Workspace.Batch, Workspace.Results);
        if (batch.SendsAlone)
        {
            var result = BatchWire.ReadSingle(region, batch[0]);
            results.Results[0] = result;
            if (batch[0].ReturnsData)
                Region.Data(region)[..result.Count].CopyTo(results.DataArea);
        }
        else
        {
            BatchWire.ReadBatch(region, batch.Entries, results.Results, Abi);
            Region.Data(region)[..(int)Region.Size(region)].CopyTo(results.DataArea);
        }
        return true;
    }

    private void Deliver(PendingOperation op)
    {
        try
        {
            op.Deliver(Workspace.Results);
        }
        catch (Exception e)
        {
            op.Fail(e);
        }
    }

    /// <summary>Moves finished operations to <see cref="_finished"/>; the loop wakes their waiters once it has left the lock.</summary>
    private void Retire()
    {
        var kept = 0;
        for (var i = 0; i < _queue.Count; i++)
        {
            var op = _queue[i];
            if (op.Finished)
                _finished.Add(op);
            else
                _queue[kept++] = op;
        }
        _queue.RemoveRange(kept, _queue.Count - kept);
    }

    private bool ChangesOpenReads(PendingOperation write)
    {
        foreach (var reader in _openReads)
            if (write.MayChange(reader))
                return true;
        return false;
    }

    private void ThrowIfEnded()
    {
        if (_ended)
            throw new InvalidOperationException("The handler this guest memory belongs to has returned; its syscall was released to the guest.");
    }

    /// <summary>Completes once everything queued before it is done (a flush).</summary>
    private sealed class Barrier : PendingOperation
    {
        // Continuations run inline, as for every other operation: no thread hop on the verdict path.
        private readonly TaskCompletionSource _done = new();
        private readonly BatchPlanner _planner;

        public Barrier(BatchPlanner planner) => _planner = planner;

        public ValueTask Task => new(_done.Task);

        public override bool IsWrite => false;

        public override bool TryPlan(BatchBuilder batch)
        {
            Finished = ReferenceEquals(_planner._queue[0], this);
            return Finished;
        }

        public override void Deliver(BatchResults results)
        {
        }

        public override void Fail(Exception exception)
        {
            Finished = true;
        }

        public override void Signal() => _done.TrySetResult();
    }
}
