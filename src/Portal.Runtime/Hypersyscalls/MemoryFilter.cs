using System.Collections.Immutable;
using System.Text;

namespace Portal.Hypersyscalls;

/// <summary>How a <see cref="MemoryFilter"/> compares (kinds 9 and 10 of docs/protocol.md §4.3).</summary>
public enum MemoryFilterKind
{
    /// <summary>The bytes at the address equal the pattern (with the NUL: a string equals; without: starts with).</summary>
    Equal = 9,
    /// <summary>The pattern occurs within the first <see cref="MemoryFilter.Window"/> bytes.</summary>
    Contains = 10,
}

/// <summary>
/// A condition on the memory an argument points to, evaluated by the guest before the syscall leaves
/// it: the bytes at <c>argN + Offset</c> (or, <see cref="ThroughPointerAt"/>, at <c>*(argN + p) + Offset</c>)
/// equal, start with, or contain a pattern. Reads are bounded (pattern ≤ 64 bytes, window ≤ 256) and
/// never fault pages in: memory that is not resident makes the filter not match, counted as
/// <see cref="Protocol.GuestStatistics.FilterFaults"/>. Create with the static methods; place with
/// <see cref="At"/> and <see cref="ThroughPointerAt"/>.
/// </summary>
public sealed record MemoryFilter
{
    /// <summary>Longest pattern.</summary>
    public const int MaxPatternLength = 64;

    /// <summary>Longest window a <see cref="MemoryFilterKind.Contains"/> filter searches.</summary>
    public const int MaxWindow = 256;

    /// <summary>Default window of the Contains filters.</summary>
    public const int DefaultWindow = 128;

    private MemoryFilter(MemoryFilterKind kind, ImmutableArray<byte> pattern, int window, bool stopAtNul, string description)
    {
        Kind = kind;
        Pattern = pattern;
        Window = window;
        StopAtNul = stopAtNul;
        Description = description;
    }

    /// <summary>The comparison.</summary>
    public MemoryFilterKind Kind { get; }

    /// <summary>The bytes compared (a string's UTF-8 bytes, plus its NUL for an equality).</summary>
    public ImmutableArray<byte> Pattern { get; }

    /// <summary>Bytes searched by <see cref="MemoryFilterKind.Contains"/> (0 for Equal).</summary>
    public int Window { get; }

    /// <summary>Contains on a string: the search ends at the first NUL.</summary>
    public bool StopAtNul { get; }

    /// <summary>Bytes added to the address (after following the pointer, if any).</summary>
    public int Offset { get; private init; }

    /// <summary>Where the pointer lies relative to the argument, when the data is reached through one; null when the argument itself points to it.</summary>
    public int? PointerOffset { get; private init; }

    private string Description { get; }

    /// <summary>The NUL-terminated string at the address is <paramref name="value"/> (e.g. <c>ifr_name == "eth0"</c>).</summary>
    public static MemoryFilter StringEquals(string value) =>
        new(MemoryFilterKind.Equal, [.. Utf8(value), 0], 0, false, $"== \"{value}\"");

    /// <summary>The string at the address starts with <paramref name="prefix"/> (e.g. a path under <c>/dev/</c>).</summary>
    public static MemoryFilter StringStartsWith(string prefix) =>
        new(MemoryFilterKind.Equal, [.. Utf8(prefix)], 0, false, $"starts with \"{prefix}\"");

    /// <summary>The string at the address contains <paramref name="value"/> before its NUL, within <paramref name="window"/> bytes.</summary>
    public static MemoryFilter StringContains(string value, int window = DefaultWindow) =>
        new(MemoryFilterKind.Contains, [.. Utf8(value)], window, true, $"contains \"{value}\" (first {window} bytes)");

    /// <summary>The bytes at the address are <paramref name="bytes"/>.</summary>
    public static MemoryFilter BytesEqual(params byte[] bytes) =>
        new(MemoryFilterKind.Equal, [.. bytes], 0, false, $"bytes == {Convert.ToHexString(bytes)}");

    /// <summary>The <paramref name="window"/> bytes at the address contain <paramref name="bytes"/> (NULs included).</summary>
    public static MemoryFilter BytesContain(byte[] bytes, int window = DefaultWindow) =>
        new(MemoryFilterKind.Contains, [.. bytes], window, false, $"bytes contain {Convert.ToHexString(bytes)} (first {window} bytes)");

    /// <summary>The same test <paramref name="offset"/> bytes further (e.g. a member's offset in the struct the argument points to).</summary>
    public MemoryFilter At(int offset) => new(Kind, Pattern, Window, StopAtNul, Description) { Offset = offset, PointerOffset = PointerOffset };

    /// <summary>The same test on what the pointer stored at <c>arg + <paramref name="pointerOffset"/></c> points to (one hop, read by the guest).</summary>
    public MemoryFilter ThroughPointerAt(int pointerOffset) => new(Kind, Pattern, Window, StopAtNul, Description) { Offset = Offset, PointerOffset = pointerOffset };

    /// <summary>What is wrong with it, or null.</summary>
    internal string? Problem() =>
        Pattern.Length is < 1 or > MaxPatternLength ? $"the pattern is {Pattern.Length} bytes; 1 to {MaxPatternLength}"
        : Kind == MemoryFilterKind.Contains && (Window < Pattern.Length || Window > MaxWindow)
            ? $"the window is {Window} bytes; from the pattern's length ({Pattern.Length}) to {MaxWindow}"
        : null;

    /// <summary>What it tests, e.g. <c>*(arg2) == "eth0"</c> or <c>*(*(arg2+16)+4) starts with "/dev/"</c>.</summary>
    public string Describe(int index)
    {
        var place = PointerOffset is { } p ? $"*(*(arg{index}{Signed(p)}){Signed(Offset)})" : $"*(arg{index}{Signed(Offset)})";
        return $"{place} {Description}";
    }

    /// <inheritdoc/>
    public override string ToString() => Describe(0);

    private static string Signed(int value) => value switch { 0 => "", > 0 => $"+{value}", _ => $"{value}" };

    private static byte[] Utf8(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Encoding.UTF8.GetBytes(value);
    }
}
