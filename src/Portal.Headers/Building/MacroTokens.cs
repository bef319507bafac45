using System.Text;
using Portal.Headers.Clang;

namespace Portal.Headers.Building;

/// <summary>What a macro's replacement tokens look like: the questions <see cref="MacroClassifier"/> asks of them.</summary>
internal static class MacroTokens
{
    static readonly HashSet<string> TypeKeywords = new(StringComparer.Ordinal)
    {
        "struct", "union", "enum", "unsigned", "signed", "int", "char", "short", "long", "void", "float", "double",
        "const", "volatile", "_Bool", "__typeof__", "typeof", "__attribute__", "static", "extern", "inline", "__inline",
        "register", "typedef", "restrict", "__restrict", "_Atomic", "__extension__",
    };

    /// <summary><c>a.b.c</c>: identifiers joined by dots, at least two.</summary>
    public static bool IsMemberPath(IReadOnlyList<Token> tokens)
    {
        if (tokens.Count < 3 || tokens.Count % 2 == 0)
            return false;
        for (var i = 0; i < tokens.Count; i++)
        {
            var ok = i % 2 == 0 ? tokens[i].Kind == CXTokenKind.Identifier : tokens[i].Kind == CXTokenKind.Punctuation && tokens[i].Spelling == ".";
            if (!ok)
                return false;
        }
        return true;
    }

    /// <summary>Brackets and parentheses balanced, and nothing that cannot be inside an expression (<c>; { } # ##</c>).</summary>
    public static bool IsBalancedExpression(IReadOnlyList<Token> tokens)
    {
        var stack = new Stack<char>();
        foreach (var token in tokens)
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

    /// <summary>A comma outside any bracket: a list, not one expression.</summary>
    public static bool HasTopLevelComma(IReadOnlyList<Token> tokens)
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

    /// <summary>Starts with a keyword that begins a type (<c>unsigned int</c>, <c>struct x</c>), not a value.</summary>
    public static bool StartsWithTypeKeyword(IReadOnlyList<Token> tokens)
        => tokens.Count > 0 && tokens[0].Kind == CXTokenKind.Keyword && TypeKeywords.Contains(tokens[0].Spelling);

    /// <summary>The macro text: the tokens, separated by one space where the source has whitespace (or a comment).</summary>
    public static string Join(IReadOnlyList<Token> tokens)
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
}
