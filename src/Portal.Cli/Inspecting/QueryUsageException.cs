namespace Portal.Cli.Inspecting;

/// <summary>A query line that is not a query: its message says what is wrong and, for a known query, its usage.</summary>
/// <param name="message">What is wrong.</param>
/// <param name="missingWords">
/// The words look like a query cut from its arguments (an unknown query name, or an argument missing): on the
/// command line that is often <c>portal inspect maps 1</c>, two arguments where one was meant.
/// </param>
internal sealed class QueryUsageException(string message, bool missingWords = false) : Exception(message)
{
    public bool MissingWords { get; } = missingWords;
}
