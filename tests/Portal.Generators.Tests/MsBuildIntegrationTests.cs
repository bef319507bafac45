using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Generators.Tests;

/// <summary>
/// &lt;PortalHeader&gt; in a project of its own, built with the dotnet CLI as a user would: it must build
/// from clean and run the generated code, and a rebuild with nothing changed must not parse the header
/// again (libclang runs in the portal-headers process, never in the compiler).
/// </summary>
[TestClass, TestCategory("Build")]
public sealed class MsBuildIntegrationTests
{
    public TestContext TestContext { get; set; } = null!;

    private static string RepositoryRoot([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../.."));

    [TestMethod]
    public async Task A_project_with_a_PortalHeader_builds_runs_and_rebuilds_without_reparsing()
    {
        var root = RepositoryRoot();
        var project = Directory.CreateTempSubdirectory("portal-header-project-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(project, "headers"));
            await File.WriteAllTextAsync(Path.Combine(project, "headers", "regs.h"), """
                #include <stdint.h>
                #define REGS_MAGIC 0x5245   /* "RE" */
                struct regs {
                    uint16_t id;
                    long value;             /* 8 bytes on x86_64, 4 on mipsel */
                    char name[8];
                };
                """, TestContext.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(project, "Program.cs"), """
                using Portal.Abi;
                using Portal.Typed;
                using Sample.Headers.Regs;
                var x64 = GuestRecord.Create<Regs>(GuestAbi.X86_64);
                x64.Name = "abc";
                System.Console.WriteLine($"sizes {Regs.SizeOf(GuestAbi.X86_64)} {Regs.SizeOf(GuestAbi.MipsEl)} magic {Sample.Headers.Regs.RegsConstants.REGS_MAGIC:x} name {x64.Name}");
                """, TestContext.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(project, "Sample.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <RootNamespace>Sample</RootNamespace>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>
                  <ItemGroup>
                    <ProjectReference Include="{root}/src/Portal.Runtime/Portal.Runtime.csproj" />
                    <ProjectReference Include="{root}/src/Portal.Generators/Portal.Generators.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
                    <PortalHeader Include="headers/regs.h" Abis="x86_64;mipsel" />
                  </ItemGroup>
                  <Import Project="{root}/build/Portal.InRepository.targets" />
                </Project>
                """, TestContext.CancellationToken);

            var first = await DotnetAsync(project, "build");
            Assert.AreEqual(0, first.ExitCode, Tail(first.Output));
            StringAssert.Contains(first.Output, "Portal: parsing", "a clean build parses the header");
            var manifest = Directory.GetFiles(Path.Combine(project, "obj"), "regs-*.portal.json", SearchOption.AllDirectories).Single();
            var written = File.GetLastWriteTimeUtc(manifest);

            var run = await DotnetAsync(project, "run", "--no-build");
            Assert.AreEqual(0, run.ExitCode, Tail(run.Output));
            StringAssert.Contains(run.Output, "sizes 24 16 magic 5245 name abc");

            var second = await DotnetAsync(project, "build");
            Assert.AreEqual(0, second.ExitCode, Tail(second.Output));
            Assert.DoesNotContain("Portal: parsing", second.Output, "a no-op rebuild does not run libclang again");
            Assert.AreEqual(written, File.GetLastWriteTimeUtc(manifest));

            // Changing an option (the ABIs) is a change: the header is parsed again.
            var csproj = Path.Combine(project, "Sample.csproj");
            await File.WriteAllTextAsync(csproj, (await File.ReadAllTextAsync(csproj, TestContext.CancellationToken)).Replace("x86_64;mipsel", "x86_64;mipsel;mips"),
                TestContext.CancellationToken);
            var third = await DotnetAsync(project, "build");
            Assert.AreEqual(0, third.ExitCode, Tail(third.Output));
            StringAssert.Contains(third.Output, "Portal: parsing");
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }

    /// <summary>
    /// A hostile header (it includes /dev/zero) in a build: the build fails at the memory limit set in the
    /// metadata, in seconds, with portal-headers' own line as the error; the MSBuild node is not involved
    /// (libclang runs in the tool's worker process).
    /// </summary>
    [TestMethod, TestCategory("Reliability")]
    public async Task A_hostile_PortalHeader_fails_the_build_at_its_limit_with_the_tools_message()
    {
        var root = RepositoryRoot();
        var project = Directory.CreateTempSubdirectory("portal-header-hostile-").FullName;
        try
        {
            var header = Path.Combine(project, "zero.h");
            await File.WriteAllTextAsync(header, "#include \"/dev/zero\"\n", TestContext.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(project, "Hostile.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <PortalHeadersTimeout>120</PortalHeadersTimeout>
                  </PropertyGroup>
                  <ItemGroup>
                    <PortalHeader Include="zero.h" Abis="x86_64;mipsel" MemoryLimit="256MiB" />
                  </ItemGroup>
                  <Import Project="{root}/build/Portal.InRepository.targets" />
                </Project>
                """, TestContext.CancellationToken);
            var clock = Stopwatch.StartNew();
            var build = await DotnetAsync(project, "build");
            Assert.AreNotEqual(0, build.ExitCode, Tail(build.Output));
            StringAssert.Contains(build.Output,
                $"{header} : error PTL0106: libclang exceeded the 256 MiB memory limit reading {header} for x86_64 (an #include of a device or a huge file?); no manifest written",
                Tail(build.Output));
            StringAssert.Contains(build.Output, $"error PTL0103: no manifest of {header}: the error above says why.", Tail(build.Output));
            Assert.DoesNotContain("MSB3073", build.Output, "the tool's message is the error, not its command line");
            Assert.IsLessThan(240.0, clock.Elapsed.TotalSeconds, "the build ends at the limit");
            Assert.AreEqual(0, Directory.GetFiles(Path.Combine(project, "obj"), "*.portal.json", SearchOption.AllDirectories).Length, "no manifest");
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }

    /// <summary>The end of a build log, where its errors are.</summary>
    private static string Tail(string output) => string.Join('\n', output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal)).Distinct().Take(20))
        + "\n...\n" + string.Join('\n', output.Split('\n').TakeLast(25));

    /// <summary>Runs the dotnet CLI in <paramref name="directory"/>, without build servers that would outlive the test.</summary>
    private async Task<(int ExitCode, string Output)> DotnetAsync(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        if (arguments[0] == "build")
        {
            foreach (var argument in new[] { "-nodeReuse:false", "-p:UseSharedCompilation=false", "-v:n" })
                start.ArgumentList.Add(argument);
        }
        // The test host's MSBuild variables would point the child build at the wrong SDK pieces.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
            start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.CancellationToken);
        await process.WaitForExitAsync(TestContext.CancellationToken);
        return (process.ExitCode, await output + await errors);
    }
}
