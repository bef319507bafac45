namespace Portal.Headers.Building;

/// <summary>
/// The records, enums and typedefs the manifest lists, each described once: those added, and everything their types
/// refer to, transitively. Only named records and defined enums are listed: an anonymous record is described inside
/// the record that holds it (<see cref="ManifestField.Fields"/>), and an undefined enum has nothing to describe.
/// </summary>
internal sealed class ListedDeclarations
{
    readonly Queue<Declaration> pending = new();
    readonly HashSet<Declaration> queued = [];
    readonly Dictionary<RecordDeclaration, ManifestRecord> records = [];
    readonly Dictionary<EnumDeclaration, ManifestEnumeration> enums = [];
    readonly Dictionary<TypedefDeclaration, ManifestTypedef> typedefs = [];
    readonly TypeDescriber types;
    readonly LayoutDescriber layouts;

    public ListedDeclarations(DeclarationIndex declarations, HeaderAbi abi)
    {
        types = new TypeDescriber(declarations, Enqueue);
        layouts = new LayoutDescriber(abi, types);
    }

    /// <summary>
    /// Lists <paramref name="declarations"/> and what they refer to: describes them in the order given, then what they
    /// refer to, breadth first (a record first met in a member's type is numbered when met: this order is the manifest's).
    /// </summary>
    public void AddWithReferences(IEnumerable<Declaration> declarations)
    {
        foreach (var declaration in declarations)
            Enqueue(declaration);
        while (pending.TryDequeue(out var declaration))
        {
            switch (declaration)
            {
                case RecordDeclaration record:
                    records.Add(record, layouts.Describe(record));
                    break;
                case EnumDeclaration e:
                    enums.Add(e, LayoutDescriber.Describe(e));
                    break;
                case TypedefDeclaration typedef:
                    typedefs.Add(typedef, layouts.Describe(typedef));
                    break;
            }
        }
    }

    public bool IsListed(RecordDeclaration record) => records.ContainsKey(record);

    /// <summary>The listed records, in declaration order.</summary>
    public IReadOnlyList<ManifestRecord> Records => InOrder(records);

    /// <summary>The listed typedefs, in declaration order.</summary>
    public IReadOnlyList<ManifestTypedef> Typedefs => InOrder(typedefs);

    /// <summary>The listed enums, in declaration order.</summary>
    public IReadOnlyList<ManifestEnumeration> Enums => InOrder(enums);

    /// <summary>The types described as <c>void</c> because the manifest has no kind for them.</summary>
    public IReadOnlyList<ManifestNote> TypeNotes => types.Notes;

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
        if (listable && queued.Add(declaration))
            pending.Enqueue(declaration);
    }
}
