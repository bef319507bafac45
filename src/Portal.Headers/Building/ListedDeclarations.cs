namespace Portal.Headers.Building;

/// <summary>
/// The records, enums and typedefs the manifest lists, each described once: those added, and everything their types
/// refer to, transitively. Only named records and defined enums are listed: an anonymous record is described inside
/// the record that holds it (<see cref="ManifestField.Fields"/>), and an undefined enum has nothing to describe.
/// </summary>
internal sealed class ListedDeclarations
{
    readonly Queue<Declaration> _pending = new();
    readonly HashSet<Declaration> _queued = [];
    readonly Dictionary<RecordDeclaration, ManifestRecord> _records = [];
    readonly Dictionary<EnumDeclaration, ManifestEnumeration> _enums = [];
    readonly Dictionary<TypedefDeclaration, ManifestTypedef> _typedefs = [];
    readonly TypeDescriber _types;
    readonly LayoutDescriber _layouts;

    public ListedDeclarations(DeclarationIndex declarations, HeaderAbi abi)
    {
        _types = new TypeDescriber(declarations, Enqueue);
        _layouts = new LayoutDescriber(abi, _types);
    }

    /// <summary>
    /// Lists <paramref name="declarations"/> and what they refer to: describes them in the order given, then what they
    /// refer to, breadth first (a record first met in a member's type is numbered when met: this order is the manifest's).
    /// </summary>
    public void AddWithReferences(IEnumerable<Declaration> declarations)
    {
        foreach (var declaration in declarations)
            Enqueue(declaration);
        while (_pending.TryDequeue(out var declaration))
        {
            switch (declaration)
            {
                case RecordDeclaration record:
                    _records.Add(record, _layouts.Describe(record));
                    break;
                case EnumDeclaration e:
                    _enums.Add(e, LayoutDescriber.Describe(e));
                    break;
                case TypedefDeclaration typedef:
                    _typedefs.Add(typedef, _layouts.Describe(typedef));
                    break;
            }
        }
    }

    public bool IsListed(RecordDeclaration record) => _records.ContainsKey(record);

    /// <summary>The listed records, in declaration order.</summary>
    public IReadOnlyList<ManifestRecord> Records => InOrder(_records);

    /// <summary>The listed typedefs, in declaration order.</summary>
    public IReadOnlyList<ManifestTypedef> Typedefs => InOrder(_typedefs);

    /// <summary>The listed enums, in declaration order.</summary>
    public IReadOnlyList<ManifestEnumeration> Enums => InOrder(_enums);

    /// <summary>The types described as <c>void</c> because the manifest has no kind for them.</summary>
    public IReadOnlyList<ManifestNote> TypeNotes => _types.Notes;

    static List<TEntry> InOrder<TDeclaration, TEntry>(Dictionary<TDeclaration, TEntry> described) where TDeclaration : Declaration
        => [.. described.OrderBy(pair => pair.Key.Order).Select(pair => pair.Value)];

    void Enqueue(Declaration declaration)
    {
        var listable = declaration switch
        {
            RecordDeclaration record => record.Name is not null,
            EnumDeclaration e => e.Definition is not null,
            _ => true,
        };
        if (listable && _queued.Add(declaration))
            _pending.Enqueue(declaration);
    }
}
