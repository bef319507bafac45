using System.Text;
using Portal.Guests;

namespace Portal.Qemu.Agent;

/// <summary>
/// POSIX shell quoting: how a <see cref="GuestCommand"/> becomes the line the agent hands to the guest's
/// busybox sh, with nothing of it read as shell syntax.
/// </summary>
internal static class ShellCommandLine
{
    /// <summary>A shell command line that execs the program with exactly the given arguments and extra environment.</summary>
    /// <exception cref="ArgumentException">An environment variable's name is empty or holds '=' or NUL.</exception>
    public static string For(GuestCommand command)
    {
        var line = new StringBuilder("exec ");
        if (command.Environment.Count > 0)
        {
            line.Append("env ");
            foreach (var (name, value) in command.Environment)
            {
                if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal) || name.Contains('\0', StringComparison.Ordinal))
                    throw new ArgumentException($"'{name}' is not an environment variable name.", nameof(command));
                line.Append(Quote($"{name}={value}")).Append(' ');
            }
        }
        line.Append(string.Join(' ', command.Arguments.Select(Quote)));
        return line.ToString();
    }

    /// <summary>One shell word that stands for exactly <paramref name="argument"/>.</summary>
    public static string Quote(string argument) => "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
