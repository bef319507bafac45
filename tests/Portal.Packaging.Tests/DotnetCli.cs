using System.Diagnostics;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Packaging.Tests;

/// <summary>
/// Runs the dotnet CLI and other programs for a test, as a user would from a shell: stdout and stderr together, killed
/// (with their children) when the test times out, and each dotnet step's duration written to the test's log.
/// </summary>
internal sealed class DotnetCli(TestContext testContext)
{
    /// <summary>
    /// Runs the dotnet CLI in <paramref name="directory"/>, without build servers that would outlive the test; with
    /// <paramref name="packages"/>, NuGet restores into that folder instead of the global one.
    /// </summary>
    public async Task<(int ExitCode, string Output)> RunAsync(string directory, string? packages, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        if (arguments[0] is "build" or "pack" or "test")
        {
            foreach (var argument in new[] { "-nodeReuse:false", "-p:UseSharedCompilation=false", "-v:n" })
                start.ArgumentList.Add(argument);
        }
        // The test host's MSBuild variables would point the child build at the wrong SDK pieces.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
            start.Environment.Remove(name);
        if (packages is not null)
            start.Environment["NUGET_PACKAGES"] = packages;
        var watch = Stopwatch.StartNew();
        var result = await RunAsync(start).ConfigureAwait(false);
        // In the test's log: what each step cost, to keep an eye on the packaging tests' run time.
        testContext.WriteLine($"dotnet {string.Join(' ', arguments.Take(2))}: exit {result.ExitCode} after {watch.Elapsed.TotalSeconds:F1} s");
        return result;
    }

    /// <summary>Runs a program in <paramref name="directory"/>; returns its exit code and its stdout and stderr together.</summary>
    public Task<(int ExitCode, string Output)> RunProgramAsync(string directory, string program, params string[] arguments) =>
        RunAsync(new ProcessStartInfo(program, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true });

    /// <summary>Where this machine's NuGet keeps its packages (NUGET_PACKAGES, a nuget.config, or ~/.nuget/packages).</summary>
    public async Task<string> GlobalPackagesFolderAsync()
    {
        var locals = await RunAsync(Path.GetTempPath(), null, "nuget", "locals", "global-packages", "--list").ConfigureAwait(false);
        Assert.AreEqual(0, locals.ExitCode, locals.Output);
        // "global-packages: /root/.nuget/packages/"
        return locals.Output.Split('\n').Single(l => l.StartsWith("global-packages:", StringComparison.Ordinal))["global-packages:".Length..].Trim();
    }

    /// <summary>The errors of a build log and its end.</summary>
    public static string Tail(string output) => string.Join('\n', output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal)).Distinct().Take(20))
        + "\n...\n" + string.Join('\n', output.Split('\n').TakeLast(25).Select(l => l.Length > 400 ? l[..400] + "…" : l));   // not the compiler's whole command line

    private async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo start)
    {
        using var process = Process.Start(start)!;
        // A test that times out must not leave a build running.
        using var kill = testContext.CancellationToken.Register(() => process.Kill(entireProcessTree: true));
        var output = process.StandardOutput.ReadToEndAsync(testContext.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(testContext.CancellationToken);
        await process.WaitForExitAsync(testContext.CancellationToken).ConfigureAwait(false);
        return (process.ExitCode, await output.ConfigureAwait(false) + await errors.ConfigureAwait(false));
    }
}
