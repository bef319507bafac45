using System.Text;

namespace Portal.Cli.Inspecting;

/// <summary>
/// Splits a query line into words as a shell would, so paths with spaces and <c>run</c>'s arguments can be
/// quoted: words are separated by blanks; <c>'...'</c> keeps everything literally; <c>"..."</c> keeps
/// everything but <c>\"</c> and <c>\\</c>; a backslash outside quotes keeps the next character. Nothing
/// else of a shell (no variables, globs or redirections): the words go to the guest as they are.
/// </summary>
internal static class QueryWords
{
    /// <exception cref="QueryUsageException">A quote is not closed, or the line ends with a backslash.</exception>
    public static IReadOnlyList<string> Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;     // a word has started, even an empty one ('')
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            switch (c)
            {
                case ' ' or '\t':
                    if (inWord)
                        words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                    break;
                case '\'':
                    var close = line.IndexOf('\'', i + 1);
                    if (close < 0)
                        throw new QueryUsageException("the quote ' is not closed");
                    word.Append(line, i + 1, close - i - 1);
                    (i, inWord) = (close, true);
                    break;
                case '"':
                    i = ReadDoubleQuoted(line, i + 1, word);
                    inWord = true;
                    break;
                case '\\':
                    if (i + 1 == line.Length)
                        throw new QueryUsageException("the line ends with a backslash");
                    word.Append(line[++i]);
                    inWord = true;
                    break;
                default:
                    word.Append(c);
                    inWord = true;
                    break;
            }
        }
        if (inWord)
            words.Add(word.ToString());
        return words;
    }

    /// <summary>Appends the double-quoted text from <paramref name="start"/> to <paramref name="word"/>; returns the closing quote's index.</summary>
    private static int ReadDoubleQuoted(string line, int start, StringBuilder word)
    {
        for (var i = start; i < line.Length; i++)
        {
            if (line[i] == '"')
                return i;
            // As in sh: inside double quotes a backslash escapes only " and \ (and is kept before anything else).
            if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\')
                i++;
            word.Append(line[i]);
        }
        throw new QueryUsageException("the quote \" is not closed");
    }
}
