using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Portal.Tests.Shared;

/// <summary>
/// Portal's demo firmware per architecture (scripts/build-demo-firmware.sh: Debian's glibc and busybox,
/// the switch tool, an rcS that waits for the switch), built at test time once per test process into a
/// scratch directory that is removed when the process ends.
/// </summary>
internal static class DemoFirmware
{
    private static readonly ConcurrentDictionary<string, Lazy<string>> Built = new();
    private static readonly Lazy<string> Scratch = new(() =>
    {
        var directory = Directory.CreateTempSubdirectory("portal-test-firmware-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        return directory;
    });

    /// <summary>The squashfs image of the demo firmware for <paramref name="abi"/> (x86_64, mipsel, aarch64, armel).</summary>
    public static string Squashfs(string abi) => Built.GetOrAdd(abi, name => new Lazy<string>(() => Build(name))).Value;

    /// <summary>A scratch directory of this test process for inputs made from the demo firmware.</summary>
    public static string ScratchDirectory => Scratch.Value;

    private static string Build(string abi)
    {
        var output = Path.Combine(Scratch.Value, $"demo-{abi}.sqfs");
        var run = Run("bash", Path.Combine(RepositoryRoot(), "scripts", "build-demo-firmware.sh"), abi, output);
        return run.ExitCode == 0 ? output : throw new InvalidOperationException($"build-demo-firmware.sh {abi} failed: {run.Output}");
    }

    /// <summary>Runs a tool to its end; its exit code and stdout + stderr.</summary>
    public static (int ExitCode, string Output) Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + errors.Result);
    }

    private static string RepositoryRoot([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../.."));
}
