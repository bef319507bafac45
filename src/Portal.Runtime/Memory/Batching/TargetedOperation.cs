using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>What <see cref="TargetedOperation.PlanTarget"/> decided.</summary>
internal enum TargetStep
{
    /// <summary>Nothing fits in this batch: <c>TryPlan</c> returns false.</summary>
    NoRoom,
    /// <summary>The operation is settled for this batch (only its pointer hops went, or it failed): <c>TryPlan</c> returns true.</summary>
    Planned,
    /// <summary>The address is ready: the operation adds its entry.</summary>
    Ready,
}

/// <summary>
/// An operation on guest memory at an <see cref="OperationTarget"/> (an address, or one the guest reaches
/// through pointers in the same batch). Owns what reads, writes and string reads share: the pointer hops
/// planned first, the range check of an absolute address, the entry the operation added, and, on
/// delivery, the failure of a pointer on the way.
/// </summary>
internal abstract class TargetedOperation(BatchPlanner planner) : AwaitedOperation(planner)
{
    private OperationTarget _target;

    /// <summary>Where the operation reads or writes.</summary>
    protected OperationTarget Target => _target;

    /// <summary>This operation's entry in the batch being planned; -1 when it has none (only its pointer hops went, or it did not fit).</summary>
    protected int Entry { get; set; } = -1;

    /// <summary>Only the pointer hops went in the batch being planned: the operation continues in the next.</summary>
    protected bool PointerOnly { get; private set; }

    /// <summary>Sets the location (when the operation starts).</summary>
    protected void StartAt(GuestLocation location)
    {
        _target = new OperationTarget(location, Planner.Abi);
        Entry = -1;
        PointerOnly = false;
    }

    /// <summary>
    /// The first step of <c>TryPlan</c>: plans the address <paramref name="offset"/> bytes past the start
    /// (its pointer hops first), and fails the operation when an absolute address cannot hold
    /// <paramref name="length"/> bytes.
    /// </summary>
    protected TargetStep PlanTarget(BatchBuilder batch, PortalOp op, int offset, int length, out EntryAddress address)
    {
        Entry = -1;
        PointerOnly = false;
        switch (_target.Plan(batch, offset, out address))
        {
            case AddressStep.NoRoom:
                return TargetStep.NoRoom;
            case AddressStep.PointerFirst:
                PointerOnly = true;
                return TargetStep.Planned;
        }
        if (!address.Chase && Faults.OutOfRange(Planner.Abi, op, address.Address, length) is { } outside)
        {
            Fail(outside);
            return TargetStep.Planned;
        }
        return TargetStep.Ready;
    }

    /// <summary>
    /// The first step of <c>Deliver</c>: hands the results to the pointer hops, and says whether this
    /// operation's own entry has a result to use. It has not when the operation added no entry (a pointer
    /// hop that failed fails the operation) or when the guest skipped it because its chase failed.
    /// </summary>
    protected bool TryTakeResult(BatchResults results, PortalOp op, out EntryResult result)
    {
        _target.Deliver(results);
        result = default;
        if (Entry < 0)
        {
            if (PointerOnly && _target.PointerFailed)
                Fail(Faults.Pointer(Planner.Abi, op, _target.Resolver!));
            return false;
        }
        result = results[Entry];
        if (result.Status == EntryStatus.Skipped)
        {
            Fail(Faults.Pointer(Planner.Abi, op, _target.Resolver!));
            return false;
        }
        return true;
    }
}
