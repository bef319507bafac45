namespace Portal.Cli.Inspecting;

/// <summary>Runs queries for <see cref="QueryShell"/>: <see cref="QueryRunner"/> on a session, a stand-in in the shell's tests.</summary>
internal interface IQueryRunner
{
    /// <summary>Exchanges on the guest's control slot so far: a query's cost is the difference.</summary>
    long ControlExchanges { get; }

    /// <summary>What the query found; the introspection API's exceptions when the guest refused it.</summary>
    Task<QueryResult> RunAsync(Query query, CancellationToken cancellationToken);
}
