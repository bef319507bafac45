using System.Globalization;
using System.Text;

namespace Portal.Headers.Tests;

/// <summary>
/// Turns a manifest into a C file of <c>_Static_assert</c>s (sizeof, _Alignof, offsetof, member sizes, signedness,
/// array lengths, record/enum identity, enum and macro values, alias offsets). Compiled for the same target, the file
/// compiles only if the manifest says what the compiler does; each assert's message names what it checks.
/// </summary>
internal static class StaticAsserts
{
    public static string Write(LayoutManifest manifest, string header)
    {
        var c = new StringBuilder();
        c.Append("/* generated from the ").Append(manifest.Abi).Append(" manifest of ").Append(Path.GetFileName(header)).Append(" */\n");
        c.Append("#include <stddef.h>\n#include \"").Append(header).Append("\"\n\n");
        var count = 0;
        void Check(string condition, string message)
        {
            c.Append("_Static_assert(").Append(condition).Append(", \"").Append(message.Replace("\"", "'", StringComparison.Ordinal)).Append("\");\n");
            count++;
        }

        Check($"sizeof(void *) == {manifest.PointerSize}", $"pointerSize {manifest.PointerSize}");
        Check($"(__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) == {(manifest.BigEndian ? 1 : 0)}", $"bigEndian {manifest.BigEndian}");

        foreach (var record in manifest.Structs.Where(r => r.Incomplete != true))
        {
            var type = CNames.RecordType(manifest, record);
            Check($"sizeof({type}) == {record.Size}", $"sizeof({type}) == {record.Size}");
            Check($"_Alignof({type}) == {record.Align}", $"_Alignof({type}) == {record.Align}");
            Fields(record.Fields!, type, "", 0, record.Name);
        }

        void Fields(IReadOnlyList<ManifestField> fields, string type, string prefix, int baseOffset, string where)
        {
            foreach (var field in fields)
            {
                if (field.Name.Length == 0)
                {
                    // C11 anonymous member: its fields are reached directly, at the member's offset plus their own.
                    Fields(field.Fields!, type, prefix, baseOffset + field.Offset, where + ".(anonymous)");
                    continue;
                }
                var path = prefix + field.Name;
                var name = $"{where}.{field.Name}";
                var expression = $"((({type} *)0)->{path})";
                if (field.BitWidth is null)
                {
                    Check($"offsetof({type}, {path}) == {baseOffset + field.Offset}", $"{name} offset {baseOffset + field.Offset}");
                    if (field.Size is { } size)
                        Check($"sizeof({expression}) == {size}", $"{name} size {size}");
                    TypeChecks(field.Type, expression, name);
                }
                if (field.Fields is { } nested)
                {
                    var element = path;
                    for (var t = field.Type; t.Kind == ManifestTypeKind.Array; t = t.Element!)
                        element += "[0]";
                    Fields(nested, type, element + ".", baseOffset + field.Offset, name);
                }
            }
        }

        void TypeChecks(ManifestType t, string expression, string name)
        {
            if (t.Size is { } size)
                Check($"sizeof({expression}) == {size}", $"{name} type size {size}");
            if (t.IsSigned is { } signed && t.Kind is ManifestTypeKind.Int or ManifestTypeKind.Char or ManifestTypeKind.Enum)
                Check($"(((__typeof__({expression}))-1 < 0) == {(signed ? 1 : 0)})", $"{name} signed {signed}");
            switch (t.Kind)
            {
                case ManifestTypeKind.Array when t.Spelling.Contains("_Complex", StringComparison.Ordinal):
                    // C11 6.2.5p13: a complex type is laid out as an array of two of its real type.
                    Check($"sizeof({expression}) == 2 * sizeof(__real__ {expression})", $"{name} is two reals");
                    Check($"sizeof(__real__ {expression}) == {t.Element!.Size}", $"{name} real size {t.Element.Size}");
                    break;
                case ManifestTypeKind.Array when t.Length is { } length:
                    Check($"sizeof({expression}) / sizeof(({expression})[0]) == {length}", $"{name} length {length}");
                    TypeChecks(t.Element!, $"(({expression})[0])", name + "[0]");
                    break;
                case ManifestTypeKind.Pointer:
                    Check($"sizeof({expression}) == {manifest.PointerSize}", $"{name} is a pointer");
                    if (t.Pointee!.Size is not null && t.Pointee.Kind is not (ManifestTypeKind.Function or ManifestTypeKind.Void))
                        TypeChecks(t.Pointee, $"(*({expression}))", name + "*");
                    break;
                case ManifestTypeKind.Record when t.Record is { } recordName && manifest.Structs.FirstOrDefault(r => r.Name == recordName) is { } target:
                    Check($"__builtin_types_compatible_p(__typeof__({expression}), {CNames.RecordType(manifest, target)})", $"{name} is {CNames.RecordType(manifest, target)}");
                    break;
                case ManifestTypeKind.Enum when t.Enum is { } enumName && manifest.Enums.FirstOrDefault(e => e.Name == enumName) is { } target:
                    Check($"__builtin_types_compatible_p(__typeof__({expression}), {CNames.EnumType(manifest, target)})", $"{name} is {CNames.EnumType(manifest, target)}");
                    break;
            }
        }

        foreach (var typedef in manifest.Typedefs)
            TypeChecks(typedef.Type, $"(*({typedef.Name} *)0)", $"typedef {typedef.Name}");

        foreach (var e in manifest.Enums)
        {
            if (e.Name.Length > 0)
            {
                var type = CNames.EnumType(manifest, e);
                Check($"sizeof({type}) == {e.Size}", $"sizeof({type}) == {e.Size}");
                Check($"((({type})-1 < 0) == {(e.IsSigned ? 1 : 0)})", $"{type} signed {e.IsSigned}");
            }
            foreach (var v in e.Values)
                Check($"(long long)({v.Name}) == {CNames.Literal(v.Value, false)}", $"{v.Name} == {v.Value}");
        }

        foreach (var constant in manifest.Constants)
        {
            var wide = constant.IsUnsigned ? "unsigned long long" : "long long";
            Check($"({wide})({constant.Name}) == {CNames.Literal(constant.Value, constant.IsUnsigned)}", $"{constant.Name} == {constant.Value}");
            Check($"(((__typeof__(({constant.Name})))-1 < 0) == {(constant.IsUnsigned ? 0 : 1)})", $"{constant.Name} unsigned {constant.IsUnsigned}");
        }

        foreach (var alias in manifest.Aliases)
        {
            var record = manifest.Structs.FirstOrDefault(r => r.Name == alias.Record);
            if (record?.Fields is null)
                continue;
            var offset = CNames.PathOffset(record.Fields, alias.Path.Split('.'));
            Check($"offsetof({CNames.RecordType(manifest, record)}, {alias.Name}) == {offset}", $"alias {alias.Name} = {alias.Record}.{alias.Path} at {offset}");
        }

        c.Append("\n/* ").Append(count).Append(" checks */\n");
        return c.ToString();
    }
}

internal static class CNames
{
    /// <summary><c>struct tag</c>, or the bare typedef name of a typedef'd anonymous record.</summary>
    public static string RecordType(LayoutManifest manifest, ManifestRecord record)
        => IsTypedefName(manifest, record.Name, ManifestTypeKind.Record) ? record.Name : $"{(record.Kind == ManifestRecordKind.Union ? "union" : "struct")} {record.Name}";

    public static string EnumType(LayoutManifest manifest, ManifestEnumeration e)
        => IsTypedefName(manifest, e.Name, ManifestTypeKind.Enum) ? e.Name : $"enum {e.Name}";

    static bool IsTypedefName(LayoutManifest manifest, string name, ManifestTypeKind kind)
        => manifest.Typedefs.Any(t => t.Name == name && t.Type.Kind == kind && t.Type.Spelling.Contains("(anonymous)", StringComparison.Ordinal));

    public static string Literal(long value, bool unsigned)
    {
        if (unsigned)
            return ((ulong)value).ToString(CultureInfo.InvariantCulture) + "ULL";
        if (value == long.MinValue)
            return "(-9223372036854775807LL - 1)";
        return value.ToString(CultureInfo.InvariantCulture) + "LL";
    }

    /// <summary>The offset of a member path, going through anonymous members as C does.</summary>
    public static int PathOffset(IReadOnlyList<ManifestField> fields, string[] path)
    {
        var offset = 0;
        var current = fields;
        foreach (var segment in path)
        {
            var (field, at) = Find(current, segment) ?? throw new InvalidOperationException($"no member {segment}");
            offset += at;
            current = field.Fields ?? [];
        }
        return offset;
    }

    static (ManifestField Field, int Offset)? Find(IReadOnlyList<ManifestField> fields, string name)
    {
        foreach (var f in fields)
        {
            if (f.Name == name)
                return (f, f.Offset);
            if (f.Name.Length == 0 && f.Fields is not null && Find(f.Fields, name) is { } inner)
                return (inner.Field, f.Offset + inner.Offset);
        }
        return null;
    }
}
