using Portal.Headers.Clang;

namespace Portal.Headers.Building;

/// <summary>
/// Turns a parsed translation unit into a <see cref="LayoutManifest"/>: the one entry point, which takes the steps in
/// their order. Each step is a class of this folder:
/// <list type="number">
/// <item>index the records, enums and typedefs (<see cref="DeclarationIndex"/>) and sort the macros (<see cref="MacroClassifier"/>);</item>
/// <item>evaluate the expression macros with the target's compiler (the caller's <c>evaluateMacros</c>: <see cref="MacroProbe"/>);</item>
/// <item>list the declarations and everything they refer to (<see cref="ListedDeclarations"/>, describing them with
///   <see cref="LayoutDescriber"/> and <see cref="TypeDescriber"/>): every public record and typedef, or only the structs
///   asked for; every enum;</item>
/// <item>find the record each member-path macro starts at (<see cref="MemberPaths"/>), and list it too (unless structs were
///   asked for; then list the typedefs that name a listed record instead);</item>
/// <item>constants, aliases and notes in macro order; then the notes on types.</item>
/// </list>
/// </summary>
internal static class ManifestBuilder
{
    /// <summary>The manifest of <paramref name="unit"/>, <paramref name="header"/> parsed for <paramref name="abi"/>.</summary>
    /// <param name="unit">The header's translation unit, parsed without errors.</param>
    /// <param name="abi">The target ABI it was parsed for.</param>
    /// <param name="header">The header as given (written into the manifest and error messages).</param>
    /// <param name="structFilter">The structs to keep (with what they refer to), or null for all.</param>
    /// <param name="evaluateMacros">Evaluates the given macros with the target's compiler (<see cref="MacroProbe"/>).</param>
    /// <exception cref="HeaderArgumentException">A struct of <paramref name="structFilter"/> is not in the header.</exception>
    public static LayoutManifest Build(TranslationUnit unit, HeaderAbi abi, string header, IReadOnlyList<string>? structFilter,
        Func<IReadOnlyList<string>, ProbeResults> evaluateMacros)
    {
        var declarations = DeclarationIndex.Collect(unit);
        var macros = MacroClassifier.Classify(unit);
        var expressions = macros.OfType<ExpressionMacro>().ToList();
        var probes = evaluateMacros([.. expressions.Select(m => m.Name)]);
        var values = expressions.Zip(probes.Macros).ToDictionary(pair => pair.First, pair => pair.Second);

        var listed = new ListedDeclarations(declarations, abi);
        listed.AddWithReferences(Roots(declarations, structFilter, header, abi));

        // A member-path macro names the first record, in declaration order, where the whole path resolves (a listed one
        // first). Without a struct filter that record is listed too; with one, the typedefs of the kept records are.
        var paths = new MemberPaths(declarations, listed);
        var aliasTargets = macros.OfType<MemberPathMacro>().ToDictionary(m => m, m => paths.Resolve(m.Path));
        if (structFilter is null)
            listed.AddWithReferences(aliasTargets.Values.OfType<RecordDeclaration>());
        else
            listed.AddWithReferences(declarations.Typedefs.Where(t => !TypeSpelling.IsInternal(t.Name) && NamesListedRecord(t, declarations, listed)));

        var constants = new List<ManifestConstant>();
        var aliases = new List<ManifestAlias>();
        var notes = new List<ManifestNote>();
        foreach (var macro in macros)
        {
            switch (macro)
            {
                case ExpressionMacro expression when values[expression] is { Value: { } value } result:
                    constants.Add(new ManifestConstant { Name = macro.Name, Value = value, IsUnsigned = result.Unsigned, Expression = expression.Expression });
                    break;
                case ExpressionMacro expression:
                    notes.Add(new ManifestNote { Name = macro.Name, Reason = values[expression].Reason ?? "not an integer constant expression" });
                    break;
                case MemberPathMacro path when aliasTargets[path] is { } record:
                    aliases.Add(new ManifestAlias { Name = macro.Name, Record = record.Name!, Path = string.Join('.', path.Path) });
                    break;
                case MemberPathMacro:
                    notes.Add(new ManifestNote { Name = macro.Name, Reason = "member path that matches no record" });
                    break;
                case UnusableMacro unusable:
                    notes.Add(new ManifestNote { Name = macro.Name, Reason = unusable.Reason });
                    break;
            }
        }
        notes.AddRange(listed.TypeNotes);

        return new LayoutManifest
        {
            Abi = abi.Name,
            Target = abi.Triple,
            PointerSize = probes.PointerSize,
            BigEndian = probes.BigEndian,
            Header = header,
            Structs = listed.Records,
            Typedefs = listed.Typedefs,
            Enums = listed.Enums,
            Constants = constants,
            Aliases = aliases,
            Notes = notes,
        };
    }

    /// <summary>
    /// What the manifest lists on purpose: every public record and typedef, or the records of <paramref name="structFilter"/>;
    /// then every enum that has a public name or value.
    /// </summary>
    static IEnumerable<Declaration> Roots(DeclarationIndex declarations, IReadOnlyList<string>? structFilter, string header, HeaderAbi abi)
    {
        IEnumerable<Declaration> kept = structFilter is null
            ? declarations.Records.Where(r => r.Name is not null && !TypeSpelling.IsInternal(r.Name))
                .Concat<Declaration>(declarations.Typedefs.Where(t => !TypeSpelling.IsInternal(t.Name)))
            : structFilter.Select(name => declarations.FindRecord(name)
                ?? throw new HeaderArgumentException($"no struct or union named '{name}' in {header} for ABI {abi.Name} (a name given in Structs, or --struct)"));
        return kept.Concat(declarations.Enums.Where(IsPublicEnum));
    }

    static bool IsPublicEnum(EnumDeclaration e)
    {
        if (e.Definition is not { } definition)
            return false;
        if (e.Name.Length > 0)
            return !TypeSpelling.IsInternal(e.Name);
        return definition.Children().Any(c => c.Kind == CXCursorKind.EnumConstantDecl && !TypeSpelling.IsInternal(c.Spelling));
    }

    /// <summary>With a struct filter, a typedef of a kept record stays (<c>typedef struct { ... } esw_reg;</c>).</summary>
    static bool NamesListedRecord(TypedefDeclaration typedef, DeclarationIndex declarations, ListedDeclarations listed)
    {
        var target = typedef.Cursor.TypedefUnderlyingType.Desugared();
        return target.Kind == CXTypeKind.Record && declarations.FindRecord(target.Declaration) is { } record && listed.IsListed(record);
    }
}
