using Portal.Headers.Clang;

namespace Portal.Headers.Building;

/// <summary>
/// Describes C types as <see cref="ManifestType"/>s: typedefs resolved, the spelling as written. Every record, enum and
/// typedef a type refers to is handed to <c>referenced</c>, so that the manifest can list it; a type the manifest has no
/// kind for is described as <c>void</c> (keeping its size) with a note.
/// </summary>
internal sealed class TypeDescriber(DeclarationIndex declarations, Action<Declaration> referenced)
{
    readonly List<ManifestNote> _notes = [];

    /// <summary>The types described as <c>void</c> because the manifest has no kind for them, in the order met.</summary>
    public IReadOnlyList<ManifestNote> Notes => _notes;

    /// <summary>Describes <paramref name="declared"/>, the type of <paramref name="where"/> (named in notes).</summary>
    public ManifestType Describe(ClangType declared, string where)
    {
        var spelling = TypeSpelling.Clean(declared.Spelling);
        var t = declared.Desugared();
        for (var depth = 0; t.Kind == CXTypeKind.Typedef && depth < 256; depth++)
        {
            var typedef = t.Declaration;
            referenced(declarations.TypedefFor(typedef));
            t = typedef.TypedefUnderlyingType.Desugared();
        }
        var size = t.SizeOf >= 0 ? (int?)checked((int)t.SizeOf) : null;
        switch (t.Kind)
        {
            case CXTypeKind.Void:
                return new ManifestType { Kind = ManifestTypeKind.Void, Spelling = spelling };
            case CXTypeKind.Bool:
                return new ManifestType { Kind = ManifestTypeKind.Bool, Spelling = spelling, Size = size };
            case var k when TypeSpelling.IsChar(k):
                return new ManifestType { Kind = ManifestTypeKind.Char, Spelling = spelling, Size = size, IsSigned = TypeSpelling.IsSignedInteger(k) };
            case var k when TypeSpelling.IsInteger(k):
                return new ManifestType { Kind = ManifestTypeKind.Int, Spelling = spelling, Size = size, IsSigned = TypeSpelling.IsSignedInteger(k) };
            case var k when TypeSpelling.IsFloat(k):
                return new ManifestType { Kind = ManifestTypeKind.Float, Spelling = spelling, Size = size };
            case CXTypeKind.Pointer:
                return new ManifestType { Kind = ManifestTypeKind.Pointer, Spelling = spelling, Size = size, Pointee = Describe(t.Pointee, where) };
            case CXTypeKind.ConstantArray:
                return new ManifestType
                {
                    Kind = ManifestTypeKind.Array, Spelling = spelling, Size = size, Element = Describe(t.ArrayElement, where), Length = checked((int)t.ArraySize),
                };
            case CXTypeKind.IncompleteArray or CXTypeKind.VariableArray:
                return new ManifestType { Kind = ManifestTypeKind.Array, Spelling = spelling, Element = Describe(t.ArrayElement, where) };
            case CXTypeKind.Vector or CXTypeKind.ExtVector:
                return new ManifestType
                {
                    Kind = ManifestTypeKind.Array, Spelling = spelling, Size = size, Element = Describe(t.Element, where), Length = checked((int)t.ElementCount),
                };
            case CXTypeKind.Complex:
                return new ManifestType { Kind = ManifestTypeKind.Array, Spelling = spelling, Size = size, Element = Describe(t.Element, where), Length = 2 };
            case CXTypeKind.Atomic:
                return Respelled(Describe(t.AtomicValue, where), spelling, size);
            case CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto:
                return new ManifestType { Kind = ManifestTypeKind.Function, Spelling = spelling };
            case CXTypeKind.Record:
                {
                    var record = declarations.RecordFor(t.Declaration);
                    referenced(record);
                    return new ManifestType
                    {
                        Kind = ManifestTypeKind.Record, Spelling = TagSpelling(spelling, t.Declaration, record.Name), Size = size, Record = record.Name,
                    };
                }
            case CXTypeKind.Enum:
                {
                    var e = declarations.EnumFor(t.Declaration);
                    referenced(e);
                    return new ManifestType
                    {
                        Kind = ManifestTypeKind.Enum, Spelling = TagSpelling(spelling, t.Declaration, e.Name), Size = size,
                        IsSigned = TypeSpelling.IsSignedInteger(t.Declaration.EnumIntegerType.Canonical.Kind), Enum = e.Name.Length > 0 ? e.Name : null,
                    };
                }
            default:
                {
                    var canonical = t.Canonical;
                    if (canonical.Kind != t.Kind && canonical.Kind is not (CXTypeKind.Invalid or CXTypeKind.Unexposed))
                    {
                        var resolved = Describe(canonical, where);
                        return Respelled(resolved, spelling, resolved.Size);
                    }
                    _notes.Add(new ManifestNote { Name = where, Reason = $"unsupported type '{spelling}' (clang type kind {(int)t.Kind}), described as void" });
                    return new ManifestType { Kind = ManifestTypeKind.Void, Spelling = spelling, Size = size };
                }
        }
    }

    /// <summary><paramref name="type"/> as spelled in the source (<c>_Atomic(int)</c>, a sugared type), with <paramref name="size"/>.</summary>
    static ManifestType Respelled(ManifestType type, string spelling, int? size) => new()
    {
        Kind = type.Kind, Spelling = spelling, Size = size, IsSigned = type.IsSigned, Element = type.Element, Length = type.Length,
        Pointee = type.Pointee, Record = type.Record, Enum = type.Enum,
    };

    /// <summary>
    /// The spelling of a record or enum type: as written, except for an unnamed tag with a typedef name
    /// (<c>typedef struct { ... } name;</c>), which clang spells <c>struct name</c>, which is not C: <c>struct (anonymous)</c>.
    /// </summary>
    static string TagSpelling(string spelling, Cursor declaration, string? typedefName)
    {
        if (declaration.Spelling.Length > 0 || string.IsNullOrEmpty(typedefName))
            return spelling;
        foreach (var keyword in (ReadOnlySpan<string>)["struct ", "union ", "enum "])
        {
            var index = spelling.IndexOf(keyword + typedefName, StringComparison.Ordinal);
            if (index >= 0 && (index == 0 || spelling[index - 1] == ' '))
            {
                var end = index + keyword.Length + typedefName.Length;
                if (end == spelling.Length || !char.IsAsciiLetterOrDigit(spelling[end]) && spelling[end] != '_')
                    return string.Concat(spelling.AsSpan(0, index), keyword, "(anonymous)", spelling.AsSpan(end));
            }
        }
        return spelling;
    }
}
