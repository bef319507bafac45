using System.Diagnostics;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

internal sealed record ProcessResult(int ExitCode, string Output, string Error)
{
    public string Both => Output + Error;
}

/// <summary>The compilers and emulators the truth tests use (installed by scripts/setup-headers.sh).</summary>
internal static class Toolchain
{
    const string Hint = "install the test tools: sudo scripts/setup-headers.sh";

    public static ProcessResult Run(string file, IEnumerable<string> arguments, string? workingDirectory = null,
        IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            info.Environment[k] = v;
        using var process = new Process { StartInfo = info };
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (error) error.Append(e.Data).Append('\n'); };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"cannot run {file} ({e.Message}): {Hint}");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', info.ArgumentList)} did not finish in time");
        }
        process.WaitForExit();
        return new ProcessResult(process.ExitCode, output.ToString(), error.ToString());
    }

    /// <summary>The clang driver arguments equivalent to portal-headers' own libclang command line for <paramref name="abi"/>.</summary>
    public static List<string> ClangArguments(string abi, params string[] extra)
    {
        var args = HeaderParser.ClangArguments(HeaderAbi.Get(abi)).ToList();
        args.AddRange(extra);
        return args;
    }

    public static string Clang => Require("/usr/bin/clang-14", "clang-14");

    /// <summary>The target's own gcc (Debian's cross compilers; the native gcc for x86_64).</summary>
    public static string Gcc(string abi) => abi switch
    {
        "x86_64" => Require("/usr/bin/gcc", "gcc"),
        "i386" => Require("/usr/bin/i686-linux-gnu-gcc", "gcc-i686-linux-gnu"),
        "mipsel" => Require("/usr/bin/mipsel-linux-gnu-gcc", "gcc-mipsel-linux-gnu"),
        "mips" => Require("/usr/bin/mips-linux-gnu-gcc", "gcc-mips-linux-gnu"),
        "armel" => Require("/usr/bin/arm-linux-gnueabi-gcc", "gcc-arm-linux-gnueabi"),
        "aarch64" => Require("/usr/bin/aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
        _ => throw new ArgumentOutOfRangeException(nameof(abi), abi, null),
    };

    /// <summary>How to run a static binary of the ABI: natively for x86_64, under qemu-user otherwise.</summary>
    public static (string File, string[] Prefix) Runner(string abi, string binary) => abi switch
    {
        "x86_64" => (binary, []),
        "i386" => (Require("/usr/bin/qemu-i386-static", "qemu-user-static"), [binary]),
        "mipsel" => (Require("/usr/bin/qemu-mipsel-static", "qemu-user-static"), [binary]),
        "mips" => (Require("/usr/bin/qemu-mips-static", "qemu-user-static"), [binary]),
        "armel" => (Require("/usr/bin/qemu-arm-static", "qemu-user-static"), [binary]),
        "aarch64" => (Require("/usr/bin/qemu-aarch64-static", "qemu-user-static"), [binary]),
        _ => throw new ArgumentOutOfRangeException(nameof(abi), abi, null),
    };

    static string Require(string path, string package)
    {
        if (!File.Exists(path))
            Assert.Fail($"{path} is missing (package {package}): {Hint}");
        return path;
    }

    /// <summary>Only the compiler's error lines (and the lines that locate them), for readable failures.</summary>
    public static string Errors(string compilerOutput)
        => string.Join('\n', compilerOutput.Split('\n').Where(l => l.Contains("error", StringComparison.Ordinal) || l.StartsWith("    error in: ", StringComparison.Ordinal)).Take(40));
}
