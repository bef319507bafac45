using System.Text;
using Portal.Abi;

namespace Portal.Testing.Processes;

/// <summary>What an open file descriptor refers to.</summary>
internal enum FileKind
{
    Console,
    Null,
    Zero,
    Socket,
    Regular,
    Directory,
}

/// <summary>
/// An open file: what <c>READ_FD_NAME</c> and FILES report and what reads return. A regular file's
/// <see cref="Content"/> is its bytes when it was opened.
/// </summary>
internal sealed record OpenFile(FileKind Kind, string Path, byte[]? Content = null)
{
    /// <summary>O_RDWR, the same on every architecture (the console descriptors and sockets are opened so).</summary>
    public const int ReadWrite = 2;

    public long Position { get; set; }

    /// <summary>The <c>O_*</c> flags it was opened with, in the guest's numbering.</summary>
    public int Flags { get; init; } = ReadWrite;
}

/// <summary>A process of the emulated guest: pid, parent, comm, argv, environment, memory, file descriptors.</summary>
public sealed class EmulatedProcess
{
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();

    internal EmulatedProcess(int pid, GuestAbi abi, IReadOnlyList<string> arguments, IReadOnlyList<string> environment)
    {
        Pid = pid;
        Arguments = arguments;
        Environment = environment;
        Memory = new EmulatedAddressSpace(abi);
        var name = arguments[0];
        Comm = TruncateComm(name[(name.LastIndexOf('/') + 1)..]);
        Files[0] = new OpenFile(FileKind.Console, "/dev/console");
        Files[1] = new OpenFile(FileKind.Console, "/dev/console");
        Files[2] = new OpenFile(FileKind.Console, "/dev/console");
    }

    /// <summary>Process id (also the id of its only thread).</summary>
    public int Pid { get; }

    /// <summary>
    /// The parent's pid (getppid): 1, init, for a command the host runs; the process that started it
    /// (<see cref="Programs.GuestProgramContext.RunChildAsync"/>, <see cref="Programs.GuestProgramContext.ForkAsync"/>)
    /// otherwise, until that one exits and init adopts it; 0 for the kernel's first tasks.
    /// </summary>
    public int ParentPid { get; internal set; } = 1;

    /// <summary>The working directory (<c>chdir</c> changes it); relative paths of syscalls start there.</summary>
    public string WorkingDirectory { get; internal set; } = "/";

    /// <summary>The executable, as <c>/proc/&lt;pid&gt;/exe</c> shows it; null for a kernel thread.</summary>
    internal string? Executable { get; init; }

    /// <summary>A kernel thread: no memory, no descriptors, no argv.</summary>
    internal bool IsKernelThread { get; private init; }

    /// <summary>When it started, in nanoseconds after the emulated kernel was created ("boot").</summary>
    internal long StartedNanoseconds { get; init; }

    /// <summary>The kernel's name for the process: the program's file name, at most 15 bytes; changed by <c>prctl(PR_SET_NAME)</c>.</summary>
    public string Comm { get; internal set; }

    /// <summary>argv (empty for a kernel thread).</summary>
    public IReadOnlyList<string> Arguments { get; private set; }

    /// <summary>The environment, as NAME=value strings.</summary>
    public IReadOnlyList<string> Environment { get; }

    /// <summary>The process's memory.</summary>
    public EmulatedAddressSpace Memory { get; }

    /// <summary>What the process wrote to standard output and standard error.</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
                return _output.ToString();
        }
    }

    internal Dictionary<int, OpenFile> Files { get; } = [];

    /// <summary>Bytes of the scratch area an enter event offers (portal.ko's PORTAL_SCRATCH_MAX).</summary>
    internal const int ScratchSize = 2048;

    private readonly Lock _scratchLock = new();
    private ulong _scratchPage;

    /// <summary>
    /// The scratch area enter events offer (docs/protocol.md §4.1). portal.ko offers the stack below the
    /// caller's stack pointer; an emulated process has no stack, so one page stands in for it, mapped on
    /// first use, its top <see cref="ScratchSize"/> bytes offered.
    /// </summary>
    internal (ulong Address, int Size) ScratchArea()
    {
        lock (_scratchLock)
        {
            var page = (ulong)Memory.Abi.PageSize;
            if (_scratchPage == 0)
                _scratchPage = Memory.Map(page, PageProtection.ReadWrite);
            return (_scratchPage + page - ScratchSize, ScratchSize);
        }
    }

    internal void AppendOutput(string text)
    {
        lock (_outputLock)
            _output.Append(text);
    }

    internal int AllocateFd(OpenFile file)
    {
        lock (Files)
        {
            var fd = 0;
            while (Files.ContainsKey(fd))
                fd++;
            Files[fd] = file;
            return fd;
        }
    }

    /// <summary>A kernel thread (kthreadd): a comm, no argv, no memory, no open files, parent 0.</summary>
    internal static EmulatedProcess KernelThread(int pid, GuestAbi abi, string comm)
    {
        var thread = new EmulatedProcess(pid, abi, [comm], []) { IsKernelThread = true, ParentPid = 0 };
        thread.Files.Clear();
        thread.Arguments = [];
        return thread;
    }

    internal static string TruncateComm(string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        return bytes.Length <= 15 ? name : Encoding.UTF8.GetString(bytes, 0, 15);
    }

    /// <summary>The argument or environment block as the kernel stores it: each string NUL-terminated.</summary>
    internal static byte[] Block(IEnumerable<string> strings) =>
        [.. strings.SelectMany(s => Encoding.UTF8.GetBytes(s).Append((byte)0))];
}
