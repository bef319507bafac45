using Portal.Abi;
using Portal.Channels;

namespace Portal.Guests;

/// <summary>
/// A running guest: its ABI, its Portal connection, and a way to run commands in it. Implemented by
/// the emulated guest (<c>Portal.Testing</c>) and the QEMU guest (<c>Portal.Qemu</c>), so tests,
/// samples and the CLI work with either.
/// </summary>
public interface IGuest : IAsyncDisposable
{
    /// <summary>The guest's ABI.</summary>
    GuestAbi Abi { get; }

    /// <summary>The guest's Portal connection (attach a <c>PortalSession</c> to it).</summary>
    IGuestConnection Connection { get; }

    /// <summary>Runs a command in the guest and waits for it to exit.</summary>
    Task<GuestCommandResult> RunAsync(GuestCommand command, CancellationToken cancellationToken = default);
}

/// <summary>A command to run in a guest.</summary>
/// <param name="Arguments">Program name (looked up on the guest's PATH) and its arguments.</param>
public sealed record GuestCommand(IReadOnlyList<string> Arguments)
{
    /// <summary>Program name and arguments; never empty.</summary>
    public IReadOnlyList<string> Arguments { get; } = Arguments is { Count: > 0 }
        ? Arguments
        : throw new ArgumentException("A guest command needs at least a program name.", nameof(Arguments));

    /// <summary>Extra environment variables, added to the guest's default environment.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Creates a command from a program name and arguments.</summary>
    public static GuestCommand Of(params string[] arguments) => new(arguments);

    /// <inheritdoc/>
    public override string ToString() => string.Join(' ', Arguments);
}

/// <summary>What a command did.</summary>
/// <param name="ExitCode">The exit status (127 when the program does not exist).</param>
/// <param name="Output">
/// Standard output and standard error, merged: all of it, unless <see cref="OutputTruncated"/> says that
/// only its end was kept (a guest that streams output to a callback keeps a bounded tail).
/// </param>
public sealed record GuestCommandResult(int ExitCode, string Output)
{
    /// <summary>
    /// <see cref="Output"/> holds only the end of the output: the command printed more than the guest keeps
    /// when its output is streamed (the stream itself had all of it).
    /// </summary>
    public bool OutputTruncated { get; init; }

    /// <summary>The output split into lines (without line terminators).</summary>
    public IReadOnlyList<string> Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
