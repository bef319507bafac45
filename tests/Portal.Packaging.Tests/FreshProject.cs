using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Packaging.Tests;

/// <summary>
/// What the tests of this project share to use the packages as a user does (docs/packaging.md): packing the
/// solution into a folder, a fresh project outside the repository that restores from it, and the dotnet CLI run
/// without build servers that would outlive a test.
/// </summary>
internal static class FreshProject
{
    public static string RepositoryRoot([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../.."));

    /// <summary>
    /// Packs the solution's build output of <paramref name="configuration"/> into <paramref name="feed"/> with a version
    /// suffix unique to this run (nothing stale can satisfy a fresh project); returns dotnet pack's result and the suffix.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string Suffix)> PackAsync(TestContext context, string configuration, string work, string feed)
    {
        // Prerelease labels are letters, digits and dots. The nuspec files are written here rather than into the projects' obj/.
        var suffix = $"test{DateTime.UtcNow:yyyyMMddHHmmss}{Guid.NewGuid():N}"[..28];
        var root = RepositoryRoot();
        var (exitCode, output) = await DotnetAsync(context, root, null, "pack", Path.Combine(root, "Portal.sln"), "-c", configuration, "--no-build", "-o", feed,
            $"-p:VersionSuffix={suffix}", $"-p:NuspecOutputPath={Path.Combine(work, "nuspec")}/");
        return (exitCode, output, suffix);
    }

    /// <summary>
    /// Makes <paramref name="directory"/> a place for a fresh project: empty Directory.* files stop MSBuild's search
    /// upwards, so nothing from an enclosing folder (like the repository's central package versions) applies; a
    /// nuget.config adds the feed to the machine's sources (they provide Microsoft.Extensions.Logging.Abstractions)
    /// and reads the machine's global packages folder as a fallback (this run's Portal version cannot be in it).
    /// </summary>
    public static async Task CreateAsync(TestContext context, string directory, string feed)
    {
        Directory.CreateDirectory(directory);
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            await File.WriteAllTextAsync(Path.Combine(directory, file), "<Project />", context.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="portal-packaging-test" value="{feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine" value="{await GlobalPackagesFolderAsync(context)}" />
              </fallbackPackageFolders>
            </configuration>
            """, context.CancellationToken);
    }

    /// <summary>Where this machine's NuGet keeps its packages (NUGET_PACKAGES, a nuget.config, or ~/.nuget/packages).</summary>
    private static async Task<string> GlobalPackagesFolderAsync(TestContext context)
    {
        var locals = await DotnetAsync(context, Path.GetTempPath(), null, "nuget", "locals", "global-packages", "--list");
        Assert.AreEqual(0, locals.ExitCode, locals.Output);
        // "global-packages: /root/.nuget/packages/"
        return locals.Output.Split('\n').Single(l => l.StartsWith("global-packages:", StringComparison.Ordinal))["global-packages:".Length..].Trim();
    }

    /// <summary>The errors of a build log and its end.</summary>
    public static string Tail(string output) => string.Join('\n', output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal)).Distinct().Take(20))
        + "\n...\n" + string.Join('\n', output.Split('\n').TakeLast(25).Select(l => l.Length > 400 ? l[..400] + "…" : l));   // not the compiler's whole command line

    /// <summary>Runs a program; returns its exit code and its stdout and stderr together.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(TestContext context, string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        using var kill = context.CancellationToken.Register(() => process.Kill(entireProcessTree: true));
        var output = process.StandardOutput.ReadToEndAsync(context.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(context.CancellationToken);
        await process.WaitForExitAsync(context.CancellationToken);
        return (process.ExitCode, await output + await errors);
    }

    /// <summary>
    /// Runs the dotnet CLI in <paramref name="directory"/>, without build servers that would outlive the test; with
    /// <paramref name="packages"/>, NuGet restores into that folder instead of the global one.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> DotnetAsync(TestContext context, string directory, string? packages, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        if (arguments[0] is "build" or "pack")
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
        using var process = Process.Start(start)!;
        // A test that times out must not leave a build running.
        using var kill = context.CancellationToken.Register(() => process.Kill(entireProcessTree: true));
        var output = process.StandardOutput.ReadToEndAsync(context.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(context.CancellationToken);
        await process.WaitForExitAsync(context.CancellationToken);
        // In the test's log: what each step cost, to keep an eye on these tests' run time.
        context.WriteLine($"dotnet {string.Join(' ', arguments.Take(2))}: exit {process.ExitCode} after {watch.Elapsed.TotalSeconds:F1} s");
        return (process.ExitCode, await output + await errors);
    }
}
