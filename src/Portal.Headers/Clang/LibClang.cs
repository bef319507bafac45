using System.Reflection;
using System.Runtime.InteropServices;

namespace Portal.Headers.Clang;

/// <summary>Locates libclang (LLVM 14) and its builtin headers.</summary>
internal static class LibClang
{
    /// <summary>Environment variable naming the libclang shared library to load instead of the default.</summary>
    internal const string LibraryVariable = "PORTAL_HEADERS_LIBCLANG";

    /// <summary>Environment variable naming clang's resource directory (the one holding include/stddef.h).</summary>
    internal const string ResourceDirVariable = "PORTAL_HEADERS_CLANG_RESOURCE_DIR";

    const string InstallHint = "install libclang1-14 (sudo scripts/setup-headers.sh)";

    static readonly Lock Gate = new();
    static nint s_handle;
    static string? s_loadError;
    static bool s_resolverSet;

    static readonly string[] LibraryCandidates =
    [
        "libclang-14.so.1",
        "/usr/lib/llvm-14/lib/libclang-14.so.1",
        "/usr/lib/llvm-14/lib/libclang.so.1",
        "/usr/lib/x86_64-linux-gnu/libclang-14.so.1",
        "libclang.so.1",
        "libclang.so",
    ];

    /// <summary>Loads libclang once; throws <see cref="HeaderToolException"/> with an install hint when it is missing.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (!s_resolverSet)
            {
                s_resolverSet = true;
                Load();
                NativeLibrary.SetDllImportResolver(typeof(LibClang).Assembly, Resolve);
            }
            if (s_handle == 0)
                throw new HeaderToolException(s_loadError!);
        }
    }

    static void Load() => (s_handle, s_loadError) = TryLoadLibrary();

    /// <summary>
    /// Why libclang cannot be loaded now, or null when it can. Unlike <see cref="EnsureLoaded"/> nothing is
    /// remembered, so a set-up step can check again after installing it.
    /// </summary>
    public static string? FindLoadProblem()
    {
        var (probe, error) = TryLoadLibrary();
        if (probe != 0)
            NativeLibrary.Free(probe);
        return error;
    }

    /// <summary>Loads the library named by <see cref="LibraryVariable"/>, else the first candidate that loads.</summary>
    static (nint Handle, string? Error) TryLoadLibrary()
    {
        var explicitPath = Environment.GetEnvironmentVariable(LibraryVariable);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return NativeLibrary.TryLoad(explicitPath, out var loaded)
                ? (loaded, null)
                : (0, $"cannot load libclang from {LibraryVariable}={explicitPath}");
        }
        foreach (var candidate in LibraryCandidates)
        {
            if (NativeLibrary.TryLoad(candidate, out var loaded))
                return (loaded, null);
        }
        return (0, $"libclang not found (tried {string.Join(", ", LibraryCandidates)}): {InstallHint}");
    }

    static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
        => libraryName == NativeMethods.LibraryName ? s_handle : 0;

    /// <summary>Clang's resource directory (builtin headers such as stddef.h, stdint.h, stdbool.h).</summary>
    public static string ResourceDirectory()
    {
        var explicitDir = Environment.GetEnvironmentVariable(ResourceDirVariable);
        if (!string.IsNullOrEmpty(explicitDir))
        {
            if (!File.Exists(Path.Combine(explicitDir, "include", "stddef.h")))
                throw new HeaderToolException($"{ResourceDirVariable}={explicitDir} has no include/stddef.h");
            return explicitDir;
        }
        const string ClangResourceRoot = "/usr/lib/llvm-14/lib/clang";
        if (Directory.Exists(ClangResourceRoot))
        {
            var found = Directory.GetDirectories(ClangResourceRoot)
                .Where(d => File.Exists(Path.Combine(d, "include", "stddef.h")))
                .OrderBy(d => d, StringComparer.Ordinal)
                .LastOrDefault();
            if (found is not null)
                return found;
        }
        throw new HeaderToolException($"clang's builtin headers not found under {ClangResourceRoot}/<version>/include: install libclang-common-14-dev (sudo scripts/setup-headers.sh)");
    }

    /// <summary>Converts and frees a libclang string.</summary>
    public static unsafe string ToManaged(CXString value)
    {
        try
        {
            var text = NativeMethods.GetCString(value);
            return text is null ? "" : Marshal.PtrToStringUTF8((nint)text) ?? "";
        }
        finally
        {
            NativeMethods.DisposeString(value);
        }
    }
}
