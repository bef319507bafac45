using Portal.Abi;
using Portal.Protocol;

namespace Portal.Hypersyscalls;

/// <summary>
/// The six argument registers of a held syscall. On enter they can be replaced: the syscall then
/// runs with the new values. Values are register-width (a 32-bit guest's arguments fit 32 bits).
/// </summary>
public sealed class SyscallArguments
{
    private readonly GuestAbi _abi;
    private readonly bool _writable;
    private SyscallArgumentValues _values;

    internal SyscallArguments(in SyscallArgumentValues values, GuestAbi abi, bool writable)
    {
        _values = values;
        _abi = abi;
        _writable = writable;
    }

    /// <summary>Number of argument registers (6).</summary>
    public int Count => SyscallEventRecord.ArgumentCount;

    /// <summary>Argument <paramref name="index"/> (0..5), unsigned.</summary>
    /// <exception cref="InvalidOperationException">Set on the return phase (arguments are used already).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The index is not 0..5, or the value does not fit the register.</exception>
    public ulong this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return _values[index];
        }
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            if (!_writable)
                throw new InvalidOperationException("Arguments can only be rewritten on the Enter phase; the syscall has already run.");
            var register = HookSpec.ToRegister(value, ArgFilterKind.Equal, _abi)
                ?? throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit a {_abi.PointerSize * 8}-bit register.");
            _values[index] = register;
            ChangedMask |= 1u << index;
        }
    }

    /// <summary>Argument <paramref name="index"/> as a signed value (sign-extended on 32-bit guests).</summary>
    public long SignedValue(int index) => _abi.SignExtendRegister(this[index]);

    /// <summary>Arguments replaced by the handler (bit i = argument i).</summary>
    internal uint ChangedMask { get; private set; }

    internal SyscallArgumentValues Values => _values;
}
