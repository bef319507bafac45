using System.Text;
using Portal.Headers.Clang;

namespace Portal.Headers;

/// <summary>Turns a parsed translation unit into a <see cref="LayoutManifest"/>.</summary>
internal sealed class ManifestBuilder
{
    readonly TranslationUnit unit;
    readonly HeaderAbi abi;
    readonly string header;
    readonly IReadOnlyList<string>? structFilter;

    readonly Dictionary<nint, RecordEntry> records = [];
    readonly Dictionary<nint, EnumEntry> enums = [];
    readonly Dictionary<nint, TypedefEntry> typedefs = [];
    readonly Dictionary<string, MacroEntry> macros = new(StringComparer.Ordinal);
    readonly Queue<Entry> pending = new();
    readonly List<ManifestNote> typeNotes = [];
    readonly List<string> probed = [];
    int order;

    public ManifestBuilder(TranslationUnit unit, HeaderAbi abi, string header, IReadOnlyList<string>? structFilter)
    {
        this.unit = unit;
        this.abi = abi;
        this.header = header;
        this.structFilter = structFilter;
    }

    // ---- Collection ---------------------------------------------------------------------------

    /// <summary>Walks the translation unit: records (also nested ones), enums, typedefs, macro definitions.</summary>
    public void Collect()
    {
        foreach (var cursor in unit.Root.Children())
        {
            if (cursor.Location.File.Length == 0)
                continue; // built-in declarations and command-line macros
            switch (cursor.Kind)
            {
                case CXCursorKind.MacroDefinition:
                    if (!cursor.IsMacroBuiltin)
                    {
                        var name = cursor.Spelling;
                        macros.Remove(name); // the last definition wins, at its position
                        macros[name] = new MacroEntry(name, cursor, order++);
                    }
                    break;
                default:
                    CollectDeclaration(cursor);
                    break;
            }
        }
        foreach (var entry in macros.Values.OrderBy(m => m.Order))
            Classify(entry);
    }

    void CollectDeclaration(Cursor cursor)
    {
        switch (cursor.Kind)
        {
            case CXCursorKind.StructDecl or CXCursorKind.UnionDecl:
                RecordFor(cursor);
                foreach (var child in cursor.Children())
                    CollectDeclaration(child);
                break;
            case CXCursorKind.EnumDecl:
                EnumFor(cursor);
                break;
            case CXCursorKind.TypedefDecl:
                TypedefFor(cursor);
                foreach (var child in cursor.Children())
                    CollectDeclaration(child);
                break;
            case CXCursorKind.VarDecl:
                // extern struct stats { ... } global_stats;
                foreach (var child in cursor.Children())
                    CollectDeclaration(child);
                break;
        }
    }

    static nint KeyOf(Cursor cursor) => cursor.Canonical.Value.Data0;

    RecordEntry RecordFor(Cursor cursor)
    {
        var key = KeyOf(cursor);
        if (!records.TryGetValue(key, out var entry))
        {
            entry = new RecordEntry(cursor, order++) { Name = TagName(cursor) };
            records.Add(key, entry);
        }
        if (entry.Definition is null)
        {
            var definition = cursor.IsDefinition ? cursor : cursor.Definition;
            if (!definition.IsNull && definition.IsDefinition)
                entry.Definition = definition;
        }
        return entry;
    }

    EnumEntry EnumFor(Cursor cursor)
    {
        var key = KeyOf(cursor);
        if (!enums.TryGetValue(key, out var entry))
        {
            entry = new EnumEntry(cursor, order++) { Name = TagName(cursor) ?? "" };
            enums.Add(key, entry);
        }
        if (entry.Definition is null)
        {
            var definition = cursor.IsDefinition ? cursor : cursor.Definition;
            if (!definition.IsNull && definition.IsDefinition)
                entry.Definition = definition;
        }
        return entry;
    }

    TypedefEntry TypedefFor(Cursor cursor)
    {
        var key = KeyOf(cursor);
        if (!typedefs.TryGetValue(key, out var entry))
        {
            entry = new TypedefEntry(cursor, order++, cursor.Spelling);
            typedefs.Add(key, entry);
        }
        return entry;
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

    // ---- Macros -------------------------------------------------------------------------------

    void Classify(MacroEntry macro)
    {
        if (TypeSpelling.IsInternal(macro.Name))
        {
            macro.Skip = true;
            return;
        }
        var body = Body(macro);
        macro.Expression = Join(body);
        if (macro.Cursor.IsMacroFunctionLike)
        {
            macro.Reason = "function-like macro";
            return;
        }
        if (body.Count == 0)
        {
            macro.Reason = "empty macro (no value)";
            return;
        }
        if (IsMemberPath(body))
        {
            macro.Path = [.. body.Where(t => t.Kind == CXTokenKind.Identifier).Select(t => t.Spelling)];
            return;
        }
        if (!IsBalancedExpression(body))
        {
            macro.Reason = "not an expression";
            return;
        }
        // The probe pastes the macro into C: an expansion with unbalanced brackets would swallow the probes after it.
        if (Expand(body, [macro.Name]) is not { } expanded || !IsBalancedExpression(expanded))
        {
            macro.Reason = "not an expression (its expansion is not balanced)";
            return;
        }
        if (HasTopLevelComma(expanded))
        {
            macro.Reason = "not an expression (a comma-separated list)";
            return;
        }
        if (body[0].Kind == CXTokenKind.Keyword && TypeKeywords.Contains(body[0].Spelling))
        {
            macro.Reason = "not an expression (a type)";
            return;
        }
        macro.ProbeIndex = probed.Count;
        probed.Add(macro.Name);
    }

    static readonly HashSet<string> TypeKeywords = new(StringComparer.Ordinal)
    {
        "struct", "union", "enum", "unsigned", "signed", "int", "char", "short", "long", "void", "float", "double",
        "const", "volatile", "_Bool", "__typeof__", "typeof", "__attribute__", "static", "extern", "inline", "__inline",
        "register", "typedef", "restrict", "__restrict", "_Atomic", "__extension__",
    };

    static bool IsMemberPath(List<Token> body)
    {
        if (body.Count < 3 || body.Count % 2 == 0)
            return false;
        for (var i = 0; i < body.Count; i++)
        {
            var ok = i % 2 == 0 ? body[i].Kind == CXTokenKind.Identifier : body[i].Kind == CXTokenKind.Punctuation && body[i].Spelling == ".";
            if (!ok)
                return false;
        }
        return true;
    }

    /// <summary>The macro's replacement tokens (after its name; for a function-like macro, after the parameters too).</summary>
    List<Token> Body(MacroEntry macro)
    {
        if (macro.Tokens is { } cached)
            return cached;
        var tokens = unit.Tokenize(macro.Cursor.Extent);
        var start = tokens.Count > 0 && tokens[0].Spelling == macro.Name ? 1 : 0;
        if (macro.Cursor.IsMacroFunctionLike && start < tokens.Count && tokens[start].Spelling == "(")
        {
            while (start < tokens.Count && tokens[start].Spelling != ")")
                start++;
            start++;
        }
        macro.Tokens = tokens.Skip(start).ToList();
        return macro.Tokens;
    }

    /// <summary>
    /// Expands object-like macros (not function-like ones, whose own bodies must then be balanced), as the preprocessor
    /// would, far enough to see the tokens the compiler will parse; null when a function-like macro's body is unbalanced.
    /// </summary>
    List<Token>? Expand(List<Token> tokens, HashSet<string> expanding)
    {
        var result = new List<Token>();
        foreach (var token in tokens)
        {
            if (token.Kind != CXTokenKind.Identifier || !macros.TryGetValue(token.Spelling, out var macro) || expanding.Contains(token.Spelling))
            {
                result.Add(token);
                continue;
            }
            var body = Body(macro);
            if (macro.Cursor.IsMacroFunctionLike)
            {
                if (!IsBalancedExpression(body) && body.Any(t => t.Spelling is "(" or ")" or "[" or "]"))
                    return null;
                result.Add(token);
                continue;
            }
            expanding.Add(token.Spelling);
            var inner = Expand(body, expanding);
            expanding.Remove(token.Spelling);
            if (inner is null)
                return null;
            result.AddRange(inner);
            if (result.Count > 100_000)
                return null;
        }
        return result;
    }

    static bool HasTopLevelComma(List<Token> tokens)
    {
        var depth = 0;
        foreach (var token in tokens)
        {
            switch (token.Spelling)
            {
                case "(" or "[" or "{":
                    depth++;
                    break;
                case ")" or "]" or "}":
                    depth--;
                    break;
                case "," when depth == 0 && token.Kind == CXTokenKind.Punctuation:
                    return true;
            }
        }
        return false;
    }

    static bool IsBalancedExpression(List<Token> body)
    {
        var stack = new Stack<char>();
        foreach (var token in body)
        {
            if (token.Kind != CXTokenKind.Punctuation)
                continue;
            switch (token.Spelling)
            {
                case ";" or "{" or "}" or "#" or "##":
                    return false;
                case "(":
                    stack.Push(')');
                    break;
                case "[":
                    stack.Push(']');
                    break;
                case ")" or "]":
                    if (stack.Count == 0 || stack.Pop() != token.Spelling[0])
                        return false;
                    break;
            }
        }
        return stack.Count == 0;
    }

    /// <summary>The macro text: the tokens, separated by one space where the source has whitespace (or a comment).</summary>
    static string Join(List<Token> tokens)
    {
        var text = new StringBuilder();
        for (var i = 0; i < tokens.Count; i++)
        {
            if (i > 0 && (tokens[i].Start.Offset != tokens[i - 1].End.Offset || tokens[i].Start.File != tokens[i - 1].End.File))
                text.Append(' ');
            text.Append(tokens[i].Spelling);
        }
        return text.ToString();
    }

    /// <summary>The macros to evaluate with <see cref="MacroProbe"/>, in the order of their probe indexes.</summary>
    public IReadOnlyList<string> MacroProbes() => probed;

    // ---- Building -----------------------------------------------------------------------------

    public LayoutManifest Build(ProbeResults probes)
    {
        // Roots.
        if (structFilter is null)
        {
            foreach (var r in records.Values.Where(r => r.Name is not null && !TypeSpelling.IsInternal(r.Name)))
                Enqueue(r);
            foreach (var t in typedefs.Values.Where(t => !TypeSpelling.IsInternal(t.Name)))
                Enqueue(t);
        }
        else
        {
            foreach (var name in structFilter)
            {
                var match = records.Values.Where(r => r.Name == name).OrderBy(r => r.Definition is null ? 1 : 0).ThenBy(r => r.Order).FirstOrDefault()
                    ?? throw new HeaderArgumentException($"no struct or union named '{name}' in {header} for ABI {abi.Name} (a name given in Structs, or --struct)");
                Enqueue(match);
            }
        }
        foreach (var e in enums.Values.Where(IsListedEnum))
            Enqueue(e);
        Drain();

        // Member-path macros name a record: the first one in declaration order where the whole path resolves.
        var aliases = new List<(int Order, ManifestAlias Alias)>();
        foreach (var macro in macros.Values.Where(m => !m.Skip && m.Path is not null).OrderBy(m => m.Order))
        {
            var target = records.Values.Where(r => r.Name is not null && r.Definition is not null)
                .OrderBy(r => r.Emitted ? 0 : 1).ThenBy(r => r.Order)
                .FirstOrDefault(r => ResolvesPath(r.Definition!.Value.Type, macro.Path!, 0));
            if (target is null)
            {
                macro.Reason = "member path that matches no record";
                continue;
            }
            if (structFilter is null)
                Enqueue(target);
            aliases.Add((macro.Order, new ManifestAlias { Name = macro.Name, Record = target.Name!, Path = string.Join('.', macro.Path!) }));
        }
        Drain();

        // With --struct, typedefs that name a kept record stay (typedef struct { ... } esw_reg;).
        if (structFilter is not null)
        {
            foreach (var t in typedefs.Values.Where(t => !t.Emitted && !TypeSpelling.IsInternal(t.Name)))
            {
                var target = t.Cursor.TypedefUnderlyingType.Desugared();
                if (target.Kind == CXTypeKind.Record && records.TryGetValue(KeyOf(target.Declaration), out var r) && r.Emitted)
                    Enqueue(t);
            }
            Drain();
        }

        // Constants and notes, in macro order.
        var constants = new List<ManifestConstant>();
        var notes = new List<ManifestNote>();
        foreach (var macro in macros.Values.Where(m => !m.Skip).OrderBy(m => m.Order))
        {
            if (macro.Path is not null && macro.Reason is null)
                continue;
            if (macro.ProbeIndex is { } index)
            {
                var result = probes.Macros[index];
                if (result.Value is { } value)
                {
                    constants.Add(new ManifestConstant { Name = macro.Name, Value = value, IsUnsigned = result.Unsigned, Expression = macro.Expression });
                    continue;
                }
                macro.Reason = result.Reason;
            }
            notes.Add(new ManifestNote { Name = macro.Name, Reason = macro.Reason ?? "not an integer constant expression" });
        }
        notes.AddRange(typeNotes);

        return new LayoutManifest
        {
            Abi = abi.Name,
            Target = abi.Triple,
            PointerSize = probes.PointerSize,
            BigEndian = probes.BigEndian,
            Header = header,
            Structs = [.. records.Values.Where(r => r.Emitted).OrderBy(r => r.Order).Select(r => r.Built!)],
            Typedefs = [.. typedefs.Values.Where(t => t.Emitted).OrderBy(t => t.Order).Select(t => t.Built!)],
            Enums = [.. enums.Values.Where(e => e.Emitted).OrderBy(e => e.Order).Select(e => e.Built!)],
            Constants = constants,
            Aliases = [.. aliases.OrderBy(a => a.Order).Select(a => a.Alias)],
            Notes = notes,
        };
    }

    bool IsListedEnum(EnumEntry e)
    {
        if (e.Definition is null)
            return false;
        if (e.Name.Length > 0)
            return !TypeSpelling.IsInternal(e.Name);
        return e.Definition.Value.Children().Any(c => c.Kind == CXCursorKind.EnumConstantDecl && !TypeSpelling.IsInternal(c.Spelling));
    }

    void Enqueue(Entry entry)
    {
        if (entry.Queued)
            return;
        entry.Queued = true;
        pending.Enqueue(entry);
    }

    void Drain()
    {
        while (pending.TryDequeue(out var entry))
        {
            switch (entry)
            {
                case RecordEntry r:
                    r.Built = BuildRecord(r);
                    break;
                case EnumEntry e:
                    e.Built = BuildEnum(e);
                    break;
                case TypedefEntry t:
                    t.Built = new ManifestTypedef { Name = t.Name, Type = BuildType(t.Cursor.TypedefUnderlyingType, t.Name) };
                    break;
            }
            entry.Emitted = true;
        }
    }

    ManifestRecord BuildRecord(RecordEntry r)
    {
        var kind = r.Cursor.Kind == CXCursorKind.UnionDecl ? "union" : "struct";
        var definition = r.Definition;
        var type = definition?.Type ?? default;
        if (definition is null || type.SizeOf < 0)
            return new ManifestRecord { Name = r.Name!, Kind = kind, Incomplete = true };
        var packed = definition.Value.Children().Any(c => c.Kind == CXCursorKind.PackedAttr);
        return new ManifestRecord
        {
            Name = r.Name!,
            Kind = kind,
            Size = checked((int)type.SizeOf),
            Align = checked((int)type.AlignOf),
            Packed = packed ? true : null,
            Fields = BuildFields(type, definition.Value, r.Name!),
        };
    }

    List<ManifestField> BuildFields(ClangType recordType, Cursor definition, string context)
    {
        var fields = new List<ManifestField>();
        var owner = KeyOf(definition);
        foreach (var field in recordType.Fields())
        {
            var name = field.Spelling;
            // An unnamed bitfield (`int : 3;`, `int : 0;`) is padding, not a member (C11 6.7.2.1): its effect is in the
            // offsets of the members that follow.
            if (name.Length == 0 && field.IsBitField)
                continue;
            var where = $"{context}.{(name.Length == 0 ? "(anonymous)" : name)}";
            var bits = field.OffsetOfFieldInBits;
            if (bits < 0)
                throw new HeaderToolException($"libclang gave no offset for {where} ({abi.Name}): layout error {bits}");
            var declared = field.Type;
            var size = declared.SizeOf;
            var bitField = field.IsBitField;
            fields.Add(new ManifestField
            {
                Name = name,
                Offset = checked((int)(bits / 8)),
                Size = size >= 0 ? checked((int)size) : null,
                Type = BuildType(declared, where),
                BitOffset = bitField ? checked((int)bits) : null,
                BitWidth = bitField ? field.BitWidth : null,
                Fields = InlineRecordFields(declared, owner, where),
            });
        }
        return fields;
    }

    /// <summary>The fields of a record defined inside the record <paramref name="owner"/> (directly or as an array's element).</summary>
    List<ManifestField>? InlineRecordFields(ClangType declared, nint owner, string where)
    {
        var t = declared.Desugared();
        while (t.Kind is CXTypeKind.ConstantArray or CXTypeKind.IncompleteArray)
            t = t.ArrayElement.Desugared();
        if (t.Kind != CXTypeKind.Record)
            return null;
        var declaration = t.Declaration;
        var parent = declaration.LexicalParent;
        if (parent.IsNull || parent.Kind is not (CXCursorKind.StructDecl or CXCursorKind.UnionDecl) || KeyOf(parent) != owner)
            return null;
        var definition = declaration.IsDefinition ? declaration : declaration.Definition;
        return definition.IsNull ? null : BuildFields(definition.Type, definition, where);
    }

    static ManifestEnumeration BuildEnum(EnumEntry e)
    {
        var definition = e.Definition!.Value;
        var integer = definition.EnumIntegerType.Canonical;
        return new ManifestEnumeration
        {
            Name = e.Name,
            Size = checked((int)definition.Type.SizeOf),
            IsSigned = TypeSpelling.IsSignedInteger(integer.Kind),
            Values = [.. definition.Children().Where(c => c.Kind == CXCursorKind.EnumConstantDecl)
                .Select(c => new ManifestEnumerator { Name = c.Spelling, Value = c.EnumConstantValue })],
        };
    }

    /// <summary>Describes a type: typedefs resolved, the spelling as written; marks the declarations it refers to.</summary>
    ManifestType BuildType(ClangType declared, string where)
    {
        var spelling = TypeSpelling.Clean(declared.Spelling);
        var t = declared.Desugared();
        for (var depth = 0; t.Kind == CXTypeKind.Typedef && depth < 256; depth++)
        {
            var typedef = t.Declaration;
            Enqueue(TypedefFor(typedef));
            t = typedef.TypedefUnderlyingType.Desugared();
        }
        var size = t.SizeOf >= 0 ? (int?)checked((int)t.SizeOf) : null;
        switch (t.Kind)
        {
            case CXTypeKind.Void:
                return new ManifestType { Kind = "void", Spelling = spelling };
            case CXTypeKind.Bool:
                return new ManifestType { Kind = "bool", Spelling = spelling, Size = size };
            case var k when TypeSpelling.IsChar(k):
                return new ManifestType { Kind = "char", Spelling = spelling, Size = size, IsSigned = TypeSpelling.IsSignedInteger(k) };
            case var k when TypeSpelling.IsInteger(k):
                return new ManifestType { Kind = "int", Spelling = spelling, Size = size, IsSigned = TypeSpelling.IsSignedInteger(k) };
            case var k when TypeSpelling.IsFloat(k):
                return new ManifestType { Kind = "float", Spelling = spelling, Size = size };
            case CXTypeKind.Pointer:
                return new ManifestType { Kind = "pointer", Spelling = spelling, Size = size, Pointee = BuildType(t.Pointee, where) };
            case CXTypeKind.ConstantArray:
                return new ManifestType { Kind = "array", Spelling = spelling, Size = size, Element = BuildType(t.ArrayElement, where), Length = checked((int)t.ArraySize) };
            case CXTypeKind.IncompleteArray or CXTypeKind.VariableArray:
                return new ManifestType { Kind = "array", Spelling = spelling, Element = BuildType(t.ArrayElement, where) };
            case CXTypeKind.Vector or CXTypeKind.ExtVector:
                return new ManifestType { Kind = "array", Spelling = spelling, Size = size, Element = BuildType(t.Element, where), Length = checked((int)t.ElementCount) };
            case CXTypeKind.Complex:
                return new ManifestType { Kind = "array", Spelling = spelling, Size = size, Element = BuildType(t.Element, where), Length = 2 };
            case CXTypeKind.Atomic:
                {
                    var inner = BuildType(t.AtomicValue, where);
                    return new ManifestType
                    {
                        Kind = inner.Kind, Spelling = spelling, Size = size, IsSigned = inner.IsSigned, Element = inner.Element, Length = inner.Length,
                        Pointee = inner.Pointee, Record = inner.Record, Enum = inner.Enum,
                    };
                }
            case CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto:
                return new ManifestType { Kind = "function", Spelling = spelling };
            case CXTypeKind.Record:
                {
                    var declaration = t.Declaration;
                    var record = RecordFor(declaration);
                    if (record.Name is not null)
                        Enqueue(record);
                    if (declaration.Spelling.Length == 0)
                        spelling = AnonymousTagSpelling(spelling, record.Name);
                    return new ManifestType { Kind = "record", Spelling = spelling, Size = size, Record = record.Name };
                }
            case CXTypeKind.Enum:
                {
                    var declaration = t.Declaration;
                    var e = EnumFor(declaration);
                    if (e.Definition is not null)
                        Enqueue(e);
                    if (declaration.Spelling.Length == 0)
                        spelling = AnonymousTagSpelling(spelling, e.Name);
                    var integer = declaration.EnumIntegerType.Canonical.Kind;
                    return new ManifestType
                    {
                        Kind = "enum", Spelling = spelling, Size = size, IsSigned = TypeSpelling.IsSignedInteger(integer),
                        Enum = e.Name.Length > 0 ? e.Name : null,
                    };
                }
            default:
                {
                    var canonical = t.Canonical;
                    if (canonical.Kind != t.Kind && canonical.Kind is not (CXTypeKind.Invalid or CXTypeKind.Unexposed))
                    {
                        var resolved = BuildType(canonical, where);
                        return new ManifestType
                        {
                            Kind = resolved.Kind, Spelling = spelling, Size = resolved.Size, IsSigned = resolved.IsSigned, Element = resolved.Element,
                            Length = resolved.Length, Pointee = resolved.Pointee, Record = resolved.Record, Enum = resolved.Enum,
                        };
                    }
                    typeNotes.Add(new ManifestNote { Name = where, Reason = $"unsupported type '{spelling}' (clang type kind {(int)t.Kind}), described as void" });
                    return new ManifestType { Kind = "void", Spelling = spelling, Size = size };
                }
        }
    }

    /// <summary><c>typedef struct { ... } name;</c>: clang spells the underlying type <c>struct name</c>, which is not C.</summary>
    static string AnonymousTagSpelling(string spelling, string? typedefName)
    {
        if (string.IsNullOrEmpty(typedefName))
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

    static bool ResolvesPath(ClangType recordType, string[] path, int index)
    {
        foreach (var field in recordType.Fields())
        {
            var name = field.Spelling;
            var type = field.Type.Desugared();
            while (type.Kind == CXTypeKind.Typedef)
                type = type.Declaration.TypedefUnderlyingType.Desugared();
            if (name.Length == 0)
            {
                // C11 anonymous member: its fields are the record's own.
                if (type.Kind == CXTypeKind.Record && ResolvesPath(type, path, index))
                    return true;
                continue;
            }
            if (name != path[index])
                continue;
            if (index == path.Length - 1)
                return true;
            return type.Kind == CXTypeKind.Record && ResolvesPath(type, path, index + 1);
        }
        return false;
    }

    // ---- Entries ------------------------------------------------------------------------------

    abstract class Entry(Cursor cursor, int order)
    {
        public Cursor Cursor { get; } = cursor;
        public int Order { get; } = order;
        public bool Queued { get; set; }
        public bool Emitted { get; set; }
    }

    sealed class RecordEntry(Cursor cursor, int order) : Entry(cursor, order)
    {
        public string? Name { get; init; }
        public Cursor? Definition { get; set; }
        public ManifestRecord? Built { get; set; }
    }

    sealed class EnumEntry(Cursor cursor, int order) : Entry(cursor, order)
    {
        public required string Name { get; init; }
        public Cursor? Definition { get; set; }
        public ManifestEnumeration? Built { get; set; }
    }

    sealed class TypedefEntry(Cursor cursor, int order, string name) : Entry(cursor, order)
    {
        public string Name { get; } = name;
        public ManifestTypedef? Built { get; set; }
    }

    sealed class MacroEntry(string name, Cursor cursor, int order)
    {
        public string Name { get; } = name;
        public Cursor Cursor { get; } = cursor;
        public int Order { get; } = order;
        public bool Skip { get; set; }
        public string Expression { get; set; } = "";
        public string? Reason { get; set; }
        public string[]? Path { get; set; }
        public List<Token>? Tokens { get; set; }
        public int? ProbeIndex { get; set; }
    }
}
