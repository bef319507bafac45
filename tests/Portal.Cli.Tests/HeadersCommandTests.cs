using Portal.Cli;

namespace Portal.Cli.Tests;

/// <summary>portal headers: the portal-headers commands, nested, with portal's exit codes.</summary>
[TestClass]
public sealed class HeadersCommandTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Dump_prints_the_layout_of_a_header_for_an_abi()
    {
        var header = await WriteHeaderAsync("struct point { char tag; long x; };");
        var x64 = await Cli.RunInProcessAsync("headers", "dump", header, "--abi", "x86_64");
        var mipsel = await Cli.RunInProcessAsync("headers", "dump", header, "--abi", "mipsel");
        Assert.AreEqual(0, x64.ExitCode, x64.ToString());
        StringAssert.Contains(x64.Output, "\"point\"");
        StringAssert.Contains(x64.Output, "\"size\": 16", x64.Output);
        StringAssert.Contains(mipsel.Output, "\"size\": 8", mipsel.Output);
    }

    [TestMethod]
    public async Task A_header_that_does_not_parse_exits_1_with_the_compiler_message()
    {
        var header = await WriteHeaderAsync("struct broken { int x };;; nonsense");
        var result = await Cli.RunInProcessAsync("headers", "dump", header, "--abi", "x86_64");
        Assert.AreEqual(ExitCodes.HeaderFailure, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, "no manifest written");
        StringAssert.Contains(result.Errors, "error");
    }

    [TestMethod, TestCategory("Reliability")]
    public async Task A_header_past_a_limit_exits_1_naming_the_limit_and_a_directory_is_a_usage_error()
    {
        // libclang runs in portal-headers' worker process: this test process never reads /dev/zero itself.
        var header = await WriteHeaderAsync("#include \"/dev/zero\"");
        var result = await Cli.RunInProcessAsync("headers", "dump", header, "--abi", "x86_64", "--memory-limit", "256MiB");
        Assert.AreEqual(ExitCodes.HeaderFailure, result.ExitCode, result.ToString());
        StringAssert.Contains(result.Errors, $"portal headers: libclang exceeded the 256 MiB memory limit reading {header} for x86_64");

        var directory = Path.GetDirectoryName(header)!;
        var usage = await Cli.RunInProcessAsync("headers", "dump", directory, "--abi", "x86_64");
        Assert.AreEqual(ExitCodes.Usage, usage.ExitCode, usage.ToString());
        StringAssert.Contains(usage.Errors, $"portal headers: {directory} is a directory, not a header file");
    }

    private async Task<string> WriteHeaderAsync(string text)
    {
        var directory = Directory.CreateTempSubdirectory("portal-cli-headers-").FullName;
        var header = Path.Combine(directory, "test.h");
        await File.WriteAllTextAsync(header, text + "\n", TestContext.CancellationToken);
        return header;
    }
}
