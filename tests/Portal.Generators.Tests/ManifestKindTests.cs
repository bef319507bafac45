using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Generators.Json;

namespace Portal.Generators.Tests;

/// <summary>
/// The manifest's type kinds are written by portal-headers (its ManifestTypeKind, checked against the schema by the
/// header tests) and read here: the generator's reader must know every kind the checked-in schema allows, and nothing else.
/// </summary>
[TestClass]
public sealed class ManifestKindTests
{
    [TestMethod]
    public void The_reader_knows_exactly_the_schemas_type_kinds()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(SchemaPath()));
        var allowed = schema.RootElement.GetProperty("$defs").GetProperty("type").GetProperty("properties").GetProperty("kind")
            .GetProperty("enum").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal).ToArray();

        var field = typeof(ManifestReader).GetField("TypeKinds", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new AssertFailedException("ManifestReader.TypeKinds (the kind string → ManifestTypeKind map) moved: update this test");
        var read = (IReadOnlyDictionary<string, ManifestTypeKind>)field.GetValue(null)!;

        CollectionAssert.AreEqual(allowed, read.Keys.Order(StringComparer.Ordinal).ToArray(), "the kinds ManifestReader reads vs the schema's");
        var kinds = Enum.GetValues<ManifestTypeKind>().Where(k => k != ManifestTypeKind.Unknown).ToArray();
        CollectionAssert.AreEquivalent(kinds, read.Values.ToArray(), "every ManifestTypeKind but Unknown comes from exactly one string");
        foreach (var (name, kind) in read)
            Assert.AreEqual(name, kind.ToString().ToLowerInvariant(), "a kind string names its enum member");
    }

    private static string SchemaPath([CallerFilePath] string file = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../../src/Portal.Headers/layout-manifest.schema.json"));
}
