using Portal.Hypersyscalls;

namespace Portal.FunctionHooks;

/// <summary>
/// Marks a plugin method as the handler of a user-space function (a uprobe in the guest,
/// docs/protocol.md §4.6): <c>[Uprobe("/usr/sbin/httpd", "nvram_get")]</c> stops every process that
/// calls it, at its entry (or, with <see cref="Return"/>, when it returns). The handler is an ordinary
/// <c>ValueTask Method(SyscallContext context)</c>: <see cref="SyscallContext.Args"/> are the function's
/// arguments by the architecture's calling convention, its memory API and batching are the same, and on
/// return <see cref="SyscallContext.Retval"/> changes what the function returns. Combine with
/// <see cref="ArgAttribute"/> and <see cref="RetvalAttribute"/> (evaluated in the guest).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class UprobeAttribute : Attribute
{
    /// <summary>A function by its symbol: the host finds its file offset in the binary's ELF symbol tables.</summary>
    /// <param name="path">The binary (executable or shared library) in the guest.</param>
    /// <param name="symbol">The function's symbol.</param>
    public UprobeAttribute(string path, string symbol)
    {
        Path = path;
        Symbol = symbol;
    }

    /// <summary>An instruction by its file offset (for stripped binaries).</summary>
    /// <param name="path">The binary in the guest.</param>
    /// <param name="offset">The instruction's offset in the file.</param>
    public UprobeAttribute(string path, ulong offset)
    {
        Path = path;
        Offset = offset;
    }

    /// <summary>The binary in the guest.</summary>
    public string Path { get; }

    /// <summary>The function's symbol, or null with an offset.</summary>
    public string? Symbol { get; }

    /// <summary>The instruction's file offset, or null with a symbol.</summary>
    public ulong? Offset { get; }

    /// <summary>Run when the function returns (its return value can be replaced), not at its entry.</summary>
    public bool Return { get; set; }

    /// <summary>Only processes with this comm.</summary>
    public string? Comm { get; set; }

    /// <summary>Only this process id (0 = any).</summary>
    public int Pid { get; set; }

    /// <summary>Handler name for statistics (default: Type.Method).</summary>
    public string? Name { get; set; }

    internal FunctionTarget Target() => Symbol is not null ? new FunctionTarget(Path, Symbol) : new FunctionTarget(Path, Offset!.Value);

    internal SyscallPhase Phase => Return ? SyscallPhase.Return : SyscallPhase.Enter;
}
