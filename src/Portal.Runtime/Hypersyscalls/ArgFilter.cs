namespace Portal.Hypersyscalls;

/// <summary>How an <see cref="ArgFilter"/> compares (the <c>kind</c> of docs/protocol.md §4.3).</summary>
public enum ArgFilterKind
{
    /// <summary>value == A.</summary>
    Equal = 1,
    /// <summary>value != A.</summary>
    NotEqual = 2,
    /// <summary>A ≤ value ≤ B, unsigned.</summary>
    Range = 3,
    /// <summary>A ≤ value ≤ B, signed.</summary>
    SignedRange = 4,
    /// <summary>Every bit of A is set in value.</summary>
    MaskSet = 5,
    /// <summary>No bit of A is set in value.</summary>
    MaskClear = 6,
}

/// <summary>
/// A condition on one syscall argument (or on the return value), evaluated by the guest: syscalls that
/// do not match never reach the host. Create with the static methods.
/// </summary>
/// <param name="Kind">The comparison.</param>
/// <param name="A">First operand (the value, the minimum, or the mask).</param>
/// <param name="B">Second operand (the maximum of a range; otherwise 0).</param>
public readonly record struct ArgFilter(ArgFilterKind Kind, ulong A, ulong B)
{
    /// <summary>Matches when the value equals <paramref name="value"/> (negative values are register-width two's complement).</summary>
    public static ArgFilter Equal(long value) => new(ArgFilterKind.Equal, (ulong)value, 0);
    /// <summary>Matches when the value equals <paramref name="value"/>.</summary>
    public static ArgFilter Equal(ulong value) => new(ArgFilterKind.Equal, value, 0);
    /// <summary>Matches when the value differs from <paramref name="value"/>.</summary>
    public static ArgFilter NotEqual(long value) => new(ArgFilterKind.NotEqual, (ulong)value, 0);
    /// <summary>Matches when the value differs from <paramref name="value"/>.</summary>
    public static ArgFilter NotEqual(ulong value) => new(ArgFilterKind.NotEqual, value, 0);
    /// <summary>Matches <paramref name="min"/> ≤ value ≤ <paramref name="max"/>, compared unsigned.</summary>
    public static ArgFilter Range(ulong min, ulong max) => new(ArgFilterKind.Range, min, max);
    /// <summary>Matches <paramref name="min"/> ≤ value ≤ <paramref name="max"/>, compared signed.</summary>
    public static ArgFilter SignedRange(long min, long max) => new(ArgFilterKind.SignedRange, (ulong)min, (ulong)max);
    /// <summary>Matches when every bit of <paramref name="mask"/> is set.</summary>
    public static ArgFilter MaskSet(ulong mask) => new(ArgFilterKind.MaskSet, mask, 0);
    /// <summary>Matches when no bit of <paramref name="mask"/> is set.</summary>
    public static ArgFilter MaskClear(ulong mask) => new(ArgFilterKind.MaskClear, mask, 0);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        ArgFilterKind.Equal => $"== 0x{A:x}",
        ArgFilterKind.NotEqual => $"!= 0x{A:x}",
        ArgFilterKind.Range => $"in [0x{A:x}, 0x{B:x}]",
        ArgFilterKind.SignedRange => $"in [{(long)A}, {(long)B}] (signed)",
        ArgFilterKind.MaskSet => $"has bits 0x{A:x}",
        ArgFilterKind.MaskClear => $"lacks bits 0x{A:x}",
        _ => $"{Kind}(0x{A:x}, 0x{B:x})",
    };
}
