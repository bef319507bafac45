using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Benchmarks.Handlers;

/// <summary>
/// Feeds a benchmark one handled syscall per call. <c>portal-bench handler SCENARIO</c> issues the
/// scenario's ioctl in a loop; each one reaches our hook, which parks until
/// <see cref="HandleOneAsync"/> hands it the work to do. <see cref="HandleOneAsync"/> completes when
/// the work is done, the verdict has released the guest and the guest's next call has arrived: one
/// full handled syscall, as a plugin sees them in production.
/// </summary>
internal sealed class HandlerPump
{
    private Task<GuestCommandResult> _program = Task.FromResult(new GuestCommandResult(0, ""));
    private TaskCompletionSource _parked = new();
    private TaskCompletionSource<Func<SyscallContext, ValueTask>?> _work = new();

    /// <summary>Exchanges spent by the most recent piece of work, and the range seen over all of them.</summary>
    public (long Last, long Min, long Max) Exchanges { get; private set; } = (0, long.MaxValue, long.MinValue);

    /// <summary>Registers the hook on <paramref name="command"/>, starts the guest program and waits for its first call.</summary>
    public static async Task<HandlerPump> StartAsync(IGuest guest, PortalSession session, string scenario, long command)
    {
        var pump = new HandlerPump();
        await session.OnSyscall("ioctl", SyscallPhase.Return).WhereArg(1, ArgFilter.Equal(command)).WhereComm("portal-bench")
            .RegisterAsync(pump.OnCallAsync, "benchmark");
        pump._program = guest.RunAsync(new GuestCommand(["portal-bench", "handler", scenario]));
        // A program that ends while we wait for its next call (a handler threw, the guest timed the hold
        // out) must fail the benchmark rather than hang it.
        _ = pump._program.ContinueWith(run => pump._parked.TrySetException(new InvalidOperationException(
                $"portal-bench ended while a handler was expected: {(run.IsCompletedSuccessfully ? run.Result.Output : run.Exception?.Message)}")),
            TaskScheduler.Default);
        await pump._parked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return pump;
    }

    /// <summary>Runs <paramref name="work"/> as the handler of the parked call; completes when the next call is parked.</summary>
    public Task HandleOneAsync(Func<SyscallContext, ValueTask> work)
    {
        var work0 = _work;
        var parked = new TaskCompletionSource();
        _parked = parked;                        // set before releasing the parked call: the next call takes these
        _work = new();
        work0.SetResult(work);
        return parked.Task;
    }

    /// <summary>Lets the parked call return <c>BENCH_STOP</c> and waits for the program to end.</summary>
    public async Task StopAsync()
    {
        _work.SetResult(null);
        var result = await _program.WaitAsync(TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"portal-bench failed: {result.Output}");
    }

    private async ValueTask OnCallAsync(SyscallContext syscall)
    {
        var parked = _parked;
        var work = _work.Task;
        parked.TrySetResult();
        var todo = await work;
        if (todo is null)
        {
            syscall.Retval = 1;                  // BENCH_STOP
            return;
        }
        var before = syscall.Exchanges;
        try
        {
            await todo(syscall);
        }
        catch (Exception e)
        {
            _parked.TrySetException(e);          // the benchmark fails with the handler's exception
            syscall.Retval = 1;
            return;
        }
        var spent = syscall.Exchanges - before;
        Exchanges = (spent, Math.Min(Exchanges.Min, spent), Math.Max(Exchanges.Max, spent));
        syscall.Retval = 0;
    }
}
