using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Portal.Qemu.Hosting;

/// <summary>
/// A guest's scratch directory in the temporary directory: the console log QEMU writes and the agent's
/// socket. It is named after the owning process, so that the directories of a host that was killed
/// outright (SIGKILL: it could not clean up) are recognised and removed by the next guest's start.
/// </summary>
internal sealed partial class GuestWorkDirectory
{
    private const string Prefix = "portal-guest-";

    private GuestWorkDirectory(string path) => Path = path;

    public string Path { get; }

    /// <summary>The file QEMU writes the guest console (the first serial port) to.</summary>
    public string ConsoleLog => System.IO.Path.Combine(Path, "console.log");

    /// <summary>The unix socket of the agent's virtio-serial port (QEMU is the server).</summary>
    public string AgentSocket => System.IO.Path.Combine(Path, "agent.sock");

    /// <summary>Removes the leftovers of processes that are gone, then creates this process's new directory.</summary>
    public static GuestWorkDirectory Create(ILogger logger)
    {
        SweepLeftovers(logger);
        return new GuestWorkDirectory(Directory.CreateTempSubdirectory($"{Prefix}{Environment.ProcessId}-").FullName);
    }

    /// <summary>The whole console so far ("" when there is none yet).</summary>
    public string ReadConsole()
    {
        try
        {
            using var stream = new FileStream(ConsoleLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Removes the directory and everything in it, if it can (it may be gone already).</summary>
    public void DeleteQuietly() => DeleteQuietly(Path);

    /// <summary>
    /// A host killed outright (SIGKILL) cannot clean up: QEMU dies with it (pdeathsig) and the RAM file
    /// is already unlinked, but its scratch directory stays. Remove those of processes that are gone.
    /// </summary>
    private static void SweepLeftovers(ILogger logger)
    {
        foreach (var directory in Directory.GetDirectories(System.IO.Path.GetTempPath(), Prefix + "*"))
        {
            var owner = System.IO.Path.GetFileName(directory)[Prefix.Length..].Split('-')[0];
            if (int.TryParse(owner, CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                DeleteQuietly(directory);
                Log.Swept(logger, directory);
            }
        }
    }

    private static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(4, LogLevel.Debug, "Removed {Directory}, left by a host that is gone")]
        public static partial void Swept(ILogger logger, string directory);
    }
}
