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
            "open" => Open(process, args[0]),
            "openat" => Open(process, args[1]),
            "close" => Close(process, (int)args[0]),
            "read" => Read(process, (int)args[0], args[1], args[2]),
            "write" => Write(process, (int)args[0], args[1], args[2]),
            "ioctl" => Ioctl(process, (int)args[0], args[1], args[2]),
            "socket" => process.AllocateFd(new OpenFile(FileKind.Socket, $"socket:[{Interlocked.Increment(ref _nextInode)}]")),
            "mmap2" or "mmap" => Mmap(process, args[1], args[2]),
            "munmap" => Munmap(process, args[0], args[1]),
            "mprotect" => process.Memory.Protect(args[0], args[1], ToProtection(args[2])) ? 0 : Errno(GuestErrno.ENOMEM),
            "prctl" => Prctl(process, (int)args[0], args[1]),
            "nanosleep" or "clock_nanosleep" or "clock_nanosleep_time64" or "exit" or "exit_group" => 0,
            _ => Errno(GuestErrno.ENOSYS),
        };
    }

    private long Errno(GuestErrno errno) => -Abi.ToNativeErrno(errno);

    private long Open(EmulatedProcess process, ulong pathAddress)
    {
        var path = ReadUserString(process, pathAddress, 4096);
        if (path is null)
            return Errno(GuestErrno.EFAULT);
        OpenFile? file = path switch
        {
            "/dev/null" => new OpenFile(FileKind.Null, path),
            "/dev/zero" => new OpenFile(FileKind.Zero, path),
            "/dev/console" or "/dev/tty" => new OpenFile(FileKind.Console, path),
            _ => Files.TryGetValue(path, out var content) ? new OpenFile(FileKind.Regular, path, content) : null,
        };
        return file is null ? Errno(GuestErrno.ENOENT) : process.AllocateFd(file);
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

    private long Mmap(EmulatedProcess process, ulong length, ulong protection)
    {
        if (length == 0 || length > Abi.UserAddressLimit / 2)
            return Errno(GuestErrno.EINVAL);
        return (long)process.Memory.Map(length, ToProtection(protection));
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
