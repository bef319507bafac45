using System.CommandLine;
using Portal.Abi;
using Portal.Cli.Plugins;
using Portal.Cli.Running;
using Portal.Qemu.Image;

namespace Portal.Cli.Commands;

/// <summary>
/// The options of <c>portal inspect</c> and its aliases (<c>portal ps</c>, <c>maps</c>, <c>fds</c>, <c>cat</c>):
/// the guest as <c>portal run</c> boots it (the same options, checked the same way), plugins whose hooks are live
/// while the queries run (a <c>run</c> query's program meets them), and <c>--json</c>.
/// </summary>
internal sealed class InspectOptions
{
    public Option<string> Guest { get; } = CliOptions.Guest();

    public Option<string> Abi { get; } = CliOptions.AnyAbi();

    public Option<string> Rootfs { get; } = CliOptions.Rootfs(
        "Look at a QEMU guest running from a firmware's root filesystem (its init does not run, as with portal run --rootfs; 'run' queries find its programs first on PATH). The architecture comes from its binaries.");

    public Option<string[]> Files { get; } = CliOptions.Files();

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print each query's result as one JSON document on one line (JSON Lines); a failed query as {\"query\",\"error\",\"errno\"}.",
    };

    public Option<bool> Verbose { get; } = CliOptions.Verbose();

    public Option<string[]> Plugins { get; } = CliOptions.Plugins();

    public Option<bool> AllowUnhandled { get; } = CliOptions.AllowUnhandled("the queries' status");

    public IEnumerable<Option> All => [Guest, Abi, Rootfs, Files, Plugins, Json, Verbose, AllowUnhandled];

    /// <summary>The guest and output asked for, checked as far as can be without booting.</summary>
    /// <exception cref="ArgumentException">A combination no guest boots, a firmware or host file that is not there, a malformed --file or --plugin.</exception>
    public Choice Read(ParseResult parse)
    {
        var (kind, abi, rootfs) = CliOptions.CheckGuest(parse.GetValue(Guest)!, parse.GetValue(Abi), parse.GetValue(Rootfs));
        return new Choice(kind, abi, rootfs, CliOptions.ParseFiles(parse.GetValue(Files) ?? []), [.. (parse.GetValue(Plugins) ?? []).Select(PluginAssembly.Parse)],
            parse.GetValue(Json), parse.GetValue(Verbose), parse.GetValue(AllowUnhandled));
    }

    /// <summary>
    /// What the options chose: the guest (<paramref name="Abi"/> null: the firmware's, else x86_64), the files to copy in,
    /// the plugins, the output, and whether syscalls the plugins' hooks left unhandled may end in exit 0.
    /// </summary>
    public sealed record Choice(GuestKind Guest, GuestAbi? Abi, string? Rootfs, IReadOnlyList<GuestFile> Files, IReadOnlyList<PluginAssembly> Plugins,
        bool Json, bool Verbose, bool AllowUnhandled);
}
