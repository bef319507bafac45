using System.Threading.Tasks.Sources;

namespace Portal.Memory.Batching;

/// <summary>
/// One memory or process operation waiting in a <see cref="BatchPlanner"/>'s queue. The planner asks
/// it for entries (<see cref="TryPlan"/>) until it is <see cref="Finished"/>, handing it the results
/// of each exchange (<see cref="Deliver"/>); large or unbounded operations (a 64 KiB read, a long
/// string, an argument block) take several exchanges.
/// </summary>
internal abstract class PendingOperation
{
    /// <summary>Writes keep their order against what came before; the planner does not let them overtake.</summary>
    public abstract bool IsWrite { get; }

    /// <summary>Someone waits for it (its await asked, or a flush): the planner sends it and what is queued before it.</summary>
    public bool Demanded { get; set; }

    /// <summary>Done (succeeded or failed); the planner removes it and then calls <see cref="Signal"/>.</summary>
    public bool Finished { get; protected set; }

    /// <summary>After <see cref="TryPlan"/>: whether the operation might need another exchange even if this one succeeds.</summary>
    public virtual bool MayContinue => false;

    /// <summary>Adds this operation's next entries to <paramref name="batch"/>; false when they do not fit (the planner rolls back).</summary>
    /// <remarks>On an empty batch it must succeed, so that every exchange makes progress.</remarks>
    public abstract bool TryPlan(BatchBuilder batch);

    /// <summary>The results of the exchange the operation was last planned into.</summary>
    public abstract void Deliver(BatchResults results);

    /// <summary>The exchange failed as a whole (timeout, refused or malformed batch).</summary>
    public abstract void Fail(Exception exception);

    /// <summary>Wakes whoever awaits the operation (after the planner's bookkeeping, as it may run their code inline).</summary>
    public virtual void Signal()
    {
    }

    /// <summary>
    /// For a read that may continue in a later exchange: whether that continuation might read
    /// [<paramref name="start"/>, <paramref name="end"/>). True when not known.
    /// </summary>
    public virtual bool MayRead(ulong start, ulong end) => true;

    /// <summary>For a write: whether it may change what <paramref name="reader"/> reads in its continuation. True when not known.</summary>
    public virtual bool MayChange(PendingOperation reader) => true;

    /// <summary>Whether [a0, a1) and [b0, b1) share a byte.</summary>
    protected static bool Overlaps(ulong a0, ulong a1, ulong b0, ulong b1) => a0 < b1 && b0 < a1;

    /// <summary>a + b, saturating at the top of the address space.</summary>
    protected static ulong End(ulong a, ulong b) => a + b < a ? ulong.MaxValue : a + b;

    /// <summary>
    /// Copies bytes this (write) operation will have written over <paramref name="address"/>.. into
    /// <paramref name="destination"/> where <paramref name="covered"/> is still false. False when the
    /// operation's address is not known on the host, so nothing can be said.
    /// </summary>
    public virtual bool Overlay(ulong address, Span<byte> destination, Span<bool> covered) => true;
}

/// <summary>
/// A pending operation someone awaits. The ValueTask it backs starts the planner when first asked
/// whether it is complete: everything queued before that moment goes in the same exchange, which is
/// how concurrent awaits inside one handler coalesce.
/// </summary>
internal abstract class AwaitedOperation : PendingOperation
{
    private ManualResetValueTaskSourceCore<bool> _core;
    private Exception? _error;

    protected AwaitedOperation(BatchPlanner planner) => Planner = planner;

    protected BatchPlanner Planner { get; }

    /// <summary>The token the operation was started with (also used for the exchange it starts).</summary>
    public CancellationToken CancellationToken { get; private set; }

    /// <summary>For the ValueTask.</summary>
    public short Version => _core.Version;

    /// <summary>Prepares a new or pooled instance for an operation.</summary>
    protected void Begin(CancellationToken cancellationToken)
    {
        _core.Reset();
        _error = null;
        Finished = false;
        Demanded = false;
        CancellationToken = cancellationToken;
    }

    public override void Fail(Exception exception)
    {
        _error ??= exception;
        Finished = true;
    }

    /// <summary>Finishes successfully (the result is in the subclass's fields).</summary>
    protected void Succeed() => Finished = true;

    public sealed override void Signal() => _core.SetResult(true);

    // ---- the ValueTask plumbing every operation shares (IOperationResult) ------------------------

    /// <summary>The await's status; asking starts the planner (the operation is demanded).</summary>
    public ValueTaskSourceStatus Status(short token)
    {
        var status = _core.GetStatus(token);
        if (status == ValueTaskSourceStatus.Pending)
        {
            Planner.Demand(this, CancellationToken);
            status = _core.GetStatus(token);
        }
        return status == ValueTaskSourceStatus.Succeeded && _error is not null ? ValueTaskSourceStatus.Faulted : status;
    }

    /// <summary>Registers the await's continuation and demands the operation.</summary>
    public void Register(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        _core.OnCompleted(continuation, state, token, flags);
        Planner.Demand(this, CancellationToken);
    }

    /// <summary>Ends the await: throws the operation's error, else lets the subclass take its result.</summary>
    protected void Consume(short token)
    {
        _core.GetResult(token);
        if (_error is { } error)
        {
            Released(observedError: error);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>Called once the awaiter has seen the error (pooled operations go back to the pool after reading their result).</summary>
    protected virtual void Released(Exception observedError)
    {
    }
}
