using System.Text;
using Portal.Abi;
using Portal.Channels;
using Portal.Memory.Batching;
using Portal.Protocol;
using Portal.Typed;

namespace Portal.Memory;

/// <summary>
/// The seed's memory and process API, bound to the process whose syscall a handler holds; integers
/// are in the guest's byte order; failures are <see cref="GuestOperationException"/>s that carry the
/// errno (and, for memory, the address and how much was transferred). Nothing fails silently: a read
/// of an unmapped address, address 0 included, throws.
/// </summary>
/// <remarks>
/// <para><b>Batching.</b> An operation is sent when something first waits for it, together with
/// every operation started before: start several, then await them, and they cost one exchange
/// (a BATCH, up to 4072 bytes of requests and results; more only when they do not fit).</para>
/// <code>
/// var name = memory.ReadStrAsync(arg);          // queued
/// var data = memory.ReadIntAsync(arg + 16);     // queued
/// Log(await name, await data);                  // one exchange for both
/// </code>
/// <para><b>Writes.</b> Awaited, a write is sent like a read and reports its fault. Inside a
/// <see cref="BeginBatch"/> scope, and from the setters of loaded records, writes are staged: they
/// complete at once, merge into the fewest contiguous writes and ride on the next exchange or on the
/// syscall's verdict. A read the staged writes fully cover is answered from them (read-your-writes).
/// A staged write's fault surfaces from <see cref="FlushAsync"/>; one nobody observed is logged when
/// the handler returns.</para>
/// <para>An operation runs as part of one exchange and sees guest memory at that instant; values
/// already read (records, strings) are snapshots: read again to refresh.</para>
/// </remarks>
public sealed class GuestMemory
{
    /// <summary>Default upper bound for <see cref="ReadStrAsync"/> (bytes, NUL excluded).</summary>
    public const int DefaultMaxStringLength = 64 * 1024;

    internal GuestMemory(SlotLease lease, GuestAbi abi, GuestFeatures features = GuestFeatures.None, CancellationToken cancellationToken = default)
    {
        Abi = abi;
        Planner = new BatchPlanner(this, lease, abi, features, cancellationToken);
    }

    /// <summary>The guest's ABI (pointer size and byte order used by the integer methods).</summary>
    public GuestAbi Abi { get; }

    internal BatchPlanner Planner { get; }

    /// <summary>A typed pointer to a record at <paramref name="address"/> in this process (see <see cref="GuestPtr{T}"/>).</summary>
    public GuestPtr<T> At<T>(ulong address) where T : struct, IGuestRecord<T> => new(address, this);

    /// <summary>An untyped pointer to <paramref name="address"/> in this process.</summary>
    public GuestAddress Address(ulong address) => new(address, this);

    /// <summary>
    /// Opens an explicit batch: until it is disposed, writes are staged (they complete at once and
    /// ride on the next exchange or on the verdict). <see cref="GuestBatch.CommitAsync"/> sends
    /// everything now and reports write faults.
    /// </summary>
    public GuestBatch BeginBatch() => new(Planner);

    /// <summary>
    /// Awaits operations started together, in one exchange (as many as they need to fit): the
    /// sequence is enumerated, starting every operation, before the first is awaited. Use this, not
    /// <c>Task.WhenAll(… .AsTask())</c>: converting an operation to a Task waits for it, which sends
    /// it at once with only what was queued before.
    /// </summary>
    /// <returns>The results, in order. If several fail, the first failure is thrown (after all have completed).</returns>
    public static async ValueTask<T[]> WhenAll<T>(IEnumerable<ValueTask<T>> operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var started = operations.ToArray();
        var results = new T[started.Length];
        Exception? first = null;
        for (var i = 0; i < started.Length; i++)
        {
            try
            {
                results[i] = await started[i].ConfigureAwait(false);
            }
            catch (Exception e) when (first is null)
            {
                first = e;
            }
            catch (Exception)
            {
                // the first failure is the one reported; the others were still awaited (no operation is left behind)
            }
        }
        return first is null ? results : throw first;
    }

    /// <summary>Sends everything queued or staged now, and throws the first write fault not yet observed.</summary>
    /// <exception cref="GuestFaultException">A staged or unawaited write faulted.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => Planner.FlushAsync(cancellationToken);

    // ---- reads ----------------------------------------------------------------------------------

    /// <summary>Reads <paramref name="count"/> bytes (seed: <c>read_bytes</c>).</summary>
    /// <exception cref="GuestPartialReadException">Only the first bytes were readable.</exception>
    /// <exception cref="GuestFaultException">Nothing was readable.</exception>
    public ValueTask<byte[]> ReadBytesAsync(ulong address, int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return ReadBytes(GuestLocation.At(address), new byte[count], cancellationToken);
    }

    /// <summary>Reads exactly <c>destination.Length</c> bytes into <paramref name="destination"/>.</summary>
    /// <exception cref="GuestPartialReadException">Only the first bytes were readable.</exception>
    /// <exception cref="GuestFaultException">Nothing was readable.</exception>
    public ValueTask ReadBytesAsync(ulong address, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var location = GuestLocation.At(address);
        if (Rejected(PortalOp.Read, location, destination.Length, cancellationToken) is { } rejected)
            return ValueTask.FromException(rejected);
        if (destination.IsEmpty || Planner.TryReadQueuedWrites(address, destination.Span))
            return ValueTask.CompletedTask;
        var op = new BytesReadOperation(Planner, location, destination, cancellationToken);
        Planner.Enqueue(op);
        return new ValueTask(op, op.Version);
    }

    /// <summary>Reads a 32-bit integer (seed: <c>read_int</c>).</summary>
    public ValueTask<uint> ReadIntAsync(ulong address, CancellationToken cancellationToken = default)
    {
        if (StartScalar(GuestLocation.At(address), 4, cancellationToken, out var value) is not { } op)
            return value is { } known ? new((uint)known) : ValueTask.FromException<uint>(Rejected(PortalOp.Read, GuestLocation.At(address), 4, cancellationToken)!);
        return new(op, op.Version);
    }

    /// <summary>Reads a 64-bit integer (seed: <c>read_long</c>).</summary>
    public ValueTask<ulong> ReadLongAsync(ulong address, CancellationToken cancellationToken = default) =>
        ReadScalar(GuestLocation.At(address), 8, cancellationToken);

    /// <summary>Reads a pointer of the guest's size (seed: <c>read_ptr</c>).</summary>
    public ValueTask<ulong> ReadPtrAsync(ulong address, CancellationToken cancellationToken = default) =>
        ReadScalar(GuestLocation.At(address), Abi.PointerSize, cancellationToken);

    /// <summary>Reads a NUL-terminated string, decoded as UTF-8 (seed: <c>read_str</c>).</summary>
    /// <param name="address">Where the string starts.</param>
    /// <param name="maxLength">Longest string accepted, in bytes; a longer one is an error, not a truncation.</param>
    /// <param name="cancellationToken">Cancels the wait for the guest.</param>
    /// <exception cref="GuestPartialReadException">The string runs into unreadable memory before its NUL.</exception>
    /// <exception cref="GuestOperationException">No NUL within <paramref name="maxLength"/> bytes (ENAMETOOLONG).</exception>
    public ValueTask<string> ReadStrAsync(ulong address, int maxLength = DefaultMaxStringLength, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        if (StartString(GuestLocation.At(address), maxLength, cancellationToken, out var local) is { } op)
            return new(op, op.Version);
        return local is { } text ? new(Encoding.UTF8.GetString(text)) : ValueTask.FromException<string>(StringRejection(address, cancellationToken));
    }

    /// <summary>Reads a NUL-terminated string as raw bytes (NUL excluded); see <see cref="ReadStrAsync"/>.</summary>
    public ValueTask<byte[]> ReadStrBytesAsync(ulong address, int maxLength = DefaultMaxStringLength, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        if (StartString(GuestLocation.At(address), maxLength, cancellationToken, out var local) is { } op)
            return new(op, op.Version);
        return local is { } text ? new(text) : ValueTask.FromException<byte[]>(StringRejection(address, cancellationToken));
    }

    // ---- writes ---------------------------------------------------------------------------------

    /// <summary>Writes bytes (seed: <c>write_bytes</c>); staged inside a <see cref="BeginBatch"/> scope.</summary>
    /// <exception cref="GuestFaultException">The write faulted; <see cref="GuestFaultException.BytesTransferred"/> says how much landed.</exception>
    public ValueTask WriteBytesAsync(ulong address, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        Write(GuestLocation.At(address), data.Span, cancellationToken);

    /// <summary>Writes a string as UTF-8 followed by a NUL (seed: <c>write_str</c>).</summary>
    /// <exception cref="ArgumentException">The string contains a NUL (the guest would see it cut short).</exception>
    public ValueTask WriteStrAsync(ulong address, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0'))
            throw new ArgumentException("The string contains a NUL; the guest would see it cut short. Use WriteBytesAsync for binary data.", nameof(value));
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return Write(GuestLocation.At(address), bytes, cancellationToken);
    }

    /// <summary>Writes a 32-bit integer (seed: <c>write_int</c>).</summary>
    public ValueTask WriteIntAsync(ulong address, uint value, CancellationToken cancellationToken = default) =>
        WriteScalar(address, 4, value, cancellationToken);

    /// <summary>Writes a 32-bit signed integer (seed: <c>write_int</c>).</summary>
    public ValueTask WriteIntAsync(ulong address, int value, CancellationToken cancellationToken = default) =>
        WriteScalar(address, 4, (uint)value, cancellationToken);

    /// <summary>Writes a 64-bit integer (seed: <c>write_long</c>).</summary>
    public ValueTask WriteLongAsync(ulong address, ulong value, CancellationToken cancellationToken = default) =>
        WriteScalar(address, 8, value, cancellationToken);

    /// <summary>Writes a 64-bit signed integer (seed: <c>write_long</c>).</summary>
    public ValueTask WriteLongAsync(ulong address, long value, CancellationToken cancellationToken = default) =>
        WriteScalar(address, 8, (ulong)value, cancellationToken);

    /// <summary>Writes a pointer of the guest's size (seed: <c>write_ptr</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit a 32-bit guest's pointer.</exception>
    public ValueTask WritePtrAsync(ulong address, ulong value, CancellationToken cancellationToken = default)
    {
        if (Abi.PointerSize == 4 && value > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit a 32-bit {Abi.Name} pointer.");
        return WriteScalar(address, Abi.PointerSize, value, cancellationToken);
    }

    // ---- process information ----------------------------------------------------------------------

    /// <summary>The held process's command-line arguments (seed: <c>get_proc_args</c>).</summary>
    public ValueTask<IReadOnlyList<string>> GetProcArgsAsync(CancellationToken cancellationToken = default)
    {
        var op = new BlockOperation(Planner, PortalOp.ReadProcArgs, cancellationToken);
        Planner.Enqueue(op);
        return new(op, op.Version);
    }

    /// <summary>
    /// The held process's environment (seed: <c>get_proc_env</c>). When a name appears twice the first
    /// entry wins, as with <c>getenv</c>; an entry without <c>=</c> maps to "".
    /// </summary>
    public ValueTask<IReadOnlyDictionary<string, string>> GetProcEnvAsync(CancellationToken cancellationToken = default)
    {
        var op = new BlockOperation(Planner, PortalOp.ReadProcEnv, cancellationToken);
        Planner.Enqueue(op);
        return new(op, op.Version);
    }

    /// <summary>The held process's id, its tgid (seed: <c>get_proc_pid</c>).</summary>
    public ValueTask<int> GetProcPidAsync(CancellationToken cancellationToken = default)
    {
        var op = new PidOperation(Planner, cancellationToken);
        Planner.Enqueue(op);
        return new(op, op.Version);
    }

    /// <summary>The path a file descriptor of the held process refers to (seed: <c>read_fd_name</c>).</summary>
    /// <exception cref="GuestOperationException">The descriptor is not open (EBADF), or its name does not fit (ENAMETOOLONG).</exception>
    public ValueTask<string> ReadFdNameAsync(int fd, CancellationToken cancellationToken = default)
    {
        var op = new FdNameOperation(Planner, fd, cancellationToken);
        Planner.Enqueue(op);
        return new(op, op.Version);
    }

    // ---- for typed pointers (locations may be indirect) --------------------------------------------

    internal ValueTask<byte[]> ReadBytes(GuestLocation location, byte[] destination, CancellationToken cancellationToken)
    {
        if (Rejected(PortalOp.Read, location, destination.Length, cancellationToken) is { } rejected)
            return ValueTask.FromException<byte[]>(rejected);
        if (destination.Length == 0 || (location.IsAbsolute && Planner.TryReadQueuedWrites(location.Offset, destination)))
            return new(destination);
        var op = new BytesReadOperation(Planner, location, destination, cancellationToken);
        Planner.Enqueue(op);
        return new(op, op.Version);
    }

    internal ValueTask<ulong> ReadScalar(GuestLocation location, int size, CancellationToken cancellationToken)
    {
        if (StartScalar(location, size, cancellationToken, out var value) is not { } op)
            return value is { } known ? new(known) : ValueTask.FromException<ulong>(Rejected(PortalOp.Read, location, size, cancellationToken)!);
        return new(op, op.Version);
    }

    internal ValueTask<string> ReadStr(GuestLocation location, int maxLength, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        if (StartString(location, maxLength, cancellationToken, out var local) is { } op)
            return new(op, op.Version);
        return local is { } text ? new(Encoding.UTF8.GetString(text)) : ValueTask.FromException<string>(StringRejection(location.Offset, cancellationToken));
    }

    /// <summary>Loads a record (the snapshot is bound at the address it came from, resolved if the location was indirect).</summary>
    internal ValueTask<T> LoadRecord<T>(GuestLocation location, CancellationToken cancellationToken) where T : struct, IGuestRecord<T>
    {
        var size = T.SizeOf(Abi);
        if (Rejected(PortalOp.Read, location, size, cancellationToken) is { } rejected)
            return ValueTask.FromException<T>(rejected);
        var op = new RecordLoadOperation<T>(Planner, location, size, cancellationToken);
        Planner.Enqueue(op);
        return new(op, op.Version);
    }

    /// <summary>Reads one member and decodes it.</summary>
    internal ValueTask<T> ReadField<T>(GuestLocation location, int size, Func<RecordView, T> decode, CancellationToken cancellationToken)
    {
        if (Rejected(PortalOp.Read, location, size, cancellationToken) is { } rejected)
            return ValueTask.FromException<T>(rejected);
        var op = new FieldReadOperation<T>(Planner, location, size, decode, cancellationToken);
        Planner.Enqueue(op);
        return new(op, op.Version);
    }

    /// <summary>A write: staged inside a batch scope (absolute addresses merge; indirect ones queue), else awaited.</summary>
    internal ValueTask Write(GuestLocation location, ReadOnlySpan<byte> data, CancellationToken cancellationToken)
    {
        if (Rejected(PortalOp.Write, location, data.Length, cancellationToken) is { } rejected)
            return ValueTask.FromException(rejected);
        if (data.IsEmpty)
            return ValueTask.CompletedTask;
        if (Planner.StagingDepth > 0 && location.IsAbsolute)
        {
            Planner.Stage(location.Offset, data);
            return ValueTask.CompletedTask;
        }
        var op = Planner.RentWrite();
        op.Start(location, data, cancellationToken);
        Planner.Enqueue(op);
        // Staged through a pointer: queued in order, its fault goes to the list FlushAsync reports.
        return Planner.StagingDepth > 0 ? ValueTask.CompletedTask : new ValueTask(op, op.Version);
    }

    /// <summary>A setter changed a loaded record: the bytes ride on the next exchange or the verdict.</summary>
    internal void StageRecordBytes(ulong address, ReadOnlySpan<byte> bytes)
    {
        if (Faults.OutOfRange(Abi, PortalOp.Write, address, bytes.Length) is { } outside)
            throw outside;
        Planner.Stage(address, bytes);
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private ValueTask WriteScalar(ulong address, int size, ulong value, CancellationToken cancellationToken)
    {
        Span<byte> bytes = stackalloc byte[8];
        if (size == 4)
            Abi.WriteUInt32(bytes, (uint)value);
        else
            Abi.WriteUInt64(bytes, value);
        return Write(GuestLocation.At(address), bytes[..size], cancellationToken);
    }

    /// <summary>Queues a scalar read; null with <paramref name="local"/> set when queued writes answer it, null without when rejected.</summary>
    private ScalarReadOperation? StartScalar(GuestLocation location, int size, CancellationToken cancellationToken, out ulong? local)
    {
        local = null;
        if (Rejected(PortalOp.Read, location, size, cancellationToken) is not null)
            return null;
        if (location.IsAbsolute)
        {
            Span<byte> bytes = stackalloc byte[8];
            if (Planner.TryReadQueuedWrites(location.Offset, bytes[..size]))
            {
                local = size switch { 1 => bytes[0], 2 => Abi.ReadUInt16(bytes), 4 => Abi.ReadUInt32(bytes), _ => Abi.ReadUInt64(bytes) };
                return null;
            }
        }
        var op = Planner.RentScalar();
        op.Start(location, size, cancellationToken);
        Planner.Enqueue(op);
        return op;
    }

    private StringReadOperation? StartString(GuestLocation location, int maxLength, CancellationToken cancellationToken, out byte[]? local)
    {
        local = null;
        if (cancellationToken.IsCancellationRequested)
            return null;
        if (location.IsAbsolute)
        {
            if (Faults.OutOfRange(Abi, PortalOp.ReadStr, location.Offset, 1) is not null)
                return null;
            if (Planner.TryReadQueuedString(location.Offset, maxLength + 1, out var text))
            {
                local = text.ToArray();
                return null;
            }
        }
        var op = new StringReadOperation(Planner, location, maxLength, cancellationToken);
        Planner.Enqueue(op);
        return op;
    }

    private Exception StringRejection(ulong address, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? new OperationCanceledException(cancellationToken)
        : Faults.OutOfRange(Abi, PortalOp.ReadStr, address, 1)!;

    /// <summary>Why an operation is refused before it is queued (cancelled, or a range no guest address can have); null if it is not.</summary>
    private Exception? Rejected(PortalOp op, GuestLocation location, int length, CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? new OperationCanceledException(cancellationToken)
        : location.IsAbsolute ? Faults.OutOfRange(Abi, op, location.Offset, length)
        : null;
}
