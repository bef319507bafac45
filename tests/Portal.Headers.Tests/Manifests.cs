using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace Portal.Headers.Tests;

/// <summary>
/// Each header is parsed once per test run for every ABI and shared: one <see cref="HeaderParser.ParseAll"/>,
/// so one header-parser worker process per header, not one per ABI.
/// </summary>
internal static class Manifests
{
    static readonly ConcurrentDictionary<string, Lazy<ManifestFile>> Cache = new();

    public static LayoutManifest Get(string header, string abi)
        => Cache.GetOrAdd(header, key => new Lazy<ManifestFile>(() => HeaderParser.ParseAll(key, TestPaths.Abis))).Value
            .Manifests.Single(m => m.Abi == abi);

    public static LayoutManifest Torture(string abi) => Get(TestPaths.Torture, abi);

    public static LayoutManifest Raeth(string abi) => Get(TestPaths.Raeth, abi);

    /// <summary>A copy of <paramref name="manifest"/> changed through its JSON (to show that the checkers catch a wrong manifest).</summary>
    public static LayoutManifest Mutate(LayoutManifest manifest, Action<JsonObject> change)
    {
        var node = JsonNode.Parse(ManifestJson.Serialize(manifest))!.AsObject();
        change(node);
        return ManifestJson.DeserializeManifest(node.ToJsonString());
    }

    public static JsonObject Record(JsonObject manifest, string name)
        => manifest["structs"]!.AsArray().Select(s => s!.AsObject()).Single(s => (string?)s["name"] == name);

    public static JsonObject Field(JsonObject record, string name)
        => record["fields"]!.AsArray().Select(f => f!.AsObject()).Single(f => (string?)f["name"] == name);

    public static ManifestRecord Record(this LayoutManifest manifest, string name) => manifest.Structs.Single(s => s.Name == name);

    public static ManifestField Field(this ManifestRecord record, string name) => record.Fields!.Single(f => f.Name == name);

    public static ManifestField Field(this ManifestField field, string name) => field.Fields!.Single(f => f.Name == name);
}
