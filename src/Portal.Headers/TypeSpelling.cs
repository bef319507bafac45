using System.Text.RegularExpressions;
using Portal.Headers.Clang;

namespace Portal.Headers;

internal static partial class TypeSpelling
{
    /// <summary>
    /// clang's spelling, made stable and C-like: anonymous records and enums become <c>struct (anonymous)</c> instead of
    /// naming the file and line (which differ per sysroot); array brackets get a space (<c>char [16]</c>).
    /// </summary>
    public static string Clean(string spelling)
    {
        var s = AnonymousPattern().Replace(spelling, "(anonymous)");
        s = ArrayPattern().Replace(s, " [");
        return s;
    }

    public static bool IsInteger(CXTypeKind kind) => kind is CXTypeKind.Bool
        or CXTypeKind.Char_U or CXTypeKind.UChar or CXTypeKind.Char16 or CXTypeKind.Char32
        or CXTypeKind.UShort or CXTypeKind.UInt or CXTypeKind.ULong or CXTypeKind.ULongLong or CXTypeKind.UInt128
        or CXTypeKind.Char_S or CXTypeKind.SChar or CXTypeKind.WChar
        or CXTypeKind.Short or CXTypeKind.Int or CXTypeKind.Long or CXTypeKind.LongLong or CXTypeKind.Int128;

    public static bool IsSignedInteger(CXTypeKind kind) => kind is CXTypeKind.Char_S or CXTypeKind.SChar or CXTypeKind.WChar
        or CXTypeKind.Short or CXTypeKind.Int or CXTypeKind.Long or CXTypeKind.LongLong or CXTypeKind.Int128;

    public static bool IsChar(CXTypeKind kind) => kind is CXTypeKind.Char_U or CXTypeKind.UChar or CXTypeKind.Char_S or CXTypeKind.SChar;

    public static bool IsFloat(CXTypeKind kind) => kind is CXTypeKind.Float or CXTypeKind.Double or CXTypeKind.LongDouble
        or CXTypeKind.Float128 or CXTypeKind.Half or CXTypeKind.Float16 or CXTypeKind.BFloat16 or CXTypeKind.Ibm128;

    /// <summary>Reserved names: <c>__x</c> or <c>_X</c> (the compiler's and libc's internals).</summary>
    public static bool IsInternal(string name) => name.Length >= 2 && name[0] == '_' && (name[1] == '_' || char.IsAsciiLetterUpper(name[1]));

    // "union ifreq::(anonymous at /usr/include/net/if.h:131:5)", "struct (unnamed struct at x.h:6:2)", "enum (unnamed at x.h:1:1)"
    [GeneratedRegex(@"(?:[A-Za-z_][A-Za-z_0-9]*::)*\((?:anonymous|unnamed)(?: struct| union| enum)? at [^)]*\)")]
    private static partial Regex AnonymousPattern();

    [GeneratedRegex(@"(?<![\s\[\]]|\(\*\))\[")]
    private static partial Regex ArrayPattern();
}
