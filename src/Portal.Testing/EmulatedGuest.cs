using Portal.Abi;
using Portal.Channels;
using Portal.Guests;
using Portal.Protocol;
using Portal.Testing.Emulation;
using Portal.Testing.Processes;
using Portal.Testing.Programs;

namespace Portal.Testing;

/// <summary>
/// A Portal guest emulated in-process: the guest side of the protocol executed by C#, byte for byte,
/// over simulated processes (memory pages with permissions, file descriptors, argv, environment).
/// Guest programs are C# methods that issue syscalls; hooks, filters, events and verdicts behave as
/// with the kernel module. Use it to test handlers without a VM:
/// <code>
/// await using var guest = new EmulatedGuest(GuestAbi.MipsEl);
/// await using var session = await PortalSession.AttachAsync(guest.Connection);
/// await session.LoadPluginAsync(new MyPlugin());
/// var result = await guest.RunAsync(GuestCommand.Of("ioctl_interaction"));
/// </code>
/// </summary>
public sealed class EmulatedGuest : IGuest
{
    private readonly EmulatedKernel _kernel;

    /// <summary>Creates a guest of the given ABI with the standard programs installed.</summary>
    public EmulatedGuest(GuestAbi abi, EmulatedGuestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(abi);
        options ??= new EmulatedGuestOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.CpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.HookCapacity, 1);
        _kernel = new EmulatedKernel(abi, options);
        foreach (var (name, program) in StandardPrograms.All)
            _kernel.Programs[name] = program;
    }

    /// <inheritdoc/>
    public GuestAbi Abi => _kernel.Abi;

    /// <inheritdoc/>
    public IGuestConnection Connection => _kernel.Connection;

    /// <summary>The default environment of commands (PATH and HOME).</summary>
    public IReadOnlyDictionary<string, string> DefaultEnvironment { get; } = new Dictionary<string, string>
    {
        ["PATH"] = "/bin:/sbin:/usr/bin:/usr/sbin",
        ["HOME"] = "/",
    };

    /// <summary>The guest's counters (what STATS reports), read without an exchange.</summary>
    public GuestStatistics Statistics
    {
        get
        {
            var c = _kernel.Counters.Snapshot();
            return new GuestStatistics(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]);
        }
    }

    /// <summary>Installs a program under a name, so commands can run it.</summary>
    public void AddProgram(string name, GuestProgram program)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(program);
        _kernel.Programs[name] = program;
    }

    /// <summary>
    /// Adds (or replaces) a file that programs can open and map, and the host can read, list and stat
    /// (<c>session.Files</c>); its directories are created with it.
    /// </summary>
    /// <exception cref="ArgumentException">A directory or device has that path, or a file has one of its directories' paths.</exception>
    public void AddFile(string path, byte[] content)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(content);
        _kernel.Files.Add(path, content);
    }

    /// <summary>Runs an installed program; an unknown name gives exit code 127, as a shell would.</summary>
    public async Task<GuestCommandResult> RunAsync(GuestCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var name = command.Arguments[0];
        if (_kernel.FindProgram(name) is not { } program)
            return new GuestCommandResult(127, $"sh: {name}: not found\n");
        var environment = new Dictionary<string, string>(DefaultEnvironment);
        foreach (var (key, value) in command.Environment)
            environment[key] = value;
        var process = _kernel.CreateProcess(command.Arguments, [.. environment.Select(e => $"{e.Key}={e.Value}")]);
        var exitCode = await _kernel.RunProgramAsync(program, process, cancellationToken).ConfigureAwait(false);
        return new GuestCommandResult(exitCode, process.Output);
    }

    /// <summary>Runs a C# guest program in a new process and returns the process (with its output) and the exit code.</summary>
    public async Task<(EmulatedProcess Process, int ExitCode)> RunAsync(GuestProgram program, IReadOnlyList<string> arguments,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Count == 0)
            throw new ArgumentException("A process needs at least a program name (argv[0]).", nameof(arguments));
        var process = _kernel.CreateProcess(arguments, [.. DefaultEnvironment.Select(e => $"{e.Key}={e.Value}")]);
        return (process, await _kernel.RunProgramAsync(program, process, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _kernel.Connection.DisposeAsync().ConfigureAwait(false);
        _kernel.Dispose();
    }
}
