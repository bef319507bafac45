using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Portal.Headers;

/// <summary>Reads and writes manifests as JSON: UTF-8, camelCase properties, absent optional properties omitted, indented.</summary>
public static class ManifestJson
{
    // C text ("(A + 1)", "a < b") stays readable: only what JSON requires is escaped.
    static readonly ManifestJsonContext Context = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        IndentSize = 2,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // Kinds are written as their names (JsonStringEnumMemberName), and only names are read.
        Converters =
        {
            new JsonStringEnumConverter<ManifestTypeKind>(namingPolicy: null, allowIntegerValues: false),
            new JsonStringEnumConverter<ManifestRecordKind>(namingPolicy: null, allowIntegerValues: false),
        },
    });

    /// <summary>A single-ABI manifest as indented JSON (ends with a newline).</summary>
    public static string Serialize(LayoutManifest manifest) => JsonSerializer.Serialize(manifest, Context.LayoutManifest) + "\n";

    /// <summary>A multi-ABI manifest file as indented JSON (ends with a newline).</summary>
    public static string Serialize(ManifestFile file) => JsonSerializer.Serialize(file, Context.ManifestFile) + "\n";

    /// <summary>Parses a single-ABI manifest.</summary>
    public static LayoutManifest DeserializeManifest(string json)
        => JsonSerializer.Deserialize(json, Context.LayoutManifest) ?? throw new JsonException("empty manifest");

    /// <summary>Parses a multi-ABI manifest file.</summary>
    public static ManifestFile DeserializeFile(string json)
        => JsonSerializer.Deserialize(json, Context.ManifestFile) ?? throw new JsonException("empty manifest file");

    /// <summary>Writes <paramref name="file"/> to <paramref name="path"/> atomically (a temporary file in the same directory, then a rename).</summary>
    public static void WriteAtomically(ManifestFile file, string path) => AtomicFile.Write(path, Serialize(file));
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true,
    IndentSize = 2)]
[JsonSerializable(typeof(LayoutManifest))]
[JsonSerializable(typeof(ManifestFile))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
