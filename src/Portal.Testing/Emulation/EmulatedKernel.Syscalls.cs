using System.Text;
using Portal.Abi;
using Portal.Testing.Processes;

namespace Portal.Testing.Emulation;

/// <summary>
/// The syscalls the emulated guest implements, with Linux's results for the cases that matter to
/// Portal's scenarios (an ioctl on /dev/null is ENOTTY, SIOCDEVPRIVATE on a socket without such a
/// device is ENODEV, a bad buffer is EFAULT). Anything else is ENOSYS.
/// </summary>
internal sealed partial class EmulatedKernel
{
    private const int PrSetName = 15, PrGetName = 16;
    private const int AtFdCwd = -100;
    private const int AccessModeMask = 3, ReadOnly = 0;     // O_ACCMODE, O_RDONLY: the same on every architecture
    private const ulong MapShared = 1, MapPrivate = 2, MapTypeMask = 0xf;

    private long Execute(EmulatedProcess process, int number, ulong[] args)
    {
        var name = Abi.Syscalls.GetName(number);
        // i386's "mmap" is old_mmap (arguments in a struct); programs there use mmap2.
        if (Abi.Id == GuestAbiId.I386 && name == "mmap")
            return Errno(GuestErrno.ENOSYS);
        return name switch
        {
            "getpid" or "gettid" => process.Pid,
            "getppid" => process.ParentPid,
            "open" => Open(process, AtFdCwd, args[0], (int)args[1]),
            "openat" => Open(process, (int)args[0], args[1], (int)args[2]),
            "chdir" => Chdir(process, args[0]),
            "access" => Access(process, AtFdCwd, args[0]),
            "faccessat" or "faccessat2" => Access(process, (int)args[0], args[1]),
            "close" => Close(process, (int)args[0]),
            "read" => Read(process, (int)args[0], args[1], args[2]),
            "write" => Write(process, (int)args[0], args[1], args[2]),
            "ioctl" => Ioctl(process, (int)args[0], args[1], args[2]),
            "socket" => process.AllocateFd(new OpenFile(FileKind.Socket, $"socket:[{NextInode()}]")),
            // mmap2's offset counts 4096-byte units on every architecture here; mmap's counts bytes
            "mmap2" => Mmap(process, args[1], args[2], args[3], (int)args[4], args[5] * 4096),
            "mmap" => Mmap(process, args[1], args[2], args[3], (int)args[4], args[5]),
            "munmap" => Munmap(process, args[0], args[1]),
            "mprotect" => process.Memory.Protect(args[0], args[1], ToProtection(args[2])) ? 0 : Errno(GuestErrno.ENOMEM),
            "prctl" => Prctl(process, (int)args[0], args[1]),
            "nanosleep" or "clock_nanosleep" or "clock_nanosleep_time64" or "exit" or "exit_group" => 0,
            _ => Errno(GuestErrno.ENOSYS),
        };
    }

    private long Errno(GuestErrno errno) => -Abi.ToNativeErrno(errno);

    /// <summary>
    /// open/openat: devices, directories (read-only) and the files of <see cref="Files"/>; no creation. The
    /// descriptor remembers the flags (FILES reports them) and the resolved path (what readlink shows).
    /// </summary>
    private long Open(EmulatedProcess process, int directoryFd, ulong pathAddress, int flags)
    {
        var path = ReadUserString(process, pathAddress, 4096);
        if (path is null)
            return Errno(GuestErrno.EFAULT);
        var errno = StartDirectory(process, directoryFd, path, out var start);
        var resolved = "";
        var status = default(NodeStatus);
        if (errno == GuestErrno.None)
            errno = Files.Lookup(path, start, out resolved, out status);
        if (errno != GuestErrno.None)
            return Errno(errno);
        if (status.Kind == NodeKind.Directory && (flags & AccessModeMask) != ReadOnly)
            return Errno(GuestErrno.EISDIR);        // a directory opens for reading only
        var file = status.Kind switch
        {
            NodeKind.Directory => new OpenFile(FileKind.Directory, resolved),
            NodeKind.CharacterDevice => new OpenFile(resolved switch
            {
                "/dev/null" => FileKind.Null,
                "/dev/zero" => FileKind.Zero,
                _ => FileKind.Console,
            }, resolved),
            _ => new OpenFile(FileKind.Regular, resolved, Files.ContentOf(resolved)),
        };
        return process.AllocateFd(file with { Flags = flags });
    }

    /// <summary>Where a relative path of an *at syscall starts: the working directory, or the directory <paramref name="fd"/> holds open.</summary>
    private static GuestErrno StartDirectory(EmulatedProcess process, int fd, string path, out string start)
    {
        start = process.WorkingDirectory;
        if (fd == AtFdCwd || path.StartsWith('/'))
            return GuestErrno.None;
        var file = Lookup(process, fd);
        if (file is null)
            return GuestErrno.EBADF;
        if (file.Kind != FileKind.Directory)
            return GuestErrno.ENOTDIR;
        start = file.Path;
        return GuestErrno.None;
    }

    private long Chdir(EmulatedProcess process, ulong pathAddress)
    {
        var path = ReadUserString(process, pathAddress, 4096);
        if (path is null)
            return Errno(GuestErrno.EFAULT);
        var errno = Files.Lookup(path, process.WorkingDirectory, out var resolved, out var status);
        if (errno == GuestErrno.None && status.Kind != NodeKind.Directory)
            errno = GuestErrno.ENOTDIR;
        if (errno != GuestErrno.None)
            return Errno(errno);
        process.WorkingDirectory = resolved;
        return 0;
    }

    /// <summary>access/faccessat: whether the path exists (the caller is root, so every mode is granted).</summary>
    private long Access(EmulatedProcess process, int directoryFd, ulong pathAddress)
    {
        var path = ReadUserString(process, pathAddress, 4096);
        if (path is null)
            return Errno(GuestErrno.EFAULT);
        var errno = StartDirectory(process, directoryFd, path, out var start);
        if (errno == GuestErrno.None)
            errno = Files.Lookup(path, start, out _, out _);
        return errno == GuestErrno.None ? 0 : Errno(errno);
    }

    private long Close(EmulatedProcess process, int fd)
    {
        lock (process.Files)
            return process.Files.Remove(fd) ? 0 : Errno(GuestErrno.EBADF);
    }

    private static OpenFile? Lookup(EmulatedProcess process, int fd)
    {
        lock (process.Files)
            return process.Files.GetValueOrDefault(fd);
    }

    private long Read(EmulatedProcess process, int fd, ulong buffer, ulong count)
    {
        var file = Lookup(process, fd);
        if (file is null)
            return Errno(GuestErrno.EBADF);
        count = Math.Min(count, 1 << 20);
        byte[] bytes;
        switch (file.Kind)
        {
            case FileKind.Null or FileKind.Console:
                return 0;
            case FileKind.Directory:
                return Errno(GuestErrno.EISDIR);
            case FileKind.Zero:
                bytes = new byte[count];
                break;
            case FileKind.Regular:
                var remaining = Math.Max(0, file.Content!.Length - file.Position);
                bytes = file.Content.AsSpan((int)file.Position, (int)Math.Min((long)count, remaining)).ToArray();
                break;
            default:
                return Errno(GuestErrno.EAGAIN);
        }
        var copied = process.Memory.CopyToUser(buffer, bytes);
        if (copied == 0 && bytes.Length > 0)
            return Errno(GuestErrno.EFAULT);
        file.Position += copied;
        return copied;
    }

    private long Write(EmulatedProcess process, int fd, ulong buffer, ulong count)
    {
        var file = Lookup(process, fd);
        if (file is null)
            return Errno(GuestErrno.EBADF);
        switch (file.Kind)
        {
            case FileKind.Null or FileKind.Zero:
                return (long)count;            // like write_null: the buffer is never touched
            case FileKind.Console:
                var bytes = new byte[Math.Min(count, 1 << 20)];
                var copied = process.Memory.CopyFromUser(buffer, bytes);
                if (copied == 0 && bytes.Length > 0)
                    return Errno(GuestErrno.EFAULT);
                process.AppendOutput(Encoding.UTF8.GetString(bytes, 0, copied));
                return copied;
            case FileKind.Socket:
                return Errno(GuestErrno.EDESTADDRREQ);
            default:
                return Errno(GuestErrno.EBADF);
        }
    }

    private long Ioctl(EmulatedProcess process, int fd, ulong command, ulong argument)
    {
        var file = Lookup(process, fd);
        if (file is null)
            return Errno(GuestErrno.EBADF);
        if (file.Kind != FileKind.Socket || (command & 0xff00) != 0x8900)
            return Errno(GuestErrno.ENOTTY);
        // Socket interface ioctls copy the struct ifreq in, then look the device up: none exists here.
        Span<byte> ifreq = stackalloc byte[Abi.PointerSize == 8 ? 40 : 32];
        return process.Memory.CopyFromUser(argument, ifreq) != ifreq.Length ? Errno(GuestErrno.EFAULT) : Errno(GuestErrno.ENODEV);
    }

    /// <summary>
    /// mmap: anonymous memory, or (without MAP_ANONYMOUS) pages holding a copy of a regular file's bytes
    /// from <paramref name="offset"/>, remembered as that file's mapping so MAPPINGS shows its path. A
    /// copy: writes to a shared mapping do not reach the file. /dev/zero maps as anonymous memory, as in
    /// Linux; other devices cannot be mapped (ENODEV).
    /// </summary>
    private long Mmap(EmulatedProcess process, ulong length, ulong protection, ulong flags, int fd, ulong offset)
    {
        if (length == 0 || length > Abi.UserAddressLimit / 2)
            return Errno(GuestErrno.EINVAL);
        var anonymous = Abi.Id is GuestAbiId.Mips or GuestAbiId.MipsEl ? 0x800UL : 0x20UL;     // MAP_ANONYMOUS
        if ((flags & anonymous) != 0)
            return (long)process.Memory.Map(length, ToProtection(protection));
        var shared = (flags & MapTypeMask) == MapShared;
        if (!shared && (flags & MapTypeMask) != MapPrivate)
            return Errno(GuestErrno.EINVAL);
        if (offset % (ulong)Abi.PageSize != 0)
            return Errno(GuestErrno.EINVAL);
        var file = Lookup(process, fd);
        if (file is null)
            return Errno(GuestErrno.EBADF);
        var access = file.Flags & AccessModeMask;
        if (file.Kind == FileKind.Zero)
            return (long)process.Memory.Map(length, ToProtection(protection));
        if (file.Kind != FileKind.Regular)
            return Errno(GuestErrno.ENODEV);
        // Linux: every file mapping needs a readable descriptor, a shared writable one a writable descriptor too.
        if (access == 1 /* O_WRONLY */ || (shared && (protection & 2) != 0 && access != OpenFile.ReadWrite))
            return Errno(GuestErrno.EACCES);
        var content = Files.ContentOf(file.Path) ?? file.Content ?? [];
        var from = (int)Math.Min(offset, (ulong)content.Length);
        var bytes = content.AsSpan(from, (int)Math.Min((ulong)(content.Length - from), length));
        var inode = Files.Stat(file.Path, out var status) == GuestErrno.None ? status.Inode : 0;
        return (long)process.Memory.MapFile(length, ToProtection(protection), bytes, new FileOrigin(file.Path, inode, offset, shared));
    }

    private long Munmap(EmulatedProcess process, ulong address, ulong length)
    {
        if (address % (ulong)Abi.PageSize != 0 || length == 0)
            return Errno(GuestErrno.EINVAL);
        process.Memory.Unmap(address, length);
        return 0;
    }

    private long Prctl(EmulatedProcess process, int option, ulong argument)
    {
        switch (option)
        {
            case PrSetName:
                var name = ReadUserString(process, argument, 16);
                if (name is null)
                    return Errno(GuestErrno.EFAULT);
                process.Comm = EmulatedProcess.TruncateComm(name);
                return 0;
            case PrGetName:
                var bytes = new byte[16];
                Encoding.UTF8.GetBytes(process.Comm).CopyTo(bytes, 0);
                return process.Memory.CopyToUser(argument, bytes) == bytes.Length ? 0 : Errno(GuestErrno.EFAULT);
            default:
                return Errno(GuestErrno.EINVAL);
        }
    }

    private static PageProtection ToProtection(ulong prot) =>
        ((prot & 1) != 0 ? PageProtection.Read : 0) | ((prot & 2) != 0 ? PageProtection.Write : 0);

    /// <summary>A NUL-terminated string from user memory (like strncpy_from_user), or null on a fault.</summary>
    private static string? ReadUserString(EmulatedProcess process, ulong address, int max)
    {
        var bytes = new List<byte>();
        Span<byte> one = stackalloc byte[1];
        for (var i = 0; i < max; i++)
        {
            if (process.Memory.CopyFromUser(address + (ulong)i, one) != 1)
                return null;
            if (one[0] == 0)
                return Encoding.UTF8.GetString([.. bytes]);
            bytes.Add(one[0]);
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
