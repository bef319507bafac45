using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Portal.Abi;
using Portal.Channels;
using Portal.Guests;
using Portal.Qemu.Agent;
using Portal.Qemu.Firmware;
using Portal.Qemu.Hosting;
using Portal.Qemu.Image;
using Portal.Qemu.Machines;
using Portal.Qemu.Transport;

namespace Portal.Qemu;

/// <summary>
/// A real Linux guest (Debian's amd64 kernel) under QEMU with <c>portal.ko</c> loaded, connected to
/// Portal through the shared RAM window, with a command runner on a virtio-serial port.
/// <code>
/// await using var guest = await QemuGuest.StartAsync();
/// await using var session = await PortalSession.AttachAsync(guest.Connection);
/// var result = await guest.RunAsync(GuestCommand.Of("mtk7530_switch", "table_del"));
/// </code>
/// The guest is watched while it runs (<see cref="Lost"/>): a kernel panic or oops, a power-off, halt or
/// reboot, QEMU exiting or being killed, or a guest that stops answering is noticed within seconds;
/// exchanges and commands then fail with <see cref="GuestLostException"/>, whose message says what
/// happened (with the panic text). The kernel boots with <c>panic=-1</c> (and <c>oops=panic</c> unless
/// <see cref="QemuGuestOptions.PanicOnOops"/> is off), so a panic ends the VM at once.
/// Disposing shuts the guest down; QEMU never outlives the host process, and the RAM file is
/// unlinked as soon as both sides have it open, so nothing is left in /dev/shm. A terminating signal
/// (SIGTERM, Ctrl-C...) stops QEMU and removes the scratch directory; an application that wants to
/// handle Ctrl-C itself registers its PosixSignalRegistration after starting the guest (newest runs
/// first) and sets Cancel.
/// </summary>
public sealed partial class QemuGuest : IGuest
{
    /// <summary>Size of the shared window in bytes (where it sits in guest RAM is each machine's: GuestMachine).</summary>
    public const int WindowSize = 1 << 20;

    /// <summary>
    /// How much of a command's output <see cref="GuestCommandResult.Output"/> keeps when the output is
    /// streamed to a callback: its last 64 KiB (the callback saw all of it). Without a callback it keeps all.
    /// </summary>
    public const int StreamedOutputTail = 64 * 1024;

    private readonly GuestMachine _machine;
    private readonly QemuProcess _qemu;
    private readonly GuestMonitor _monitor;
    private readonly AgentClient _agent;
    private readonly SharedWindow _window;
    private readonly IGuestConnection _connection;
    private readonly GuestWorkDirectory _workDirectory;
    private readonly HostExitCleanup _exitCleanup;
    private readonly TimeSpan _exchangeTimeout;
    private readonly ILogger _logger;
    private WindowConnection? _ownWindowConnection;     // ConnectWindowAsync's, disposed before the window is unmapped
    private int _disposed;

    private QemuGuest(GuestMachine machine, QemuProcess qemu, GuestMonitor monitor, AgentClient agent, SharedWindow window, IGuestConnection connection,
        GuestWorkDirectory workDirectory, GuestImage image, TimeSpan bootTime, TimeSpan exchangeTimeout, ILogger logger)
    {
        _machine = machine;
        _qemu = qemu;
        _monitor = monitor;
        _agent = agent;
        _window = window;
        _connection = connection;
        _workDirectory = workDirectory;
        _exchangeTimeout = exchangeTimeout;
        Image = image;
        BootTime = bootTime;
        _logger = logger;
        _monitor.OnLost(OnLost);
        _exitCleanup = new HostExitCleanup(CleanUpNow);
    }

    /// <inheritdoc/>
    public GuestAbi Abi => _machine.Abi;

    /// <summary>
    /// The ABIs Portal boots a real guest for (x86_64, mipsel, aarch64, armel), in that order; the others
    /// run on the emulated guest only.
    /// </summary>
    public static IReadOnlyList<GuestAbi> RealGuestAbis { get; } = [.. GuestMachine.All.Select(machine => machine.Abi)];

    /// <inheritdoc/>
    public IGuestConnection Connection => _connection;

    /// <summary>The kernel and initramfs that were booted.</summary>
    public GuestImage Image { get; }

    /// <summary>From starting QEMU to the agent and the module being ready.</summary>
    public TimeSpan BootTime { get; }

    /// <summary>The guest console (kernel messages, /init's messages) so far.</summary>
    public string ConsoleLog => _workDirectory.ReadConsole();

    /// <summary>
    /// Completes when the guest is lost, with the reason: its kernel panicked (the message has the panic
    /// text from the console), it powered off, halted or rebooted, QEMU exited or was killed, or it stopped
    /// answering for <see cref="QemuGuestOptions.LivenessTimeout"/>. Cancelled when the guest is disposed first.
    /// </summary>
    public Task<GuestLostException> Lost => _monitor.Lost;

    /// <summary>The process id of QEMU.</summary>
    public int QemuProcessId => _qemu.Id;

    /// <summary>This guest's scratch directory (agent socket, console log); removed on dispose.</summary>
    public string WorkDirectory => _workDirectory.Path;

    /// <summary>
    /// Checks the prerequisites and builds the guest image (portal.ko, the programs, the initramfs, with
    /// the firmware of <see cref="QemuGuestOptions.Firmware"/> when there is one) into the cache if it is
    /// not there yet, without booting: what <see cref="StartAsync"/> does first.
    /// </summary>
    /// <exception cref="GuestPrerequisiteException">QEMU, the guest kernel or a build tool is missing.</exception>
    /// <exception cref="GuestBuildException">Building portal.ko or the programs failed.</exception>
    /// <exception cref="Firmware.FirmwareRootfsException">The firmware cannot be read or booted (the message says why).</exception>
    public static async Task<GuestImage> PrepareImageAsync(QemuGuestOptions? options = null, CancellationToken cancellationToken = default) =>
        (await PrepareAsync(options ?? new QemuGuestOptions(), cancellationToken).ConfigureAwait(false)).Image;

    /// <summary>What booting needs: the machine (the firmware's when there is one), the image, and the firmware's init.</summary>
    private sealed record PreparedGuest(GuestMachine Machine, GuestImage Image, string? FirmwareInit);

    private static async Task<PreparedGuest> PrepareAsync(QemuGuestOptions options, CancellationToken cancellationToken)
    {
        var logger = options.LoggerFactory.CreateLogger<QemuGuest>();
        var (firmware, abi, init) = options.Firmware is { } firmwareOptions
            ? await ReadFirmwareAsync(firmwareOptions, options, logger, cancellationToken).ConfigureAwait(false)
            : (null, options.Abi, null);
        var machine = GuestMachine.For(abi);
        var kernel = GuestPrerequisites.Check(abi, options.KernelVersion);
        var image = await GuestImageBuilder.BuildAsync(machine, kernel, options.Files, firmware, options.ResolveCacheDirectory(), logger, cancellationToken)
            .ConfigureAwait(false);
        return new PreparedGuest(machine, image, init);
    }

    /// <summary>Builds the guest if needed (cached), boots it, and waits until portal.ko and the agent are ready.</summary>
    /// <exception cref="GuestPrerequisiteException">QEMU, the guest kernel or a build tool is missing (the message names the set-up script).</exception>
    /// <exception cref="GuestBuildException">Building portal.ko or the programs failed.</exception>
    /// <exception cref="GuestBootException">The guest did not come up; the message has the end of its console.</exception>
    /// <exception cref="FirmwareRootfsException">The firmware of <see cref="QemuGuestOptions.Firmware"/> cannot be read or booted (the message says why).</exception>
    public static async Task<QemuGuest> StartAsync(QemuGuestOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new QemuGuestOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Cpus, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MemoryMiB, 256);
        if (options.HoldBudget <= TimeSpan.Zero || options.HoldBudget > QemuGuestOptions.MaxHoldBudget)
            throw new ArgumentOutOfRangeException(nameof(options), options.HoldBudget,
                $"{nameof(QemuGuestOptions.HoldBudget)} must be more than 0 and at most {QemuGuestOptions.MaxHoldBudget.TotalSeconds:F0} s (the module's cap).");
        var logger = options.LoggerFactory.CreateLogger<QemuGuest>();
        if (options.Firmware is null)
            CheckMachine(GuestMachine.For(options.Abi), options);       // before building anything
        var (machine, image, firmwareInit) = await PrepareAsync(options, cancellationToken).ConfigureAwait(false);
        CheckMachine(machine, options);
        return await BootAsync(machine, image, firmwareInit, options, logger, cancellationToken).ConfigureAwait(false);
    }

    private static void CheckMachine(GuestMachine machine, QemuGuestOptions options)
    {
        if (options.UseKvm && !machine.CanUseKvm)
            throw new ArgumentException($"KVM cannot run a {machine.Abi.Name} guest on this host; leave UseKvm off (TCG).", nameof(options));
        if (options.Cpus > machine.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(options), options.Cpus,
                $"The {machine.Abi.Name} guest runs at most {machine.MaxCpus} vCPU(s): {machine.MaxCpusReason}.");
    }

    private static async Task<QemuGuest> BootAsync(GuestMachine machine, GuestImage image, string? firmwareInit, QemuGuestOptions options,
        ILogger logger, CancellationToken cancellationToken)
    {
        var workDirectory = GuestWorkDirectory.Create(logger);
        var ram = GuestRamFile.ForNewGuest();
        var started = Stopwatch.GetTimestamp();
        QemuProcess? qemu = null;
        GuestMonitor? monitor = null;
        AgentClient? agent = null;
        SharedWindow? window = null;
        using var boot = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        boot.CancelAfter(options.BootTimeout);
        try
        {
            var arguments = QemuCommandLine.Arguments(machine, options, image, ram, workDirectory);
            Log.CommandLine(logger, QemuCommandLine.Display(machine.QemuBinary, arguments));
            qemu = QemuProcess.Start(machine.QemuBinary, arguments);
            monitor = new GuestMonitor(qemu, workDirectory.ConsoleLog, logger, options.ConsoleLine);
            // A guest that dies while booting (init exits, a panic, QEMU killed) fails the boot at once, not at its timeout.
            using var onLoss = monitor.LostToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), boot);
            Log.Started(logger, qemu.Id, image.Kernel);
            agent = await AgentClient.ConnectAsync(workDirectory.AgentSocket, () => !qemu.HasExited, boot.Token).ConfigureAwait(false);
            window = await ram.MapWindowAsync(options.MemoryMiB, () => !qemu.HasExited, boot.Token).ConfigureAwait(false);
            var slots = options.LoadPortalModule
                ? await WindowHandshake.WaitForSlotsAsync(window, () => !qemu.HasExited, "portal.ko", boot.Token).ConfigureAwait(false)
                : 0;
            await agent.Ready.WaitAsync(boot.Token).ConfigureAwait(false);
            IGuestConnection connection = options.LoadPortalModule
                ? new WindowConnection(window, slots, options.ExchangeTimeout, logger)
                : new UnavailableConnection();
            var bootTime = Stopwatch.GetElapsedTime(started);
            Log.Ready(logger, bootTime.TotalSeconds, options.LoadPortalModule ? slots - 1 : 0);
            monitor.WatchLiveness(agent, options.LivenessTimeout);
            return new QemuGuest(machine, qemu, monitor, agent, window, connection, workDirectory, image, bootTime, options.ExchangeTimeout, logger)
            {
                _firmwareInit = firmwareInit,
                _firmwareWithoutInit = options.Firmware is { RunInit: false },
            };
        }
        catch (Exception e) when (e is not GuestPrerequisiteException)
        {
            // QEMU gone while a boot step waited: let the monitor say how it ended rather than the step.
            var lost = monitor is null ? null : await monitor.ReasonAsync(qemu!.HasExited ? TimeSpan.FromSeconds(2) : TimeSpan.Zero).ConfigureAwait(false);
            var console = monitor?.ConsoleTail(40) ?? "";
            var qemuErrors = qemu?.Errors ?? "";
            monitor?.BeginShutdown();
            if (agent is not null)
                await agent.DisposeAsync().ConfigureAwait(false);
            window?.Dispose();
            qemu?.Dispose();
            if (monitor is not null)
                await monitor.DisposeAsync().ConfigureAwait(false);
            ram.DeleteQuietly();
            workDirectory.DeleteQuietly();
            if (cancellationToken.IsCancellationRequested)
                throw;
            throw GuestBootException.Describe(lost, e, options.BootTimeout, qemuErrors, console);
        }
    }

    /// <summary>
    /// The first console line that matches <paramref name="pattern"/>: one of the lines kept so far (the last
    /// 400) or the next one that does. Fails with <see cref="GuestLostException"/> when the guest is lost first.
    /// </summary>
    public async Task<string> WaitForConsoleAsync(Regex pattern, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _monitor.LostToken);
        try
        {
            return await _monitor.WaitForConsoleLineAsync(pattern, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _monitor.Reason is { } lost)
        {
            throw new GuestLostException(lost.Message, lost);
        }
    }

    /// <summary>
    /// Runs a program in the guest (through /bin/sh, by name on PATH) and waits for it. The result holds
    /// all of its output, in host memory: for a command that prints a lot, pass an output callback.
    /// </summary>
    public Task<GuestCommandResult> RunAsync(GuestCommand command, CancellationToken cancellationToken = default) =>
        RunAsync(command, output: null, cancellationToken);

    /// <summary>
    /// Runs a program in the guest (by name on PATH), streaming its output to <paramref name="output"/> as
    /// it arrives. Cancelling kills the program in the guest.
    /// </summary>
    /// <remarks>
    /// With a callback, host memory stays bounded whatever the command prints: the result's
    /// <see cref="GuestCommandResult.Output"/> keeps only the last <see cref="StreamedOutputTail"/> bytes
    /// (<see cref="GuestCommandResult.OutputTruncated"/> says when that is not all), and a callback that
    /// is slow or blocks holds the program back in the guest (it blocks writing its output) rather than
    /// letting output pile up; other commands are not held back. The callback is called in order, one call
    /// at a time, on a thread pool thread, and not after this method has returned. Without a callback
    /// (<c>null</c>), Output holds all of the output.
    /// </remarks>
    public async Task<GuestCommandResult> RunAsync(GuestCommand command, Action<string>? output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return await RunShellAsync(ShellCommandLine.For(command), output, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The pid of the guest's <c>portal-agent</c>, which runs every command the host sends as its child:
    /// hooks meant for the firmware leave its subtree out, e.g. <c>session.Scope =
    /// GuestScope.Subtree(1).Excluding(agentPid)</c> (the agent itself descends from PID 1, docs/filters.md
    /// "Scope"). Costs one command (<c>echo $PPID</c>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The guest's answer is not a pid.</exception>
    public async Task<int> GetAgentPidAsync(CancellationToken cancellationToken = default)
    {
        var run = await RunShellAsync("echo $PPID", output: null, cancellationToken).ConfigureAwait(false);
        return run.ExitCode == 0 && int.TryParse(run.Output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? pid
            : throw new InvalidOperationException($"The guest did not tell its agent's pid: 'echo $PPID' exited {run.ExitCode} and printed '{run.Output.Trim()}'.");
    }

    /// <summary>
    /// Runs a shell command line in the guest (busybox sh), streaming its output to <paramref name="output"/>;
    /// output is kept as <see cref="RunAsync(GuestCommand, Action{string}?, CancellationToken)"/> describes.
    /// </summary>
    public async Task<GuestCommandResult> RunShellAsync(string commandLine, Action<string>? output = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        if (_monitor.Reason is { } gone)
            throw new GuestLostException(gone.Message, gone);
        try
        {
            var (exitCode, text, truncated) = await _agent.RunAsync(commandLine, output, cancellationToken).ConfigureAwait(false);
            return new GuestCommandResult(exitCode, text) { OutputTruncated = truncated };
        }
        catch (GuestLostException e)
        {
            throw new GuestLostException(e.Message, e);     // one instance per caller: each gets its own stack trace
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            // The agent's connection broke: the guest went (QEMU exited, it panicked...) or the agent did. Say which.
            if (await _monitor.ExplainAsync(e).ConfigureAwait(false) is { } lost)
                throw new GuestLostException(lost.Message, lost);
            throw;
        }
    }

    /// <summary>
    /// For tests of a hostile guest: on a guest started without portal.ko, waits until a guest program
    /// has laid out the window itself (state ready, magic), checks the header as for portal.ko, and
    /// connects to it. The connection is disposed with the guest at the latest (before the window is
    /// unmapped). One per guest.
    /// </summary>
    /// <exception cref="InvalidOperationException">portal.ko owns the window, a connection exists already, the header is
    /// not one this host can use, or QEMU exited.</exception>
    internal async Task<WindowConnection> ConnectWindowAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        if (_connection is not UnavailableConnection)
            throw new InvalidOperationException("portal.ko owns this guest's window; use Connection.");
        if (Volatile.Read(ref _ownWindowConnection) is not null)
            throw new InvalidOperationException("This guest's window is already connected.");
        var slots = await WindowHandshake.WaitForSlotsAsync(_window, () => !_qemu.HasExited, "the guest program", cancellationToken).ConfigureAwait(false);
        var connection = new WindowConnection(_window, slots, _exchangeTimeout, _logger);
        if (Interlocked.CompareExchange(ref _ownWindowConnection, connection, null) is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException("This guest's window is already connected.");
        }
        return connection;
    }

    /// <summary>Shuts the guest down (the agent exits, /init powers off), then removes every trace.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        _exitCleanup.Dispose();
        var lost = _monitor.BeginShutdown();
        await _connection.DisposeAsync().ConfigureAwait(false);
        if (Volatile.Read(ref _ownWindowConnection) is { } own)
            await own.DisposeAsync().ConfigureAwait(false);
        // A lost guest has nobody to quit and nothing to power off: QEMU is stopped (if it still runs) at once.
        if (!lost && !_qemu.HasExited)
        {
            await _agent.QuitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            try
            {
                using var powerOff = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _qemu.WaitForExitAsync(powerOff.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Log.KilledQemu(_logger, _qemu.Id);
            }
        }
        _qemu.Dispose();
        await _agent.DisposeAsync().ConfigureAwait(false);
        await _monitor.DisposeAsync().ConfigureAwait(false);
        _window.Dispose();
        _workDirectory.DeleteQuietly();
    }

    /// <summary>The monitor found the guest gone: exchanges and commands, running or later, fail at once with the reason.</summary>
    private void OnLost(GuestLostException reason)
    {
        if (_connection is WindowConnection window)
            window.MarkLost(reason);
        Volatile.Read(ref _ownWindowConnection)?.MarkLost(reason);
        _agent.Fail(reason);
    }

    /// <summary>The host process is ending without disposing the guest (<see cref="HostExitCleanup"/>): stop QEMU and clean up now.</summary>
    private void CleanUpNow()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        _monitor.BeginShutdown();
        _qemu.Dispose();
        _workDirectory.DeleteQuietly();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Started QEMU (pid {Pid}) with {Kernel}")]
        public static partial void Started(ILogger logger, int pid, string kernel);

        [LoggerMessage(2, LogLevel.Information, "Guest ready after {Seconds:F1} s with {Cpus} vCPU slot(s)")]
        public static partial void Ready(ILogger logger, double seconds, int cpus);

        [LoggerMessage(3, LogLevel.Warning, "QEMU (pid {Pid}) did not power off in time and was killed")]
        public static partial void KilledQemu(ILogger logger, int pid);

        [LoggerMessage(5, LogLevel.Information, "Read the {Source}: {Abi}, {Entries} entries, {MiB:F1} MiB of files, in {Seconds:F2} s")]
        public static partial void FirmwareRead(ILogger logger, string source, string abi, int entries, double miB, double seconds);

        [LoggerMessage(6, LogLevel.Debug, "QEMU command line: {CommandLine}")]
        public static partial void CommandLine(ILogger logger, string commandLine);
    }
}
