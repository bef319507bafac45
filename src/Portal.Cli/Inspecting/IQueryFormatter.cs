namespace Portal.Cli.Inspecting;

/// <summary>Shows query results and failures: as text for a person (<see cref="TextFormatter"/>) or as JSON Lines (<see cref="JsonFormatter"/>).</summary>
internal interface IQueryFormatter
{
    /// <summary>Whether a <c>run</c> query's output is written as it comes (text) rather than kept for the result (JSON).</summary>
    bool StreamsCommandOutput { get; }

    /// <summary>Shows what a query found (also a result whose query failed: a missing mapping, a command's nonzero status).</summary>
    void Write(QueryResult result);

    /// <summary>Shows why a query failed.</summary>
    void Write(QueryFailure failure);
}
