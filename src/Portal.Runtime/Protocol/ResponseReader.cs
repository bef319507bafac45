using System.Runtime.CompilerServices;

namespace Portal.Protocol;

/// <summary>How a transfer ended.</summary>
internal enum TransferStatus : byte
{
    Complete,
    Partial,
    Failed,
}

/// <summary>Outcome of a READ, WRITE or READ_FD_NAME: how many bytes, and the errno when it stopped early.</summary>
internal readonly record struct TransferResult(TransferStatus Status, int Count, long Errno);

/// <summary>Outcome of one READ_STR window.</summary>
internal readonly record struct StringChunk(TransferStatus Status, int Count, bool Terminated, long Errno);

/// <summary>Outcome of one READ_PROCARGS / READ_PROCENV chunk.</summary>
internal readonly record struct BlockChunk(TransferStatus Status, int Count, long Total, long Errno);

/// <summary>Outcome of READ_PROCPID.</summary>
internal readonly record struct ProcessIds(bool Ok, int Pid, int Tid, long Errno);

/// <summary>Outcome of an extension request.</summary>
internal readonly record struct ExtensionResult(bool Ok, ulong Value, int DataLength, long Errno);

/// <summary>
/// Decodes guest responses. The guest is untrusted: every field is checked against what the request
/// allows before anything is used, and anything else is a <see cref="PortalProtocolException"/>.
/// Nothing here reads outside the region.
/// </summary>
internal static class ResponseReader
{
    /// <summary>Largest argument or environment block the host accepts (the kernel caps both far lower).</summary>
    public const long MaxBlockLength = 64 * 1024 * 1024;

    public static TransferResult ReadResult(ReadOnlySpan<byte> region, int requested)
    {
        var (op, address, size) = Header(region, PortalOp.Read);
        switch ((PortalResponse)op)
        {
            case PortalResponse.ReadOk:
                Require(size == (ulong)requested, PortalOp.Read, op, $"size {size} but {requested} bytes were asked");
                return new(TransferStatus.Complete, requested, 0);
            case PortalResponse.ReadPartial:
                Require(size > 0 && size < (ulong)requested, PortalOp.Read, op, $"size {size} is not between 1 and {requested - 1}");
                return new(TransferStatus.Partial, (int)size, Errno(address, PortalOp.Read, op));
            case PortalResponse.ReadFail:
                Require(size == 0, PortalOp.Read, op, $"size {size} must be 0");
                return new(TransferStatus.Failed, 0, Errno(address, PortalOp.Read, op));
            default:
                throw Unexpected(PortalOp.Read, op);
        }
    }

    public static TransferResult WriteResult(ReadOnlySpan<byte> region, int requested)
    {
        var (op, address, size) = Header(region, PortalOp.Write);
        switch ((PortalResponse)op)
        {
            case PortalResponse.WriteOk:
                Require(size == (ulong)requested, PortalOp.Write, op, $"size {size} but {requested} bytes were written");
                return new(TransferStatus.Complete, requested, 0);
            case PortalResponse.WriteFail:
                Require(size < (ulong)requested || size == 0, PortalOp.Write, op, $"size {size} is not below {requested}");
                return new(size == 0 ? TransferStatus.Failed : TransferStatus.Partial, (int)size, Errno(address, PortalOp.Write, op));
            default:
                throw Unexpected(PortalOp.Write, op);
        }
    }

    public static StringChunk StrResult(ReadOnlySpan<byte> region, int window)
    {
        var (op, address, size) = Header(region, PortalOp.ReadStr);
        switch ((PortalResponse)op)
        {
            case PortalResponse.ReadOk:
                Require(size <= (ulong)window, PortalOp.ReadStr, op, $"size {size} exceeds the {window}-byte window");
                RequireNoNul(region, (int)size, op);
                return new(TransferStatus.Complete, (int)size, (int)size < window, 0);
            case PortalResponse.ReadPartial:
                Require(size > 0 && size < (ulong)window, PortalOp.ReadStr, op, $"size {size} is not between 1 and {window - 1}");
                RequireNoNul(region, (int)size, op);
                return new(TransferStatus.Partial, (int)size, false, Errno(address, PortalOp.ReadStr, op));
            case PortalResponse.ReadFail:
                Require(size == 0, PortalOp.ReadStr, op, $"size {size} must be 0");
                return new(TransferStatus.Failed, 0, false, Errno(address, PortalOp.ReadStr, op));
            default:
                throw Unexpected(PortalOp.ReadStr, op);
        }
    }

    public static TransferResult FdNameResult(ReadOnlySpan<byte> region, int requested)
    {
        var (op, address, size) = Header(region, PortalOp.ReadFdName);
        switch ((PortalResponse)op)
        {
            case PortalResponse.ReadOk:
                Require(size <= (ulong)requested, PortalOp.ReadFdName, op, $"size {size} exceeds the {requested} bytes asked");
                return new(TransferStatus.Complete, (int)size, 0);
            case PortalResponse.ReadPartial:
                Require(size > 0 && size <= (ulong)requested, PortalOp.ReadFdName, op, $"size {size} is not between 1 and {requested}");
                return new(TransferStatus.Partial, (int)size, Errno(address, PortalOp.ReadFdName, op));
            case PortalResponse.ReadFail:
                return new(TransferStatus.Failed, 0, Errno(address, PortalOp.ReadFdName, op));
            default:
                throw Unexpected(PortalOp.ReadFdName, op);
        }
    }

    /// <summary>
    /// One chunk of an argument or environment block. The guest must return exactly
    /// min(requested, total − offset) bytes, so a lying guest cannot make the host loop or skip.
    /// </summary>
    public static BlockChunk BlockResult(ReadOnlySpan<byte> region, PortalOp request, long offset, int requested)
    {
        var (op, address, size) = Header(region, request);
        switch ((PortalResponse)op)
        {
            case PortalResponse.ReadOk:
                Require(address <= MaxBlockLength, request, op, $"total length {address} exceeds {MaxBlockLength}");
                var total = (long)address;
                Require(offset <= total, request, op, $"total length {total} is below the offset {offset} already read");
                var expected = Math.Min(requested, total - offset);
                Require(size == (ulong)expected, request, op, $"size {size} but {expected} bytes remain from offset {offset} of {total}");
                return new(TransferStatus.Complete, (int)size, total, 0);
            case PortalResponse.ReadPartial:
                Require(size > 0 && size < (ulong)requested, request, op, $"size {size} is not between 1 and {requested - 1}");
                return new(TransferStatus.Partial, (int)size, 0, Errno(address, request, op));
            case PortalResponse.ReadFail:
                return new(TransferStatus.Failed, 0, 0, Errno(address, request, op));
            default:
                throw Unexpected(request, op);
        }
    }

    public static ProcessIds PidResult(ReadOnlySpan<byte> region)
    {
        var (op, address, size) = Header(region, PortalOp.ReadProcPid);
        switch ((PortalResponse)op)
        {
            case PortalResponse.ReadNum:
                Require(address is > 0 and <= int.MaxValue, PortalOp.ReadProcPid, op, $"pid {address} is out of range");
                Require(size is > 0 and <= int.MaxValue, PortalOp.ReadProcPid, op, $"tid {size} is out of range");
                return new(true, (int)address, (int)size, 0);
            case PortalResponse.ReadFail:
                return new(false, 0, 0, Errno(address, PortalOp.ReadProcPid, op));
            default:
                throw Unexpected(PortalOp.ReadProcPid, op);
        }
    }

    public static ExtensionResult ExtResult(ReadOnlySpan<byte> region, PortalOp request)
    {
        var (op, address, size) = Header(region, request);
        switch ((PortalResponse)op)
        {
            case PortalResponse.ExtOk:
                Require(size <= RegionLayout.DataCapacity, request, op, $"size {size} exceeds {RegionLayout.DataCapacity}");
                return new(true, address, (int)size, 0);
            case PortalResponse.ExtFail:
                return new(false, 0, 0, Errno(address, request, op));
            default:
                throw Unexpected(request, op);
        }
    }

    private static (ulong Op, ulong Address, ulong Size) Header(ReadOnlySpan<byte> region, PortalOp request)
    {
        Region.RequireWhole(region.Length);
        return (Region.Op(region), Region.Address(region), Region.Size(region));
    }

    private static long Errno(ulong value, PortalOp request, ulong op)
    {
        Require(value is > 0 and <= RegionLayout.MaxErrno, request, op, $"errno {value} is not between 1 and {RegionLayout.MaxErrno}");
        return (long)value;
    }

    private static void RequireNoNul(ReadOnlySpan<byte> region, int count, ulong op)
    {
        if (Region.Data(region)[..count].Contains((byte)0))
            throw new PortalProtocolException($"Guest answered ReadStr with {Region.Describe(op)} whose {count} string bytes contain a NUL.");
    }

    internal static void Require(bool condition, PortalOp request, ulong op,
        [InterpolatedStringHandlerArgument(nameof(condition))] ref ProblemText problem)
    {
        if (!condition)
            throw new PortalProtocolException($"Guest answered {request} with {Region.Describe(op)}: {problem.ToString()}.");
    }

    internal static PortalProtocolException Unexpected(PortalOp request, ulong op) =>
        new($"Guest answered {request} with {Region.Describe(op)}, which that request cannot produce.");
}
