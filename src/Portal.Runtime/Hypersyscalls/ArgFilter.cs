using System.Collections.Immutable;
using System.Globalization;

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
    /// <summary>value is one of <see cref="ArgFilter.Values"/> (filters v2).</summary>
    OneOf = 7,
    /// <summary>value &lt; A or value &gt; B, signed (filters v2).</summary>
    OutsideSignedRange = 8,
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
    /// <summary>Most values one <see cref="OneOf(long[])"/> filter may hold.</summary>
    public const int MaxValues = 32;

    /// <summary>The values of a <see cref="ArgFilterKind.OneOf"/> filter (empty for the other kinds).</summary>
    public ImmutableArray<ulong> Values { get => _values.IsDefault ? [] : _values; init => _values = value; }

    private readonly ImmutableArray<ulong> _values;

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
    /// <summary>Matches value &lt; <paramref name="min"/> or value &gt; <paramref name="max"/>, compared signed.</summary>
    public static ArgFilter OutsideSignedRange(long min, long max) => new(ArgFilterKind.OutsideSignedRange, (ulong)min, (ulong)max);
    /// <summary>Matches when every bit of <paramref name="mask"/> is set.</summary>
    public static ArgFilter MaskSet(ulong mask) => new(ArgFilterKind.MaskSet, mask, 0);
    /// <summary>Matches when no bit of <paramref name="mask"/> is set.</summary>
    public static ArgFilter MaskClear(ulong mask) => new(ArgFilterKind.MaskClear, mask, 0);

    /// <summary>Matches when the value equals any of <paramref name="values"/> (1 to <see cref="MaxValues"/>; one guest-side test, not one hook each).</summary>
    public static ArgFilter OneOf(params long[] values) => OneOf(values.Select(v => (ulong)v).ToArray());

    /// <summary>Matches when the value equals any of <paramref name="values"/> (1 to <see cref="MaxValues"/>).</summary>
    public static ArgFilter OneOf(params ulong[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(ArgFilterKind.OneOf, 0, 0) { Values = [.. values] };
    }

    /// <summary>
    /// For the return value: the syscall succeeded, i.e. it did not return an error (−4095..−1, the
    /// kernel's error range). Addresses above 2 GiB returned by 32-bit mmap count as success.
    /// </summary>
    public static ArgFilter Succeeded => OutsideSignedRange(-MaxErrno, -1);

    /// <summary>For the return value: the syscall failed, i.e. returned −errno (−4095..−1).</summary>
    public static ArgFilter Failed => SignedRange(-MaxErrno, -1);

    /// <summary>The largest errno a syscall returns negated (the kernel's MAX_ERRNO).</summary>
    private const long MaxErrno = 4095;

    /// <summary>Whether <paramref name="value"/> (register-width, zero-extended; <paramref name="signed"/> sign-extended) passes.</summary>
    internal bool Matches(ulong value, long signed) => Kind switch
    {
        ArgFilterKind.Equal => value == A,
        ArgFilterKind.NotEqual => value != A,
        ArgFilterKind.Range => A <= value && value <= B,
        ArgFilterKind.SignedRange => (long)A <= signed && signed <= (long)B,
        ArgFilterKind.OutsideSignedRange => signed < (long)A || signed > (long)B,
        ArgFilterKind.MaskSet => (value & A) == A,
        ArgFilterKind.MaskClear => (value & A) == 0,
        ArgFilterKind.OneOf => Values.Contains(value),
        _ => false,
    };

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        ArgFilterKind.Equal => $"== 0x{A:x}",
        ArgFilterKind.NotEqual => $"!= 0x{A:x}",
        ArgFilterKind.Range => $"in [0x{A:x}, 0x{B:x}]",
        ArgFilterKind.SignedRange when (long)A == -MaxErrno && (long)B == -1 => "failed (-4095..-1)",
        ArgFilterKind.SignedRange => $"in [{(long)A}, {(long)B}] (signed)",
        ArgFilterKind.OutsideSignedRange when (long)A == -MaxErrno && (long)B == -1 => "succeeded (not -4095..-1)",
        ArgFilterKind.OutsideSignedRange => $"not in [{(long)A}, {(long)B}] (signed)",
        ArgFilterKind.MaskSet => $"has bits 0x{A:x}",
        ArgFilterKind.MaskClear => $"lacks bits 0x{A:x}",
        ArgFilterKind.OneOf => $"in {{{string.Join(", ", Values.Select(v => string.Create(CultureInfo.InvariantCulture, $"0x{v:x}")))}}}",
        _ => $"{Kind}(0x{A:x}, 0x{B:x})",
    };
}
