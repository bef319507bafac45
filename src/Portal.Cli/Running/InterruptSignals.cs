using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Portal.Cli.Running;

/// <summary>
/// Turns the first Ctrl-C (SIGINT), SIGTERM, SIGHUP or SIGQUIT into a cancellation, so portal stops the
/// guest command and shuts the guest down in order, and exits with 128 + the signal's number. A second
/// signal is left to its default (the process ends; QemuGuest's own signal handler then stops QEMU at
/// once and removes its files), unless it repeats the first within <see cref="RepeatWindow"/>.
/// </summary>
/// <remarks>
/// The repeat window is for the parent-death signal (<see cref="ParentWatch"/>): when the multi-threaded
/// <c>dotnet run</c> dies, the kernel hands portal from one of its dying threads to the next and sends the
/// signal at each step, a burst of SIGTERMs within milliseconds. A person's second Ctrl-C comes later.
/// </remarks>
internal sealed class InterruptSignals : IDisposable
{
    private static readonly (PosixSignal Signal, int Number)[] Handled =
        [(PosixSignal.SIGHUP, 1), (PosixSignal.SIGINT, 2), (PosixSignal.SIGQUIT, 3), (PosixSignal.SIGTERM, 15)];

    private static readonly TimeSpan RepeatWindow = TimeSpan.FromMilliseconds(500);

    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _cancel = new();
    private PosixSignalRegistration[] _registrations = [];
    private int _received;                  // 0, or the first signal's number
    private long _receivedAt;               // when it came (Stopwatch timestamp)

    public InterruptSignals() => Register();

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>Whether a signal arrived.</summary>
    public bool Interrupted => Volatile.Read(ref _received) != 0;

    /// <summary>128 + the signal number, as a shell reports a process a signal stopped.</summary>
    public int ExitCode => Volatile.Read(ref _received) switch
    {
        1 => ExitCodes.HungUp,
        3 => ExitCodes.Quit,
        15 => ExitCodes.Terminated,
        _ => ExitCodes.Interrupted,
    };

    /// <summary>
    /// Registers again. Signal handlers run newest first: after the guest has registered its own
    /// (which would stop QEMU without a shutdown), re-registering puts ours in front, and ours marks
    /// the first signal handled so the guest's does nothing.
    /// </summary>
    public void RegisterAgain()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        Register();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        _cancel.Dispose();
    }

    private void Register() =>
        _registrations = [.. Handled.Select(handled => PosixSignalRegistration.Create(handled.Signal, context => OnSignal(context, handled.Number)))];

    private void OnSignal(PosixSignalContext context, int number)
    {
        lock (_gate)
        {
            if (_received != 0)
            {
                // The same signal again at once is one event delivered several times; else let it end the process.
                context.Cancel = number == _received && Stopwatch.GetElapsedTime(_receivedAt) < RepeatWindow;
                return;
            }
            (_received, _receivedAt) = (number, Stopwatch.GetTimestamp());
        }
        context.Cancel = true;
        _cancel.Cancel();
    }
}
