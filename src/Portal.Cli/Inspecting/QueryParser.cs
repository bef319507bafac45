using System.Globalization;
using System.Text;
using Portal.Guests;

namespace Portal.Cli.Inspecting;

/// <summary>
/// Reads queries (<c>ps</c>, <c>maps 1</c>, <c>cat /proc/version</c>…) into <see cref="Query"/> records,
/// checking everything the guest would refuse anyway (a pid that is not a number, a relative path), so a
/// typo costs no exchange, and on the command line no boot.
/// </summary>
internal static class QueryParser
{
    /// <summary>Longest guest path a query takes, in UTF-8 bytes (docs/protocol.md §3.4).</summary>
    public const int PathLimit = 4000;

    private const string MissingArgument = "an argument is missing";
    private const string NoCommand = "no command";

    /// <summary>Every query's name and usage, in the order <c>help</c> and the command's help list them.</summary>
    public static IReadOnlyList<(string Name, string Usage, string Description)> Queries { get; } =
    [
        ("ps", "ps", "every process: pid, parent, uid, state, start, command line"),
        ("maps", "maps PID [ADDRESS]", "the process's memory mappings as /proc/PID/maps, or the one containing ADDRESS (0x... or decimal)"),
        ("fds", "fds [PID]", "the process's open files (fd, access, position, type, path); without PID every process's"),
        ("paths", "paths PID", "the process's executable, working directory and root"),
        ("cat", "cat PATH", "a guest file's bytes, unchanged"),
        ("ls", "ls PATH", "a guest directory's entries (type, inode, name)"),
        ("stat", "stat PATH", "what stat says about a guest path"),
        ("run", "run COMMAND [ARGUMENTS...]", "runs a command in the guest and prints its output"),
    ];

    /// <summary>A query line as a user types it (words split as <see cref="QueryWords"/> does).</summary>
    /// <exception cref="QueryUsageException">The line is not a query; the message says why and how to write it.</exception>
    public static Query Parse(string line) => Parse(QueryWords.Split(line), line.Trim());

    /// <summary>A query already split into words (<c>portal maps 1 0x400000</c>'s arguments); <paramref name="text"/> names it in messages.</summary>
    /// <exception cref="QueryUsageException">The words are not a query.</exception>
    public static Query Parse(IReadOnlyList<string> words, string text)
    {
        if (words.Count == 0)
            throw new QueryUsageException("an empty query");
        var name = words[0];
        var arguments = words.Skip(1).ToList();
        var usage = Queries.FirstOrDefault(q => q.Name == name).Usage
            ?? throw new QueryUsageException($"unknown query '{name}' (queries: {string.Join(", ", Queries.Select(q => q.Name))})", missingWords: true);
        QueryUsageException Wrong(string problem) => new($"{name}: {problem}; usage: {usage}", missingWords: problem is MissingArgument or NoCommand);

        switch (name)
        {
            case "ps":
                Count(arguments, 0, 0, Wrong);
                return new ProcessListQuery(text);
            case "maps":
                Count(arguments, 1, 2, Wrong);
                return new MappingsQuery(text, Pid(arguments[0], Wrong), arguments.Count == 2 ? Address(arguments[1], Wrong) : null);
            case "fds":
                Count(arguments, 0, 1, Wrong);
                return new FileDescriptorsQuery(text, arguments.Count == 1 ? Pid(arguments[0], Wrong) : null);
            case "paths":
                Count(arguments, 1, 1, Wrong);
                return new PathsQuery(text, Pid(arguments[0], Wrong));
            case "cat":
                Count(arguments, 1, 1, Wrong);
                return new CatQuery(text, GuestPath(arguments[0], Wrong));
            case "ls":
                Count(arguments, 1, 1, Wrong);
                return new ListQuery(text, GuestPath(arguments[0], Wrong));
            case "stat":
                Count(arguments, 1, 1, Wrong);
                return new StatQuery(text, GuestPath(arguments[0], Wrong));
            default:
                if (arguments.Count == 0)
                    throw Wrong(NoCommand);
                return new RunQuery(text, new GuestCommand(arguments));
        }
    }

    private static void Count(List<string> arguments, int least, int most, Func<string, QueryUsageException> wrong)
    {
        if (arguments.Count > most)
            throw wrong(most == 0 ? "it takes no arguments" : $"too many arguments ('{arguments[most]}')");
        if (arguments.Count < least)
            throw wrong(MissingArgument);
    }

    private static int Pid(string word, Func<string, QueryUsageException> wrong) =>
        int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? pid
            : throw wrong($"'{word}' is not a PID (a number from 1)");

    /// <summary>An address as hex with 0x (as maps and debuggers write them) or as a decimal number.</summary>
    private static ulong Address(string word, Func<string, QueryUsageException> wrong)
    {
        var hex = word.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return ulong.TryParse(hex ? word.AsSpan(2) : word, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture,
            out var address)
            ? address
            : throw wrong($"'{word}' is not an address (hex with 0x, or decimal, at most 64 bits)");
    }

    /// <summary>A path the guest takes: absolute (it resolves paths from its init's root, there is no working directory), no NUL, not too long.</summary>
    private static string GuestPath(string word, Func<string, QueryUsageException> wrong)
    {
        if (!word.StartsWith('/'))
            throw wrong($"'{word}' is not an absolute path (guest paths start with /)");
        if (word.Contains('\0', StringComparison.Ordinal))
            throw wrong("a path cannot contain a NUL");
        var length = Encoding.UTF8.GetByteCount(word);
        return length <= PathLimit ? word : throw wrong($"the path is {length} bytes long, more than the guest takes ({PathLimit})");
    }
}
