using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>
/// --error-format msbuild, as build/Portal.targets runs the tool: every error in MSBuild's canonical format, with its
/// PTL code and where it is, so that MSBuild reports the reason itself as the build's error.
/// </summary>
[TestClass]
public sealed class MsBuildErrorFormatTests
{
    static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = HeadersCommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [TestMethod]
    public void A_typo_in_Structs_is_an_error_at_the_line_that_declares_the_header()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("headers/netdev.h", "struct ifreq_like { int a; };\n");
        var project = scratch.Write("FakeEth.csproj", """
            <Project Sdk="Microsoft.NET.Sdk">
              <ItemGroup>
                <PortalHeader Include="headers/other.h" Abis="x86_64" />
                <PortalHeader Include="headers/netdev.h" Abis="x86_64;mipsel" Structs="ifrq" />
              </ItemGroup>
            </Project>
            """);
        var (code, _, error) = Run("manifest", header, "--abis", "x86_64;mipsel", "--structs", "ifrq", "--output", scratch.File("n.json"),
            "--error-format", "msbuild", "--declared-in", project, "--declared-as", "headers/netdev.h");
        Assert.AreEqual(HeadersCommandLine.BadArguments, code, error);
        Assert.AreEqual($"{project}(4,5): error PTL0104: no struct or union named 'ifrq' in {header} for ABI x86_64 (a name given in Structs, or --struct)\n", error);
    }

    [TestMethod]
    public void A_header_that_does_not_parse_gives_one_error_per_clang_error_at_its_line()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("broken.h", "struct good { int a; };\nint broken = ;\nstruct bad { unknown_t x; };\n");
        var (code, _, error) = Run("manifest", header, "--abis", "mipsel", "--output", scratch.File("b.json"), "--error-format", "msbuild");
        Assert.AreEqual(HeadersCommandLine.Failure, code, error);
        Assert.AreEqual($"""
            {header}(2,14): error PTL0105: expected expression (for mipsel)
            {header}(3,14): error PTL0105: unknown type name 'unknown_t' (for mipsel)
            portal-headers: 2 error(s) parsing the header for mipsel; no manifest written

            """, error, "the count is a plain line: MSBuild shows it as a message, not as a third error");
    }

    [TestMethod]
    public void A_limit_exceeded_is_an_error_at_the_header()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("big.h", "struct big { int a; };\n" + new string(' ', 2048));
        var (code, _, error) = Run("manifest", header, "--abis", "x86_64", "--output", scratch.File("b.json"), "--max-header-size", "1K",
            "--error-format", "msbuild", "--declared-in", scratch.File("Missing.csproj"), "--declared-as", "big.h");
        Assert.AreEqual(HeadersCommandLine.LimitExceeded, code, error);
        StringAssert.StartsWith(error, $"{header}: error PTL0106: {header} is 2 KiB, over the 1 KiB size limit");
    }

    [TestMethod]
    public void Without_a_line_that_names_the_item_the_error_is_at_the_project_file()
    {
        using var scratch = TestPaths.Scratch();
        var project = scratch.Write("Wild.csproj", "<Project>\n  <ItemGroup>\n    <PortalHeader Include=\"headers/*.h\" Abis=\"x86_64\" />\n  </ItemGroup>\n</Project>\n");
        Assert.AreEqual(project, ToolErrorWriter.ItemOrigin(project, "headers/a.h"), "a wildcard: no line names the header");
        Assert.AreEqual(scratch.File("gone.csproj"), ToolErrorWriter.ItemOrigin(scratch.File("gone.csproj"), "a.h"), "an unreadable project");
        Assert.AreEqual($"{project}(3,5)", ToolErrorWriter.ItemOrigin(project, "headers/*.h"));
    }

    [TestMethod]
    public void Text_stays_the_default()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("h.h", "struct s { int a; };\n");
        var (code, _, error) = Run("manifest", header, "--abis", "x86_64", "--structs", "t", "--output", scratch.File("h.json"));
        Assert.AreEqual(HeadersCommandLine.BadArguments, code, error);
        StringAssert.StartsWith(error, "portal-headers: no struct or union named 't'");
    }
}
