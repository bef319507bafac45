using System.Buffers.Binary;
using Portal.Protocol;

namespace Portal.Introspection;

/// <summary>
/// The guest's processes: the list, and each one's mappings, open files and paths
/// (<c>session.Processes</c>). Each call is one QUERY on the control slot: one exchange per 4056 bytes
/// of result, one at least. The guest takes each answer whole before the first page travels, so a
/// list is one consistent snapshot however many exchanges it takes.
/// </summary>
public sealed class GuestProcesses
{
    /// <summary>argv bytes per process <see cref="ListAsync"/> asks for unless told otherwise.</summary>
    public const int DefaultArgumentBytes = 256;

    private readonly QueryChannel _queries;

    internal GuestProcesses(QueryChannel queries) => _queries = queries;

    /// <summary>Every process (thread group) of the guest, kernel threads included, by pid.</summary>
    /// <param name="argumentBytes">argv bytes to fetch per process (0..4096); longer ones are cut and flagged.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task<IReadOnlyList<GuestProcess>> ListAsync(int argumentBytes = DefaultArgumentBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(argumentBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(argumentBytes, QueryWire.ArgvLimit);
        var result = await _queries.RunAsync(QueryKind.Processes, argumentBytes, static (argv, data) =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)argv);
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], 0);
            return 8;
        }, QueryWire.ResultLimit, "the process list", cancellationToken).ConfigureAwait(false);
        return QueryRecords.Processes(result, argumentBytes);
    }

    /// <summary>The process's memory mappings, by address (none for a kernel thread).</summary>
    /// <exception cref="Memory.GuestOperationException">ESRCH: no such process.</exception>
    public async Task<IReadOnlyList<GuestMapping>> GetMappingsAsync(int pid, CancellationToken cancellationToken = default) =>
        QueryRecords.Mappings(await QueryMappingsAsync(pid, null, cancellationToken).ConfigureAwait(false));

    /// <summary>The mapping of the process that contains <paramref name="address"/>, or null. One exchange.</summary>
    /// <exception cref="Memory.GuestOperationException">ESRCH: no such process.</exception>
    public async Task<GuestMapping?> MappingOfAsync(int pid, ulong address, CancellationToken cancellationToken = default)
    {
        var mappings = QueryRecords.Mappings(await QueryMappingsAsync(pid, address, cancellationToken).ConfigureAwait(false));
        if (mappings.Count > 1 || (mappings.Count == 1 && !mappings[0].Contains(address)))
            throw new PortalProtocolException($"Guest answered Query Mappings for the mapping containing 0x{address:x} with {mappings.Count} mapping(s), starting with {mappings[0]}.");
        return mappings.Count == 1 ? mappings[0] : null;
    }

    /// <summary>The process's open file descriptors, by number.</summary>
    /// <exception cref="Memory.GuestOperationException">ESRCH: no such process.</exception>
    public async Task<IReadOnlyList<GuestFileDescriptor>> GetFileDescriptorsAsync(int pid, CancellationToken cancellationToken = default) =>
        QueryRecords.Files(await QueryPidAsync(QueryKind.Files, pid, cancellationToken).ConfigureAwait(false));

    /// <summary>The process's executable, working directory and root.</summary>
    /// <exception cref="Memory.GuestOperationException">ESRCH: no such process.</exception>
    public async Task<GuestProcessPaths> GetPathsAsync(int pid, CancellationToken cancellationToken = default) =>
        QueryRecords.Paths(await QueryPidAsync(QueryKind.Paths, pid, cancellationToken).ConfigureAwait(false));

    private Task<byte[]> QueryPidAsync(QueryKind kind, int pid, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        return _queries.RunAsync(kind, pid, static (p, data) =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)p);
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], 0);
            return 8;
        }, QueryWire.ResultLimit, $"process {pid}", cancellationToken);
    }

    private Task<byte[]> QueryMappingsAsync(int pid, ulong? containing, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        return _queries.RunAsync(QueryKind.Mappings, (Pid: pid, Containing: containing), static (s, data) =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)s.Pid);
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], s.Containing is null ? 0u : 1u);
            BinaryPrimitives.WriteUInt64LittleEndian(data[8..], s.Containing ?? 0);
            return 16;
        }, QueryWire.ResultLimit, $"process {pid}", cancellationToken);
    }
}
