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
}

/// <summary>An open file: what <c>READ_FD_NAME</c> reports and what reads return.</summary>
internal sealed record OpenFile(FileKind Kind, string Path, byte[]? Content = null)
{
    public long Position { get; set; }
}

/// <summary>A process of the emulated guest: pid, parent, comm, argv, environment, memory, file descriptors.</summary>
public sealed class EmulatedProcess
{
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();

    internal EmulatedProcess(int pid, int parentPid, GuestAbi abi, IReadOnlyList<string> arguments, IReadOnlyList<string> environment)
    {
        Pid = pid;
        ParentPid = parentPid;
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
    /// The parent's pid (getppid): 1, the guest's init, for a command the host runs; the process that
    /// started it (<see cref="Programs.GuestProgramContext.RunChildAsync"/>) otherwise; 1 again once that one exited.
    /// </summary>
    public int ParentPid { get; internal set; }

    /// <summary>The kernel's name for the process: the program's file name, at most 15 bytes; changed by <c>prctl(PR_SET_NAME)</c>.</summary>
    public string Comm { get; internal set; }

    /// <summary>argv.</summary>
    public IReadOnlyList<string> Arguments { get; }

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

    internal static string TruncateComm(string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        return bytes.Length <= 15 ? name : Encoding.UTF8.GetString(bytes, 0, 15);
    }

    /// <summary>The argument or environment block as the kernel stores it: each string NUL-terminated.</summary>
    internal static byte[] Block(IEnumerable<string> strings) =>
        [.. strings.SelectMany(s => Encoding.UTF8.GetBytes(s).Append((byte)0))];
}
