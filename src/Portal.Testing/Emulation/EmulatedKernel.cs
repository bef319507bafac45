using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Portal.Abi;
using Portal.Channels;
using Portal.Testing.Processes;
using Portal.Testing.Programs;
using static Portal.Testing.Emulation.GuestWire;

namespace Portal.Testing.Emulation;

/// <summary>
/// The emulated guest kernel: vCPU slots, the hook table, event delivery and verdicts (what
/// <c>guest/portal.ko</c> does), plus the syscalls the guest programs use.
/// </summary>
internal sealed partial class EmulatedKernel : IDisposable
{
    private readonly EmulatedSlot[] _cpus;
    private readonly ConcurrentStack<EmulatedSlot> _idleCpus;
    private readonly SemaphoreSlim _freeCpus;
    private readonly OpServer _ops;
    private readonly TimeSpan _hostTimeout;
    private readonly TimeSpan _holdBudget;
    private readonly Stopwatch _sinceBoot = Stopwatch.StartNew();
    private int _nextPid = 100;
    private long _nextInode = 10_000;

    /// <summary>How long each exchange's answer takes (<see cref="EmulatedGuestOptions.ExchangeDelay"/>).</summary>
    public TimeSpan ExchangeDelay { get; }

    public EmulatedKernel(GuestAbi abi, EmulatedGuestOptions options)
    {
        Abi = abi;
        KernelRelease = options.KernelRelease;
        OffersBatch = options.Batch;
        _hostTimeout = options.HostTimeout;
        _holdBudget = options.HoldBudget;
        ExchangeDelay = options.ExchangeDelay;
        Hooks = new GuestHookTable(options.HookCapacity);
        ControlSlot = new EmulatedSlot(this, 0);
        _cpus = [.. Enumerable.Range(1, options.CpuCount).Select(i => new EmulatedSlot(this, i))];
        _idleCpus = new ConcurrentStack<EmulatedSlot>(_cpus.Reverse());
        _freeCpus = new SemaphoreSlim(options.CpuCount, options.CpuCount);
        _ops = new OpServer(this);
        Connection = new EmulatedConnection(this);
        Files = new EmulatedFileSystem(KernelRelease, NextInode);
        // What every Linux has before the first command: init and the kernel threads' parent.
        Processes.Add(new EmulatedProcess(1, abi, ["/sbin/init"], []) { ParentPid = 0, Executable = "/sbin/init" });
        Processes.Add(EmulatedProcess.KernelThread(2, abi, "kthreadd"));
    }

    public GuestAbi Abi { get; }

    public string KernelRelease { get; }

    /// <summary>GUEST_INFO advertises BATCH (and the guest serves it either way, as a module would not refuse it).</summary>
    public bool OffersBatch { get; }

    public int CpuCount => _cpus.Length;

    public GuestHookTable Hooks { get; }

    public GuestCounters Counters { get; } = new();

    public EmulatedSlot ControlSlot { get; }

    public EmulatedConnection Connection { get; }

    /// <summary>The file system: what programs open and map, and what FILE_READ, DIRECTORY and the like serve.</summary>
    public EmulatedFileSystem Files { get; }

    /// <summary>The running processes (and init and kthreadd), what PROCESSES lists.</summary>
    public ProcessTable Processes { get; } = new();

    /// <summary>The installed programs, by file name (what a command or a shell can run).</summary>
    public Dictionary<string, GuestProgram> Programs { get; } = new(StringComparer.Ordinal);

    public void Dispose() => _freeCpus.Dispose();

    public void Serve(EmulatedSlot slot) => _ops.Serve(slot.GuestView, slot.Held);

    /// <summary>
    /// A process for a program, a child of <paramref name="parentPid"/> (default: init, which starts the
    /// commands the host runs), listed in <see cref="Processes"/> until <see cref="Exit"/>. Its executable
    /// is <c>/bin/</c> and argv[0]'s file name: where the program would live on a real guest.
    /// </summary>
    public EmulatedProcess CreateProcess(IReadOnlyList<string> arguments, IReadOnlyList<string> environment, int parentPid = ProcessTable.InitPid)
    {
        var name = arguments[0];
        var process = new EmulatedProcess(Interlocked.Increment(ref _nextPid), Abi, arguments, environment)
        {
            ParentPid = parentPid,
            Executable = "/bin/" + name[(name.LastIndexOf('/') + 1)..],
            StartedNanoseconds = _sinceBoot.Elapsed.Ticks * 100,
        };
        Processes.Add(process);
        return process;
    }

    /// <summary>
    /// What exec makes of <paramref name="process"/>: the same pid, parent, start time and environment, a
    /// new program's name, executable and memory. It takes the old one's place in <see cref="Processes"/>.
    /// </summary>
    public EmulatedProcess ReplaceProcess(EmulatedProcess process, IReadOnlyList<string> arguments)
    {
        var name = arguments[0];
        var image = new EmulatedProcess(process.Pid, Abi, arguments, process.Environment)
        {
            ParentPid = process.ParentPid,
            Executable = "/bin/" + name[(name.LastIndexOf('/') + 1)..],
            StartedNanoseconds = process.StartedNanoseconds,
        };
        Processes.Replace(image);
        return image;
    }

    /// <summary>The process's program has ended: it leaves <see cref="Processes"/>, and init adopts its children.</summary>
    public void Exit(EmulatedProcess process) => Processes.Remove(process);

    /// <summary>The program installed under the file name of <paramref name="path"/> (a shell looks up a command so), or null.</summary>
    public GuestProgram? FindProgram(string path) => Programs.GetValueOrDefault(path[(path.LastIndexOf('/') + 1)..]);

    /// <summary>Runs <paramref name="program"/> as <paramref name="process"/> until it exits; returns its exit status.</summary>
    public async Task<int> RunProgramAsync(GuestProgram program, EmulatedProcess process, CancellationToken cancellationToken)
    {
        try
        {
            return await program(new GuestProgramContext(this, process, cancellationToken)).ConfigureAwait(false);
        }
        catch (SegmentationFaultException fault)
        {
            process.AppendOutput($"{fault.Message}\n");
            return 139;     // killed by SIGSEGV, as a shell reports it
        }
        finally
        {
            Exit(process);      // however it ended, it is no longer in the process list
        }
    }

    /// <summary>A new inode number (files, sockets).</summary>
    private ulong NextInode() => (ulong)Interlocked.Increment(ref _nextInode);

    /// <summary>
    /// A syscall from a guest program: enter hooks, the syscall itself (unless skipped), return hooks.
    /// Returns the kernel's result (negative = −errno, guest numbering).
    /// </summary>
    public async ValueTask<long> SyscallAsync(EmulatedProcess process, int number, ulong[] args, CancellationToken cancellationToken)
    {
        for (var i = 0; i < args.Length; i++)
            args[i] = Abi.TruncateToRegister(args[i]);

        await _freeCpus.WaitAsync(cancellationToken).ConfigureAwait(false);
        _idleCpus.TryPop(out var cpu);
        var hold = new HoldBudget();    // shared by both stops: nothing schedules in between here
        try
        {
            var (skipped, result) = await RunHooksAsync(cpu!, process, GuestHook.PhaseEnter, number, args, 0, hold, cancellationToken).ConfigureAwait(false);
            if (skipped)
                return result;   // a skipped syscall produces no return events (the kernel sees no syscall to exit from)
            result = Abi.SignExtendRegister((ulong)Execute(process, number, args));
            (_, result) = await RunHooksAsync(cpu!, process, GuestHook.PhaseReturn, number, args, result, hold, cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            _idleCpus.Push(cpu!);
            _freeCpus.Release();
        }
    }

    /// <summary>The deadline of one syscall's hold (docs/protocol.md §5.3), set when its first event goes out.</summary>
    private sealed class HoldBudget
    {
        public DateTime? Deadline { get; set; }
    }

    /// <summary>Evaluates the hooks of one phase in registration order; one event per matching hook.</summary>
    private async ValueTask<(bool Skipped, long Result)> RunHooksAsync(EmulatedSlot cpu, EmulatedProcess process, int phase,
        int number, ulong[] args, long result, HoldBudget hold, CancellationToken cancellationToken)
    {
        var watched = false;
        var matched = false;
        foreach (var hook in Hooks.Snapshot)
        {
            if (hook.Number != number || hook.Phase != phase)
                continue;
            watched = true;
            if (!hook.Matches(number, phase, args, result, process, Processes, Counters))
                continue;
            matched = true;
            var now = DateTime.UtcNow;
            if (hold.Deadline is { } deadline && now >= deadline)
            {
                Counters.EventOverBudget();     // the syscall has been held long enough: this hook is not delivered
                continue;
            }
            hold.Deadline ??= now + _holdBudget;
            var left = hold.Deadline.Value - now;
            var wait = left < _hostTimeout ? left : _hostTimeout;
            var verdict = await DeliverAsync(cpu, hook, process, phase, number, args, result, wait, cancellationToken).ConfigureAwait(false);
            if (verdict is null && cpu.AbandonedEventId != 0 && wait == left)
                hold.Deadline = DateTime.MinValue;     // cut off by the budget: it is spent, whatever the timer's granularity says
            if (verdict is null)
                continue;
            Apply(cpu, verdict, process);
            if (phase == GuestHook.PhaseEnter)
            {
                for (var i = 0; i < 6; i++)
                {
                    if ((verdict.Flags & VerdictSetArgs) != 0 && (verdict.ArgMask & (1u << i)) != 0)
                        args[i] = Abi.TruncateToRegister(verdict.Args[i]);
                }
                if ((verdict.Flags & VerdictSkip) != 0)
                    return (true, Abi.SignExtendRegister((ulong)verdict.Retval));
            }
            else if ((verdict.Flags & VerdictSetRetval) != 0)
            {
                result = Abi.SignExtendRegister((ulong)verdict.Retval);
            }
        }
        if (watched && !matched)
            Counters.FilteredOut();
        return (false, result);
    }

    /// <summary>Hands an EVENT to the host and waits (bounded) for its verdict.</summary>
    private async ValueTask<ParsedVerdict?> DeliverAsync(EmulatedSlot cpu, GuestHook hook, EmulatedProcess process, int phase,
        int number, ulong[] args, long result, TimeSpan wait, CancellationToken cancellationToken)
    {
        var sink = Connection.Sink;
        if (sink is null)
            return null;    // no host attached: the syscall continues as if the host had timed out, without the wait
        if (cpu.AbandonedEventId != 0)
        {
            Counters.EventDropped();
            return null;
        }

        var eventId = ++cpu.LastEventId;
        WriteEvent(cpu.GuestView, eventId, hook, phase, number, args, result, process);
        var posted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cpu.VerdictPosted = posted;
        cpu.Held = process;
        cpu.HostOwns = true;
        Counters.EventSent();

        var handling = sink.OnEventAsync(cpu, cancellationToken);
        if (!posted.Task.IsCompleted)
        {
            var handlerTask = handling.AsTask();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var deadline = Task.Delay(wait, timeout.Token);
            var first = await Task.WhenAny(posted.Task, handlerTask, deadline).ConfigureAwait(false);
            await timeout.CancelAsync().ConfigureAwait(false);
            if (first == handlerTask && !posted.Task.IsCompleted)
            {
                await handlerTask.ConfigureAwait(false);    // a faulted sink surfaces here
                throw new InvalidOperationException($"The host's event sink returned without handing slot {cpu.Slot} back with a verdict.");
            }
            if (!posted.Task.IsCompleted)
            {
                cancellationToken.ThrowIfCancellationRequested();
                cpu.AbandonedEventId = eventId;   // the host owns the region until it acknowledges (§5.3)
                cpu.Held = null;
                Counters.HostTimeout();
                sink.OnEventAbandoned(cpu, eventId);
                return null;
            }
        }
        cpu.Held = null;
        var verdict = ReadVerdict(cpu.GuestView, eventId);
        if (verdict is null)
            sink.OnVerdictReport(cpu, new VerdictReport(eventId, VerdictOutcome.Rejected, 0, 0, 0));
        return verdict;
    }

    private static void WriteEvent(Span<byte> region, ulong eventId, GuestHook hook, int phase, int number, ulong[] args, long result,
        EmulatedProcess process)
    {
        var data = Data(region);
        data[..EventRecordLength].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(data, hook.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], (uint)phase);
        BinaryPrimitives.WriteUInt64LittleEndian(data[8..], (ulong)(long)number);
        for (var i = 0; i < 6; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data[(16 + 8 * i)..], args[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(data[64..], phase == GuestHook.PhaseReturn ? (ulong)result : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(data[72..], (uint)process.Pid);
        BinaryPrimitives.WriteUInt32LittleEndian(data[76..], (uint)process.Pid);
        var comm = Encoding.UTF8.GetBytes(process.Comm);
        comm.AsSpan(0, Math.Min(15, comm.Length)).CopyTo(data[80..]);
        if (phase == GuestHook.PhaseEnter)
        {
            var (scratch, size) = process.ScratchArea();
            BinaryPrimitives.WriteUInt64LittleEndian(data[96..], scratch);
            BinaryPrimitives.WriteUInt32LittleEndian(data[104..], (uint)size);
        }
        Respond(region, Event, eventId, EventRecordLength);
    }

    /// <summary>The event record with its scratch area (docs/protocol.md §4.1).</summary>
    private const int EventRecordLength = 112;

    private sealed record ParsedVerdict(ulong EventId, uint Flags, uint ArgMask, long Retval, ulong[] Args, (ulong Address, byte[] Data)[] Writes);

    /// <summary>Validates a verdict as docs/protocol.md §4.2 says; a bad one is rejected whole.</summary>
    private ParsedVerdict? ReadVerdict(Span<byte> region, ulong eventId)
    {
        // The slot only completes the hold for this event's VERDICT (EmulatedSlot.ReleaseToGuest).
        var size = Size(region);
        if (size is < 72 or > DataCapacity)
        {
            Counters.BadVerdict();
            return null;
        }
        var data = Data(region)[..(int)size];
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(data);
        var argMask = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(data[64..]);
        if ((flags & ~(VerdictSetRetval | VerdictSkip | VerdictSetArgs)) != 0 || (argMask & ~0x3fu) != 0 || count > DataCapacity / 16)
        {
            Counters.BadVerdict();
            return null;
        }
        var args = new ulong[6];
        for (var i = 0; i < 6; i++)
            args[i] = BinaryPrimitives.ReadUInt64LittleEndian(data[(16 + 8 * i)..]);
        var writes = new (ulong, byte[])[count];
        var offset = 72;
        for (var i = 0; i < count; i++)
        {
            if (offset + 16 > data.Length)
            {
                Counters.BadVerdict();
                return null;
            }
            var length = BinaryPrimitives.ReadUInt32LittleEndian(data[(offset + 8)..]);
            if (length > DataCapacity || offset + 16L + length > data.Length)      // the last entry's padding need not fit
            {
                Counters.BadVerdict();
                return null;
            }
            writes[i] = (BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]), data.Slice(offset + 16, (int)length).ToArray());
            offset += 16 + (int)((length + 7) & ~7u);
        }
        return new ParsedVerdict(eventId, flags, argMask, (long)BinaryPrimitives.ReadUInt64LittleEndian(data[8..]), args, writes);
    }

    /// <summary>Applies the verdict's writes, in order, each independent of the others, and reports the outcome (§4.2) as the module does.</summary>
    private void Apply(EmulatedSlot cpu, ParsedVerdict verdict, EmulatedProcess process)
    {
        var (failures, mask, firstWritten) = (0, 0UL, 0);
        for (var i = 0; i < verdict.Writes.Length; i++)
        {
            var (address, bytes) = verdict.Writes[i];
            var written = process.Memory.CopyToUser(address, bytes);
            if (written == bytes.Length)
                continue;
            Counters.VerdictWriteFault();
            if (failures++ == 0)
                firstWritten = written;
            if (i < 64)
                mask |= 1UL << i;
        }
        Counters.VerdictApplied();
        Connection.Sink?.OnVerdictReport(cpu, new VerdictReport(verdict.EventId, VerdictOutcome.Applied, failures, mask, firstWritten));
    }
}
