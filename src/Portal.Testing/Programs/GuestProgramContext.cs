using Portal.Abi;
using Portal.Testing.Emulation;
using Portal.Testing.Processes;

namespace Portal.Testing.Programs;

/// <summary>
/// A guest program written in C#: receives its process and returns an exit code. It issues syscalls
/// through <see cref="GuestProgramContext"/>, which trigger hooks exactly like a real program's.
/// </summary>
public delegate ValueTask<int> GuestProgram(GuestProgramContext context);

/// <summary>
/// What a C# guest program can do: issue syscalls (results follow the kernel convention: negative =
/// −errno in the guest's numbering), touch its own memory, and print.
/// </summary>
public sealed class GuestProgramContext
{
    private readonly EmulatedKernel _kernel;
    private ulong _scratch;

    internal GuestProgramContext(EmulatedKernel kernel, EmulatedProcess process, CancellationToken cancellationToken)
    {
        _kernel = kernel;
        Process = process;
        CancellationToken = cancellationToken;
    }

    /// <summary>The running process.</summary>
    public EmulatedProcess Process { get; }

    /// <summary>The guest's ABI.</summary>
    public GuestAbi Abi => _kernel.Abi;

    /// <summary>argv.</summary>
    public IReadOnlyList<string> Arguments => Process.Arguments;

    /// <summary>The process's memory (its own loads and stores; no syscall, no hook).</summary>
    public EmulatedAddressSpace Memory => Process.Memory;

    /// <summary>Cancelled when the run is cancelled.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Prints to standard output (like buffered stdio: no write syscall is made).</summary>
    public void Print(string text) => Process.AppendOutput(text);

    /// <summary>Prints a line to standard output.</summary>
    public void PrintLine(string line) => Process.AppendOutput(line + "\n");

    /// <summary>Issues a syscall by name with up to six register arguments.</summary>
    /// <exception cref="ArgumentException">The ABI has no syscall of that name.</exception>
    public ValueTask<long> SyscallAsync(string name, ulong a0 = 0, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0)
    {
        CancellationToken.ThrowIfCancellationRequested();
        return _kernel.SyscallAsync(Process, Abi.Syscalls.GetNumber(name), [a0, a1, a2, a3, a4, a5], CancellationToken);
    }

    /// <summary><c>ioctl(fd, command, argument)</c>.</summary>
    public ValueTask<long> IoctlAsync(int fd, ulong command, ulong argument) => SyscallAsync("ioctl", Register(fd), command, argument);

    /// <summary><c>write(fd, buffer, count)</c>.</summary>
    public ValueTask<long> WriteAsync(int fd, ulong buffer, ulong count) => SyscallAsync("write", Register(fd), buffer, count);

    /// <summary><c>read(fd, buffer, count)</c>.</summary>
    public ValueTask<long> ReadAsync(int fd, ulong buffer, ulong count) => SyscallAsync("read", Register(fd), buffer, count);

    /// <summary><c>close(fd)</c>.</summary>
    public ValueTask<long> CloseAsync(int fd) => SyscallAsync("close", Register(fd));

    /// <summary><c>getpid()</c>.</summary>
    public ValueTask<long> GetPidAsync() => SyscallAsync("getpid");

    /// <summary><c>socket(domain, type, protocol)</c>.</summary>
    public ValueTask<long> SocketAsync(int domain, int type, int protocol) =>
        SyscallAsync("socket", Register(domain), Register(type), Register(protocol));

    /// <summary><c>openat(AT_FDCWD, path, flags, 0)</c>; the path is placed in the program's memory first.</summary>
    public async ValueTask<long> OpenAsync(string path, int flags = 2 /* O_RDWR */)
    {
        var address = await ScratchAsync().ConfigureAwait(false);
        Memory.WriteCString(address, path);
        return await SyscallAsync("openat", Register(-100 /* AT_FDCWD */), address, Register(flags)).ConfigureAwait(false);
    }

    /// <summary>Anonymous private <c>mmap</c> (mmap2 on 32-bit ABIs); returns the address or −errno.</summary>
    public ValueTask<long> MmapAsync(ulong length, PageProtection protection)
    {
        var mipsFlags = Abi.Id is GuestAbiId.Mips or GuestAbiId.MipsEl;
        var flags = mipsFlags ? 0x802UL : 0x22UL;          // MAP_PRIVATE | MAP_ANONYMOUS
        var call = Abi.PointerSize == 4 ? "mmap2" : "mmap";
        return SyscallAsync(call, 0, length, (ulong)protection, flags, Register(-1), 0);
    }

    /// <summary>
    /// File-backed <c>mmap(NULL, length, protection, MAP_PRIVATE or MAP_SHARED, fd, offset)</c> (mmap2 on
    /// 32-bit ABIs; <paramref name="offset"/> in bytes, a multiple of the page size); returns the address or −errno.
    /// </summary>
    public ValueTask<long> MmapFileAsync(ulong length, PageProtection protection, bool shared, int fd, ulong offset = 0)
    {
        var flags = shared ? 1UL : 2UL;                     // MAP_SHARED, MAP_PRIVATE: the same on every architecture
        if (Abi.PointerSize == 4 && offset % 4096 != 0)
            return ValueTask.FromResult(-(long)Abi.ToNativeErrno(GuestErrno.EINVAL));     // as libc answers: mmap2 counts pages
        return Abi.PointerSize == 4
            ? SyscallAsync("mmap2", 0, length, (ulong)protection, flags, Register(fd), offset / 4096)
            : SyscallAsync("mmap", 0, length, (ulong)protection, flags, Register(fd), offset);
    }

    /// <summary><c>chdir(path)</c>; the path is placed in the program's memory first.</summary>
    public async ValueTask<long> ChdirAsync(string path)
    {
        var address = await ScratchAsync().ConfigureAwait(false);
        Memory.WriteCString(address, path);
        return await SyscallAsync("chdir", address).ConfigureAwait(false);
    }

    /// <summary><c>faccessat(AT_FDCWD, path, F_OK, 0)</c>: 0 when the path exists, −errno otherwise (what libc's <c>access</c> becomes).</summary>
    public async ValueTask<long> AccessAsync(string path)
    {
        var address = await ScratchAsync().ConfigureAwait(false);
        Memory.WriteCString(address, path);
        return await SyscallAsync("faccessat", Register(-100 /* AT_FDCWD */), address).ConfigureAwait(false);
    }

    /// <summary><c>munmap(address, length)</c>.</summary>
    public ValueTask<long> MunmapAsync(ulong address, ulong length) => SyscallAsync("munmap", address, length);

    /// <summary><c>mprotect(address, length, protection)</c>.</summary>
    public ValueTask<long> MprotectAsync(ulong address, ulong length, PageProtection protection) =>
        SyscallAsync("mprotect", address, length, (ulong)protection);

    /// <summary><c>prctl(PR_SET_NAME, name)</c>: renames the task (its comm).</summary>
    public async ValueTask<long> SetNameAsync(string name)
    {
        var address = await ScratchAsync().ConfigureAwait(false);
        Memory.WriteCString(address, name);
        return await SyscallAsync("prctl", 15, address).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the installed program named by <paramref name="arguments"/>[0] in a child of this process and
    /// waits for it, as fork, exec and wait would (the emulated kernel issues no syscalls for them): the
    /// child's parent is this process, it inherits the environment, and what it prints joins this
    /// process's output. Returns its exit status, or null when no program has that name (exec's ENOENT).
    /// </summary>
    public async ValueTask<int?> RunChildAsync(IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Count == 0)
            throw new ArgumentException("A process needs at least a program name (argv[0]).", nameof(arguments));
        if (_kernel.FindProgram(arguments[0]) is not { } program)
            return null;
        var child = _kernel.CreateProcess(arguments, Process.Environment, parentPid: Process.Pid);
        var status = await _kernel.RunProgramAsync(program, child, CancellationToken).ConfigureAwait(false);
        Process.AppendOutput(child.Output);
        return status;
    }

    /// <summary>
    /// Runs <paramref name="child"/> in a new child process of this one and waits for it, as fork and wait
    /// would (the emulated kernel issues no syscalls for them): the child has this process's name,
    /// arguments and environment, but a new, empty address space (fork would copy this one); what it prints
    /// joins this process's output. Returns the child's exit status.
    /// </summary>
    public async ValueTask<int> ForkAsync(GuestProgram child)
    {
        ArgumentNullException.ThrowIfNull(child);
        var process = _kernel.CreateProcess(Process.Arguments, Process.Environment, parentPid: Process.Pid);
        process.Comm = Process.Comm;
        var status = await _kernel.RunProgramAsync(child, process, CancellationToken).ConfigureAwait(false);
        Process.AppendOutput(process.Output);
        return status;
    }

    /// <summary>
    /// Replaces this process's program with the installed program named by <paramref name="arguments"/>[0],
    /// as exec does (without the syscall): it runs with this process's pid, parent and environment, in a
    /// new address space and under its own name, and what it prints joins this process's output. Returns
    /// its exit status, which the caller returns as its own (after exec nothing of the old program runs),
    /// or null when no program has that name (exec's ENOENT; the old program goes on).
    /// </summary>
    public async ValueTask<int?> ExecAsync(IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Count == 0)
            throw new ArgumentException("A process needs at least a program name (argv[0]).", nameof(arguments));
        if (_kernel.FindProgram(arguments[0]) is not { } program)
            return null;
        var image = _kernel.ReplaceProcess(Process, arguments);
        var status = await _kernel.RunProgramAsync(program, image, CancellationToken).ConfigureAwait(false);
        Process.AppendOutput(image.Output);
        return status;
    }

    /// <summary>Converts a kernel result to libc's convention: (−1, errno) on failure, (result, 0) otherwise.</summary>
    public static (long Result, int Errno) Libc(long kernelResult) =>
        kernelResult is < 0 and >= -4095 ? (-1, (int)-kernelResult) : (kernelResult, 0);

    /// <summary>A signed value as a register (two's complement at the ABI's width).</summary>
    public ulong Register(long value) => Abi.TruncateToRegister((ulong)value);

    private async ValueTask<ulong> ScratchAsync()
    {
        if (_scratch == 0)
        {
            var result = await MmapAsync((ulong)Abi.PageSize, PageProtection.ReadWrite).ConfigureAwait(false);
            _scratch = result < 0 ? throw new InvalidOperationException($"mmap for a scratch page failed: {result}") : (ulong)result;
        }
        return _scratch;
    }
}
