using System.Globalization;
using System.Text;

namespace Portal.Testing.Programs;

/// <summary>
/// <c>sh -c SCRIPT</c>: the emulated guest's stand-in for busybox sh, enough to run programs in a
/// process subtree (docs/guest-programs.md, "sh"). SCRIPT is a list of commands separated by <c>;</c>
/// or newlines; each runs in a child of the shell, one after the other, except the last, which
/// replaces the shell (exec: it keeps the shell's pid), as busybox sh does with <c>-c</c>; the shell's
/// status is the last command's. Words are split at blanks; <c>'…'</c>, <c>"…"</c> and <c>\</c> quote; <c>$$</c> is the
/// shell's pid; <c>#</c> starts a comment. Anything else a real shell reads as syntax (pipes,
/// redirections, variables, builtins) is refused with status 2 rather than misread.
/// </summary>
public static class Shell
{
    /// <summary>The program's name.</summary>
    public const string Name = "sh";

    /// <summary>The program.</summary>
    public static async ValueTask<int> RunAsync(GuestProgramContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Arguments.Count < 3 || context.Arguments[1] != "-c")
        {
            context.PrintLine("sh: the emulated shell runs only: sh -c SCRIPT");
            return 2;
        }
        var commands = Parse(context.Arguments[2], context.Process.Pid, out var problem);
        if (problem is not null)
        {
            context.PrintLine($"sh: {problem}");
            return 2;
        }
        var status = 0;
        for (var i = 0; i < commands.Count; i++)
        {
            var words = commands[i];
            var exited = i == commands.Count - 1
                ? await context.ExecAsync(words).ConfigureAwait(false)
                : await context.RunChildAsync(words).ConfigureAwait(false);
            if (exited is null)
                context.PrintLine($"sh: {words[0]}: not found");
            status = exited ?? 127;
        }
        return status;
    }

    /// <summary>The script's commands, each a list of words; <paramref name="problem"/> says what it cannot run.</summary>
    internal static List<List<string>> Parse(string script, int pid, out string? problem)
    {
        var commands = new List<List<string>>();
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;     // '' is a word, though empty
        problem = null;

        void EndWord()
        {
            if (inWord)
                words.Add(word.ToString());
            word.Clear();
            inWord = false;
        }

        void EndCommand()
        {
            EndWord();
            if (words.Count > 0)
                commands.Add(words);
            words = [];
        }

        var ownPid = pid.ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i < script.Length; i++)
        {
            var c = script[i];
            switch (c)
            {
                case ' ' or '\t':
                    EndWord();
                    break;
                case ';' or '\n':
                    EndCommand();
                    break;
                case '#' when !inWord:
                    while (i + 1 < script.Length && script[i + 1] != '\n')
                        i++;
                    break;
                case '\\' when i + 1 < script.Length:
                    word.Append(script[++i]);
                    inWord = true;
                    break;
                case '\'':
                    var close = script.IndexOf('\'', i + 1);
                    if (close < 0)
                    {
                        problem = "unterminated quoted string";
                        return [];
                    }
                    word.Append(script, i + 1, close - i - 1);
                    inWord = true;
                    i = close;
                    break;
                case '"':
                    inWord = true;
                    for (i++; i < script.Length && script[i] != '"'; i++)
                    {
                        if (script[i] == '$' && i + 1 < script.Length && script[i + 1] == '$')
                        {
                            word.Append(ownPid);
                            i++;
                        }
                        else if (script[i] == '\\' && i + 1 < script.Length && script[i + 1] is '"' or '\\' or '$')
                            word.Append(script[++i]);
                        else if (script[i] is '$' or '`')
                        {
                            problem = $"the emulated shell does not expand '{script[i]}' (only $$)";
                            return [];
                        }
                        else
                            word.Append(script[i]);
                    }
                    if (i >= script.Length)
                    {
                        problem = "unterminated quoted string";
                        return [];
                    }
                    break;
                case '$' when i + 1 < script.Length && script[i + 1] == '$':
                    word.Append(ownPid);
                    inWord = true;
                    i++;
                    break;
                case '$' or '`' or '|' or '&' or '<' or '>' or '(' or ')' or '{' or '}' or '*' or '?' or '[' or '~':
                    problem = $"the emulated shell does not support '{c}' (only commands separated by ';', quotes and $$)";
                    return [];
                default:
                    word.Append(c);
                    inWord = true;
                    break;
            }
        }
        EndCommand();
        return commands;
    }
}
