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

    private const uint CommFlag = 1, PidFlag = 2, RetvalFlag = 4;

    /// <summary>Writes a HOOK_REGISTER request for a spec already validated against <paramref name="abi"/>.</summary>
    public static void WriteRequest(Span<byte> region, HookSpec spec, GuestAbi abi)
    {
        var data = Region.Data(region);
        var length = HeaderLength + FilterLength * spec.ArgFilters.Count;
        data[..length].Clear();

        BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)abi.Syscalls.GetNumber(spec.Syscall));
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], (uint)spec.Phase);
        var flags = 0u;
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
            flags |= RetvalFlag;
            WriteFilter(data[40..], 0, retval.Kind, retval.A, retval.B);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(data[8..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(data[12..], (uint)spec.ArgFilters.Count);
        for (var i = 0; i < spec.ArgFilters.Count; i++)
        {
            var (index, filter) = spec.ArgFilters[i];
            WriteFilter(data[(HeaderLength + FilterLength * i)..], index, filter.Kind,
                HookSpec.ToRegister(filter.A, filter.Kind, abi)!.Value, HookSpec.ToRegister(filter.B, filter.Kind, abi)!.Value);
        }
        Region.WriteHeader(region, PortalOp.HookRegister, 0, (ulong)length);
    }

    private static void WriteFilter(Span<byte> entry, int index, ArgFilterKind kind, ulong a, ulong b)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(entry, (uint)index);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], (uint)kind);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], a);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], b);
    }
}
