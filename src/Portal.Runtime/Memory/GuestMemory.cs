using System.Text;
using Portal.Abi;
using Portal.Channels;
using Portal.Protocol;

namespace Portal.Memory;

/// <summary>
/// The seed's memory and process API, bound to the process whose syscall a handler holds. Every
/// method that talks to the guest costs one exchange per 4072-byte chunk; integers are in the
/// guest's byte order; failures are <see cref="GuestOperationException"/>s that carry the errno
/// (and, for memory, the address and how much was transferred). Nothing fails silently: a read of
/// an unmapped address, address 0 included, throws.
/// </summary>
public sealed class GuestMemory
{
    /// <summary>Default upper bound for <see cref="ReadStrAsync"/> (bytes, NUL excluded).</summary>
    public const int DefaultMaxStringLength = 64 * 1024;

    private const int Chunk = RegionLayout.DataCapacity;
    private readonly SlotLease _lease;

    internal GuestMemory(SlotLease lease, GuestAbi abi)
    {
        _lease = lease;
        Abi = abi;
    }

    /// <summary>The guest's ABI (pointer size and byte order used by the integer methods).</summary>
    public GuestAbi Abi { get; }

    /// <summary>A typed pointer to a record at <paramref name="address"/> in this process (see <see cref="Typed.GuestPtr{T}"/>).</summary>
    public Typed.GuestPtr<T> At<T>(ulong address) where T : struct, Typed.IGuestRecord<T> => new(address, this);

    /// <summary>An untyped pointer to <paramref name="address"/> in this process.</summary>
    public Typed.GuestAddress Address(ulong address) => new(address, this);

    // ---- reads ----------------------------------------------------------------------------------

    /// <summary>Reads <paramref name="count"/> bytes (seed: <c>read_bytes</c>).</summary>
    /// <exception cref="GuestPartialReadException">Only the first bytes were readable.</exception>
    /// <exception cref="GuestFaultException">Nothing was readable.</exception>
    public async ValueTask<byte[]> ReadBytesAsync(ulong address, int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var buffer = new byte[count];
        await ReadBytesAsync(address, buffer, cancellationToken).ConfigureAwait(false);
        return buffer;
    }

    /// <summary>Reads exactly <c>destination.Length</c> bytes into <paramref name="destination"/>.</summary>
    /// <exception cref="GuestPartialReadException">Only the first bytes were readable.</exception>
    /// <exception cref="GuestFaultException">Nothing was readable.</exception>
    public async ValueTask ReadBytesAsync(ulong address, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        CheckAddressRange(PortalOp.Read, address, destination.Length);
        var done = 0;
        while (done < destination.Length)
        {
            var chunk = destination.Slice(done, Math.Min(Chunk, destination.Length - done));
            var result = await ReadChunkAsync(address + (ulong)done, chunk, cancellationToken).ConfigureAwait(false);
            done += result.Count;
            if (result.Status != TransferStatus.Complete)
                throw ReadFault(PortalOp.Read, address, destination.Length, destination[..done].ToArray(), result.Errno);
        }
    }

    /// <summary>Reads a 32-bit integer (seed: <c>read_int</c>).</summary>
    public async ValueTask<uint> ReadIntAsync(ulong address, CancellationToken cancellationToken = default) =>
        (uint)await ReadScalarAsync(address, 4, cancellationToken).ConfigureAwait(false);

    /// <summary>Reads a 64-bit integer (seed: <c>read_long</c>).</summary>
    public ValueTask<ulong> ReadLongAsync(ulong address, CancellationToken cancellationToken = default) =>
        ReadScalarAsync(address, 8, cancellationToken);

    /// <summary>Reads a pointer of the guest's size (seed: <c>read_ptr</c>).</summary>
    public ValueTask<ulong> ReadPtrAsync(ulong address, CancellationToken cancellationToken = default) =>
        ReadScalarAsync(address, Abi.PointerSize, cancellationToken);

    /// <summary>Reads a NUL-terminated string, decoded as UTF-8 (seed: <c>read_str</c>).</summary>
    /// <param name="address">Where the string starts.</param>
    /// <param name="maxLength">Longest string accepted, in bytes; a longer one is an error, not a truncation.</param>
    /// <param name="cancellationToken">Cancels the wait for the guest.</param>
    /// <exception cref="GuestPartialReadException">The string runs into unreadable memory before its NUL.</exception>
    /// <exception cref="GuestOperationException">No NUL within <paramref name="maxLength"/> bytes (ENAMETOOLONG).</exception>
    public async ValueTask<string> ReadStrAsync(ulong address, int maxLength = DefaultMaxStringLength, CancellationToken cancellationToken = default) =>
        Encoding.UTF8.GetString(await ReadStrBytesAsync(address, maxLength, cancellationToken).ConfigureAwait(false));

    /// <summary>Reads a NUL-terminated string as raw bytes (NUL excluded); see <see cref="ReadStrAsync"/>.</summary>
    public async ValueTask<byte[]> ReadStrBytesAsync(ulong address, int maxLength = DefaultMaxStringLength, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        var text = new byte[Math.Min(maxLength, Chunk)];
        var length = 0;
        while (true)
        {
            // Scan one byte beyond maxLength so that a string of exactly maxLength bytes still finds its NUL.
            var window = (int)Math.Min(Chunk, (long)maxLength + 1 - length);
            CheckAddressRange(PortalOp.ReadStr, address + (ulong)length, window);
            StringChunk chunk;
            await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Region.WriteHeader(_lease.Channel.Region, PortalOp.ReadStr, address + (ulong)length, (ulong)window);
                await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
                chunk = ResponseReader.StrResult(_lease.Channel.Region, window);
                if (length + chunk.Count > text.Length)
                    Array.Resize(ref text, Math.Max(text.Length * 2, length + chunk.Count));
                Region.Data(_lease.Channel.Region)[..chunk.Count].CopyTo(text.AsSpan(length));
            }
            finally
            {
                _lease.Gate.Release();
            }
            length += chunk.Count;
            if (chunk.Status != TransferStatus.Complete)
                throw ReadFault(PortalOp.ReadStr, address, length + 1, text.AsSpan(0, length).ToArray(), chunk.Errno);
            if (chunk.Terminated)
                return length == text.Length ? text : text[..length];
            if (length > maxLength)
                throw new GuestOperationException(PortalOp.ReadStr, GuestErrno.ENAMETOOLONG, Abi.ToNativeErrno(GuestErrno.ENAMETOOLONG),
                    $"The string at 0x{address:x} has no NUL within {maxLength} bytes (raise maxLength to read longer strings).");
        }
    }

    // ---- writes ---------------------------------------------------------------------------------

    /// <summary>Writes bytes (seed: <c>write_bytes</c>).</summary>
    /// <exception cref="GuestFaultException">The write faulted; <see cref="GuestFaultException.BytesTransferred"/> says how much landed.</exception>
    public async ValueTask WriteBytesAsync(ulong address, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        CheckAddressRange(PortalOp.Write, address, data.Length);
        var done = 0;
        while (done < data.Length)
        {
            var chunk = data.Slice(done, Math.Min(Chunk, data.Length - done));
            TransferResult result;
            await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Region.WriteHeader(_lease.Channel.Region, PortalOp.Write, address + (ulong)done, (ulong)chunk.Length);
                chunk.Span.CopyTo(Region.Data(_lease.Channel.Region));
                await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
                result = ResponseReader.WriteResult(_lease.Channel.Region, chunk.Length);
            }
            finally
            {
                _lease.Gate.Release();
            }
            done += result.Count;
            if (result.Status != TransferStatus.Complete)
                throw WriteFault(address, data.Length, done, result.Errno);
        }
    }

    /// <summary>Writes a string as UTF-8 followed by a NUL (seed: <c>write_str</c>).</summary>
    /// <exception cref="ArgumentException">The string contains a NUL (the guest would see it cut short).</exception>
    public ValueTask WriteStrAsync(ulong address, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0'))
            throw new ArgumentException("The string contains a NUL; the guest would see it cut short. Use WriteBytesAsync for binary data.", nameof(value));
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return WriteBytesAsync(address, bytes, cancellationToken);
    }

    /// <summary>Writes a 32-bit integer (seed: <c>write_int</c>).</summary>
    public ValueTask WriteIntAsync(ulong address, uint value, CancellationToken cancellationToken = default) =>
        WriteScalarAsync(address, 4, value, cancellationToken);

    /// <summary>Writes a 32-bit signed integer (seed: <c>write_int</c>).</summary>
    public ValueTask WriteIntAsync(ulong address, int value, CancellationToken cancellationToken = default) =>
        WriteScalarAsync(address, 4, (uint)value, cancellationToken);

    /// <summary>Writes a 64-bit integer (seed: <c>write_long</c>).</summary>
    public ValueTask WriteLongAsync(ulong address, ulong value, CancellationToken cancellationToken = default) =>
        WriteScalarAsync(address, 8, value, cancellationToken);

    /// <summary>Writes a 64-bit signed integer (seed: <c>write_long</c>).</summary>
    public ValueTask WriteLongAsync(ulong address, long value, CancellationToken cancellationToken = default) =>
        WriteScalarAsync(address, 8, (ulong)value, cancellationToken);

    /// <summary>Writes a pointer of the guest's size (seed: <c>write_ptr</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit a 32-bit guest's pointer.</exception>
    public ValueTask WritePtrAsync(ulong address, ulong value, CancellationToken cancellationToken = default)
    {
        if (Abi.PointerSize == 4 && value > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit a 32-bit {Abi.Name} pointer.");
        return WriteScalarAsync(address, Abi.PointerSize, value, cancellationToken);
    }

    // ---- process information ----------------------------------------------------------------------

    /// <summary>The held process's command-line arguments (seed: <c>get_proc_args</c>).</summary>
    public async ValueTask<IReadOnlyList<string>> GetProcArgsAsync(CancellationToken cancellationToken = default) =>
        SplitStrings(await ReadBlockAsync(PortalOp.ReadProcArgs, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// The held process's environment (seed: <c>get_proc_env</c>). When a name appears twice the first
    /// entry wins, as with <c>getenv</c>; an entry without <c>=</c> maps to "".
    /// </summary>
    public async ValueTask<IReadOnlyDictionary<string, string>> GetProcEnvAsync(CancellationToken cancellationToken = default)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in SplitStrings(await ReadBlockAsync(PortalOp.ReadProcEnv, cancellationToken).ConfigureAwait(false)))
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            environment.TryAdd(equals < 0 ? entry : entry[..equals], equals < 0 ? "" : entry[(equals + 1)..]);
        }
        return environment;
    }

    /// <summary>The held process's id, its tgid (seed: <c>get_proc_pid</c>).</summary>
    public async ValueTask<int> GetProcPidAsync(CancellationToken cancellationToken = default)
    {
        ProcessIds ids;
        await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(_lease.Channel.Region, PortalOp.ReadProcPid, 0, 0);
            await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            ids = ResponseReader.PidResult(_lease.Channel.Region);
        }
        finally
        {
            _lease.Gate.Release();
        }
        return ids.Ok ? ids.Pid : throw OperationFailed(PortalOp.ReadProcPid, ids.Errno, "Reading the process id");
    }

    /// <summary>The path a file descriptor of the held process refers to (seed: <c>read_fd_name</c>).</summary>
    /// <exception cref="GuestOperationException">The descriptor is not open (EBADF), or its name does not fit (ENAMETOOLONG).</exception>
    public async ValueTask<string> ReadFdNameAsync(int fd, CancellationToken cancellationToken = default)
    {
        TransferResult result;
        string name;
        await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(_lease.Channel.Region, PortalOp.ReadFdName, (ulong)(long)fd, Chunk);
            await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            result = ResponseReader.FdNameResult(_lease.Channel.Region, Chunk);
            name = Encoding.UTF8.GetString(Region.Data(_lease.Channel.Region)[..result.Count]);
        }
        finally
        {
            _lease.Gate.Release();
        }
        return result.Status == TransferStatus.Complete ? name : throw OperationFailed(PortalOp.ReadFdName, result.Errno, $"Reading the name of fd {fd}");
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private async ValueTask<TransferResult> ReadChunkAsync(ulong address, Memory<byte> destination, CancellationToken cancellationToken)
    {
        await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(_lease.Channel.Region, PortalOp.Read, address, (ulong)destination.Length);
            await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            var result = ResponseReader.ReadResult(_lease.Channel.Region, destination.Length);
            Region.Data(_lease.Channel.Region)[..result.Count].CopyTo(destination.Span);
            return result;
        }
        finally
        {
            _lease.Gate.Release();
        }
    }

    private async ValueTask<ulong> ReadScalarAsync(ulong address, int size, CancellationToken cancellationToken)
    {
        CheckAddressRange(PortalOp.Read, address, size);
        TransferResult result;
        ulong value = 0;
        byte[]? partial = null;
        await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(_lease.Channel.Region, PortalOp.Read, address, (ulong)size);
            await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            result = ResponseReader.ReadResult(_lease.Channel.Region, size);
            var data = Region.Data(_lease.Channel.Region);
            if (result.Status == TransferStatus.Complete)
                value = size == 4 ? Abi.ReadUInt32(data) : Abi.ReadUInt64(data);
            else
                partial = data[..result.Count].ToArray();
        }
        finally
        {
            _lease.Gate.Release();
        }
        return partial is null ? value : throw ReadFault(PortalOp.Read, address, size, partial, result.Errno);
    }

    private async ValueTask WriteScalarAsync(ulong address, int size, ulong value, CancellationToken cancellationToken)
    {
        CheckAddressRange(PortalOp.Write, address, size);
        TransferResult result;
        await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Region.WriteHeader(_lease.Channel.Region, PortalOp.Write, address, (ulong)size);
            var data = Region.Data(_lease.Channel.Region);
            if (size == 4)
                Abi.WriteUInt32(data, (uint)value);
            else
                Abi.WriteUInt64(data, value);
            await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
            result = ResponseReader.WriteResult(_lease.Channel.Region, size);
        }
        finally
        {
            _lease.Gate.Release();
        }
        if (result.Status != TransferStatus.Complete)
            throw WriteFault(address, size, result.Count, result.Errno);
    }

    /// <summary>Reads an argument or environment block chunk by chunk.</summary>
    private async ValueTask<byte[]> ReadBlockAsync(PortalOp op, CancellationToken cancellationToken)
    {
        // Grown as bytes arrive: the total is the guest's claim, not a size to allocate up front.
        using var block = new MemoryStream();
        long? total = null;
        do
        {
            BlockChunk chunk;
            await _lease.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                Region.WriteHeader(_lease.Channel.Region, op, (ulong)block.Length, Chunk);
                await _lease.ExchangeAsync(cancellationToken).ConfigureAwait(false);
                chunk = ResponseReader.BlockResult(_lease.Channel.Region, op, block.Length, Chunk);
                block.Write(Region.Data(_lease.Channel.Region)[..chunk.Count]);
            }
            finally
            {
                _lease.Gate.Release();
            }
            if (chunk.Status != TransferStatus.Complete)
                throw OperationFailed(op, chunk.Errno,
                    $"Reading the {(op == PortalOp.ReadProcArgs ? "arguments" : "environment")} (stopped after {block.Length} bytes)");
            if (total is { } known && known != chunk.Total)
                throw new PortalProtocolException($"Guest changed the length of the {op} block from {known} to {chunk.Total} while it was read.");
            total = chunk.Total;
        }
        while (block.Length < total);
        return block.ToArray();
    }

    /// <summary>Splits a block of NUL-terminated strings (the last NUL may be missing).</summary>
    private static string[] SplitStrings(byte[] block)
    {
        if (block.Length == 0)
            return [];
        var text = Encoding.UTF8.GetString(block);
        if (text.EndsWith('\0'))
            text = text[..^1];
        return text.Split('\0');
    }

    /// <summary>
    /// Rejects ranges that wrap around or leave a 32-bit guest's address space: the guest would
    /// otherwise see a truncated address. Reported as the EFAULT the guest would give.
    /// </summary>
    private void CheckAddressRange(PortalOp op, ulong address, int length)
    {
        var limit = Abi.PointerSize == 4 ? 1UL << 32 : 0UL;
        var end = address + (ulong)length;
        var wraps = end < address;
        if (wraps || (limit != 0 && end > limit))
            throw new GuestFaultException(op, address, 0, GuestErrno.EFAULT, Abi.ToNativeErrno(GuestErrno.EFAULT),
                $"{op} of {length} bytes at 0x{address:x} leaves the {Abi.PointerSize * 8}-bit address space (EFAULT, not sent to the guest).");
    }

    private GuestFaultException ReadFault(PortalOp op, ulong address, int requested, byte[] readSoFar, long nativeErrno)
    {
        var errno = Abi.ToErrno(nativeErrno);
        var what = op == PortalOp.ReadStr ? "string" : $"{requested} bytes";
        return readSoFar.Length == 0
            ? new GuestFaultException(op, address, 0, errno, nativeErrno, $"{op} of {what} at 0x{address:x} failed: {errno} ({nativeErrno}).")
            : new GuestPartialReadException(op, address, requested, readSoFar, errno, nativeErrno,
                $"{op} of {what} at 0x{address:x} stopped after {readSoFar.Length} bytes: {errno} ({nativeErrno}) at 0x{address + (ulong)readSoFar.Length:x}.");
    }

    private GuestFaultException WriteFault(ulong address, int requested, int written, long nativeErrno)
    {
        var errno = Abi.ToErrno(nativeErrno);
        return new GuestFaultException(PortalOp.Write, address, written, errno, nativeErrno,
            $"Write of {requested} bytes at 0x{address:x} failed after {written} bytes: {errno} ({nativeErrno}) at 0x{address + (ulong)written:x}.");
    }

    private GuestOperationException OperationFailed(PortalOp op, long nativeErrno, string what)
    {
        var errno = Abi.ToErrno(nativeErrno);
        return new GuestOperationException(op, errno, nativeErrno, $"{what} failed in the guest: {errno} ({nativeErrno}).");
    }
}
