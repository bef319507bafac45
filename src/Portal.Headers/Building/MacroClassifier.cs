using Portal.Headers.Clang;

namespace Portal.Headers.Building;

/// <summary>
/// Sorts the header's macros by what the manifest can make of them, as far as a small preprocessor can tell: an
/// expression (a constant, if the target's compiler finds it an integer constant: <see cref="MacroProbe"/>), a member
/// path (an alias, if a record has that path), or neither (a note with the reason). Internal macros (<c>__x</c>,
/// <c>_X</c>) are left out, but still expanded inside others.
/// </summary>
internal sealed class MacroClassifier
{
    readonly TranslationUnit _unit;

    // Each name's last definition, at its own position: a macro #undef'd and defined again counts where it is defined last.
    readonly Dictionary<string, MacroDefinition> _definitions = new(StringComparer.Ordinal);

    MacroClassifier(TranslationUnit unit) => _unit = unit;

    /// <summary>The header's macros (not built-in or command-line ones, nor internal ones) in definition order.</summary>
    public static IReadOnlyList<HeaderMacro> Classify(TranslationUnit unit)
    {
        var classifier = new MacroClassifier(unit);
        var order = 0;
        foreach (var cursor in unit.Root.Children())
        {
            if (cursor.Kind == CXCursorKind.MacroDefinition && !cursor.IsMacroBuiltin && cursor.Location.File.Length > 0)
                classifier._definitions[cursor.Spelling] = new MacroDefinition(cursor.Spelling, cursor, order++);
        }
        return [.. classifier._definitions.Values.OrderBy(m => m.Order).Where(m => !TypeSpelling.IsInternal(m.Name)).Select(classifier.Classify)];
    }

    HeaderMacro Classify(MacroDefinition macro)
    {
        var body = Body(macro);
        if (macro.Cursor.IsMacroFunctionLike)
            return new UnusableMacro(macro.Name, "function-like macro");
        if (body.Count == 0)
            return new UnusableMacro(macro.Name, "empty macro (no value)");
        if (MacroTokens.IsMemberPath(body))
            return new MemberPathMacro(macro.Name, [.. body.Where(t => t.Kind == CXTokenKind.Identifier).Select(t => t.Spelling)]);
        if (!MacroTokens.IsBalancedExpression(body))
            return new UnusableMacro(macro.Name, "not an expression");
        // The probe pastes the macro into C: an expansion with unbalanced brackets would swallow the probes after it.
        if (Expand(body, [macro.Name]) is not { } expanded || !MacroTokens.IsBalancedExpression(expanded))
            return new UnusableMacro(macro.Name, "not an expression (its expansion is not balanced)");
        if (MacroTokens.HasTopLevelComma(expanded))
            return new UnusableMacro(macro.Name, "not an expression (a comma-separated list)");
        if (MacroTokens.StartsWithTypeKeyword(body))
            return new UnusableMacro(macro.Name, "not an expression (a type)");
        return new ExpressionMacro(macro.Name, MacroTokens.Join(body));
    }

    /// <summary>The macro's replacement tokens (after its name; for a function-like macro, after the parameters too).</summary>
    List<Token> Body(MacroDefinition macro)
    {
        if (macro.Body is { } cached)
            return cached;
        var tokens = _unit.Tokenize(macro.Cursor.Extent);
        var start = tokens.Count > 0 && tokens[0].Spelling == macro.Name ? 1 : 0;
        if (macro.Cursor.IsMacroFunctionLike && start < tokens.Count && tokens[start].Spelling == "(")
        {
            while (start < tokens.Count && tokens[start].Spelling != ")")
                start++;
            start++;
        }
        macro.Body = tokens.Skip(start).ToList();
        return macro.Body;
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
            if (token.Kind != CXTokenKind.Identifier || !_definitions.TryGetValue(token.Spelling, out var macro) || expanding.Contains(token.Spelling))
            {
                result.Add(token);
                continue;
            }
            var body = Body(macro);
            if (macro.Cursor.IsMacroFunctionLike)
            {
                if (!MacroTokens.IsBalancedExpression(body) && body.Any(t => t.Spelling is "(" or ")" or "[" or "]"))
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

    sealed class MacroDefinition(string name, Cursor cursor, int order)
    {
        public string Name { get; } = name;
        public Cursor Cursor { get; } = cursor;
        public int Order { get; } = order;

        /// <summary>The replacement tokens, once read.</summary>
        public List<Token>? Body { get; set; }
    }
}

/// <summary>A macro of the header, and what the manifest can make of it.</summary>
internal abstract record HeaderMacro(string Name);

/// <summary>An expression (<c>Expression</c>: the macro text): a constant if the target's compiler finds it an integer constant, else a note.</summary>
internal sealed record ExpressionMacro(string Name, string Expression) : HeaderMacro(Name);

/// <summary>A member path (<c>#define ifr_data ifr_ifru.ifru_data</c>): an alias if a record has the path, else a note.</summary>
internal sealed record MemberPathMacro(string Name, IReadOnlyList<string> Path) : HeaderMacro(Name);

/// <summary>Neither an expression nor a member path: a note.</summary>
internal sealed record UnusableMacro(string Name, string Reason) : HeaderMacro(Name);
