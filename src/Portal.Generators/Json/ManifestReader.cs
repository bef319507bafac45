using System;
using System.Collections.Generic;
using System.Linq;

namespace Portal.Generators.Json;

/// <summary>A manifest that does not follow the schema; the message says where.</summary>
internal sealed class ManifestException(string message) : Exception(message);

/// <summary>Reads a multi-ABI manifest file (<c>{ "version": 1, "header", "manifests": [...] }</c>).</summary>
internal static class ManifestReader
{
    public static (string Header, List<AbiManifest> Abis) Read(string text)
    {
        JsonValue root;
        try
        {
            root = JsonReader.Parse(text);
        }
        catch (JsonFormatException e)
        {
            throw new ManifestException($"not valid JSON ({e.Message})");
        }
        if (root["version"]?.AsInt64() != 1)
            throw new ManifestException("\"version\" must be 1");
        var header = root["header"]?.AsString() ?? throw new ManifestException("\"header\" is missing");
        var manifests = root["manifests"] as JsonArray ?? throw new ManifestException("\"manifests\" must be an array");
        if (manifests.Items.Count == 0)
            throw new ManifestException("\"manifests\" is empty: no ABI was described");
        var abis = manifests.Items.Select((m, i) => ReadAbi(m, $"manifests[{i}]")).ToList();
        var duplicate = abis.GroupBy(a => a.Abi).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ManifestException($"ABI {duplicate.Key} is described twice");
        return (header, abis);
    }

    private static AbiManifest ReadAbi(JsonValue value, string path)
    {
        var manifest = new AbiManifest
        {
            Abi = String(value, "abi", path),
            PointerSize = Int(value, "pointerSize", path),
            BigEndian = value["bigEndian"]?.AsBool() ?? throw Missing(path, "bigEndian"),
        };
        if (manifest.PointerSize is not (4 or 8))
            throw new ManifestException($"{path}.pointerSize is {manifest.PointerSize}, not 4 or 8");
        manifest.Records = Array(value, "structs", path).Select((r, i) => ReadRecord(r, $"{path}.structs[{i}]")).ToList();
        manifest.Enums = OptionalArray(value, "enums").Select((e, i) => ReadEnum(e, $"{path}.enums[{i}]")).ToList();
        manifest.Constants = OptionalArray(value, "constants").Select((c, i) => new RawConstant
        {
            Name = String(c, "name", $"{path}.constants[{i}]"),
            Value = c["value"]?.AsInt64() ?? throw Missing($"{path}.constants[{i}]", "value"),
            Unsigned = c["unsigned"]?.AsBool() ?? false,
            Expression = c["expression"]?.AsString() ?? "",
        }).ToList();
        manifest.Aliases = OptionalArray(value, "aliases").Select((a, i) => new RawAlias
        {
            Name = String(a, "name", $"{path}.aliases[{i}]"),
            Record = String(a, "record", $"{path}.aliases[{i}]"),
            Path = String(a, "path", $"{path}.aliases[{i}]"),
        }).ToList();
        return manifest;
    }

    private static RawRecord ReadRecord(JsonValue value, string path)
    {
        var kind = String(value, "kind", path);
        if (kind is not ("struct" or "union"))
            throw new ManifestException($"{path}.kind is \"{kind}\", not struct or union");
        var incomplete = value["incomplete"]?.AsBool() ?? false;
        return new RawRecord
        {
            Name = String(value, "name", path),
            IsUnion = kind == "union",
            Incomplete = incomplete,
            Size = incomplete ? 0 : Int(value, "size", path),
            Align = incomplete ? 0 : Int(value, "align", path),
            Fields = incomplete ? [] : Array(value, "fields", path).Select((f, i) => ReadField(f, $"{path}.fields[{i}]")).ToList(),
        };
    }

    private static RawField ReadField(JsonValue value, string path)
    {
        var field = new RawField
        {
            Name = value["name"]?.AsString() ?? throw Missing(path, "name"),
            Offset = Int(value, "offset", path),
            Size = value["size"]?.AsInt64() is { } size ? (int)size : 0,
            Type = ReadType(value["type"] ?? throw Missing(path, "type"), $"{path}.type"),
            BitOffset = (int?)value["bitOffset"]?.AsInt64(),
            BitWidth = (int?)value["bitWidth"]?.AsInt64(),
        };
        if (field.Offset < 0 || field.Size < 0)
            throw new ManifestException($"{path} has a negative offset or size");
        if (value["fields"] is JsonArray nested)
            field.Fields = nested.Items.Select((f, i) => ReadField(f, $"{path}.fields[{i}]")).ToList();
        return field;
    }

    /// <summary>The manifest's type kinds; any other is <see cref="ManifestTypeKind.Unknown"/>.</summary>
    private static readonly Dictionary<string, ManifestTypeKind> TypeKinds = new(StringComparer.Ordinal)
    {
        ["void"] = ManifestTypeKind.Void,
        ["bool"] = ManifestTypeKind.Bool,
        ["char"] = ManifestTypeKind.Char,
        ["int"] = ManifestTypeKind.Int,
        ["float"] = ManifestTypeKind.Float,
        ["pointer"] = ManifestTypeKind.Pointer,
        ["array"] = ManifestTypeKind.Array,
        ["record"] = ManifestTypeKind.Record,
        ["enum"] = ManifestTypeKind.Enum,
        ["function"] = ManifestTypeKind.Function,
    };

    private static RawType ReadType(JsonValue value, string path)
    {
        var kind = String(value, "kind", path);
        return new RawType
        {
            Kind = TypeKinds.TryGetValue(kind, out var known) ? known : ManifestTypeKind.Unknown,
            KindName = kind,
            Spelling = value["spelling"]?.AsString() ?? "",
            Size = (int?)value["size"]?.AsInt64(),
            Signed = value["signed"]?.AsBool(),
            Element = value["element"] is { } element ? ReadType(element, $"{path}.element") : null,
            Length = (int?)value["length"]?.AsInt64(),
            Pointee = value["pointee"] is { } pointee ? ReadType(pointee, $"{path}.pointee") : null,
            Record = value["record"]?.AsString(),
            Enum = value["enum"]?.AsString(),
        };
    }

    private static RawEnum ReadEnum(JsonValue value, string path) => new()
    {
        Name = String(value, "name", path),
        Size = Int(value, "size", path),
        Signed = value["signed"]?.AsBool() ?? true,
        Values = Array(value, "values", path).Select((v, i) =>
            (String(v, "name", $"{path}.values[{i}]"), v["value"]?.AsInt64() ?? throw Missing($"{path}.values[{i}]", "value"))).ToList(),
    };

    private static string String(JsonValue value, string name, string path) =>
        value[name]?.AsString() ?? throw Missing(path, name);

    private static int Int(JsonValue value, string name, string path) =>
        value[name]?.AsInt64() is { } number && number is >= int.MinValue and <= int.MaxValue ? (int)number : throw Missing(path, name);

    private static IReadOnlyList<JsonValue> Array(JsonValue value, string name, string path) =>
        (value[name] as JsonArray ?? throw Missing(path, name)).Items;

    private static IReadOnlyList<JsonValue> OptionalArray(JsonValue value, string name) =>
        (value[name] as JsonArray)?.Items ?? System.Array.Empty<JsonValue>();

    private static ManifestException Missing(string path, string name) => new($"{path}.{name} is missing or has the wrong type");
}
