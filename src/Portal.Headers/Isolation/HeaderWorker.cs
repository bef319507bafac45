namespace Portal.Headers.Isolation;

/// <summary>
/// Runs libclang in a child process (this assembly again: <c>dotnet exec portal-headers.dll --portal-headers-worker</c>)
/// under a memory limit and a time limit, so that a hostile header cannot exhaust or hang the caller.
/// </summary>
/// <remarks>
/// <para>Why a process: libclang has no include filter and cannot be interrupted. An <c>#include "/dev/zero"</c>
/// reads until memory runs out, an included FIFO blocks in <c>open()</c> forever, and neither can be stopped
/// from another thread. A process can be limited by the kernel and killed.</para>
/// <para>Limits: the worker lowers its own <c>RLIMIT_DATA</c> (not <c>RLIMIT_AS</c>: the .NET runtime reserves far
/// more address space than it uses, and under a 2 GiB <c>RLIMIT_AS</c> it cannot even load libclang), its
/// <c>RLIMIT_CPU</c> (a backstop should this process die without killing it) and <c>RLIMIT_CORE</c> (a crash
/// at 2 GiB must not write a 2 GiB core file). This side enforces the wall-clock limit per ABI: a worker
/// blocked on a FIFO uses no CPU.</para>
/// <para>Cost: starting a worker (the .NET runtime, libclang, the parser's first compilation) takes 0.35-0.5 s
/// of CPU, ten times a warm in-process parse. One worker serves every ABI of a call, and a worker that answered
/// normally (a manifest, or the header's own errors) waits, for <see cref="IdleLifetime"/>, for the next call
/// in this process: a test suite or a tool that parses many headers pays the start once. A worker that hit a
/// limit, crashed or timed out is killed, never reused; one whose data segment has grown past a quarter of its
/// limit, or that has served <see cref="MaxUses"/> calls, is retired, so a reused worker starts every call with
/// most of its limit free.</para>
/// <para>Ending: workers are killed and reaped by the call that failed with them, by their idle timer, or at
/// this process's exit. Should this process die instead, a worker sees its stdin close and exits at once.</para>
/// </remarks>
internal static class HeaderWorker
{
    /// <summary>CPU seconds granted beyond the wall-clock total: the CPU limit only backs the clock up.</summary>
    const int CpuSlackSeconds = 10;

    /// <summary>How long an idle worker waits for another call before it is retired.</summary>
    static readonly TimeSpan IdleLifetime = TimeSpan.FromSeconds(10);

    const int MaxIdle = 2;
    const int MaxUses = 100;

    static readonly Lock Gate = new();
    static readonly List<WorkerProcess> Idle = [];
    static bool s_exitHooked;

    /// <summary>Parses <paramref name="path"/> for each ABI in one worker; throws what an in-process parse would, or <see cref="HeaderLimitException"/>.</summary>
    public static IReadOnlyList<LayoutManifest> Parse(string path, string header, IReadOnlyList<HeaderAbi> abis, HeaderParseOptions options, HeaderParseLimits limits)
    {
        var request = new WorkerRequest(path, header, [.. abis.Select(WorkerAbi.From)], options.IncludeDirectories, options.Defines, options.Structs,
            limits.MaxDiagnostics, limits.MemoryLimit, (long)Math.Ceiling(limits.Timeout.TotalSeconds * abis.Count) + CpuSlackSeconds);
        while (true)
        {
            var worker = Rent(limits.MemoryLimit);
            WorkerOutcome outcome;
            try
            {
                outcome = worker.Exchange(request, abis, header, limits);
            }
            catch
            {
                worker.Dispose();
                throw;
            }
            if (outcome.Reusable)
                Return(worker);
            else
                worker.Dispose();
            if (outcome.Stale)
                continue; // an idle worker had died (killed from outside): the request was never read
            if (outcome.Error is not null)
                throw outcome.Error;
            return outcome.Manifests!;
        }
    }

    static WorkerProcess Rent(long memoryLimit)
    {
        lock (Gate)
        {
            for (var i = Idle.Count - 1; i >= 0; i--)
            {
                if (Idle[i].MemoryLimit != memoryLimit)
                    continue;
                var worker = Idle[i];
                Idle.RemoveAt(i);
                worker.StopIdleTimer();
                return worker; // if it died meanwhile, the exchange says so (Stale) and a fresh one follows
            }
            if (!s_exitHooked)
            {
                s_exitHooked = true;
                AppDomain.CurrentDomain.ProcessExit += (_, _) => RetireAll();
            }
        }
        return WorkerProcess.Start(memoryLimit);
    }

    static void Return(WorkerProcess worker)
    {
        if (worker.Uses >= MaxUses || worker.HasExited || worker.DataBytes() is not { } data || data > worker.MemoryLimit / 4)
        {
            worker.Dispose();
            return;
        }
        WorkerProcess? evicted = null;
        lock (Gate)
        {
            if (Idle.Count >= MaxIdle)
            {
                evicted = Idle[0];
                Idle.RemoveAt(0);
            }
            Idle.Add(worker);
            worker.StartIdleTimer(IdleLifetime, () => Retire(worker));
        }
        evicted?.Dispose();
    }

    static void Retire(WorkerProcess worker)
    {
        lock (Gate)
        {
            if (!Idle.Remove(worker))
                return; // rented meanwhile
        }
        worker.Dispose();
    }

    static void RetireAll()
    {
        List<WorkerProcess> all;
        lock (Gate)
        {
            all = [.. Idle];
            Idle.Clear();
        }
        foreach (var worker in all)
            worker.Dispose();
    }
}
