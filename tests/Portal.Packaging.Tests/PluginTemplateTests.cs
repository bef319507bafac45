using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Packaging.Tests;

/// <summary>
/// <c>dotnet new portal-plugin</c> as a user meets it (docs/packaging.md, "A new plugin project"): the template package
/// packed with the others, installed into a template hive of this test's own (the machine's stays untouched), a project
/// made from it outside the repository against the packed Portal packages, its tests run with <c>dotnet test</c>, and
/// the <c>portal run</c> lines of its README run with the portal tool from the same feed, on the emulated guest.
/// </summary>
[TestClass, TestCategory("Build")]
public sealed partial class PluginTemplateTests
{
    private const string ProjectName = "DevProbe";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(10 * 60 * 1000, CooperativeCancellation = true)]
    public async Task A_project_made_by_the_template_passes_its_tests_and_runs_under_portal()
    {
        var dotnet = new DotnetCli(TestContext);
        using var packed = await PackedRepository.PackAsync(dotnet);
        var template = packed.PackageAt("Portal.Templates");
        Assert.Contains("Template", template.PackageTypes, "dotnet new install accepts only template packages");
        Assert.Contains("content/portal-plugin/.template.config/template.json", template.Entries);

        // 1. Install the template package into a hive of this test's (no effect on the machine's dotnet new).
        var hive = Path.Combine(packed.Work, "template-hive");
        var install = await dotnet.RunAsync(packed.Work, packed.Packages, "new", "install", template.Path, "--debug:custom-hive", hive);
        Assert.AreEqual(0, install.ExitCode, install.Output);
        StringAssert.Contains(install.Output, "portal-plugin");

        // 2. A project from it, in a folder whose nuget.config adds the feed (as a user's would add a folder source).
        var app = await packed.CreateProjectFolderAsync("app", dotnet, TestContext.CancellationToken);
        var create = await dotnet.RunAsync(packed.Work, null, "new", "portal-plugin", "-n", ProjectName, "-o", app, "--debug:custom-hive", hive, "--no-update-check");
        Assert.AreEqual(0, create.ExitCode, create.Output);
        StringAssert.Contains(await File.ReadAllTextAsync(Path.Combine(app, ProjectName, $"{ProjectName}.csproj"), TestContext.CancellationToken),
            $"<PackageReference Include=\"Portal\" Version=\"{packed.Version}\" />", "the plugin references the Portal packed with the template");
        StringAssert.Contains(await File.ReadAllTextAsync(Path.Combine(app, $"{ProjectName}.Tests", $"{ProjectName}.Tests.csproj"), TestContext.CancellationToken),
            $"<PackageReference Include=\"Portal.Testing\" Version=\"{packed.Version}\" />");

        // 3. dotnet test, as the README says: the header is parsed by the packed targets, the tests run on the emulated guest.
        var test = await dotnet.RunAsync(app, packed.Packages, "test");
        Assert.AreEqual(0, test.ExitCode, DotnetCli.Tail(test.Output));
        StringAssert.Contains(test.Output, "Portal: parsing", "the package's targets parse the template's header");
        var summary = TestSummary().Match(test.Output);
        Assert.IsTrue(summary.Success, DotnetCli.Tail(test.Output));
        Assert.AreEqual("3", summary.Groups["total"].Value, "the template's tests: the handler on x86_64 and mipsel, and the guest without it");
        Assert.AreEqual("3", summary.Groups["passed"].Value, DotnetCli.Tail(test.Output));

        // 4. Each emulated-guest `portal run` line of the README, with the tool installed from the feed.
        var portalTool = await packed.InstallPortalToolAsync(dotnet, app);
        var readme = await File.ReadAllLinesAsync(Path.Combine(app, "README.md"), TestContext.CancellationToken);
        var runLines = readme.Where(l => l.StartsWith("portal run --guest emulated ", StringComparison.Ordinal)).ToList();
        Assert.IsNotEmpty(runLines, "the README shows how to run the plugin on the emulated guest");
        foreach (var line in runLines)
        {
            var arguments = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];
            var run = await dotnet.RunProgramAsync(app, portalTool, arguments);
            Assert.AreEqual(0, run.ExitCode, $"{line}\n{run.Output}");
            StringAssert.Contains(run.Output, "rc=0 errno=0\nafter name=eth0 data=0x2a\n", $"{line}: the plugin answered the guest");
            StringAssert.Contains(run.Output, "handler DevicePlugin.OnQuery: calls=1 exchanges=1 ", $"{line}: and the tool counted it");
        }
    }

    /// <summary>VSTest's summary at the verbosity DotnetCli asks for: "Total tests: 3", then "Passed: 3" on the next line.</summary>
    [GeneratedRegex(@"Total tests:\s*(?<total>\d+)\s+Passed:\s*(?<passed>\d+)")]
    private static partial Regex TestSummary();
}
