using System.Text;
using Portal.Headers.Clang;

namespace Portal.Headers;

/// <summary>
/// Evaluates object-like macros with the target's compiler itself: a second translation unit includes the header
/// and declares <c>static const __typeof__((NAME)) probe = (NAME);</c> per macro; clang's constant evaluator gives the
/// value, the declared type gives integer-ness and signedness, and a clang error on a probe's line gives the reason a
/// macro is not an integer constant. So every C rule applies (suffixes, promotions, casts, sizeof, enum constants,
/// function-like macros used inside the expression) exactly as on the target.
/// </summary>
internal static class MacroProbe
{
    internal const string ProbePrefix = "__portal_probe_";
    internal const string PointerSizeName = "__portal_pointer_size";
    internal const string BigEndianName = "__portal_big_endian";

    // Lines before the first probe: the #include, the pointer size and the byte order.
    internal const int FirstProbeLine = 4;

    public static string Source(string header, IReadOnlyList<string> macros)
    {
        var text = new StringBuilder();
        text.Append("#include \"").Append(header.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append("\"\n");
        text.Append("static const int ").Append(PointerSizeName).Append(" = sizeof(void *);\n");
        text.Append("static const int ").Append(BigEndianName).Append(" = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;\n");
        for (var i = 0; i < macros.Count; i++)
            text.Append("static const __typeof__((").Append(macros[i]).Append(")) ").Append(ProbePrefix).Append(i).Append(" = (").Append(macros[i]).Append(");\n");
        return text.ToString();
    }

    public static ProbeResults Evaluate(TranslationUnit unit, string probeFile, int count)
    {
        var results = new ProbeResult[count];
        var errors = new Dictionary<int, string>();
        foreach (var d in unit.Diagnostics())
        {
            if (!d.IsError || d.Location.File != probeFile)
                continue;
            var index = (int)d.Location.Line - FirstProbeLine;
            if (index >= 0 && index < count)
                errors.TryAdd(index, d.Message);
        }
        int? pointerSize = null;
        bool? bigEndian = null;
        foreach (var cursor in unit.Root.Children())
        {
            if (cursor.Kind != CXCursorKind.VarDecl || cursor.Location.File != probeFile)
                continue;
            var name = cursor.Spelling;
            if (name == PointerSizeName)
                pointerSize = (int?)cursor.EvaluateInteger()?.Value;
            else if (name == BigEndianName)
                bigEndian = cursor.EvaluateInteger()?.Value == 1;
            else if (name.StartsWith(ProbePrefix, StringComparison.Ordinal)
                     && int.TryParse(name.AsSpan(ProbePrefix.Length), out var index) && index >= 0 && index < count
                     && !errors.ContainsKey(index))
            {
                results[index] = Classify(cursor);
            }
        }
        foreach (var (index, message) in errors)
            results[index] = new ProbeResult(null, false, $"not an integer constant expression: {message}");
        for (var i = 0; i < count; i++)
            results[i] ??= new ProbeResult(null, false, "not an integer constant expression");
        if (pointerSize is null || bigEndian is null)
            throw new HeaderToolException("libclang did not evaluate the target's pointer size and byte order");
        return new ProbeResults(pointerSize.Value, bigEndian.Value, results);
    }

    static ProbeResult Classify(Cursor variable)
    {
        var type = variable.Type.Canonical;
        var spelling = TypeSpelling.Clean(type.Spelling);
        // The probe variable is const: drop that qualifier ("const int", "void *const").
        if (spelling.StartsWith("const ", StringComparison.Ordinal))
            spelling = spelling["const ".Length..];
        else if (spelling.EndsWith("*const", StringComparison.Ordinal) || spelling.EndsWith(" const", StringComparison.Ordinal))
            spelling = spelling[..^"const".Length].TrimEnd();
        bool isUnsigned;
        switch (type.Kind)
        {
            case CXTypeKind.Enum:
                isUnsigned = !TypeSpelling.IsSignedInteger(type.Declaration.EnumIntegerType.Canonical.Kind);
                break;
            default:
                if (!TypeSpelling.IsInteger(type.Kind))
                    return new ProbeResult(null, false, $"not an integer expression ({spelling})");
                isUnsigned = !TypeSpelling.IsSignedInteger(type.Kind);
                break;
        }
        var value = variable.EvaluateInteger();
        if (value is null)
            return new ProbeResult(null, false, "not an integer constant expression");
        return new ProbeResult(value.Value.Value, isUnsigned || value.Value.IsUnsigned, null);
    }
}

internal sealed record ProbeResult(long? Value, bool Unsigned, string? Reason);

internal sealed record ProbeResults(int PointerSize, bool BigEndian, IReadOnlyList<ProbeResult> Macros);
