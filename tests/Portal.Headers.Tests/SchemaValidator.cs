using System.Text.Json;
using System.Text.Json.Nodes;

namespace Portal.Headers.Tests;

/// <summary>Checks JSON against docs/layout-manifest.md: exactly the documented camelCase properties, their JSON types, no nulls.</summary>
internal static class SchemaValidator
{
    static readonly string[] TypeKinds = ["void", "bool", "char", "int", "float", "pointer", "array", "record", "enum", "function"];

    public static List<string> ValidateFile(JsonNode file)
    {
        var problems = new List<string>();
        var o = Object(file, "$", problems, required: ["version", "header", "manifests"], optional: []);
        if (o is null)
            return problems;
        Integer(o["version"], "$.version", problems, 1);
        String(o["header"], "$.header", problems);
        var i = 0;
        foreach (var m in Array(o["manifests"], "$.manifests", problems))
            problems.AddRange(ValidateManifest(m!, $"$.manifests[{i++}]"));
        return problems;
    }

    public static List<string> ValidateManifest(JsonNode manifest, string path = "$")
    {
        var problems = new List<string>();
        var o = Object(manifest, path, problems,
            required: ["version", "abi", "target", "pointerSize", "bigEndian", "header", "structs", "typedefs", "enums", "constants", "aliases", "notes"],
            optional: []);
        if (o is null)
            return problems;
        Integer(o["version"], $"{path}.version", problems, 1);
        if (String(o["abi"], $"{path}.abi", problems) is { } abi && !TestPaths.Abis.Contains(abi))
            problems.Add($"{path}.abi: unknown ABI {abi}");
        String(o["target"], $"{path}.target", problems);
        if (Integer(o["pointerSize"], $"{path}.pointerSize", problems) is not (4 or 8))
            problems.Add($"{path}.pointerSize: not 4 or 8");
        Bool(o["bigEndian"], $"{path}.bigEndian", problems);
        String(o["header"], $"{path}.header", problems);
        var i = 0;
        foreach (var r in Array(o["structs"], $"{path}.structs", problems))
            Record(r!, $"{path}.structs[{i++}]", problems);
        i = 0;
        foreach (var t in Array(o["typedefs"], $"{path}.typedefs", problems))
        {
            var p = $"{path}.typedefs[{i++}]";
            if (Object(t, p, problems, ["name", "type"], []) is { } to)
            {
                String(to["name"], p + ".name", problems);
                Type(to["type"]!, p + ".type", problems);
            }
        }
        i = 0;
        foreach (var e in Array(o["enums"], $"{path}.enums", problems))
        {
            var p = $"{path}.enums[{i++}]";
            if (Object(e, p, problems, ["name", "size", "signed", "values"], []) is { } eo)
            {
                String(eo["name"], p + ".name", problems, allowEmpty: true);
                Integer(eo["size"], p + ".size", problems);
                Bool(eo["signed"], p + ".signed", problems);
                var j = 0;
                foreach (var v in Array(eo["values"], p + ".values", problems))
                {
                    var vp = $"{p}.values[{j++}]";
                    if (Object(v, vp, problems, ["name", "value"], []) is { } vo)
                    {
                        String(vo["name"], vp + ".name", problems);
                        Integer(vo["value"], vp + ".value", problems);
                    }
                }
            }
        }
        i = 0;
        foreach (var c in Array(o["constants"], $"{path}.constants", problems))
        {
            var p = $"{path}.constants[{i++}]";
            if (Object(c, p, problems, ["name", "value", "unsigned", "expression"], []) is { } co)
            {
                String(co["name"], p + ".name", problems);
                Integer(co["value"], p + ".value", problems);
                Bool(co["unsigned"], p + ".unsigned", problems);
                String(co["expression"], p + ".expression", problems);
            }
        }
        i = 0;
        foreach (var a in Array(o["aliases"], $"{path}.aliases", problems))
        {
            var p = $"{path}.aliases[{i++}]";
            if (Object(a, p, problems, ["name", "record", "path"], []) is { } ao)
            {
                String(ao["name"], p + ".name", problems);
                String(ao["record"], p + ".record", problems);
                String(ao["path"], p + ".path", problems);
            }
        }
        i = 0;
        foreach (var n in Array(o["notes"], $"{path}.notes", problems))
        {
            var p = $"{path}.notes[{i++}]";
            if (Object(n, p, problems, ["name", "reason"], []) is { } no)
            {
                String(no["name"], p + ".name", problems);
                String(no["reason"], p + ".reason", problems);
            }
        }
        return problems;
    }

    static void Record(JsonNode node, string path, List<string> problems)
    {
        var o = Object(node, path, problems, ["name", "kind"], ["size", "align", "packed", "fields", "incomplete"]);
        if (o is null)
            return;
        String(o["name"], path + ".name", problems);
        if (String(o["kind"], path + ".kind", problems) is not ("struct" or "union"))
            problems.Add($"{path}.kind: not struct or union");
        if (o.ContainsKey("packed"))
            True(o["packed"], path + ".packed", problems);
        if (o.ContainsKey("incomplete"))
        {
            True(o["incomplete"], path + ".incomplete", problems);
            if (o.ContainsKey("size") || o.ContainsKey("fields") || o.ContainsKey("align"))
                problems.Add($"{path}: an incomplete record has no size, align or fields");
            return;
        }
        foreach (var required in new[] { "size", "align", "fields" })
        {
            if (!o.ContainsKey(required))
                problems.Add($"{path}.{required}: missing");
        }
        Integer(o["size"], path + ".size", problems);
        Integer(o["align"], path + ".align", problems);
        Fields(o["fields"], path + ".fields", problems);
    }

    static void Fields(JsonNode? node, string path, List<string> problems)
    {
        var i = 0;
        foreach (var f in Array(node, path, problems))
        {
            var p = $"{path}[{i++}]";
            var o = Object(f, p, problems, ["name", "offset", "type"], ["size", "bitOffset", "bitWidth", "fields"]);
            if (o is null)
                continue;
            var name = String(o["name"], p + ".name", problems, allowEmpty: true);
            Integer(o["offset"], p + ".offset", problems);
            if (o.ContainsKey("size"))
                Integer(o["size"], p + ".size", problems);
            Type(o["type"]!, p + ".type", problems);
            if (o.ContainsKey("bitOffset") != o.ContainsKey("bitWidth"))
                problems.Add($"{p}: bitOffset and bitWidth go together");
            if (o.ContainsKey("bitOffset"))
            {
                var bit = Integer(o["bitOffset"], p + ".bitOffset", problems);
                Integer(o["bitWidth"], p + ".bitWidth", problems);
                if (bit / 8 != (int?)o["offset"])
                    problems.Add($"{p}.offset: not the byte holding bit {bit}");
            }
            if (name == "" && !o.ContainsKey("fields"))
                problems.Add($"{p}: an anonymous member lists its fields");
            if (o.ContainsKey("fields"))
                Fields(o["fields"], p + ".fields", problems);
        }
    }

    static void Type(JsonNode node, string path, List<string> problems)
    {
        var o = Object(node, path, problems, ["kind", "spelling"], ["size", "signed", "element", "length", "pointee", "record", "enum"]);
        if (o is null)
            return;
        var kind = String(o["kind"], path + ".kind", problems);
        if (!TypeKinds.Contains(kind))
            problems.Add($"{path}.kind: {kind} is not a documented kind");
        String(o["spelling"], path + ".spelling", problems);
        if (o.ContainsKey("size"))
            Integer(o["size"], path + ".size", problems);
        if (kind is "void" or "function" && o.ContainsKey("size"))
            problems.Add($"{path}.size: {kind} has no size");
        if (o.ContainsKey("signed") != (kind is "char" or "int" or "enum"))
            problems.Add($"{path}.signed: present exactly for char, int and enum");
        if (o.ContainsKey("signed"))
            Bool(o["signed"], path + ".signed", problems);
        if (o.ContainsKey("element") != (kind == "array"))
            problems.Add($"{path}.element: present exactly for arrays");
        if (o.ContainsKey("length") && kind != "array")
            problems.Add($"{path}.length: only for arrays");
        if (o.ContainsKey("pointee") != (kind == "pointer"))
            problems.Add($"{path}.pointee: present exactly for pointers");
        if (o.ContainsKey("record") && kind != "record")
            problems.Add($"{path}.record: only for records");
        if (o.ContainsKey("enum") && kind != "enum")
            problems.Add($"{path}.enum: only for enums");
        if (o["element"] is { } element)
            Type(element, path + ".element", problems);
        if (o["pointee"] is { } pointee)
            Type(pointee, path + ".pointee", problems);
        if (o.ContainsKey("length"))
            Integer(o["length"], path + ".length", problems);
        if (o.ContainsKey("record"))
            String(o["record"], path + ".record", problems);
        if (o.ContainsKey("enum"))
            String(o["enum"], path + ".enum", problems);
    }

    static JsonObject? Object(JsonNode? node, string path, List<string> problems, string[] required, string[] optional)
    {
        if (node is not JsonObject o)
        {
            problems.Add($"{path}: not an object");
            return null;
        }
        foreach (var (key, value) in o)
        {
            if (!required.Contains(key) && !optional.Contains(key))
                problems.Add($"{path}.{key}: not a documented property");
            if (value is null)
                problems.Add($"{path}.{key}: null (absent properties are omitted)");
            if (key.Length == 0 || !char.IsAsciiLetterLower(key[0]) || key.Contains('_', StringComparison.Ordinal))
                problems.Add($"{path}.{key}: not camelCase");
        }
        foreach (var key in required)
        {
            if (!o.ContainsKey(key))
                problems.Add($"{path}.{key}: missing");
        }
        return o;
    }

    static JsonArray Array(JsonNode? node, string path, List<string> problems)
    {
        if (node is JsonArray a)
            return a;
        problems.Add($"{path}: not an array");
        return [];
    }

    static string? String(JsonNode? node, string path, List<string> problems, bool allowEmpty = false)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            var s = v.GetValue<string>();
            if (s.Length == 0 && !allowEmpty)
                problems.Add($"{path}: empty");
            return s;
        }
        problems.Add($"{path}: not a string");
        return null;
    }

    static long? Integer(JsonNode? node, string path, List<string> problems, long? exactly = null)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n))
        {
            if (exactly is { } e && n != e)
                problems.Add($"{path}: {n}, expected {e}");
            return n;
        }
        problems.Add($"{path}: not an integer");
        return null;
    }

    static void Bool(JsonNode? node, string path, List<string> problems)
    {
        if (node is not JsonValue v || v.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
            problems.Add($"{path}: not a boolean");
    }

    static void True(JsonNode? node, string path, List<string> problems)
    {
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.True)
            problems.Add($"{path}: present but not true");
    }
}
