using Portal.Abi;
using Portal.Cli.Running;
using Portal.Guests;
using Portal.Memory;

namespace Portal.Cli.Inspecting;

/// <summary>
/// Fetches what a query asks for through the session's introspection API (<c>session.Processes</c>,
/// <c>session.Files</c>): each query is one QUERY of the guest's module, or a few (docs/introspection.md says
/// what each costs); <c>run</c> runs a command in the guest. Errors are the API's own exceptions; the
/// caller (<see cref="QueryShell"/>) turns them into failures.
/// </summary>
/// <param name="session">The attached session.</param>
/// <param name="guest">The guest, for <c>run</c>.</param>
/// <param name="commandOutput">Where <c>run</c> streams its command's output as it comes, or null to keep it for the result.</param>
internal sealed class QueryRunner(PortalSession session, IGuest guest, TextWriter? commandOutput) : IQueryRunner
{
    /// <summary>The session's exchanges on the control slot so far: a query's cost is the difference.</summary>
    public long ControlExchanges => session.Statistics.ControlExchanges;

    public async Task<QueryResult> RunAsync(Query query, CancellationToken cancellationToken) => query switch
    {
        ProcessListQuery => new ProcessListResult(query, await session.Processes.ListAsync(cancellationToken: cancellationToken).ConfigureAwait(false)),
        MappingsQuery { Address: { } address } maps => new MappingAtResult(query, maps.Pid, address,
            await session.Processes.MappingOfAsync(maps.Pid, address, cancellationToken).ConfigureAwait(false)),
        MappingsQuery maps => new MappingsResult(query, maps.Pid, await session.Processes.GetMappingsAsync(maps.Pid, cancellationToken).ConfigureAwait(false)),
        FileDescriptorsQuery { Pid: { } pid } => new FileDescriptorsResult(query, pid,
            await session.Processes.GetFileDescriptorsAsync(pid, cancellationToken).ConfigureAwait(false)),
        FileDescriptorsQuery => new AllFileDescriptorsResult(query, await AllFileDescriptorsAsync(cancellationToken).ConfigureAwait(false)),
        PathsQuery paths => new PathsResult(query, paths.Pid, await session.Processes.GetPathsAsync(paths.Pid, cancellationToken).ConfigureAwait(false)),
        CatQuery cat => new FileContentResult(query, cat.Path, await session.Files.ReadAllBytesAsync(cat.Path, cancellationToken: cancellationToken).ConfigureAwait(false)),
        ListQuery ls => new DirectoryResult(query, ls.Path, await session.Files.ListDirectoryAsync(ls.Path, cancellationToken).ConfigureAwait(false)),
        StatQuery stat => new StatResult(query, stat.Path, await session.Files.StatAsync(stat.Path, cancellationToken: cancellationToken).ConfigureAwait(false)),
        RunQuery run => await RunCommandAsync(run, cancellationToken).ConfigureAwait(false),
        _ => throw new ArgumentException($"Unknown query {query.GetType().Name}.", nameof(query)),
    };

    /// <summary>
    /// The list, then each process's descriptors: one query per process. A process that exited in between
    /// (ESRCH) is left out, as <c>lsof</c> leaves it out; kernel threads have no descriptors and are not asked.
    /// </summary>
    private async Task<IReadOnlyList<ProcessFileDescriptors>> AllFileDescriptorsAsync(CancellationToken cancellationToken)
    {
        var processes = await session.Processes.ListAsync(argumentBytes: 0, cancellationToken).ConfigureAwait(false);
        var all = new List<ProcessFileDescriptors>();
        foreach (var process in processes.Where(p => !p.IsKernelThread))
        {
            try
            {
                all.Add(new(process, await session.Processes.GetFileDescriptorsAsync(process.Pid, cancellationToken).ConfigureAwait(false)));
            }
            catch (GuestOperationException e) when (e.Errno == GuestErrno.ESRCH)
            {
                // gone since the list was taken
            }
        }
        return all;
    }

    private async Task<CommandResult> RunCommandAsync(RunQuery run, CancellationToken cancellationToken)
    {
        if (commandOutput is null)
        {
            var kept = await guest.RunAsync(run.Command, cancellationToken).ConfigureAwait(false);
            return new CommandResult(run, kept.ExitCode, kept.Output, OutputShown: false);
        }
        // As portal run: the QEMU guest's output as it comes, the emulated guest's when its program ends.
        var streamed = await GuestLauncher.RunAsync(guest, run.Command, commandOutput, cancellationToken).ConfigureAwait(false);
        return new CommandResult(run, streamed.ExitCode, streamed.Output, OutputShown: true);
    }
}
