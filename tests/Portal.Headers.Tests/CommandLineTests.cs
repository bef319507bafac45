using System.Text.Json.Nodes;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>portal-headers as MSBuild and people call it: exit codes 0/1/2, messages, the atomic manifest file.</summary>
[TestClass]
public sealed class CommandLineTests
{
    const string BrokenHeader = "struct good { int a; };\nint broken = ;\nstruct bad { unknown_t x; };\n#include \"included.h\"\n";
    const string BrokenInclude = "#define FINE 1\nstruct inc { int a b; };\n";

    static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = HeadersCommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>The built tool in its own process (the way MSBuild runs it).</summary>
    static ProcessResult RunTool(IDictionary<string, string>? environment, params string[] args)
        => Toolchain.Run("dotnet", [TestPaths.Tool, .. args], environment: environment);

    [TestMethod]
    public void Dump_prints_the_single_abi_manifest_and_exits_0()
    {
        var (code, output, error) = Run("dump", TestPaths.Raeth, "--abi", "mipsel");
        Assert.AreEqual(0, code, error);
        Assert.AreEqual("", error);
        var json = JsonNode.Parse(output)!;
        ManifestSchema.AssertConforms(output);
        Assert.AreEqual("mipsel", (string?)json["abi"]);
        Assert.AreEqual("mipsel-linux-gnu", (string?)json["target"]);
        StringAssert.StartsWith(output, "{\n  \"version\": 1,\n  \"abi\": \"mipsel\",", "indented JSON, camelCase, in the documented order");
        StringAssert.Contains(output, "\"expression\": \"(RAETH_ESW_REG_READ + 2)\"", "C text is not escaped beyond JSON's needs");
    }

    [TestMethod]
    public void Manifest_writes_the_multi_abi_file_atomically()
    {
        using var scratch = TestPaths.Scratch();
        var target = scratch.File("out/raeth.portal.json");
        var (code, output, error) = Run("manifest", TestPaths.Raeth, "--abis", "x86_64;mipsel", "--output", target, "--struct", "esw_reg", "--struct", "ifreq");
        Assert.AreEqual(0, code, error);
        Assert.AreEqual("", output + error);
        var file = ManifestJson.DeserializeFile(File.ReadAllText(target));
        CollectionAssert.AreEqual(new[] { "x86_64", "mipsel" }, file.Manifests.Select(m => m.Abi).ToArray());
        Assert.AreEqual(TestPaths.Raeth, file.Header);
        CollectionAssert.AreEqual(new[] { "sockaddr", "ifmap", "ifreq", "esw_reg" }, file.Manifests[1].Structs.Select(s => s.Name).ToArray());
        ManifestSchema.AssertConforms(File.ReadAllText(target));
        CollectionAssert.AreEqual(new[] { "raeth.portal.json" }, Directory.GetFiles(scratch.File("out")).Select(Path.GetFileName).ToArray(), "no temporary file is left");
    }

    [TestMethod]
    public void The_arguments_the_msbuild_targets_pass_work_with_empty_and_listed_values()
    {
        using var scratch = TestPaths.Scratch();
        var target = scratch.File("raeth.portal.json");
        var (code, _, error) = Run("manifest", TestPaths.Raeth, "--abis", "x86_64;mipsel", "--include-dirs", "", "--defines", "", "--structs", "",
            "--timeout", "", "--memory-limit", "", "--max-header-size", "", "--max-diagnostics", "", "--output", target);
        Assert.AreEqual(0, code, error);
        var all = ManifestJson.DeserializeFile(File.ReadAllText(target));
        Assert.IsGreaterThan(10, all.Manifests[0].Structs.Count, "an empty --structs keeps everything");

        scratch.Write("inc/extra.h", "struct extra { int x; };\n");
        var header = scratch.Write("top.h", "#include \"extra.h\"\n#define TOP (A + B)\n");
        (code, _, error) = Run("manifest", header, "--abis", "armel", "--include-dirs", scratch.File("inc") + ";", "--defines", "A=1;B=2", "--structs", "extra",
            "--timeout", "30", "--memory-limit", "1GiB", "--max-header-size", "1M", "--max-diagnostics", "50", "--output", target);
        Assert.AreEqual(0, code, error);
        var manifest = ManifestJson.DeserializeFile(File.ReadAllText(target)).Manifests.Single();
        Assert.AreEqual(3, manifest.Constants.Single(c => c.Name == "TOP").Value);
        Assert.AreEqual("extra", manifest.Structs.Single().Name);
    }

    [TestMethod]
    public void Short_options_work_joined_and_separate()
    {
        using var scratch = TestPaths.Scratch();
        scratch.Write("inc/extra.h", "#define EXTRA 5\n");
        var header = scratch.Write("top.h", "#include \"extra.h\"\n#define TOP (EXTRA * X + Y)\n");
        var (code, output, error) = Run("dump", header, "--abi", "i386", "-I", scratch.File("inc"), "-DX=3", "-D", "Y=1");
        Assert.AreEqual(0, code, error);
        Assert.AreEqual(16, ManifestJson.DeserializeManifest(output).Constants.Single(c => c.Name == "TOP").Value);
        (code, output, error) = Run("dump", header, "--abi", "i386", "-I" + scratch.File("inc"), "-D", "X=1", "-DY");
        Assert.AreEqual(0, code, error);
        Assert.AreEqual(6, ManifestJson.DeserializeManifest(output).Constants.Single(c => c.Name == "TOP").Value);
    }

    [TestMethod]
    public void A_header_that_does_not_parse_exits_1_with_every_error_located_and_writes_nothing()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("broken.h", BrokenHeader);
        var included = scratch.Write("included.h", BrokenInclude);
        var target = scratch.File("broken.portal.json");
        var (code, output, error) = Run("manifest", header, "--abis", "x86_64;mips", "--output", target);
        Assert.AreEqual(1, code);
        Assert.AreEqual("", output);
        var lines = error.TrimEnd('\n').Split('\n');
        CollectionAssert.AreEqual(new[]
        {
            $"{header}:2:14: expected expression",
            $"{header}:3:14: unknown type name 'unknown_t'",
            $"{included}:2:19: expected ';' at end of declaration list",
            "portal-headers: 3 error(s) parsing the header for x86_64; no manifest written",
        }, lines);
        Assert.IsFalse(File.Exists(target), "no manifest file");
        Assert.AreEqual(0, Directory.GetFiles(scratch.Path, "*.tmp").Length + Directory.GetFiles(scratch.Path, ".*").Length, "no temporary file");

        File.WriteAllText(target, "previous");
        Assert.AreEqual(1, Run("manifest", header, "--abis", "mips", "--output", target).Code);
        Assert.AreEqual("previous", File.ReadAllText(target), "a failed run leaves an existing file alone");

        (code, output, error) = Run("dump", header, "--abi", "aarch64");
        Assert.AreEqual(1, code);
        Assert.AreEqual("", output, "dump prints no half manifest");
        StringAssert.Contains(error, $"{header}:2:14: expected expression");
    }

    [TestMethod]
    public void A_missing_include_is_a_fatal_error_with_its_location()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("fatal.h", "struct a { int x; };\n#include <no/such/header.h>\n");
        var (code, _, error) = Run("dump", header, "--abi", "mips");
        Assert.AreEqual(1, code);
        StringAssert.StartsWith(error, $"{header}:2:10: 'no/such/header.h' file not found\n");
    }

    [TestMethod]
    public void An_unknown_abi_exits_2_and_lists_the_abis()
    {
        var (code, output, error) = Run("dump", TestPaths.Raeth, "--abi", "sparc");
        Assert.AreEqual(2, code);
        Assert.AreEqual("", output);
        Assert.AreEqual("portal-headers: unknown ABI 'sparc': expected one of x86_64, i386, mipsel, mips, armel, aarch64\n", error);
        using var scratch = TestPaths.Scratch();
        (code, _, error) = Run("manifest", TestPaths.Raeth, "--abis", "x86_64;mipsle", "--output", scratch.File("x.json"));
        Assert.AreEqual(2, code);
        StringAssert.Contains(error, "unknown ABI 'mipsle'");
        Assert.IsFalse(File.Exists(scratch.File("x.json")));
    }

    [TestMethod]
    [DataRow("dump|/no/such/header.h|--abi|x86_64", "portal-headers: header not found: /no/such/header.h")]
    [DataRow("dump|RAETH|--abi|x86_64|-D|=1", "portal-headers: malformed define '=1': expected NAME or NAME=VALUE with NAME a C identifier")]
    [DataRow("dump|RAETH|--abi|x86_64|-D|9LIVES=1", "portal-headers: malformed define '9LIVES=1'")]
    [DataRow("dump|RAETH|--abi|x86_64|-I|/no/such/dir", "portal-headers: include directory not found: /no/such/dir")]
    [DataRow("manifest|RAETH|--abis|mips|--output|OUT|--struct|no_such", "portal-headers: no struct or union named 'no_such'")]
    [DataRow("manifest|RAETH|--abis|;|--output|OUT", "portal-headers: no ABI given")]
    [DataRow("dump|RAETH", "portal-headers: Option '--abi' is required.")]
    [DataRow("dump|RAETH|--abi|x86_64|--bogus", "portal-headers: Unrecognized command or argument '--bogus'.")]
    [DataRow("frobnicate", "portal-headers: Unrecognized command or argument 'frobnicate'.")]
    [DataRow("dump|RAETH|--abi|x86_64|--timeout|soon", "portal-headers: malformed --timeout 'soon': expected a positive number of seconds")]
    [DataRow("dump|RAETH|--abi|x86_64|--timeout|0", "portal-headers: malformed --timeout '0'")]
    [DataRow("dump|RAETH|--abi|x86_64|--memory-limit|64M", "portal-headers: malformed --memory-limit '64M': expected a size of at least 128 MiB")]
    [DataRow("manifest|RAETH|--abis|mips|--output|OUT|--max-header-size|big", "portal-headers: malformed --max-header-size 'big'")]
    [DataRow("dump|RAETH|--abi|x86_64|--max-diagnostics|some", "portal-headers: malformed --max-diagnostics 'some'")]
    [DataRow("dump|/dev/null|--abi|x86_64", "portal-headers: /dev/null is a character device, not a header file")]
    public void Bad_arguments_exit_2_with_one_clear_message(string arguments, string message)
    {
        using var scratch = TestPaths.Scratch();
        var args = arguments.Split('|').Select(a => a.Replace("RAETH", TestPaths.Raeth, StringComparison.Ordinal).Replace("OUT", scratch.File("o.json"), StringComparison.Ordinal)).ToArray();
        var (code, output, error) = Run(args);
        Assert.AreEqual(2, code, error);
        Assert.AreEqual("", output);
        StringAssert.StartsWith(error, message);
        Assert.DoesNotContain("   at ", error, "no stack trace");
        Assert.IsFalse(File.Exists(scratch.File("o.json")));
    }

    [TestMethod]
    public void Help_exits_0()
    {
        var (code, output, _) = Run("manifest", "--help");
        Assert.AreEqual(0, code);
        StringAssert.Contains(output, "--abis");
        StringAssert.Contains(output, "--struct");
    }

    [TestMethod]
    public void A_missing_sysroot_is_one_message_naming_the_package()
    {
        // In process, with an ABI table entry whose sysroot does not exist.
        var fake = new HeaderAbi("mipsel", "mipsel-linux-gnu", ["/nonexistent/mipsel-linux-gnu/include"], "libc6-dev-mipsel-cross");
        var error = Assert.ThrowsExactly<HeaderToolException>(() => HeaderParser.Parse(TestPaths.Raeth, fake));
        Assert.AreEqual("ABI mipsel needs /nonexistent/mipsel-linux-gnu/include: install libc6-dev-mipsel-cross (sudo scripts/setup-headers.sh)", error.Message);

        // The real tool, with the cross sysroots moved away by its environment override.
        using var scratch = TestPaths.Scratch();
        var target = scratch.File("raeth.portal.json");
        var result = RunTool(new Dictionary<string, string> { [HeaderAbi.CrossRootVariable] = "/nonexistent" },
            "manifest", TestPaths.Raeth, "--abis", "x86_64;armel", "--output", target);
        Assert.AreEqual(1, result.ExitCode, result.Both);
        Assert.AreEqual("", result.Output);
        Assert.AreEqual("portal-headers: ABI armel needs /nonexistent/arm-linux-gnueabi/include: install libc6-dev-armel-cross (sudo scripts/setup-headers.sh)\n", result.Error);
        Assert.IsFalse(File.Exists(target));
    }

    [TestMethod]
    public void The_built_tool_returns_the_documented_exit_codes_without_stack_traces()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("broken.h", BrokenHeader);
        scratch.Write("included.h", BrokenInclude);
        var target = scratch.File("m.portal.json");

        var ok = RunTool(null, "manifest", TestPaths.Raeth, "--abis", "mips", "--output", target);
        Assert.AreEqual(0, ok.ExitCode, ok.Both);
        Assert.IsTrue(File.Exists(target));

        var parse = RunTool(null, "dump", header, "--abi", "mips");
        Assert.AreEqual(1, parse.ExitCode);
        StringAssert.StartsWith(parse.Error, $"{header}:2:14: expected expression\n");

        var abi = RunTool(null, "dump", header, "--abi", "ppc");
        Assert.AreEqual(2, abi.ExitCode);
        Assert.AreEqual("portal-headers: unknown ABI 'ppc': expected one of x86_64, i386, mipsel, mips, armel, aarch64\n", abi.Error);

        var noLibclang = RunTool(new Dictionary<string, string> { ["PORTAL_HEADERS_LIBCLANG"] = "/nonexistent/libclang.so" }, "dump", TestPaths.Raeth, "--abi", "mips");
        Assert.AreEqual(1, noLibclang.ExitCode);
        Assert.AreEqual("portal-headers: cannot load libclang from PORTAL_HEADERS_LIBCLANG=/nonexistent/libclang.so\n", noLibclang.Error);

        foreach (var r in new[] { parse, abi, noLibclang })
            Assert.DoesNotContain("   at ", r.Error, "no stack trace");
    }
}
