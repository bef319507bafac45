using System.Collections.Concurrent;
using Portal.Abi;
using Portal.Introspection;

namespace Portal.FunctionHooks;

/// <summary>
/// Gives a named function its file offset: reads the binary from the guest (FILE_READ, once per
/// binary and session) and looks the symbol up with <see cref="ElfFunctionResolver"/>.
/// </summary>
internal sealed class FunctionResolver(GuestFiles files, GuestAbi abi)
{
    /// <summary>Binaries already read, by path: a plugin often hooks several functions of one program.</summary>
    private readonly ConcurrentDictionary<string, Lazy<Task<byte[]>>> _binaries = new(StringComparer.Ordinal);

    /// <summary>The target with its offset (itself when it has one).</summary>
    /// <exception cref="ArgumentException">The binary is not ELF for this guest, has no such function, or the function cannot be probed.</exception>
    /// <exception cref="Memory.GuestOperationException">The guest cannot read the binary (ENOENT…).</exception>
    public async Task<FunctionTarget> ResolveAsync(FunctionTarget target, CancellationToken cancellationToken)
    {
        if (target.Offset is not null)
            return target;
        var read = _binaries.GetOrAdd(target.Path, path => new Lazy<Task<byte[]>>(() => files.ReadAllBytesAsync(path, cancellationToken: CancellationToken.None)));
        byte[] image;
        try
        {
            image = await read.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            _binaries.TryRemove(target.Path, out _);     // a failed read is not remembered: the file may appear
            throw;
        }
        var function = ElfFunctionResolver.Resolve(image, target.Symbol!, abi, target.Path);
        return target with { Offset = function.FileOffset };
    }
}
