using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>Plugin assemblies that cannot be used are refused before the guest boots, naming the assembly or class and why: exit code 65.</summary>
[TestClass]
public sealed class PluginLoadingTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task A_file_that_is_not_an_assembly()
    {
        var file = Path.Combine(TestContext.TestRunDirectory ?? Path.GetTempPath(), "not-an-assembly.dll");
        await File.WriteAllTextAsync(file, "MZ? no.", TestContext.CancellationToken);
        await AssertRefusedAsync(file, "not-an-assembly.dll is not a .NET assembly portal can load");
    }

    [TestMethod]
    public Task An_assembly_without_plugins() =>
        AssertRefusedAsync(typeof(PortalSession).Assembly.Location, "Portal.Runtime.dll has no plugin: no class with [Hypersyscall] or [Uprobe] methods.");

    [TestMethod]
    public Task A_class_that_is_not_there_lists_the_plugins_that_are() =>
        AssertRefusedAsync($"{Cli.RaethDll}#NoSuchPlugin",
            "Raeth.dll has no plugin class 'NoSuchPlugin'; its plugins: Portal.Samples.TpLink.RaethPlugin, Portal.Samples.TpLink.RaethSkipPlugin.");

    [TestMethod]
    public Task A_class_without_a_usable_constructor() =>
        AssertRefusedAsync($"{Cli.TestsDll}#NeedsANumber", "Portal.Cli.Tests.NeedsANumber has no constructor portal can call");

    [TestMethod]
    public Task A_constructor_that_throws() =>
        AssertRefusedAsync($"{Cli.TestsDll}#FailsToStart", "Portal.Cli.Tests.FailsToStart's constructor threw InvalidOperationException: no licence file");

    [TestMethod, TestCategory("Reliability")]
    public Task A_static_constructor_that_throws_names_the_inner_exception() =>
        AssertRefusedAsync($"{Cli.TestsDll}#BrokenStatics",
            "Portal.Cli.Tests.BrokenStatics's static constructor threw InvalidOperationException: no configuration file");

    [TestMethod, TestCategory("Reliability")]
    public Task A_constructor_that_meets_a_failing_static_constructor_names_both() =>
        AssertRefusedAsync($"{Cli.TestsDll}#UsesBrokenSettings",
            "Portal.Cli.Tests.UsesBrokenSettings's constructor failed: the static constructor of Portal.Cli.Tests.BrokenSettings threw InvalidOperationException: no settings");

    [TestMethod]
    public Task A_handler_with_the_wrong_signature() =>
        AssertRefusedAsync($"{Cli.TestsDll}#WrongSignature", "cannot register Portal.Cli.Tests.WrongSignature: WrongSignature.OnIoctl must return ValueTask or Task");

    [TestMethod]
    public Task A_syscall_the_guest_does_not_have() =>
        AssertRefusedAsync($"{Cli.TestsDll}#UnknownSyscall", "cannot register Portal.Cli.Tests.UnknownSyscall:");

    private static async Task AssertRefusedAsync(string plugin, string message)
    {
        var result = await Cli.RunInProcessAsync("run", "--guest", "emulated", "--plugin", plugin, "--", "mtk7530_switch", "table_del");
        Assert.AreEqual(ExitCodes.PluginFailure, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, message, result.ToString());
        Assert.AreEqual("", result.Output, "the command did not run");
    }
}
