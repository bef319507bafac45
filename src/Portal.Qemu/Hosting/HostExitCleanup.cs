using System.Runtime.InteropServices;

namespace Portal.Qemu.Hosting;

/// <summary>
/// Runs a guest's last-resort cleanup (stop QEMU, remove its files) when the host process ends without
/// disposing the guest: at ProcessExit, and on a terminating signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT),
/// which ends the process without ProcessExit, unless a handler that ran before this one cancelled the
/// signal. Handlers run newest first: an application that handles Ctrl-C itself registers its own after
/// starting the guest, and sets Cancel. Disposing unregisters.
/// </summary>
internal sealed class HostExitCleanup : IDisposable
{
    private static readonly PosixSignal[] TerminatingSignals = [PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP, PosixSignal.SIGQUIT];

    private readonly Action _cleanUp;
    private readonly PosixSignalRegistration[] _signals;

    /// <param name="cleanUp">Called at most once per event, from the exit or signal handler: quick, and safe to call after the guest was disposed.</param>
    public HostExitCleanup(Action cleanUp)
    {
        _cleanUp = cleanUp;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        _signals = [.. TerminatingSignals.Select(signal => PosixSignalRegistration.Create(signal, OnTerminatingSignal))];
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        foreach (var registration in _signals)
            registration.Dispose();
    }

    private void OnProcessExit(object? sender, EventArgs e) => _cleanUp();

    private void OnTerminatingSignal(PosixSignalContext context)
    {
        if (!context.Cancel)
            _cleanUp();
    }
}
