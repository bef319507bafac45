using System.CommandLine;
using Portal.Abi;
using Portal.Qemu.Image;

namespace Portal.Cli.Commands;

/// <summary>The options of both <c>portal guest</c> commands: which image (architecture, kernel, extra files), and logging.</summary>
internal sealed class GuestImageOptions
{
    public Option<string> Abi { get; } = CliOptions.RealGuestAbi("The guest's architecture (default x86_64).");

    public Option<string> KernelVersion { get; } = new("--kernel-version")
    {
        Description = "The guest kernel to use (default: the newest installed, for x86_64; the kit's, for the others).",
        HelpName = "version",
    };

    public Option<string[]> Files { get; } = CliOptions.Files();

    public Option<bool> Verbose { get; } = CliOptions.Verbose();

    public IEnumerable<Option> All => [Abi, KernelVersion, Files, Verbose];

    /// <summary>The image asked for.</summary>
    /// <exception cref="ArgumentException">A --file that is malformed or missing.</exception>
    public Choice Read(ParseResult parse) =>
        new(parse.GetValue(Abi) is { } abi ? GuestAbi.Parse(abi) : GuestAbi.X86_64, parse.GetValue(KernelVersion), CliOptions.ParseFiles(parse.GetValue(Files) ?? []));

    /// <summary>An image: the guest's architecture, its kernel (null: Portal's choice) and the host files to copy in.</summary>
    public sealed record Choice(GuestAbi Abi, string? KernelVersion, IReadOnlyList<GuestFile> Files);
}
