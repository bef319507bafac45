using Portal.Introspection;

namespace Portal.Cli.Inspecting;

/// <summary>
/// What a query found, before it is shown: <see cref="QueryRunner"/> fetches it, <see cref="TextFormatter"/>
/// or <see cref="JsonFormatter"/> shows it. Formatters are tested on hand-made results, without a guest.
/// </summary>
internal abstract record QueryResult(Query Query)
{
    /// <summary>Whether the query did what was asked (a missing mapping or a command's nonzero status make it fail).</summary>
    public virtual bool Succeeded => true;
}

/// <summary><c>ps</c>.</summary>
internal sealed record ProcessListResult(Query Query, IReadOnlyList<GuestProcess> Processes) : QueryResult(Query);

/// <summary><c>maps PID</c>.</summary>
internal sealed record MappingsResult(Query Query, int Pid, IReadOnlyList<GuestMapping> Mappings) : QueryResult(Query);

/// <summary><c>maps PID ADDRESS</c>: the mapping containing the address, or null when none does (the query fails).</summary>
internal sealed record MappingAtResult(Query Query, int Pid, ulong Address, GuestMapping? Mapping) : QueryResult(Query)
{
    public override bool Succeeded => Mapping is not null;
}

/// <summary><c>fds PID</c>.</summary>
internal sealed record FileDescriptorsResult(Query Query, int Pid, IReadOnlyList<GuestFileDescriptor> FileDescriptors) : QueryResult(Query);

/// <summary>One process's part of <c>fds</c> without a pid.</summary>
internal sealed record ProcessFileDescriptors(GuestProcess Process, IReadOnlyList<GuestFileDescriptor> FileDescriptors);

/// <summary><c>fds</c>: every process that was still there when its descriptors were asked for, by pid.</summary>
internal sealed record AllFileDescriptorsResult(Query Query, IReadOnlyList<ProcessFileDescriptors> Processes) : QueryResult(Query);

/// <summary><c>paths PID</c>.</summary>
internal sealed record PathsResult(Query Query, int Pid, GuestProcessPaths Paths) : QueryResult(Query);

/// <summary><c>cat PATH</c>.</summary>
internal sealed record FileContentResult(Query Query, string Path, byte[] Content) : QueryResult(Query);

/// <summary><c>ls PATH</c>.</summary>
internal sealed record DirectoryResult(Query Query, string Path, IReadOnlyList<GuestDirectoryEntry> Entries) : QueryResult(Query);

/// <summary><c>stat PATH</c>.</summary>
internal sealed record StatResult(Query Query, string Path, GuestFileStatus Status) : QueryResult(Query);

/// <summary>
/// <c>run COMMAND</c>: its status and output. <paramref name="OutputShown"/>: the output was already written
/// as it came (text output streams it); a formatter shows it otherwise. A nonzero status fails the query.
/// </summary>
internal sealed record CommandResult(Query Query, int ExitCode, string Output, bool OutputShown) : QueryResult(Query)
{
    public override bool Succeeded => ExitCode == 0;
}
