using System.Runtime.InteropServices;

namespace Portal.Cli.Running;

/// <summary>
/// <c>dotnet run --project src/Portal.Cli -- run …</c> (the README's form) starts portal as a child of the
/// <c>dotnet run</c> process. Killing that wrapper outright (<c>kill -9</c>, a CI job's timeout) would
/// leave portal and its QEMU running until the guest command ends. So, when portal's parent is
/// <c>dotnet run</c>, the kernel is asked to send portal SIGTERM when the parent dies
/// (<c>PR_SET_PDEATHSIG</c>), which shuts the guest down in order (<see cref="InterruptSignals"/>).
/// </summary>
/// <remarks>
/// Only under <c>dotnet run</c>: a shell or a test host is no wrapper, and portal must outlive a shell
/// that started it in the background. The signal follows the parent <em>thread</em> that started portal;
/// <c>dotnet run</c> starts its child from its main thread and waits there, so it comes only when the
/// wrapper ends. It comes several times then (the kernel hands portal to each of the wrapper's dying
/// threads in turn and signals at each step): <see cref="InterruptSignals"/> takes a burst of the same
/// signal as one.
/// </remarks>
internal static partial class ParentWatch
{
    private const int PrSetPdeathsig = 1;
    private const int SigTerm = 15;

    /// <summary>Arms the parent-death signal when the parent is <c>dotnet run</c>; returns whether it did.</summary>
    public static bool BindToDotnetRunWrapper()
    {
        if (!OperatingSystem.IsLinux())
            return false;
        var parent = GetParentProcessId();
        if (!IsDotnetRun(parent))
            return false;
        if (SetParentDeathSignal(PrSetPdeathsig, SigTerm, 0, 0, 0) != 0)
            return false;
        // The wrapper may have died before the signal was armed: then portal was already re-parented.
        if (GetParentProcessId() != parent)
            SendSignal(Environment.ProcessId, SigTerm);
        return true;
    }

    /// <summary>Whether the process runs the .NET host with "run" as its command (<c>dotnet run …</c>, before any "--").</summary>
    internal static bool IsDotnetRun(int pid)
    {
        string[] arguments;
        try
        {
            arguments = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
        return arguments.Length > 1 && Path.GetFileName(arguments[0]) == "dotnet" && arguments.Skip(1).TakeWhile(a => a != "--").Contains("run");
    }

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentProcessId();

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int SetParentDeathSignal(int option, nuint signal, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
