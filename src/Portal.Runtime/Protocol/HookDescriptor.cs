using System.Buffers.Binary;
using System.Text;
using Portal.Abi;
using Portal.Hypersyscalls;

namespace Portal.Protocol;

/// <summary>Encodes a <see cref="HookSpec"/> as the HOOK_REGISTER descriptor (docs/protocol.md §4.3).</summary>
internal static class HookDescriptor
{
    public const int HeaderLength = 64;
    public const int FilterLength = 24;

    /// <summary>Header of the data area (data_size, reserved) that follows the argument filters.</summary>
    public const int DataHeaderLength = 8;

    private const uint CommFlag = 1, PidFlag = 2, RetvalFlag = 4, DataFlag = 8, TargetFlag = 16;

    /// <summary>A function target's header (le64 offset, le32 path_length, le32 reserved), before the path (docs/protocol.md §4.6).</summary>
    public const int TargetHeaderLength = 16;

    /// <summary>Wire phases of a function hook's entry and return (docs/protocol.md §4.6).</summary>
    private const uint FunctionEntryPhase = 3, FunctionReturnPhase = 4;

    /// <summary>Memory filter <c>b</c> bits (§4.3): through a pointer, stop at NUL.</summary>
    private const ulong ThroughPointer = 1UL << 48, StopAtNul = 1UL << 49;

    /// <summary>Writes a HOOK_REGISTER request for a spec already resolved for and validated against <paramref name="abi"/>.</summary>
    public static void WriteRequest(Span<byte> region, HookSpec spec, GuestAbi abi)
    {
        var data = Region.Data(region);
        var filterCount = spec.ArgFilters.Count + spec.ScopeFilters.Count + spec.MemoryFilters.Count;
        var dataLength = spec.FilterDataLength;
        var areaAt = HeaderLength + FilterLength * filterCount;
        var length = areaAt + (dataLength > 0 ? DataHeaderLength + dataLength : 0);
        var targetAt = (length + 7) / 8 * 8;
        var path = spec.Function is { } function ? Encoding.UTF8.GetBytes(function.Path) : [];
        if (spec.Function is not null)
            length = targetAt + TargetHeaderLength + path.Length;
        data[..length].Clear();
        var area = data[(areaAt + DataHeaderLength)..];
        var used = 0;

        var flags = 0u;
        if (spec.Function is { } target)
        {
            // nr stays 0; the target follows the filters and the data area (docs/protocol.md §4.6)
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], spec.Phase == SyscallPhase.Enter ? FunctionEntryPhase : FunctionReturnPhase);
            flags |= TargetFlag;
            BinaryPrimitives.WriteUInt64LittleEndian(data[targetAt..], target.Offset
                ?? throw new InvalidOperationException($"The function {target} has no file offset yet: resolve it before encoding."));
            BinaryPrimitives.WriteUInt32LittleEndian(data[(targetAt + 8)..], (uint)path.Length);
            path.CopyTo(data[(targetAt + TargetHeaderLength)..]);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)abi.Syscalls.GetNumber(spec.Syscall));
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], (uint)spec.Phase);
        }
        if (spec.Comm is { } comm)
        {
            flags |= CommFlag;
            var bytes = Encoding.UTF8.GetBytes(comm);
            bytes.AsSpan(0, Math.Min(bytes.Length, HookSpec.CommLength)).CopyTo(data[24..]);
        }
        if (spec.Pid is { } pid)
        {
            flags |= PidFlag;
            BinaryPrimitives.WriteUInt64LittleEndian(data[16..], (ulong)pid);
        }
        if (spec.RetvalFilter is { } retval)
        {
            // the return value is compared as a signed 64-bit number: operands go as they are
            flags |= RetvalFlag;
            WriteValueFilter(data[40..], 0, retval, area, ref used, v => v);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(data[12..], (uint)filterCount);
        var entry = HeaderLength;
        foreach (var (index, filter) in spec.ArgFilters)
        {
            WriteValueFilter(data[entry..], index, filter, area, ref used, v => HookSpec.ToRegister(v, filter.Kind, abi)!.Value);
            entry += FilterLength;
        }
        // after the value filters, before the memory filters: the order the guest tests them in anyway
        foreach (var scope in spec.ScopeFilters)
        {
            WriteScopeFilter(data[entry..], scope, area, ref used);
            entry += FilterLength;
        }
        foreach (var (index, filter) in spec.MemoryFilters)
        {
            var offsets = (ulong)(uint)filter.Offset | (ulong)(uint)(filter.PointerOffset ?? 0) << 32;
            var shape = (uint)used | (ulong)(uint)filter.Pattern.Length << 16 | (ulong)(uint)filter.Window << 32
                | (filter.PointerOffset is null ? 0 : ThroughPointer) | (filter.StopAtNul ? StopAtNul : 0);
            filter.Pattern.AsSpan().CopyTo(area[used..]);
            used += filter.Pattern.Length;
            WriteFilter(data[entry..], index, (uint)filter.Kind, offsets, shape);
            entry += FilterLength;
        }
        if (dataLength > 0)
        {
            flags |= DataFlag;
            BinaryPrimitives.WriteUInt32LittleEndian(data[areaAt..], (uint)dataLength);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(data[8..], flags);
        Region.WriteHeader(region, PortalOp.HookRegister, 0, (ulong)length);
    }

    /// <summary>A value filter; a set's values go to the data area (le64 each), the entry points at them.</summary>
    private static void WriteValueFilter(Span<byte> entry, int index, ArgFilter filter, Span<byte> area, ref int used, Func<ulong, ulong> operand)
    {
        if (filter.Kind != ArgFilterKind.OneOf)
        {
            WriteFilter(entry, index, (uint)filter.Kind, operand(filter.A), operand(filter.B));
            return;
        }
        WriteFilter(entry, index, (uint)filter.Kind, (ulong)used, (ulong)filter.Values.Length);
        foreach (var value in filter.Values)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(area[used..], operand(value));
            used += 8;
        }
    }

    /// <summary>A scope filter: <c>arg</c> 0; a subtree's root in <c>a</c>; a process set's pids to the data area (le64 each).</summary>
    private static void WriteScopeFilter(Span<byte> entry, ScopeFilter filter, Span<byte> area, ref int used)
    {
        if (filter.Kind != ScopeFilterKind.Processes)
        {
            WriteFilter(entry, 0, (uint)filter.Kind, (ulong)filter.Root, 0);
            return;
        }
        WriteFilter(entry, 0, (uint)filter.Kind, (ulong)used, (ulong)filter.Pids.Length);
        foreach (var pid in filter.Pids)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(area[used..], (ulong)pid);
            used += 8;
        }
    }

    private static void WriteFilter(Span<byte> entry, int index, uint kind, ulong a, ulong b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)index);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], kind);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], a);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], b);
    }
}
