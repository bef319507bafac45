using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Benchmarks.Handlers;

/// <summary>
/// A stream of handled syscalls to time. <c>portal-bench handler SCENARIO</c> issues the scenario's
/// ioctl in a loop; our hook runs the handler on each, as a session runs any plugin, and the guest
/// calls again as soon as the verdict releases it. <see cref="WaitForCallsAsync"/> lets a given
/// number of calls through and completes when they have been handled: the time is what that many
/// handled syscalls cost (the handlers' exchanges, the verdicts, the guest's next calls reaching the
/// host).
/// </summary>
/// <remarks>
/// The last call of a run is held (its handler waits before returning) until the next run starts.
/// Otherwise the guest would keep calling while the benchmark thread wakes up, and with the
/// poller and the vCPU busy on both cores of a small machine, that wake-up waits for a scheduler tick
/// (about 4 ms, measured). Held, the vCPU spins alone and the benchmark thread gets a core at once.
/// </remarks>
internal sealed class HandlerPump
{
    private readonly Func<SyscallContext, ValueTask> _handler;
    private readonly Lock _lock = new();
    private Task<GuestCommandResult> _program = Task.FromResult(new GuestCommandResult(0, ""));
    private long _handled, _target = long.MaxValue, _minExchanges = long.MaxValue, _maxExchanges = long.MinValue;
    private TaskCompletionSource? _waiter;
    private TaskCompletionSource? _heldCall;        // completing it lets the held call return
    private Exception? _failure;
    private volatile bool _stopping;

    private HandlerPump(Func<SyscallContext, ValueTask> handler) => _handler = handler;

    /// <summary>The fewest and the most exchanges one handled call spent.</summary>
    public (long Min, long Max) Exchanges
    {
        get
        {
            lock (_lock)
                return (_minExchanges, _maxExchanges);
        }
    }

    /// <summary>Registers <paramref name="handler"/> on the ioctl <paramref name="command"/> and starts the guest program.</summary>
    public static async Task<HandlerPump> StartAsync(IGuest guest, PortalSession session, string scenario, long command,
        Func<SyscallContext, ValueTask> handler)
    {
        var pump = new HandlerPump(handler);
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(command)).WhereComm("portal-bench")
            .RegisterAsync(pump.OnCallAsync, "benchmark");
        // On its own thread: on the emulated guest, a call whose handler completes synchronously
        // returns synchronously, and the program's loop would never give the caller back.
        pump._program = Task.Run(() => guest.RunAsync(new GuestCommand(["portal-bench", "handler", scenario])));
        // A program that ends while calls are awaited (the handler threw, the guest timed a call out)
        // fails the benchmark instead of hanging it.
        _ = pump._program.ContinueWith(run => pump.Fail(new InvalidOperationException(
                $"portal-bench ended: {(run.IsCompletedSuccessfully ? run.Result.Output : run.Exception?.Message)}")),
            TaskScheduler.Default);
        await pump.WaitForCallsAsync(1).WaitAsync(TimeSpan.FromSeconds(30));
        return pump;
    }

    /// <summary>Releases the held call and completes when <paramref name="count"/> more calls have been handled.</summary>
    public Task WaitForCallsAsync(int count)
    {
        TaskCompletionSource waiter;
        TaskCompletionSource? held;
        lock (_lock)
        {
            if (_failure is not null)
                return Task.FromException(_failure);
            // Synchronous continuations: completing it wakes the waiting benchmark thread directly.
            waiter = _waiter = new TaskCompletionSource();
            _target = _handled + count;
            held = _heldCall;
            _heldCall = null;
        }
        held?.TrySetResult();                    // its handler returns here, on this thread, and sends the verdict
        return waiter.Task;
    }

    /// <summary>Answers the next call with <c>BENCH_STOP</c> and waits for the program to end.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        TaskCompletionSource? held;
        lock (_lock)
        {
            held = _heldCall;
            _heldCall = null;
        }
        held?.TrySetResult();
        var result = await _program.WaitAsync(TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"portal-bench failed: {result.Output}");
    }

    private async ValueTask OnCallAsync(SyscallContext syscall)
    {
        if (_stopping)
        {
            syscall.Retval = 1;                  // BENCH_STOP
            return;
        }
        try
        {
            await _handler(syscall);
        }
        catch (Exception e)
        {
            Fail(e);                             // the benchmark fails with the handler's exception
            syscall.Retval = 1;
            return;
        }
        syscall.Retval = 0;
        TaskCompletionSource? waiter = null, held = null;
        lock (_lock)
        {
            _minExchanges = Math.Min(_minExchanges, syscall.Exchanges);
            _maxExchanges = Math.Max(_maxExchanges, syscall.Exchanges);
            if (++_handled == _target && !_stopping)
            {
                waiter = _waiter;
                held = _heldCall = new TaskCompletionSource();
            }
        }
        if (held is null)
            return;
        waiter?.TrySetResult();
        await held.Task;                         // held until the next run (or the stop) releases it
    }

    private void Fail(Exception error)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            _failure ??= error;
            waiter = _waiter;
        }
        waiter?.TrySetException(_failure);
    }
}
