using System.Runtime.CompilerServices;
using Portal.Memory;
using Portal.Memory.Batching;

namespace Portal.Typed;

/// <summary>
/// A pointer to one scalar member in guest memory (what <c>&amp;ifr-&gt;ifr_data</c> is in C):
/// reading or writing it costs one exchange and touches only that member. <typeparamref name="T"/> is
/// an integer type, bool, an enum, or <see cref="GuestAddress"/> for pointer members. A member declared
/// network-order (<see cref="IsNetworkOrder"/>: <c>sin_port</c>, <c>s_addr</c>) is read and written
/// big-endian on every ABI.
/// </summary>
public readonly struct GuestFieldPtr<T>
{
    private readonly GuestLocation _location;

    internal GuestFieldPtr(GuestLocation location, int size, GuestMemory memory, bool isNetworkOrder)
    {
        _location = location;
        Size = size;
        Memory = memory;
        IsNetworkOrder = isNetworkOrder;
    }

    /// <summary>The member's address.</summary>
    /// <exception cref="InvalidOperationException">The member is reached through a pointer in guest memory (<see cref="IsIndirect"/>).</exception>
    public ulong Address => _location.IsAbsolute ? _location.Offset
        : throw new InvalidOperationException($"{this} is reached through a pointer in guest memory; only the guest knows its address.");

    /// <summary>True when the member's record is reached through a pointer the guest resolves on each access.</summary>
    public bool IsIndirect => !_location.IsAbsolute;

    internal GuestLocation Location => _location;

    /// <summary>The member's size on the guest's ABI.</summary>
    public int Size { get; }

    /// <summary>The memory API it belongs to.</summary>
    public GuestMemory Memory { get; }

    /// <summary>True when the member is big-endian in guest memory on every ABI (network byte order), not in the guest's order.</summary>
    public bool IsNetworkOrder { get; }

    /// <summary>Reads the member: one exchange, shared with whatever else is queued (through a pointer: still one, the guest chases it).</summary>
    public ValueTask<T> ReadAsync(CancellationToken cancellationToken = default) =>
        Memory.ReadField(_location, Size, IsNetworkOrder ? DecodeNetworkOrder : DecodeHostOrder, cancellationToken);

    /// <summary>Writes the member (staged inside a batch scope).</summary>
    public ValueTask WriteAsync(T value, CancellationToken cancellationToken = default)
    {
        var view = RecordView.Detached(Size, Memory.Abi);
        Encode(view, value);
        return Memory.Write(_location, view.Buffer, cancellationToken);
    }

    /// <inheritdoc/>
    public override string ToString() => $"({typeof(T).Name} *){_location}";

    private static readonly Func<RecordView, T> DecodeHostOrder = static view => Decode(view, networkOrder: false);
    private static readonly Func<RecordView, T> DecodeNetworkOrder = static view => Decode(view, networkOrder: true);

    private static T Decode(RecordView view, bool networkOrder)
    {
        var size = view.Buffer.Length;
        if (typeof(T) == typeof(GuestAddress))
        {
            var address = new GuestAddress(view.ReadUnsigned(0, size), view.Memory);
            return Unsafe.As<GuestAddress, T>(ref address);
        }
        if (typeof(T) == typeof(bool))
        {
            var flag = view.ReadUnsigned(0, size) != 0;
            return Unsafe.As<bool, T>(ref flag);
        }
        var underlying = typeof(T).IsEnum ? Enum.GetUnderlyingType(typeof(T)) : typeof(T);
        var signed = underlying == typeof(sbyte) || underlying == typeof(short) || underlying == typeof(int) || underlying == typeof(long);
        var raw = (signed, networkOrder) switch
        {
            (true, false) => (ulong)view.ReadSigned(0, size),
            (false, false) => view.ReadUnsigned(0, size),
            (true, true) => (ulong)view.ReadSignedNetworkOrder(0, size),
            (false, true) => view.ReadUnsignedNetworkOrder(0, size),
        };
        return FromBits(raw);
    }

    private void Encode(RecordView view, T value)
    {
        if (typeof(T) == typeof(GuestAddress))
        {
            view.WriteAddress(0, Unsafe.As<T, GuestAddress>(ref value).Address);
            return;
        }
        // A value wider than the member (a C# long for a 32-bit guest's long) is truncated to the member.
        var bits = ToBits(value);
        var member = Size >= 8 ? bits : bits & ((1UL << (8 * Size)) - 1);
        if (IsNetworkOrder)
            view.WriteUnsignedNetworkOrder(0, Size, member);
        else
            view.WriteUnsigned(0, Size, member);
    }

    private static T FromBits(ulong raw)
    {
        // Little-endian host: the low bytes of raw are the value of any narrower type.
        if (Unsafe.SizeOf<T>() is not (1 or 2 or 4 or 8))
            throw new NotSupportedException($"{typeof(T)} is not a scalar member type.");
        return Unsafe.As<ulong, T>(ref raw);
    }

    private static ulong ToBits(T value) => Unsafe.SizeOf<T>() switch
    {
        1 => Unsafe.As<T, byte>(ref value),
        2 => Unsafe.As<T, ushort>(ref value),
        4 => Unsafe.As<T, uint>(ref value),
        8 => Unsafe.As<T, ulong>(ref value),
        _ => throw new NotSupportedException($"{typeof(T)} is not a scalar member type."),
    };
}
