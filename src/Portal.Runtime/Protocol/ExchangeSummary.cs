using Portal.Diagnostics;

namespace Portal.Protocol;

/// <summary>What a trace says about an exchange, read from the region: the request before it goes out, the response after.</summary>
internal static class ExchangeSummary
{
    /// <summary>The request the host has just written into <paramref name="region"/>: its op, the operations it carries, the data bytes it uses.</summary>
    public static (PortalOp Request, TracedOperation[] Operations, int RequestBytes) DescribeRequest(ReadOnlySpan<byte> region)
    {
        var op = (PortalOp)Region.Op(region);
        var size = (int)Math.Min(Region.Size(region), (ulong)RegionLayout.DataCapacity);
        return op switch
        {
            PortalOp.Batch => (op, BatchWire.DescribeRequest(region), size),
            // A memory or process op sent alone (a guest without BATCH): the same description as a batch entry.
            PortalOp.Read or PortalOp.ReadStr or PortalOp.ReadFdName or PortalOp.ReadProcArgs or PortalOp.ReadProcEnv or PortalOp.ReadProcPid =>
                (op, [new TracedOperation(op, size, Region.Address(region))], 0),
            PortalOp.Write => (op, [new TracedOperation(op, size, Region.Address(region))], size),
            // Extensions: only HOOK_REGISTER carries data (the descriptor); the others' size is not a length.
            PortalOp.HookRegister => (op, [], size),
            _ => (op, [], 0),
        };
    }

    /// <summary>Bytes of the data area the guest's response in <paramref name="region"/> uses (its <c>size</c> is a data length only for these responses).</summary>
    public static int ResponseBytes(ReadOnlySpan<byte> region) =>
        (PortalResponse)Region.Op(region) is PortalResponse.ReadOk or PortalResponse.ReadPartial or PortalResponse.BatchOk or PortalResponse.ExtOk
            ? (int)Math.Min(Region.Size(region), (ulong)RegionLayout.DataCapacity)
            : 0;
}
