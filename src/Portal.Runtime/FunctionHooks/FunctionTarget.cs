using System.Globalization;

namespace Portal.FunctionHooks;

/// <summary>
/// The user-space function a function hook (uprobe) stops at: a binary in the guest and a symbol in it,
/// or the probed instruction's file offset (docs/protocol.md §4.6).
/// </summary>
public sealed record FunctionTarget
{
    /// <summary>A function by name: the host reads the binary from the guest and finds the symbol's file offset in its ELF symbol tables.</summary>
    /// <param name="path">The binary (executable or shared library) in the guest, absolute.</param>
    /// <param name="symbol">The function's symbol.</param>
    public FunctionTarget(string path, string symbol)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(symbol);
        Path = path;
        Symbol = symbol;
    }

    /// <summary>An instruction by its offset in the binary's file (for stripped binaries).</summary>
    /// <param name="path">The binary in the guest, absolute.</param>
    /// <param name="offset">The instruction's offset in the file (not its virtual address).</param>
    public FunctionTarget(string path, ulong offset)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        Offset = offset;
    }

    /// <summary>The binary in the guest.</summary>
    public string Path { get; }

    /// <summary>The function's symbol, when it was named.</summary>
    public string? Symbol { get; }

    /// <summary>The probed instruction's file offset: given, or found from <see cref="Symbol"/> when the hook is registered.</summary>
    public ulong? Offset { get; init; }

    /// <summary>"nvram_get in /usr/sbin/httpd", or "0x1234 in /usr/sbin/httpd".</summary>
    public override string ToString() => Symbol is not null
        ? $"{Symbol} in {Path}"
        : string.Create(CultureInfo.InvariantCulture, $"0x{Offset:x} in {Path}");
}
