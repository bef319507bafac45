using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Packaging.Tests;

/// <summary>
/// The packages as a user gets them (docs/packaging.md): <c>dotnet pack</c> of the solution into a folder, then a
/// fresh project outside the repository that references <c>Portal</c> by PackageReference from that folder, with a
/// &lt;PortalHeader&gt;. Its build must run the packed portal-headers through the packed targets, the packed
/// generator must turn the manifest into C#, and the program must run a plugin that reads the C struct through
/// <c>GuestPtr&lt;T&gt;</c> in an emulated guest (Portal.Testing, packed too). Then the portal tool, installed from
/// the same folder, must load that project's plugin class and run it.
/// </summary>
/// <remarks>Packing, the fresh project's folder and the tool's installation: <see cref="PackedRepository"/>.</remarks>
[TestClass, TestCategory("Build")]
public sealed class PackageTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(10 * 60 * 1000, CooperativeCancellation = true)]
    public async Task A_fresh_project_referencing_the_packed_Portal_builds_and_runs_a_generated_proxy()
    {
        var dotnet = new DotnetCli(TestContext);
        using var packed = await PackedRepository.PackAsync(dotnet);
        var packages = packed.Packages;
        var version = packed.Version;

        // 1. The packages (packed from this configuration's build output, at a version made for this run).
        var portal = packed.PackageAt("Portal");
        AssertPortalContents(portal);
        var testing = packed.PackageAt("Portal.Testing");
        var qemu = packed.PackageAt("Portal.Qemu");
        Assert.AreEqual(version, testing.Dependencies["Portal"], "Portal.Testing depends on this very Portal");
        Assert.AreEqual(version, qemu.Dependencies["Portal"]);
        Assert.Contains("lib/net10.0/Portal.Testing.dll", testing.Entries);
        foreach (var source in new[] { "module/portal_main.c", "module/portal.h", "module/portal_arch.h", "module/portal_arm.c", "module/Kbuild",
                     "programs/portal-selftest.c", "init" })
            Assert.Contains($"contentFiles/any/any/guest/{source}", qemu.Entries, "the guest sources travel with Portal.Qemu");
        AssertOnlyPackageProjectsArePacked(packed);

        // 2. A fresh project, outside the repository, with the feed as a package source.
        var app = await packed.CreateProjectFolderAsync("app", dotnet, TestContext.CancellationToken);
        Directory.CreateDirectory(Path.Combine(app, "headers"));
        await File.WriteAllTextAsync(Path.Combine(app, "headers", "demo.h"), """
            #include <stdint.h>
            #define PROBE_IOCTL 0x89F0      /* SIOCDEVPRIVATE, what the emulated guest's ioctl_interaction sends */
            /* The start of the struct ifreq that ioctl_interaction passes: "eth0", then 0x1337. */
            struct probe {
                char name[16];
                int32_t data;
                long extra;             /* 8 bytes, 8-aligned on x86_64 (size 32); 4 on mipsel (size 24) */
            };
            """, TestContext.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
            using Portal;
            using Portal.Abi;
            using Portal.Guests;
            using Portal.Hypersyscalls;
            using Portal.Testing;
            using Portal.Testing.Programs;
            using Sample.Headers.Demo;

            foreach (var name in new[] { "x86_64", "mipsel" })
            {
                var abi = GuestAbi.Parse(name);
                await using var guest = new EmulatedGuest(abi);
                await using var session = await PortalSession.AttachAsync(guest.Connection);
                var plugin = new ProbePlugin();
                await session.LoadPluginAsync(plugin);
                var run = await guest.RunAsync(GuestCommand.Of(IoctlInteraction.Name));
                Console.WriteLine($"{name}: size {Probe.SizeOf(abi)}, handler saw {plugin.Seen}; guest: {run.Output.Trim().Replace('\n', ' ')}");
            }

            sealed class ProbePlugin
            {
                public string Seen { get; private set; } = "nothing";

                [Hypersyscall("ioctl", SyscallPhase.Return)]
                [Arg(1, Is = Demo.PROBE_IOCTL)]
                public async ValueTask OnProbe(SyscallContext syscall)
                {
                    var probe = await syscall.Memory.At<Probe>(syscall.Args[2]).LoadAsync();
                    Seen = $"{probe.Name} 0x{probe.Data:x}";
                    probe.Name = "pkg";     // staged: written with the verdict
                    probe.Data = 0x2a;
                    syscall.Retval = 0;
                }
            }
            """, TestContext.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(app, "Sample.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <RootNamespace>Sample</RootNamespace>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Portal" Version="{version}" />
                <PackageReference Include="Portal.Testing" Version="{version}" />
                <PackageReference Include="Portal.Qemu" Version="{version}" />
                <PortalHeader Include="headers/demo.h" Abis="x86_64;mipsel" />
              </ItemGroup>
            </Project>
            """, TestContext.CancellationToken);

        // 3. Build: the header is parsed by the tool inside the package (the path in the Exec line), through the
        //    package's build/Portal.targets; without them there would be no manifest, no Probe type, and the
        //    build would fail on Program.cs.
        var build = await dotnet.RunAsync(app, packages, "build");
        Assert.AreEqual(0, build.ExitCode, DotnetCli.Tail(build.Output));
        StringAssert.Contains(build.Output, "Portal: parsing", "the package's targets parse the header");
        // NuGet extracts packages to <folder>/<lower-case id>/<version>/.
        var extracted = Path.Combine(packages, "portal", version);
        StringAssert.Contains(build.Output, $"dotnet exec \"{extracted}/build/../tools/portal-headers.dll\"",
            "the packed portal-headers parses it, restored into this test's packages folder");
        StringAssert.Contains(build.Output, $"/analyzer:{extracted}/analyzers/dotnet/cs/Portal.Generators.dll", "the compiler runs the packed generator");
        Assert.IsTrue(File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "guest", "module", "portal_main.c")), "Portal.Qemu's guest sources are copied to the output");

        // 4. Run: the generated proxy in use, with each ABI's layout.
        var run = await dotnet.RunAsync(app, packages, "run", "--no-build");
        Assert.AreEqual(0, run.ExitCode, DotnetCli.Tail(run.Output));
        StringAssert.Contains(run.Output, "x86_64: size 32, handler saw eth0 0x1337; guest: before name=eth0 data=0x1337 rc=0 errno=0 after name=pkg data=0x2a");
        StringAssert.Contains(run.Output, "mipsel: size 24, handler saw eth0 0x1337; guest: before name=eth0 data=0x1337 rc=0 errno=0 after name=pkg data=0x2a");

        // 5. The portal tool, installed from the same feed as a user installs it, runs the fresh project's
        //    plugin class (built against the packages) on the emulated guest.
        var portalTool = await packed.InstallPortalToolAsync(dotnet, app);
        var tool = await dotnet.RunProgramAsync(app, portalTool, "run", "--guest", "emulated", "--abi", "mipsel",
            "--plugin", Path.Combine(app, "bin", "Debug", "net10.0", "Sample.dll"), "--", "ioctl_interaction");
        Assert.AreEqual(0, tool.ExitCode, tool.Output);
        StringAssert.Contains(tool.Output, "before name=eth0 data=0x1337\nrc=0 errno=0\nafter name=pkg data=0x2a\n", "the plugin answered the guest");
        StringAssert.Contains(tool.Output, "handler ProbePlugin.OnProbe: calls=1 exchanges=1", "and the tool counted it");
    }

    /// <summary>The Portal package carries the whole toolchain, at the paths NuGet and build/Portal.targets expect.</summary>
    private static void AssertPortalContents(Package portal)
    {
        string[] expected =
        [
            "lib/net10.0/Portal.Runtime.dll",
            "lib/net10.0/Portal.Runtime.xml",
            "analyzers/dotnet/cs/Portal.Generators.dll",
            // NuGet imports build/<package id>.targets into the projects that reference the package, and nothing else.
            $"build/{portal.Id}.targets",
            // What `dotnet exec tools/portal-headers.dll` needs: without the deps.json and runtimeconfig.json it does not start.
            "tools/portal-headers.dll",
            "tools/portal-headers.deps.json",
            "tools/portal-headers.runtimeconfig.json",
            "tools/System.CommandLine.dll",
        ];
        foreach (var entry in expected)
            Assert.Contains(entry, portal.Entries, $"the Portal package has {entry}");
        Assert.IsFalse(portal.Entries.Any(e => e.StartsWith("lib/", StringComparison.Ordinal) && e.Contains("Generators", StringComparison.Ordinal)),
            "the generator is an analyzer, not a library the user's code references");
        Assert.AreEqual("10.0.0", portal.Dependencies.GetValueOrDefault("Microsoft.Extensions.Logging.Abstractions"), "the runtime's logging");
        Assert.AreEqual("2.17.3", portal.Dependencies.GetValueOrDefault("ELFSharp"), "function hooks read guest binaries' symbols");
        Assert.HasCount(2, portal.Dependencies, "the generator and the tool are inside the package, not dependencies");
    }

    /// <summary>Tests, samples and benchmarks are not packages: `dotnet pack Portal.sln` makes only those of src/ and templates/.</summary>
    private static void AssertOnlyPackageProjectsArePacked(PackedRepository packed)
    {
        var others = File.ReadAllLines(Path.Combine(PackedRepository.RepositoryRoot, "Portal.sln"))
            .Where(l => l.StartsWith("Project(", StringComparison.Ordinal) && l.Contains(".csproj", StringComparison.Ordinal))
            .Select(l => l.Split('"')[5].Replace('\\', '/'))
            .Where(p => !p.StartsWith("src/", StringComparison.Ordinal) && !p.StartsWith("templates/", StringComparison.Ordinal))
            .Select(Path.GetFileNameWithoutExtension)
            .ToList();
        Assert.IsNotEmpty(others, "the solution lists its tests");
        foreach (var package in packed.PackagesInFeed())
            Assert.DoesNotContain(package.Id, others, $"{package.Id} is not a library: it must not be packed");
    }
}
