using System.Runtime.CompilerServices;

namespace Portal.Typed;

/// <summary>
/// A C array of scalars inside a loaded record (<c>int counters[4]</c>): indexing decodes the element
/// in the guest's byte order, setting it stages the change. <typeparamref name="T"/> is an integer
/// type, bool, an enum, or <see cref="GuestAddress"/> for arrays of pointers.
/// </summary>
public readonly struct GuestArray<T>
{
    private readonly RecordView _view;
    private readonly int _offset;
    private readonly int _elementSize;
    private readonly bool _signed;

    /// <summary>Creates the view (generated code does).</summary>
    public GuestArray(RecordView view, int offset, int length, int elementSize, bool isSigned)
    {
        _view = view;
        _offset = offset;
        Length = length;
        _elementSize = elementSize;
        _signed = isSigned;
    }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>Element <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the array.</exception>
    public T this[int index]
    {
        get
        {
            var offset = ElementOffset(index);
            if (typeof(T) == typeof(GuestAddress))
            {
                var address = _view.ReadAddress(offset);
                return Unsafe.As<GuestAddress, T>(ref address);
            }
            var raw = _signed ? (ulong)_view.ReadSigned(offset, _elementSize) : _view.ReadUnsigned(offset, _elementSize);
            if (typeof(T) == typeof(bool))
            {
                var flag = raw != 0;
                return Unsafe.As<bool, T>(ref flag);
            }
            return Unsafe.As<ulong, T>(ref raw);      // little-endian host: the low bytes are the narrower value
        }
        set
        {
            var offset = ElementOffset(index);
            if (typeof(T) == typeof(GuestAddress))
            {
                _view.WriteAddress(offset, Unsafe.As<T, GuestAddress>(ref value).Address);
                return;
            }
            ulong bits = Unsafe.SizeOf<T>() switch
            {
                1 => Unsafe.As<T, byte>(ref value),
                2 => Unsafe.As<T, ushort>(ref value),
                4 => Unsafe.As<T, uint>(ref value),
                _ => Unsafe.As<T, ulong>(ref value),
            };
            if (_signed)
                _view.WriteSigned(offset, _elementSize, SignExtend(bits, Unsafe.SizeOf<T>()));
            else
                _view.WriteUnsigned(offset, _elementSize, bits);
        }
    }

    /// <summary>The elements, copied.</summary>
    public T[] ToArray()
    {
        var items = new T[Length];
        for (var i = 0; i < Length; i++)
            items[i] = this[i];
        return items;
    }

    private int ElementOffset(int index) =>
        (uint)index < (uint)Length ? _offset + index * _elementSize
        : throw new ArgumentOutOfRangeException(nameof(index), index, $"Outside an array of {Length}.");

    private static long SignExtend(ulong bits, int size) => size switch
    {
        1 => (sbyte)bits,
        2 => (short)bits,
        4 => (int)bits,
        _ => (long)bits,
    };
}

/// <summary>A C array of records inside a loaded record (<c>struct port ports[8]</c>): each element is a nested view.</summary>
public readonly struct GuestRecordArray<T> where T : struct, IGuestRecord<T>
{
    private readonly RecordView _view;
    private readonly int _offset;
    private readonly int _elementSize;

    /// <summary>Creates the view (generated code does).</summary>
    public GuestRecordArray(RecordView view, int offset, int length, int elementSize)
    {
        _view = view;
        _offset = offset;
        Length = length;
        _elementSize = elementSize;
    }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>Element <paramref name="index"/> (a view on the same bytes: setting its members stages changes).</summary>
    public T this[int index] =>
        (uint)index < (uint)Length ? T.Bind(_view.Slice(_offset + index * _elementSize))
        : throw new ArgumentOutOfRangeException(nameof(index), index, $"Outside an array of {Length}.");
}
