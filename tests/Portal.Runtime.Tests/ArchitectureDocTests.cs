using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace Portal.Runtime.Tests;

/// <summary>
/// docs/architecture.md names files, folders, types, members and C identifiers: each must exist, so
/// the map cannot drift from the code unnoticed (a rename that forgets the doc fails here).
/// </summary>
[TestClass]
public sealed partial class ArchitectureDocTests
{
    private static readonly string Root = RepositoryRoot();

    [TestMethod]
    public void Every_name_in_architecture_md_exists()
    {
        var doc = File.ReadAllText(Path.Combine(Root, "docs", "architecture.md"));
        var sources = SourceFiles();
        var csharp = string.Join('\n', sources.Where(f => f.EndsWith(".cs", StringComparison.Ordinal)).Select(File.ReadAllText));
        var guest = string.Join('\n', sources.Where(f => f.EndsWith(".c", StringComparison.Ordinal) || f.EndsWith(".h", StringComparison.Ordinal))
            .Select(File.ReadAllText));
        var relative = sources.Select(f => Path.GetRelativePath(Root, f)).ToList();

        var missing = new List<string>();
        var names = CodeSpan().Matches(doc).Select(m => m.Groups[1].Value).Distinct().ToList();
        foreach (var name in names)
        {
            if (name.Contains(' ', StringComparison.Ordinal))
                continue;   // a command line or a snippet, not a name
            if (PathLike().IsMatch(name))
            {
                var path = name.TrimEnd('/');
                if (!relative.Any(f => f == path || f.EndsWith("/" + path, StringComparison.Ordinal) || f.StartsWith(path + "/", StringComparison.Ordinal)
                        || f.Contains("/" + path + "/", StringComparison.Ordinal)))
                    missing.Add($"path {name}");
            }
            else if (CIdentifier().IsMatch(name))
            {
                var pattern = name.EndsWith('*') ? Regex.Escape(name.TrimEnd('*')) : $@"\b{Regex.Escape(name)}\b";
                if (!Regex.IsMatch(guest, pattern))
                    missing.Add($"guest identifier {name}");
            }
            else if (CSharpName().IsMatch(name))
            {
                foreach (var part in GenericArguments().Replace(name, "").Split('.'))
                    if (!Regex.IsMatch(csharp, $@"\b{Regex.Escape(part)}\b"))
                        missing.Add($"C# name {part} (in `{name}`)");
            }
        }
        Assert.IsTrue(names.Count > 50, $"the doc should name the code it maps; found only {names.Count} names");
        Assert.AreEqual(0, missing.Count, "docs/architecture.md names what the code does not have:\n" + string.Join('\n', missing));
    }

    private static List<string> SourceFiles() =>
        Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal)
                && !f.Contains("/.git/", StringComparison.Ordinal))
            .ToList();

    private static string RepositoryRoot([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../.."));

    [GeneratedRegex("`([^`\n]+)`")]
    private static partial Regex CodeSpan();

    /// <summary>A file or folder: has a slash, or ends in a source file's extension.</summary>
    [GeneratedRegex(@"^[\w.\-/]+(/|\.(cs|c|h|md|sh|json|csproj))$|^[\w.\-]+/[\w.\-/]+$")]
    private static partial Regex PathLike();

    /// <summary>A C name from the guest side: lower case with underscores, or an upper-case macro (a trailing * for a family).</summary>
    [GeneratedRegex(@"^([a-z][a-z0-9]*_[a-z0-9_]+|PORTAL_[A-Z0-9_]+\*?)$")]
    private static partial Regex CIdentifier();

    /// <summary>A type or member: PascalCase parts joined by dots, optionally with generic arguments.</summary>
    [GeneratedRegex(@"^[A-Z]\w*(<[\w, ]+>)?(\.[A-Z]\w*(<[\w, ]+>)?)*$")]
    private static partial Regex CSharpName();

    [GeneratedRegex(@"<[\w, ]+>")]
    private static partial Regex GenericArguments();
}
