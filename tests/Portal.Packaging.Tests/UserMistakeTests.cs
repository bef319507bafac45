using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Packaging.Tests;

/// <summary>
/// Issue 14, items 4 and 5, as a user meets them: a fresh project outside the repository, referencing the packed
/// Portal, whose header netdev.h is in a project with RootNamespace FakeEth; and the portal tool installed from the
/// same folder. The default generated names compile from the root namespace, a typo in Structs is a PTL build error
/// at the &lt;PortalHeader&gt; line, and the tool refuses a plugin with a wrong handler signature before anything
/// boots, lists each hook with its filters with --verbose, and names a handler never called instead of printing zeros.
/// </summary>
[TestClass, TestCategory("Build")]
public sealed class UserMistakeTests
{
    private const string NetdevHeader = """
        #include <net/if.h>
        #define NETDEV_PROBE 0x89F0      /* SIOCDEVPRIVATE, what the emulated guest's ioctl_interaction sends */
        #define NETDEV_UNUSED 0x7777
        struct netdev_stats { unsigned int rx; unsigned int tx; };
        """;

    /// <summary>Plugins in the root namespace, using the header's constants by the class name alone (the CS0234 case).</summary>
    private const string Plugins = """
        using FakeEth.Headers.Netdev;
        using Portal.Hypersyscalls;

        namespace FakeEth;

        public sealed class NetdevPlugin
        {
            [Hypersyscall("ioctl", SyscallPhase.Return, Name = "probe")]
            [Arg(1, Is = Netdev.NETDEV_PROBE)]
            public async ValueTask OnProbe(SyscallContext syscall)
            {
                var ifr = await syscall.Memory.At<Ifreq>(syscall.Args[2]).LoadAsync();
                syscall.Retval = ifr.IfrName == "eth0" ? 0 : -1;
            }

            [Hypersyscall("ioctl", SyscallPhase.Enter, Name = "unused", Comm = "nobody")]
            [Arg(1, Is = Netdev.NETDEV_UNUSED)]
            public ValueTask OnUnused(SyscallContext syscall) => ValueTask.CompletedTask;

            public static int StatsSize(Portal.Abi.GuestAbi abi) => NetdevStats.SizeOf(abi);
        }

        /// <summary>Compiles, but portal cannot call it: handlers are async.</summary>
        public sealed class WrongSignaturePlugin
        {
            [Hypersyscall("ioctl", SyscallPhase.Enter)]
            public void OnIoctl(SyscallContext syscall)
            {
            }
        }
        """;

    private static string Project(string version, string structs) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <TargetFramework>net10.0</TargetFramework>
            <RootNamespace>FakeEth</RootNamespace>
            <Nullable>enable</Nullable>
            <ImplicitUsings>enable</ImplicitUsings>
            <EmitCompilerGeneratedFiles>true</EmitCompilerGeneratedFiles>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="Portal" Version="{version}" />
            <PortalHeader Include="headers/netdev.h" Abis="x86_64;mipsel" Structs="{structs}" />
          </ItemGroup>
        </Project>
        """;

    private static PackedRepository? s_packed;
    private static string s_portal = "";

    public TestContext TestContext { get; set; } = null!;

    private static PackedRepository Packed => s_packed ?? throw new InvalidOperationException("The class initialisation did not pack.");

    /// <summary>Packs once for the class and installs the portal tool from the feed, as a user installs it.</summary>
    [ClassInitialize]
    public static async Task PackAndInstallAsync(TestContext context)
    {
        var dotnet = new DotnetCli(context);
        s_packed = await PackedRepository.PackAsync(dotnet);
        var install = await s_packed.CreateProjectFolderAsync("install", dotnet, context.CancellationToken);
        s_portal = await s_packed.InstallPortalToolAsync(dotnet, install);
    }

    [ClassCleanup]
    public static void RemoveTheWorkFolder() => s_packed?.Dispose();

    /// <summary>A fresh FakeEth project in its own folder (each restores into its own packages folder).</summary>
    private async Task<(string Directory, string Packages)> CreateProjectAsync(string name, string structs)
    {
        var app = await Packed.CreateProjectFolderAsync(name, new DotnetCli(TestContext), TestContext.CancellationToken);
        Directory.CreateDirectory(Path.Combine(app, "headers"));
        await File.WriteAllTextAsync(Path.Combine(app, "headers", "netdev.h"), NetdevHeader, TestContext.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(app, "Plugins.cs"), Plugins, TestContext.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(app, "FakeEth.csproj"), Project(Packed.Version, structs), TestContext.CancellationToken);
        return (app, Path.Combine(Packed.Work, name + "-packages"));
    }

    /// <summary>The project without mistakes, built once for the tests that run its plugins.</summary>
    private async Task<string> BuiltProjectAsync()
    {
        var (app, packages) = await CreateProjectAsync("fakeeth", "ifreq;netdev_stats");
        var build = await new DotnetCli(TestContext).RunAsync(app, packages, "build");
        Assert.AreEqual(0, build.ExitCode, DotnetCli.Tail(build.Output));
        return app;
    }

    [TestMethod]
    [Timeout(10 * 60 * 1000, CooperativeCancellation = true)]
    public async Task The_default_generated_names_compile_from_the_root_namespace_and_the_generated_file_shows_them()
    {
        var app = await BuiltProjectAsync();
        // Where docs/typed-proxies.md ("Generated names") says every generated name can be read.
        var generated = Directory.GetFiles(Path.Combine(app, "obj", "Debug", "net10.0", "generated", "Portal.Generators", "Portal.Generators.PortalGenerator"),
            "netdev-*.portal.g.cs").Single();
        var source = await File.ReadAllTextAsync(generated, TestContext.CancellationToken);
        StringAssert.Contains(source, "namespace FakeEth.Headers.Netdev");
        StringAssert.Contains(source, "public static partial class Netdev");
        StringAssert.Contains(source, "public const int NETDEV_PROBE = 35312;");

        // The tool: --verbose lists each hook with its filters; a handler never called is named, not given a line of zeros.
        var dll = Path.Combine(app, "bin", "Debug", "net10.0", "FakeEth.dll");
        var run = await new DotnetCli(TestContext).RunProgramAsync(Packed.Work, s_portal, "run", "--guest", "emulated", "--verbose", "--plugin", $"{dll}#NetdevPlugin", "--", "ioctl_interaction");
        Assert.AreEqual(0, run.ExitCode, run.Output);
        StringAssert.Matches(run.Output, new Regex(@"Registered hook \d+ probe: ioctl Return where arg1 == 0x89f0\n"), run.Output);
        StringAssert.Matches(run.Output, new Regex(@"Registered hook \d+ unused: ioctl Enter where arg1 == 0x7777 and comm is 'nobody'\n"), run.Output);
        StringAssert.Matches(run.Output, new Regex(@"^handler unused: calls=0 exchanges=0 ", RegexOptions.Multiline), "--verbose asks for every handler");
        var quiet = await new DotnetCli(TestContext).RunProgramAsync(Packed.Work, s_portal, "run", "--guest", "emulated", "--plugin", $"{dll}#NetdevPlugin", "--", "ioctl_interaction");
        Assert.AreEqual(0, quiet.ExitCode, quiet.Output);
        StringAssert.Matches(quiet.Output, new Regex(@"^handler probe: calls=1 exchanges=1 ", RegexOptions.Multiline), quiet.Output);
        Assert.DoesNotContain("calls=0", quiet.Output, quiet.Output);
        StringAssert.Contains(quiet.Output, "handlers never called: unused (--verbose lists each hook with its filters)", quiet.Output);

        // A wrong handler signature: refused before the (default, real) guest boots, with nothing else said.
        var wrong = await new DotnetCli(TestContext).RunProgramAsync(Packed.Work, s_portal, "run", "--plugin", $"{dll}#WrongSignaturePlugin", "--", "true");
        Assert.AreEqual(65, wrong.ExitCode, wrong.Output);
        Assert.AreEqual("portal: cannot register FakeEth.WrongSignaturePlugin: WrongSignaturePlugin.OnIoctl must return ValueTask or Task (handlers are async).\n",
            wrong.Output, "no boot line, no build, no guest output");
    }

    [TestMethod]
    [Timeout(10 * 60 * 1000, CooperativeCancellation = true)]
    public async Task A_typo_in_Structs_is_a_build_error_at_the_PortalHeader_line()
    {
        var (app, packages) = await CreateProjectAsync("typo", "ifrq;netdev_stats");
        var build = await new DotnetCli(TestContext).RunAsync(app, packages, "build");
        Assert.AreNotEqual(0, build.ExitCode, DotnetCli.Tail(build.Output));
        var project = Path.Combine(app, "FakeEth.csproj");
        var line = File.ReadAllLines(project).ToList().FindIndex(l => l.Contains("<PortalHeader", StringComparison.Ordinal)) + 1;
        // Without MSBuild's node prefix ("1>"), each error once (the summary at the end repeats them).
        var errors = build.Output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal))
            .Select(l => Regex.Replace(l.Trim(), @"^\d+(:\d+)?>", "")).Distinct().ToList();
        StringAssert.StartsWith(errors.FirstOrDefault(), $"{project}({line},5): error PTL0104: no struct or union named 'ifrq' in {Path.Combine(app, "headers", "netdev.h")} for ABI x86_64",
            DotnetCli.Tail(build.Output));
        Assert.IsTrue(errors.Skip(1).All(e => e.Contains("error PTL0103: no manifest of", StringComparison.Ordinal)),
            "after the reason, only the step's closing PTL0103; no MSB3073, no compiler errors: " + string.Join('\n', errors));
    }
}
