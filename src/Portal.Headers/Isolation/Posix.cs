using System.Runtime.InteropServices;

namespace Portal.Headers.Isolation;

/// <summary>The kind of a file system entry, as <c>stat</c> reports it (symbolic links followed).</summary>
internal enum FileKind
{
    Missing,
    Regular,
    Directory,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
    Other,
}

/// <summary>What <see cref="Posix.Stat"/> found: the kind, the size of a regular file, or why it could not look.</summary>
internal readonly record struct FileFacts(FileKind Kind, long Size, string? Error)
{
    /// <summary>The kind in words, for "X is a FIFO (named pipe), not a header file".</summary>
    public string Describe() => Kind switch
    {
        FileKind.Directory => "a directory",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        FileKind.Regular => "a regular file",
        _ => "not a regular file",
    };
}

/// <summary>
/// The few Linux calls .NET does not expose: the type of a file without opening it (opening a FIFO blocks
/// until a writer comes), resource limits, and an immediate exit.
/// </summary>
internal static partial class Posix
{
    const int AtFdCwd = -100;
    const uint StatxType = 0x1;
    const uint StatxSize = 0x200;
    const int ENOENT = 2;
    const int ENOTDIR = 20;

    // struct statx has the same layout on every Linux architecture: stx_mode is a u16 at 28, stx_size a u64 at 40.
    const int StatxBufferSize = 256;
    const int StatxModeOffset = 28;
    const int StatxSizeOffset = 40;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatxCall(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// The kind and size of <paramref name="path"/>, following symbolic links, without opening it. Off Linux
    /// (no <c>statx</c>) only regular files and directories are told apart.
    /// </summary>
    public static unsafe FileFacts Stat(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            var buffer = stackalloc byte[StatxBufferSize];
            try
            {
                if (StatxCall(AtFdCwd, path, 0, StatxType | StatxSize, buffer) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    return errno is ENOENT or ENOTDIR
                        ? new FileFacts(FileKind.Missing, 0, null)
                        : new FileFacts(FileKind.Other, 0, Marshal.GetPInvokeErrorMessage(errno));
                }
                var mode = *(ushort*)(buffer + StatxModeOffset);
                var size = *(long*)(buffer + StatxSizeOffset);
                var kind = (mode & 0xF000) switch
                {
                    0x8000 => FileKind.Regular,
                    0x4000 => FileKind.Directory,
                    0x1000 => FileKind.Fifo,
                    0x2000 => FileKind.CharacterDevice,
                    0x6000 => FileKind.BlockDevice,
                    0xC000 => FileKind.Socket,
                    _ => FileKind.Other,
                };
                return new FileFacts(kind, kind == FileKind.Regular ? size : 0, null);
            }
            catch (EntryPointNotFoundException)
            {
                // A C library older than glibc 2.28: fall through to what .NET can tell.
            }
        }
        if (Directory.Exists(path))
            return new FileFacts(FileKind.Directory, 0, null);
        return File.Exists(path) ? new FileFacts(FileKind.Regular, new FileInfo(path).Length, null) : new FileFacts(FileKind.Missing, 0, null);
    }

    // Resource numbers shared by x86, ARM, MIPS and the generic Linux ABI.
    internal const int RlimitCpu = 0;
    internal const int RlimitData = 2;
    internal const int RlimitCore = 4;

    [StructLayout(LayoutKind.Sequential)]
    struct RLimit
    {
        public nuint Current;
        public nuint Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);

    /// <summary>
    /// Lowers a resource limit of this process to <paramref name="soft"/> (and its hard limit to
    /// <paramref name="hard"/>), never raising either; returns the error, or null.
    /// </summary>
    public static string? LowerLimit(int resource, ulong soft, ulong hard)
    {
        if (GetRLimit(resource, out var current) != 0)
            return Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
        var max = Math.Min((ulong)current.Maximum, hard);
        var limit = new RLimit { Current = (nuint)Math.Min(Math.Min((ulong)current.Current, soft), max), Maximum = (nuint)max };
        return SetRLimit(resource, limit) == 0 ? null : Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
    }

    /// <summary>Sets the soft limit of a resource to <paramref name="soft"/> (at most the hard limit, which is left alone); the error, or null.</summary>
    public static string? SetSoftLimit(int resource, ulong soft)
    {
        if (GetRLimit(resource, out var current) != 0)
            return Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
        var limit = new RLimit { Current = (nuint)Math.Min(soft, (ulong)current.Maximum), Maximum = current.Maximum };
        return SetRLimit(resource, limit) == 0 ? null : Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    /// <summary>Returns the C heap's free memory to the system where it can (glibc; nothing elsewhere).</summary>
    public static void TrimHeap()
    {
        try
        {
            _ = MallocTrim(0); // 1 if memory was released: nothing to do either way
        }
        catch (EntryPointNotFoundException)
        {
            // musl and others: nothing to do.
        }
    }

    /// <summary>
    /// Ends the process at once, without running .NET's or the C library's exit handlers: another thread may be
    /// inside libclang (blocked opening a FIFO), and libclang's static destructors must not run under it.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "_exit")]
    public static partial void ExitNow(int status);
}
