using System.Diagnostics;
using System.Runtime.CompilerServices;
using Portal.Cli;
using Portal.Cli.Terminal;

namespace Portal.Cli.Tests;

/// <summary>What a portal invocation did: exit code, stdout (the guest's output), stderr (portal's own).</summary>
internal sealed record CliResult(int ExitCode, string Output, string Errors)
{
    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Errors}";
}

/// <summary>Runs portal in this process (fast argument and emulated-guest tests) or as its own process, as a user does.</summary>
internal static class Cli
{
    private static string RepositoryRoot([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../.."));

    /// <summary>Where this configuration's build put a project's output (tests/Portal.Cli.Tests/bin/Debug/net10.0 → src/Portal.Cli/bin/Debug/net10.0).</summary>
    private static string OutputOf(string projectDirectory) =>
        AppContext.BaseDirectory.Replace(Path.Combine("tests", "Portal.Cli.Tests"), projectDirectory, StringComparison.Ordinal);

    /// <summary>portal.dll, built by this project's reference.</summary>
    public static string PortalDll { get; } = Path.Combine(OutputOf(Path.Combine("src", "Portal.Cli")), "portal.dll");

    /// <summary>The Raeth sample: a plugin assembly with RaethPlugin and RaethSkipPlugin.</summary>
    public static string RaethDll { get; } = Path.Combine(OutputOf(Path.Combine("samples", "Raeth")), "Raeth.dll");

    /// <summary>This test assembly: it holds the test plugins of <see cref="TestPlugins"/>.</summary>
    public static string TestsDll { get; } = typeof(Cli).Assembly.Location;

    public static string Root => RepositoryRoot();

    public static Task<CliResult> RunInProcessAsync(params string[] args) => RunInProcessWithInputAsync("", args);

    /// <summary>Runs portal in this process with <paramref name="input"/> as its stdin (not a terminal), then end of input.</summary>
    public static async Task<CliResult> RunInProcessWithInputAsync(string input, params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var exitCode = await PortalCommandLine.RunAsync(args, new CliConsole(output, errors, interactive: false) { In = new StringReader(input) });
        return new CliResult(exitCode, output.ToString(), errors.ToString());
    }

    /// <summary>Starts <c>dotnet portal.dll args</c> with stdout and stderr captured, as an interactive shell would (default signal dispositions).</summary>
    public static Process Start(params string[] args) => Start(environment: null, args);

    /// <inheritdoc cref="Start(string[])"/>
    public static Process Start(IReadOnlyDictionary<string, string>? environment, params string[] args) => Start(environment, redirectInput: false, args);

    private static Process Start(IReadOnlyDictionary<string, string>? environment, bool redirectInput, string[] args)
    {
        Assert.IsTrue(File.Exists(PortalDll), $"{PortalDll} was not built");
        // A background job's SIGINT is ignored, and that is inherited: give portal the default
        // disposition of the signals under test, as a program started from a terminal has.
        var start = new ProcessStartInfo("env", ["--default-signal=INT,TERM,HUP,QUIT", "dotnet", PortalDll, .. args])
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Root,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        return Process.Start(start)!;
    }

    public static Task<CliResult> RunAsync(CancellationToken cancellationToken, params string[] args) => RunAsync(null, cancellationToken, args);

    public static Task<CliResult> RunAsync(IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken, params string[] args) =>
        RunAsync(environment, input: null, args, cancellationToken);

    /// <summary>Runs portal as its own process with <paramref name="input"/> on its stdin, then end of input.</summary>
    public static Task<CliResult> RunWithInputAsync(string input, CancellationToken cancellationToken, params string[] args) =>
        RunAsync(environment: null, input, args, cancellationToken);

    private static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string>? environment, string? input, string[] args,
        CancellationToken cancellationToken)
    {
        using var process = Start(environment, redirectInput: input is not null, args);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
            process.StandardInput.Close();
        }
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return new CliResult(process.ExitCode, await output, await errors);
    }
}
