using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>
/// The manifest's JSON Schema, as checked in (src/Portal.Headers/layout-manifest.schema.json, the contract of
/// docs/layout-manifest.md), evaluated with JsonSchema.Net.
/// </summary>
internal static class ManifestSchema
{
    public static string FilePath => Path.Combine(TestPaths.RepositoryRoot, "src", "Portal.Headers", "layout-manifest.schema.json");

    // Built once: building registers the schema under its $id, which may be done only once per process.
    static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromFile(FilePath));

    /// <summary>The schema as plain JSON, to read what it lists.</summary>
    public static JsonObject Json => JsonNode.Parse(File.ReadAllText(FilePath))!.AsObject();

    /// <summary>
    /// Where <paramref name="json"/> (a manifest file or a single-ABI manifest) breaks the schema: one line per cause,
    /// <c>/structs/3/kind: enum: …</c>; empty when it conforms.
    /// </summary>
    public static List<string> Problems(string json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. Causes(Schema.Value.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Hierarchical }))];
    }

    public static List<string> Problems(JsonNode json) => Problems(json.ToJsonString());

    // The failures that make a node fail. Not every failing subschema is one: an `if` that fails only picks `else`; and a
    // `not` fails when its subschema passes, which JsonSchema.Net reports with no message, so the message is made here.
    static IEnumerable<string> Causes(EvaluationResults node)
    {
        if (node.IsValid)
            yield break;
        foreach (var (keyword, message) in node.Errors ?? new Dictionary<string, string>())
            yield return $"{node.InstanceLocation}: {keyword}: {message}";
        foreach (var child in node.Details ?? [])
        {
            var path = child.EvaluationPath.ToString();
            if (path.EndsWith("/if", StringComparison.Ordinal))
                continue;
            if (path.EndsWith("/not", StringComparison.Ordinal))
            {
                if (child.IsValid)
                    yield return $"{child.InstanceLocation}: not: matches {path}, which it must not";
                continue;
            }
            foreach (var cause in Causes(child))
                yield return cause;
        }
    }

    public static void AssertConforms(string json)
    {
        var problems = Problems(json);
        Assert.AreEqual(0, problems.Count, string.Join('\n', problems.Take(30)));
    }
}
