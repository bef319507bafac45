using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Portal.Abi;
using Portal.Hypersyscalls;

namespace Portal.Protocol;

/// <summary>Six syscall argument registers, stored inline.</summary>
[InlineArray(SyscallEventRecord.ArgumentCount)]
internal struct SyscallArgumentValues
{
    private ulong _element;
}

/// <summary>A decoded and validated EVENT (docs/protocol.md §4.1).</summary>
internal readonly struct SyscallEventRecord
{
    public const int ArgumentCount = 6;
    /// <summary>The shortest record a host accepts (guests without the scratch area).</summary>
    public const int RecordLength = 96;

    /// <summary>A record with the scratch area (docs/protocol.md §4.1).</summary>
    public const int ScratchRecordLength = 112;

    /// <summary>The largest scratch area a guest offers.</summary>
    public const int MaxScratchSize = 2048;

    public ulong EventId { get; init; }
    public uint HookId { get; init; }
    public SyscallPhase Phase { get; init; }
    /// <summary>A function hook's event (phases 3 and 4, docs/protocol.md §4.6): <see cref="Number"/> is then the probed address.</summary>
    public bool IsFunction { get; init; }
    public long Number { get; init; }
    public SyscallArgumentValues Arguments { get; init; }
    public long Retval { get; init; }
    public int Pid { get; init; }
    public int Tid { get; init; }
    public string Comm { get; init; }
    public ulong ScratchAddress { get; init; }
    public int ScratchSize { get; init; }

    private static void Check(bool ok, [InterpolatedStringHandlerArgument(nameof(ok))] ref ProblemText problem)
    {
        if (!ok)
            throw new PortalProtocolException($"Guest sent a malformed Event: {problem.ToString()}.");
    }

    public static SyscallEventRecord Decode(ReadOnlySpan<byte> region, GuestAbi abi)
    {
        Region.RequireWhole(region.Length);
        var op = Region.Op(region);
        if (op != (ulong)PortalResponse.Event)
            throw new PortalProtocolException($"Expected an Event on a held slot, found {Region.Describe(op)}.");
        var size = Region.Size(region);
        Check(size is >= RecordLength and <= RegionLayout.DataCapacity, $"record length {size} is not between {RecordLength} and {RegionLayout.DataCapacity}");

        var data = Region.Data(region);
        var phase = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        Check(phase is >= 1 and <= 4, $"phase {phase} is not 1 (enter), 2 (return), 3 (function entry) or 4 (function return)");
        var isFunction = phase >= 3;
        var number = (long)BinaryPrimitives.ReadUInt64LittleEndian(data[8..]);
        Check(!isFunction || abi.TruncateToRegister((ulong)number) == (ulong)number, $"function address 0x{number:x} is wider than a {abi.Name} register");
        var arguments = new SyscallArgumentValues();
        for (var i = 0; i < ArgumentCount; i++)
        {
            var value = BinaryPrimitives.ReadUInt64LittleEndian(data[(16 + 8 * i)..]);
            Check(abi.TruncateToRegister(value) == value, $"argument {i} = 0x{value:x} is wider than a {abi.Name} register");
            arguments[i] = value;
        }
        var retval = (long)BinaryPrimitives.ReadUInt64LittleEndian(data[64..]);
        Check(abi.SignExtendRegister((ulong)retval) == retval, $"return value {retval} is not a sign-extended {abi.Name} register");
        var pid = BinaryPrimitives.ReadUInt32LittleEndian(data[72..]);
        var tid = BinaryPrimitives.ReadUInt32LittleEndian(data[76..]);
        Check(pid is > 0 and <= int.MaxValue && tid is > 0 and <= int.MaxValue, $"pid {pid} / tid {tid} out of range");
        ulong scratch = 0;
        uint scratchSize = 0;
        if (size >= ScratchRecordLength)
        {
            scratch = BinaryPrimitives.ReadUInt64LittleEndian(data[96..]);
            scratchSize = BinaryPrimitives.ReadUInt32LittleEndian(data[104..]);
            Check(scratchSize <= MaxScratchSize, $"scratch size {scratchSize} is above {MaxScratchSize}");
            Check((scratch == 0) == (scratchSize == 0), $"scratch area 0x{scratch:x} of {scratchSize} bytes: address and size must both be 0 or neither");
            Check(scratchSize == 0 || phase == 1, $"a return or function event offers a scratch area");
            Check(abi.TruncateToRegister(scratch) == scratch && abi.TruncateToRegister(scratch + scratchSize) >= scratch,
                $"scratch area 0x{scratch:x} of {scratchSize} bytes does not fit the {abi.Name} address space");
        }

        return new SyscallEventRecord
        {
            EventId = Region.Address(region),
            HookId = BinaryPrimitives.ReadUInt32LittleEndian(data),
            Phase = phase is 1 or 3 ? SyscallPhase.Enter : SyscallPhase.Return,
            IsFunction = isFunction,
            Number = number,
            Arguments = arguments,
            Retval = retval,
            Pid = (int)pid,
            Tid = (int)tid,
            Comm = GuestInfo.DecodeCString(data.Slice(80, 16)),
            ScratchAddress = scratch,
            ScratchSize = (int)scratchSize,
        };
    }
}
