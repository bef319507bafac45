using System.Diagnostics.CodeAnalysis;
using Portal.Abi;
using Portal.Channels;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Introspection;

/// <summary>
/// Runs QUERY requests on the control slot and fetches their results page by page (docs/protocol.md
/// §3.4). The guest holds one result at a time, so one query's pages are fetched under a gate that
/// keeps the session's other queries out until they are all in; other control requests (hook
/// registration, statistics) may still go in between.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "SemaphoreSlim holds no kernel handle unless AvailableWaitHandle is used; nothing to dispose.")]
internal sealed class QueryChannel
{
    private readonly SlotLease _control;
    private readonly GuestInfo _guest;
    private readonly Func<bool> _inHandler;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public QueryChannel(SlotLease control, GuestInfo guest, Func<bool> inHandler)
    {
        _control = control;
        _guest = guest;
        _inHandler = inHandler;
    }

    /// <summary>
    /// Runs a query of <paramref name="kind"/> and returns its whole result. <paramref name="limit"/> is
    /// the largest result the request allows; <paramref name="subject"/> names what was asked, for errors.
    /// </summary>
    /// <exception cref="NotSupportedException">The guest does not serve QUERY.</exception>
    /// <exception cref="InvalidOperationException">Called from a handler while the guest's only vCPU is held.</exception>
    /// <exception cref="GuestOperationException">The guest refused the query (ESRCH for a pid that is not a process, ENOENT for a path…).</exception>
    /// <exception cref="PortalProtocolException">A page broke the protocol.</exception>
    public async Task<byte[]> RunAsync<TState>(QueryKind kind, TState state, ParameterWriter<TState> writeParameters, long limit, string subject,
        CancellationToken cancellationToken)
    {
        RequireUsable(kind);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var first = await _control.RoundTripAsync((Kind: kind, State: state, Write: writeParameters, Limit: limit),
                static (s, region) => QueryWire.WriteQuery(region, s.Kind, s.State, s.Write),
                static (s, region) => TakePage(region, PortalOp.Query, 0, 0, -1, s.Limit, null), cancellationToken).ConfigureAwait(false);
            if (first.Buffer is not { } buffer)
                throw Refused(kind, subject, first.Errno);
            var (resultId, total) = (first.Id, first.Total);
            var offset = (long)Math.Min(total, QueryWire.PageCapacity);
            while (offset < total)
            {
                var page = await _control.RoundTripAsync((Id: resultId, Offset: offset, Total: total, Buffer: buffer),
                    static (s, region) => QueryWire.WritePageRequest(region, s.Id, s.Offset),
                    static (s, region) => TakePage(region, PortalOp.QueryPage, s.Id, s.Offset, s.Total, s.Total, s.Buffer), cancellationToken)
                    .ConfigureAwait(false);
                if (page.Buffer is null)
                    throw Refused(kind, subject, page.Errno);
                offset = Math.Min(total, offset + QueryWire.PageCapacity);
            }
            return buffer;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Decodes one page into <paramref name="buffer"/> (allocated for the first page, once its total is
    /// checked); a null buffer and the errno when the guest refused.
    /// </summary>
    private static TakenPage TakePage(Span<byte> region, PortalOp request, ulong id, long offset, long total,
        long limit, byte[]? buffer)
    {
        var (ok, errno) = QueryWire.ReadPage(region, request, id, offset, total, limit, out var page);
        if (!ok)
            return new(0, 0, errno, null);
        buffer ??= new byte[page.Total];
        page.Bytes.CopyTo(buffer.AsSpan((int)offset));
        return new(page.ResultId, page.Total, 0, buffer);
    }

    private readonly record struct TakenPage(ulong Id, long Total, long Errno, byte[]? Buffer);

    private void RequireUsable(QueryKind kind)
    {
        if (!_guest.Features.HasFlag(GuestFeatures.Query))
            throw new NotSupportedException(
                $"This guest's Portal module does not serve introspection queries ({kind}); it needs a portal.ko with the QUERY feature (docs/protocol.md §3.4).");
        if (_guest.CpuSlots == 1 && _inHandler())
            throw new InvalidOperationException(
                $"Introspection ({kind}) runs in the guest's control thread, which cannot run while a handler holds this guest's only vCPU. " +
                "Query outside the handler (before the hooks, or after the command), or give the guest a second vCPU.");
    }

    private GuestOperationException Refused(QueryKind kind, string subject, long errno)
    {
        var generic = _guest.Abi.ToErrno(errno);
        return new GuestOperationException(PortalOp.Query, generic, errno, $"The guest refused {kind} of {subject}: {generic} ({errno}).");
    }
}
