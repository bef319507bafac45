using System.Globalization;
using System.Runtime.CompilerServices;
using Portal.Memory;

namespace Portal.Typed;

/// <summary>
/// A pointer to one scalar member in guest memory (what <c>&amp;ifr-&gt;ifr_data</c> is in C):
/// reading or writing it costs one exchange and touches only that member. <typeparamref name="T"/> is
/// an integer type, bool, an enum, or <see cref="GuestAddress"/> for pointer members.
/// </summary>
public readonly struct GuestFieldPtr<T>
{
    internal GuestFieldPtr(ulong address, int size, GuestMemory memory)
    {
        Address = address;
        Size = size;
        Memory = memory;
    }

    /// <summary>The member's address.</summary>
    public ulong Address { get; }

    /// <summary>The member's size on the guest's ABI.</summary>
    public int Size { get; }

    /// <summary>The memory API it belongs to.</summary>
    public GuestMemory Memory { get; }

    /// <summary>Reads the member (one exchange).</summary>
    public async ValueTask<T> ReadAsync(CancellationToken cancellationToken = default)
    {
        var bytes = await Memory.ReadBytesAsync(Address, Size, cancellationToken).ConfigureAwait(false);
        var view = new RecordView(bytes, 0, Memory.Abi, Address, Memory, new ChangeSet());
        return Decode(view);
    }

    /// <summary>Writes the member (one exchange).</summary>
    public ValueTask WriteAsync(T value, CancellationToken cancellationToken = default)
    {
        var view = RecordView.Detached(Size, Memory.Abi);
        Encode(view, value);
        return Memory.WriteBytesAsync(Address, view.Buffer, cancellationToken);
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"({typeof(T).Name} *)0x{Address:x}");

    private T Decode(RecordView view)
    {
        if (typeof(T) == typeof(GuestAddress))
        {
            var address = new GuestAddress(view.ReadUnsigned(0, Size), Memory);
            return Unsafe.As<GuestAddress, T>(ref address);
        }
        if (typeof(T) == typeof(bool))
        {
            var flag = view.ReadUnsigned(0, Size) != 0;
            return Unsafe.As<bool, T>(ref flag);
        }
        var underlying = typeof(T).IsEnum ? Enum.GetUnderlyingType(typeof(T)) : typeof(T);
        var signed = underlying == typeof(sbyte) || underlying == typeof(short) || underlying == typeof(int) || underlying == typeof(long);
        var raw = signed ? (ulong)view.ReadSigned(0, Size) : view.ReadUnsigned(0, Size);
        return FromBits(raw);
    }

    private void Encode(RecordView view, T value)
    {
        if (typeof(T) == typeof(GuestAddress))
        {
            view.WriteAddress(0, Unsafe.As<T, GuestAddress>(ref value).Value);
            return;
        }
        // A value wider than the member (a C# long for a 32-bit guest's long) is truncated to the member.
        var bits = ToBits(value);
        view.WriteUnsigned(0, Size, Size >= 8 ? bits : bits & ((1UL << (8 * Size)) - 1));
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
