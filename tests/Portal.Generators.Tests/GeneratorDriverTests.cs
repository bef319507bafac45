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
