using Portal.Headers.Clang;

namespace Portal.Headers.Building;

/// <summary>
/// The records, enums and typedefs of a translation unit, each once (a redeclaration is the same entry), numbered in the
/// order they are first met: the order the manifest lists them in. <see cref="Collect"/> walks the translation unit; a
/// declaration the walk does not reach (a record first named in a member's type) is added when a type refers to it.
/// </summary>
internal sealed class DeclarationIndex
{
    readonly Dictionary<nint, RecordDeclaration> _records = [];
    readonly Dictionary<nint, EnumDeclaration> _enums = [];
    readonly Dictionary<nint, TypedefDeclaration> _typedefs = [];
    int _order;

    DeclarationIndex()
    {
    }

    /// <summary>Every record, in the order first met.</summary>
    public IEnumerable<RecordDeclaration> Records => _records.Values;

    /// <summary>Every enum, in the order first met.</summary>
    public IEnumerable<EnumDeclaration> Enums => _enums.Values;

    /// <summary>Every typedef, in the order first met.</summary>
    public IEnumerable<TypedefDeclaration> Typedefs => _typedefs.Values;

    /// <summary>Walks the translation unit: records (also those declared inside records, typedefs and variables), enums, typedefs.</summary>
    public static DeclarationIndex Collect(TranslationUnit unit)
    {
        var index = new DeclarationIndex();
        foreach (var cursor in unit.Root.Children())
        {
            if (cursor.Location.File.Length > 0) // not a built-in declaration
                index.Add(cursor);
        }
        return index;
    }

    void Add(Cursor cursor)
    {
        switch (cursor.Kind)
        {
            case CXCursorKind.StructDecl or CXCursorKind.UnionDecl:
                RecordFor(cursor);
                break;
            case CXCursorKind.EnumDecl:
                EnumFor(cursor);
                return;
            case CXCursorKind.TypedefDecl:
                TypedefFor(cursor);
                break;
            case CXCursorKind.VarDecl:
                break; // extern struct stats { ... } global_stats;
            default:
                return;
        }
        // Records declared inside: struct a { struct b { ... } x; }, typedef struct { ... } t;
        foreach (var child in cursor.Children())
            Add(child);
    }

    /// <summary>What identifies a declaration across its redeclarations: its canonical cursor.</summary>
    public static nint Identity(Cursor cursor) => cursor.Canonical.Value.Data0;

    /// <summary>The record <paramref name="cursor"/> declares or refers to (added if new).</summary>
    public RecordDeclaration RecordFor(Cursor cursor)
    {
        var record = GetOrAdd(_records, cursor, () => new RecordDeclaration(cursor, _order++, TagName(cursor)));
        record.NoteDefinition(cursor);
        return record;
    }

    /// <summary>The enum <paramref name="cursor"/> declares or refers to (added if new).</summary>
    public EnumDeclaration EnumFor(Cursor cursor)
    {
        var declaration = GetOrAdd(_enums, cursor, () => new EnumDeclaration(cursor, _order++, TagName(cursor) ?? ""));
        declaration.NoteDefinition(cursor);
        return declaration;
    }

    /// <summary>The typedef <paramref name="cursor"/> declares (added if new).</summary>
    public TypedefDeclaration TypedefFor(Cursor cursor) => GetOrAdd(_typedefs, cursor, () => new TypedefDeclaration(cursor, _order++));

    /// <summary>The record <paramref name="cursor"/> declares, if it is known.</summary>
    public RecordDeclaration? FindRecord(Cursor cursor) => _records.GetValueOrDefault(Identity(cursor));

    /// <summary>The record called <paramref name="name"/>: the first defined one, else the first declared; null if none.</summary>
    public RecordDeclaration? FindRecord(string name)
        => _records.Values.Where(r => r.Name == name).OrderBy(r => r.Definition is null ? 1 : 0).ThenBy(r => r.Order).FirstOrDefault();

    static T GetOrAdd<T>(Dictionary<nint, T> map, Cursor cursor, Func<T> create)
    {
        var key = Identity(cursor);
        if (!map.TryGetValue(key, out var declaration))
        {
            declaration = create();
            map.Add(key, declaration);
        }
        return declaration;
    }

    /// <summary>The tag; for <c>typedef struct { ... } name;</c> the typedef name; null for an anonymous record.</summary>
    static string? TagName(Cursor cursor)
    {
        var spelling = cursor.Spelling;
        if (spelling.Length > 0)
            return spelling;
        if (cursor.IsAnonymous)
            return null;
        // An unnamed tag that has a typedef name for linkage: the record type is spelled with that name.
        var typeName = cursor.Type.Spelling;
        return HeaderParser.IdentifierPattern().IsMatch(typeName) ? typeName : null;
    }
}

/// <summary>A record, enum or typedef of the header.</summary>
internal abstract class Declaration(Cursor cursor, int order)
{
    /// <summary>The first declaration met.</summary>
    public Cursor Cursor { get; } = cursor;

    /// <summary>When it was first met: the manifest lists each kind of declaration in this order.</summary>
    public int Order { get; } = order;
}

/// <summary>A record or an enum: declared perhaps several times, defined at most once.</summary>
internal abstract class TagDeclaration(Cursor cursor, int order) : Declaration(cursor, order)
{
    /// <summary>The definition, once a declaration that is or knows it has been met; null while incomplete.</summary>
    public Cursor? Definition { get; private set; }

    /// <summary>Keeps the definition <paramref name="cursor"/> is or points to, if none is known yet.</summary>
    public void NoteDefinition(Cursor cursor)
    {
        if (Definition is not null)
            return;
        var definition = cursor.IsDefinition ? cursor : cursor.Definition;
        if (!definition.IsNull && definition.IsDefinition)
            Definition = definition;
    }
}

/// <summary>A struct or union.</summary>
internal sealed class RecordDeclaration(Cursor cursor, int order, string? name) : TagDeclaration(cursor, order)
{
    /// <summary>The tag, or the typedef name of a typedef'd anonymous record; null for an anonymous record (never listed on its own).</summary>
    public string? Name { get; } = name;

    public ManifestRecordKind Kind => Cursor.Kind == CXCursorKind.UnionDecl ? ManifestRecordKind.Union : ManifestRecordKind.Struct;
}

/// <summary>An enum.</summary>
internal sealed class EnumDeclaration(Cursor cursor, int order, string name) : TagDeclaration(cursor, order)
{
    /// <summary>The tag or typedef name; empty for an anonymous enum.</summary>
    public string Name { get; } = name;
}

/// <summary>A typedef.</summary>
internal sealed class TypedefDeclaration(Cursor cursor, int order) : Declaration(cursor, order)
{
    public string Name { get; } = cursor.Spelling;
}
