using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Portal.Generators.Json;

/// <summary>A parsed JSON value (objects keep their property order).</summary>
internal abstract class JsonValue
{
    public virtual JsonValue? this[string name] => null;

    public virtual IReadOnlyList<JsonValue> Items => Array.Empty<JsonValue>();

    public virtual string? AsString() => null;

    public virtual long? AsInt64() => null;

    public virtual bool? AsBool() => null;
}

internal sealed class JsonObject(List<KeyValuePair<string, JsonValue>> properties) : JsonValue
{
    public IReadOnlyList<KeyValuePair<string, JsonValue>> Properties => properties;

    public override JsonValue? this[string name]
    {
        get
        {
            foreach (var property in properties)
            {
                if (property.Key == name)
                    return property.Value;
            }
            return null;
        }
    }
}

internal sealed class JsonArray(List<JsonValue> items) : JsonValue
{
    public override IReadOnlyList<JsonValue> Items => items;
}

internal sealed class JsonString(string value) : JsonValue
{
    public override string? AsString() => value;
}

internal sealed class JsonNumber(string text) : JsonValue
{
    public override long? AsInt64() =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value
        : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var big) ? unchecked((long)big)
        : null;
}

internal sealed class JsonBool(bool value) : JsonValue
{
    public override bool? AsBool() => value;
}

internal sealed class JsonNull : JsonValue
{
    public static readonly JsonNull Instance = new();
}

/// <summary>Thrown for malformed JSON, with the position.</summary>
internal sealed class JsonFormatException(string message) : Exception(message);

/// <summary>A small strict JSON reader (RFC 8259), enough for layout manifests.</summary>
internal static class JsonReader
{
    public static JsonValue Parse(string text)
    {
        var position = 0;
        var value = ParseValue(text, ref position, depth: 0);
        SkipWhitespace(text, ref position);
        if (position != text.Length)
            throw Error(text, position, "unexpected text after the JSON value");
        return value;
    }

    private static JsonValue ParseValue(string text, ref int position, int depth)
    {
        if (depth > 64)
            throw Error(text, position, "nesting deeper than 64");
        SkipWhitespace(text, ref position);
        if (position >= text.Length)
            throw Error(text, position, "unexpected end");
        switch (text[position])
        {
            case '{':
                position++;
                var properties = new List<KeyValuePair<string, JsonValue>>();
                SkipWhitespace(text, ref position);
                if (Peek(text, position) == '}')
                {
                    position++;
                    return new JsonObject(properties);
                }
                while (true)
                {
                    SkipWhitespace(text, ref position);
                    var name = ParseString(text, ref position);
                    SkipWhitespace(text, ref position);
                    Expect(text, ref position, ':');
                    properties.Add(new KeyValuePair<string, JsonValue>(name, ParseValue(text, ref position, depth + 1)));
                    SkipWhitespace(text, ref position);
                    if (Peek(text, position) == ',')
                    {
                        position++;
                        continue;
                    }
                    Expect(text, ref position, '}');
                    return new JsonObject(properties);
                }
            case '[':
                position++;
                var items = new List<JsonValue>();
                SkipWhitespace(text, ref position);
                if (Peek(text, position) == ']')
                {
                    position++;
                    return new JsonArray(items);
                }
                while (true)
                {
                    items.Add(ParseValue(text, ref position, depth + 1));
                    SkipWhitespace(text, ref position);
                    if (Peek(text, position) == ',')
                    {
                        position++;
                        continue;
                    }
                    Expect(text, ref position, ']');
                    return new JsonArray(items);
                }
            case '"':
                return new JsonString(ParseString(text, ref position));
            case 't' when Matches(text, position, "true"):
                position += 4;
                return new JsonBool(true);
            case 'f' when Matches(text, position, "false"):
                position += 5;
                return new JsonBool(false);
            case 'n' when Matches(text, position, "null"):
                position += 4;
                return JsonNull.Instance;
            default:
                var start = position;
                while (position < text.Length && "+-0123456789.eE".IndexOf(text[position]) >= 0)
                    position++;
                if (position == start)
                    throw Error(text, position, $"unexpected '{text[position]}'");
                return new JsonNumber(text.Substring(start, position - start));
        }
    }

    private static string ParseString(string text, ref int position)
    {
        Expect(text, ref position, '"');
        var builder = new StringBuilder();
        while (true)
        {
            if (position >= text.Length)
                throw Error(text, position, "unterminated string");
            var c = text[position++];
            if (c == '"')
                return builder.ToString();
            if (c != '\\')
            {
                builder.Append(c);
                continue;
            }
            if (position >= text.Length)
                throw Error(text, position, "unterminated escape");
            var escape = text[position++];
            switch (escape)
            {
                case '"': builder.Append('"'); break;
                case '\\': builder.Append('\\'); break;
                case '/': builder.Append('/'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 't': builder.Append('\t'); break;
                case 'u' when position + 4 <= text.Length:
                    builder.Append((char)int.Parse(text.Substring(position, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    position += 4;
                    break;
                default:
                    throw Error(text, position, $"bad escape '\\{escape}'");
            }
        }
    }

    private static void SkipWhitespace(string text, ref int position)
    {
        while (position < text.Length && (text[position] == ' ' || text[position] == '\t' || text[position] == '\n' || text[position] == '\r'))
            position++;
    }

    private static char Peek(string text, int position) => position < text.Length ? text[position] : '\0';

    private static bool Matches(string text, int position, string word) =>
        string.CompareOrdinal(text, position, word, 0, word.Length) == 0;

    private static void Expect(string text, ref int position, char c)
    {
        if (Peek(text, position) != c)
            throw Error(text, position, $"expected '{c}'");
        position++;
    }

    private static JsonFormatException Error(string text, int position, string problem)
    {
        var line = 1;
        var column = 1;
        for (var i = 0; i < position && i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }
        }
        return new JsonFormatException($"line {line}, column {column}: {problem}");
    }
}
