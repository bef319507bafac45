using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Generators.Tests;

/// <summary>The generator driven directly: snapshots, caching, diagnostics.</summary>
[TestClass]
public sealed class GeneratorDriverTests
{
    private static readonly string SampleManifest = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Manifests", "sample.portal.json"));

    [TestMethod]
    public void The_sample_manifest_generates_the_verified_source()
    {
        var result = GeneratorHarness.Run(("/project/obj/portal/sample.portal.json", SampleManifest, "Portal.Generators.Tests.Sample"));
        Assert.IsEmpty(result.Diagnostics, string.Join("\n", result.Diagnostics));
        var generated = result.Results.Single().GeneratedSources.Single();
        Assert.AreEqual("sample.portal.g.cs", generated.HintName);
        Snapshot.Verify("sample", generated.SourceText.ToString());
    }

    [TestMethod]
    public void A_real_header_generates_the_verified_source()
    {
        // portal-headers' manifest of samples/Raeth/headers/raeth.h (--structs "ifreq;esw_reg"), checked in so
        // the snapshot does not depend on the machine's libc headers.
        var manifest = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Manifests", "raeth-ifreq.portal.json"));
        var result = GeneratorHarness.Run(("/project/obj/portal/raeth-0badc0de.portal.json", manifest, "Portal.Samples.Raeth"));
        Assert.IsEmpty(result.Diagnostics, string.Join("\n", result.Diagnostics));
        var source = result.Results.Single().GeneratedSources.Single().SourceText.ToString();
        StringAssert.Contains(source, "public static partial class Raeth");
        StringAssert.Contains(source, "public const int RAETH_ESW_REG_READ = 35313;");
        Snapshot.Verify("raeth", source);
    }

    [TestMethod]
    public void A_second_run_with_an_unrelated_edit_is_cached_and_models_hold_no_symbols()
    {
        var driver = GeneratorHarness.CreateDriver(("/project/obj/portal/sample.portal.json", SampleManifest, null));
        driver = driver.RunGenerators(GeneratorHarness.Compilation("class Anchor { }"));
        driver = driver.RunGenerators(GeneratorHarness.Compilation("class Anchor { }", "class Edited { int x; }"));
        var second = driver.GetRunResult().Results.Single();

        foreach (var step in new[] { PortalGenerator.Steps.Manifests, PortalGenerator.Steps.Models })
        {
            var runs = second.TrackedSteps[step];
            Assert.IsNotEmpty(runs, step);
            foreach (var (value, reason) in runs.SelectMany(r => r.Outputs))
            {
                Assert.IsTrue(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {reason}");
                AssertNoCompilerObjects(value, step, []);
            }
        }
        var output = second.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(r => r.Outputs);
        Assert.IsTrue(output.All(o => o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged), "nothing re-emitted");
    }

    [TestMethod]
    public void A_malformed_manifest_is_PTL0001_and_generates_nothing()
    {
        var result = GeneratorHarness.Run(("/p/broken.portal.json", "{ \"version\": 1, \"header\": \"x.h\", \"manifests\": [ {", null));
        var diagnostic = result.Diagnostics.Single();
        Assert.AreEqual("PTL0001", diagnostic.Id);
        Assert.AreEqual(DiagnosticSeverity.Error, diagnostic.Severity);
        StringAssert.Contains(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), "/p/broken.portal.json");
        StringAssert.Contains(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), "line 1");
        Assert.IsEmpty(result.Results.Single().GeneratedSources);

        var wrongShape = GeneratorHarness.Run(("/p/shape.portal.json", Manifest("{ \"name\": \"r\", \"kind\": \"struct\", \"size\": 4, \"align\": 4 }"), null));
        StringAssert.Contains(wrongShape.Diagnostics.Single().GetMessage(System.Globalization.CultureInfo.InvariantCulture), "manifests[0].structs[0].fields is missing");
    }

    [TestMethod]
    public void Name_clashes_are_PTL0002_and_renamed()
    {
        var result = GeneratorHarness.Run(("/p/clash.portal.json", Manifest(Record("foo_bar", Field("a", 0, Int)), Record("fooBar", Field("a", 0, Int))), null));
        Assert.AreEqual("PTL0002", result.Diagnostics.Single().Id);
        var source = result.Results.Single().GeneratedSources.Single().SourceText.ToString();
        StringAssert.Contains(source, "partial struct FooBar ");
        StringAssert.Contains(source, "partial struct FooBar2 ");
    }

    [TestMethod]
    public void Members_named_like_a_pointer_member_of_GuestPtr_are_renamed_so_the_extension_is_reachable()
    {
        var result = GeneratorHarness.Run(("/p/ptr.portal.json", Manifest(Record("r", Field("size", 0, Int), Field("record", 4, Int), Field("count", 8, Int))), null));
        CollectionAssert.AreEqual(new[] { "PTL0005", "PTL0005" }, result.Diagnostics.Select(d => d.Id).ToArray());
        Assert.AreEqual(DiagnosticSeverity.Info, result.Diagnostics[0].Severity, "libc's unions have __size: informational");
        StringAssert.Contains(result.Diagnostics[0].GetMessage(System.Globalization.CultureInfo.InvariantCulture), "struct r.size would be the property Size");
        var source = result.Results.Single().GeneratedSources.Single().SourceText.ToString();
        StringAssert.Contains(source, "public int SizeField");
        StringAssert.Contains(source, "GuestFieldPtr<int> SizeField {");
        StringAssert.Contains(source, "GuestFieldPtr<int> RecordField {");
        StringAssert.Contains(source, "GuestFieldPtr<int> Count {");
    }

    [TestMethod]
    public void Unsupported_members_are_PTL0003_and_skipped_while_long_double_is_raw_bytes()
    {
        var longDouble = "{ \"kind\": \"float\", \"spelling\": \"long double\", \"size\": 16 }";
        var functions = "{ \"kind\": \"array\", \"spelling\": \"int (void) [2]\", \"length\": 2, \"element\": { \"kind\": \"function\", \"spelling\": \"int (void)\" } }";
        var result = GeneratorHarness.Run(("/p/ld.portal.json", Manifest(Record("r", Field("x", 0, Int), Field("ld", 16, longDouble), Field("fns", 8, functions))), null));
        var diagnostic = result.Diagnostics.Single();
        Assert.AreEqual("PTL0003", diagnostic.Id);
        Assert.AreEqual(DiagnosticSeverity.Info, diagnostic.Severity, "informational: system headers are full of such members");
        StringAssert.Contains(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), "R.fns is an array of int (void)");
        var source = result.Results.Single().GeneratedSources.Single().SourceText.ToString();
        Assert.DoesNotContain(" Fns", source);
        StringAssert.Contains(source, "public global::System.ReadOnlySpan<byte> Ld");
        StringAssert.Contains(source, "public int X");
    }

    [TestMethod]
    public void Members_whose_kind_differs_between_abis_are_PTL0004()
    {
        var pointer = "{ \"kind\": \"pointer\", \"spelling\": \"void *\", \"size\": 8, \"pointee\": { \"kind\": \"void\", \"spelling\": \"void\" } }";
        var text = $$"""
            { "version": 1, "header": "m.h", "manifests": [
              { "abi": "x86_64", "pointerSize": 8, "bigEndian": false, "structs": [ {{Record("r", Field("h", 0, pointer))}} ] },
              { "abi": "mipsel", "pointerSize": 4, "bigEndian": false, "structs": [ {{Record("r", Field("h", 0, Int))}} ] } ] }
            """;
        var result = GeneratorHarness.Run(("/p/m.portal.json", text, null));
        var diagnostic = result.Diagnostics.Single();
        Assert.AreEqual("PTL0004", diagnostic.Id);
        StringAssert.Contains(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), "treated as absent");
        StringAssert.Contains(result.Results.Single().GeneratedSources.Single().SourceText.ToString(), "H = -1");
    }

    [TestMethod]
    public void Byte_order_defaults_cover_the_socket_structs_and_the_kernels_be_types_and_metadata_extends_or_overrides_them()
    {
        var be16 = "{ \"kind\": \"int\", \"spelling\": \"__be16\", \"size\": 2, \"signed\": false }";
        var text = Manifest(
            Record("in_addr", Field("s_addr", 0, UInt32)),
            Record("sockaddr_in6", Field("sin6_port", 2, UInt16), Field("sin6_flowinfo", 4, UInt32)),
            Record("ethhdr", Field("h_proto", 12, be16)),
            Record("my_hdr", Field("port", 0, UInt16), Field("len", 2, UInt16), Field("inner", 4, Inline(Field("addr", 0, UInt32)))));

        var defaults = Source(GeneratorHarness.Run("/p/d.portal.json", text, []));
        StringAssert.Contains(defaults, "return (uint)_view.ReadUnsignedNetworkOrder(o, 4);");          // in_addr.s_addr
        StringAssert.Contains(defaults, "pointer.NetworkOrderField<ushort>(o, 2)");                      // ...and through a member pointer
        Assert.AreEqual(4, Count(defaults, "_view.WriteUnsignedNetworkOrder("), "s_addr, sin6_port, sin6_flowinfo, h_proto (__be16)");

        // Metadata as MSBuild hands it over (',' between entries); paths reach into records defined inline.
        var run = GeneratorHarness.Run("/p/m.portal.json", text, new()
        {
            ["PortalNetworkOrder"] = "my_hdr.port, my_hdr.inner.addr",
            ["PortalGuestOrder"] = "sockaddr_in6.sin6_flowinfo",
        });
        // PTL0003 (info): this sockaddr_in6 lacks the standard members, so it gets no IPEndPoint helpers.
        Assert.IsEmpty(run.Diagnostics.Where(d => d.Id != "PTL0003"), string.Join("\n", run.Diagnostics));
        var source = Source(run);
        StringAssert.Contains(Member(source, "C <c>unsigned short port</c>"), "ReadUnsignedNetworkOrder");
        StringAssert.Contains(Member(source, "C <c>unsigned int addr</c>"), "ReadUnsignedNetworkOrder");
        StringAssert.Contains(Member(source, "C <c>unsigned short len</c>"), "_view.ReadUInt16(o)");
        StringAssert.Contains(Member(source, "C <c>unsigned int sin6_flowinfo</c>"), "_view.ReadUInt32(o)");
    }

    [TestMethod]
    public void An_alias_decodes_in_the_byte_order_of_the_member_it_stands_for()
    {
        var inAddr = "{ \"kind\": \"record\", \"spelling\": \"struct in_addr\", \"size\": 4, \"record\": \"in_addr\" }";
        var text = $$"""
            { "version": 1, "header": "t.h", "manifests": [ { "abi": "mips", "pointerSize": 4, "bigEndian": true,
              "structs": [ {{Record("in_addr", Field("s_addr", 0, UInt32))}}, {{Record("sockaddr_in", Field("sin_port", 2, UInt16), Field("sin_addr", 4, inAddr))}},
                           {{Record("my_hdr", Field("port", 0, UInt16), Field("len", 2, UInt16))}} ],
              "aliases": [ { "name": "sin_addr_raw", "record": "sockaddr_in", "path": "sin_addr.s_addr" },
                           { "name": "hdr_port", "record": "my_hdr", "path": "port" }, { "name": "hdr_len", "record": "my_hdr", "path": "len" } ] } ] }
            """;
        var source = Source(GeneratorHarness.Run("/p/a.portal.json", text, new() { ["PortalNetworkOrder"] = "my_hdr.port, my_hdr.hdr_len" }));
        StringAssert.Contains(Member(source, "C <c>unsigned int sin_addr_raw</c>"), "ReadUnsignedNetworkOrder", "in_addr.s_addr, by default");
        StringAssert.Contains(Member(source, "C <c>unsigned short hdr_port</c>"), "ReadUnsignedNetworkOrder", "my_hdr.port, by metadata");
        StringAssert.Contains(Member(source, "C <c>unsigned short hdr_len</c>"), "ReadUnsignedNetworkOrder", "the alias named itself");
        StringAssert.Contains(Member(source, "C <c>unsigned short len</c>"), "_view.ReadUInt16(o)", "naming the alias leaves the member alone");
    }

    [TestMethod]
    public void Byte_order_metadata_that_names_nothing_or_a_non_integer_is_PTL0006()
    {
        var text = Manifest(Record("sockaddr_in", Field("sin_port", 2, UInt16), Field("sin_addr", 4, Inline(Field("s_addr", 0, UInt32)))));
        var run = GeneratorHarness.Run("/p/e.portal.json", text, new()
        {
            ["PortalNetworkOrder"] = "sockaddr_in.sin_prot,sockaddr_in.sin_addr,nosuch.member,justaname",
            ["PortalGuestOrder"] = "sockaddr_in.sin_port,sockaddr_in.sin_prot",
        });
        var errors = run.Diagnostics.Where(d => d.Id != "PTL0003").ToList();      // PTL0003: no sin_family, so no IPEndPoint helpers
        var messages = errors.Select(d => d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.IsTrue(errors.All(d => d.Id == "PTL0006" && d.Severity == DiagnosticSeverity.Error), string.Join("\n", messages));
        void Says(string text) => Assert.IsTrue(messages.Any(m => m.Contains(text, StringComparison.Ordinal)), $"no diagnostic says «{text}»:\n{string.Join("\n", messages)}");
        Says("NetworkOrder entry 'justaname' is not a member path");
        Says("sockaddr_in.sin_prot is named by both NetworkOrder and GuestOrder");
        Says("NetworkOrder names sockaddr_in.sin_addr, which is a struct (anonymous): only integer members have a byte order");
        Says("NetworkOrder names nosuch.member, but the header generates no record nosuch");
        Says("NetworkOrder names sockaddr_in.sin_prot, but sockaddr_in has no such member");
        Assert.HasCount(5, messages, string.Join("\n", messages));
        StringAssert.Contains(Member(Source(run), "C <c>unsigned short sin_port</c>"), "_view.ReadUInt16(o)", "GuestOrder took the default back");
    }

    [TestMethod]
    public void A_char_array_also_gets_a_bytes_view_and_a_member_with_that_name_keeps_it()
    {
        var chars = "{ \"kind\": \"array\", \"spelling\": \"char [14]\", \"size\": 14, \"length\": 14, \"element\": { \"kind\": \"char\", \"spelling\": \"char\", \"size\": 1, \"signed\": true } }";
        var run = GeneratorHarness.Run(("/p/b.portal.json", Manifest(Record("sockaddr", Field("sa_data", 2, chars)), Record("r", Field("name", 0, chars), Field("name_bytes", 16, UInt32))), null));
        var source = Source(run);
        StringAssert.Contains(source, "public string SaData");
        StringAssert.Contains(source, "public global::System.ReadOnlySpan<byte> SaDataBytes");
        StringAssert.Contains(source, "public uint NameBytes");
        StringAssert.Contains(source, "public global::System.ReadOnlySpan<byte> NameBytes2");
        var clash = run.Diagnostics.Single();
        Assert.AreEqual("PTL0002", clash.Id);
        StringAssert.Contains(clash.GetMessage(System.Globalization.CultureInfo.InvariantCulture), "name (its bytes) would be the property NameBytes");
    }

    [TestMethod]
    public void An_abi_the_runtime_has_no_id_for_is_PTL0007_and_left_out_of_the_generated_code()
    {
        static string Abi(string name, int limit) => $$"""
            { "abi": "{{name}}", "pointerSize": 8, "bigEndian": false, "structs": [ {{Record("r", Field("x", 0, Int))}} ],
              "constants": [ { "name": "LIMIT", "value": {{limit}}, "unsigned": false, "expression": "{{limit}}" } ] }
            """;
        var text = $$"""{ "version": 1, "header": "u.h", "manifests": [ {{Abi("x86_64", 1)}}, {{Abi("riscv64", 2)}} ] }""";
        var run = GeneratorHarness.Run(("/p/u.portal.json", text, null));
        Assert.IsNull(run.Results.Single().Exception, "the emitter never meets an ABI it cannot name");
        var diagnostic = run.Diagnostics.Single();
        Assert.AreEqual("PTL0007", diagnostic.Id);
        Assert.AreEqual(DiagnosticSeverity.Error, diagnostic.Severity);
        StringAssert.Contains(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), "/p/u.portal.json describes the ABI riscv64");
        var source = Source(run);
        StringAssert.Contains(source, "layouts[(int)global::Portal.Abi.GuestAbiId.X86_64]");
        StringAssert.Contains(source, "public const int LIMIT = 1;", "one ABI left: the constant no longer differs");
        Assert.DoesNotContain("riscv64", source);

        var onlyUnknown = GeneratorHarness.Run(("/p/v.portal.json", $$"""{ "version": 1, "header": "v.h", "manifests": [ {{Abi("sparc", 1)}}, {{Abi("riscv64", 2)}} ] }""", null));
        CollectionAssert.AreEqual(new[] { "PTL0007", "PTL0007" }, onlyUnknown.Diagnostics.Select(d => d.Id).ToArray());
        Assert.IsEmpty(onlyUnknown.Results.Single().GeneratedSources);
    }

    [TestMethod]
    public void A_type_kind_the_reader_does_not_know_is_PTL0003_and_named_as_the_manifest_spells_it()
    {
        var quaternion = "{ \"kind\": \"quaternion\", \"spelling\": \"quat_t\", \"size\": 16 }";
        var run = GeneratorHarness.Run(("/p/q.portal.json", Manifest(Record("r", Field("x", 0, Int), Field("q", 16, quaternion))), null));
        var diagnostic = run.Diagnostics.Single();
        Assert.AreEqual("PTL0003", diagnostic.Id);
        StringAssert.Contains(diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), "R.q has type quat_t (kind quaternion)");
        StringAssert.Contains(Source(run), "public int X");
    }

    [TestMethod]
    public void A_model_with_diagnostics_is_cached_and_its_diagnostics_are_reported_again()
    {
        var manifest = Manifest(Record("foo_bar", Field("a", 0, Int)), Record("fooBar", Field("size", 0, Int)));
        var driver = GeneratorHarness.CreateDriver(("/p/d.portal.json", manifest, null));
        driver = driver.RunGenerators(GeneratorHarness.Compilation("class Anchor { }"));
        var first = driver.GetRunResult().Diagnostics.Select(d => d.ToString()).ToList();
        driver = driver.RunGenerators(GeneratorHarness.Compilation("class Anchor { }", "class Edited { int x; }"));
        var second = driver.GetRunResult();

        CollectionAssert.AreEquivalent(new[] { "PTL0002", "PTL0005" }, second.Diagnostics.Select(d => d.Id).ToArray());
        CollectionAssert.AreEqual(first, second.Diagnostics.Select(d => d.ToString()).ToList());
        foreach (var (value, reason) in second.Results.Single().TrackedSteps[PortalGenerator.Steps.Models].SelectMany(r => r.Outputs))
        {
            Assert.IsTrue(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{PortalGenerator.Steps.Models}: {reason}");
            AssertNoCompilerObjects(value, PortalGenerator.Steps.Models, []);
        }
    }

    private const string UInt16 = "{ \"kind\": \"int\", \"spelling\": \"unsigned short\", \"size\": 2, \"signed\": false }";
    private const string UInt32 = "{ \"kind\": \"int\", \"spelling\": \"unsigned int\", \"size\": 4, \"signed\": false }";

    private static string Inline(params string[] fields) =>
        $"{{ \"kind\": \"record\", \"spelling\": \"struct (anonymous)\", \"size\": 4 }}, \"fields\": [ {string.Join(", ", fields)} ]";

    private static string Source(GeneratorDriverRunResult run) => run.Results.Single().GeneratedSources.Single().SourceText.ToString();

    /// <summary>The generated property whose doc comment starts with <paramref name="summary"/> (up to the next summary).</summary>
    private static string Member(string source, string summary)
    {
        var start = source.IndexOf(summary, StringComparison.Ordinal);
        Assert.IsGreaterThanOrEqualTo(0, start, $"no member «{summary}»");
        var end = source.IndexOf("/// <summary>", start + summary.Length, StringComparison.Ordinal);
        return source[start..(end < 0 ? source.Length : end)];
    }

    private static int Count(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;

    private const string Int = "{ \"kind\": \"int\", \"spelling\": \"int\", \"size\": 4, \"signed\": true }";

    private static string Field(string name, int offset, string type) => $"{{ \"name\": \"{name}\", \"offset\": {offset}, \"size\": 4, \"type\": {type} }}";

    private static string Record(string name, params string[] fields) =>
        $"{{ \"name\": \"{name}\", \"kind\": \"struct\", \"size\": 32, \"align\": 4, \"fields\": [ {string.Join(", ", fields)} ] }}";

    private static string Manifest(params string[] records) =>
        $"{{ \"version\": 1, \"header\": \"t.h\", \"manifests\": [ {{ \"abi\": \"x86_64\", \"pointerSize\": 8, \"bigEndian\": false, \"structs\": [ {string.Join(", ", records)} ] }} ] }}";

    /// <summary>Pipeline values must be plain data: no symbols, syntax, locations or compilations (they defeat caching).</summary>
    private static void AssertNoCompilerObjects(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value))
            return;
        Assert.IsFalse(value is ISymbol or SyntaxNode or SyntaxTree or Location or Compilation or SemanticModel,
            $"{path} holds a {value.GetType().Name}");
        if (value is Type)
            return;     // records' EqualityContract
        if (value is DiagnosticDescriptor)
            return;     // immutable and compared by value: what a diagnostic in the model names (as System.Text.Json's generator does)
        if (value is System.Collections.IEnumerable items)
        {
            var index = 0;
            foreach (var item in items)
                AssertNoCompilerObjects(item, $"{path}[{index++}]", seen);
            return;
        }
        if (value.GetType().Assembly != typeof(PortalGenerator).Assembly)
            Assert.Fail($"{path} holds a {value.GetType().FullName}, which is not a generator model type");
        foreach (var property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length == 0)
                AssertNoCompilerObjects(property.GetValue(value), $"{path}.{property.Name}", seen);
        }
    }
}

/// <summary>
/// Compares generated source with a checked-in Snapshots/NAME.verified.cs. On a difference the new
/// text is written next to it as NAME.received.cs; set PORTAL_ACCEPT_SNAPSHOTS=1 to accept it.
/// </summary>
internal static class Snapshot
{
    public static void Verify(string name, string actual, [CallerFilePath] string caller = "")
    {
        var directory = Path.Combine(Path.GetDirectoryName(caller)!, "Snapshots");
        var verified = Path.Combine(directory, $"{name}.verified.cs");
        var received = Path.Combine(directory, $"{name}.received.cs");
        actual = actual.Replace("\r\n", "\n");
        if (Environment.GetEnvironmentVariable("PORTAL_ACCEPT_SNAPSHOTS") == "1")
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(verified, actual);
        }
        var expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == actual)
        {
            File.Delete(received);
            return;
        }
        Directory.CreateDirectory(directory);
        File.WriteAllText(received, actual);
        var firstDifference = expected is null ? "no verified file" : FirstDifference(expected, actual);
        Assert.Fail($"Generated source differs from {verified} ({firstDifference}). The new text is in {received}; rerun with PORTAL_ACCEPT_SNAPSHOTS=1 to accept it.");
    }

    private static string FirstDifference(string expected, string actual)
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            if (a[i] != b[i])
                return $"line {i + 1}: expected «{a[i].Trim()}», got «{b[i].Trim()}»";
        }
        return $"{a.Length} lines expected, {b.Length} generated";
    }
}
