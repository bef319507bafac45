using Portal.Guests;

namespace Portal.Cli.Inspecting;

/// <summary>
/// One introspection query of <c>portal inspect</c>, as <see cref="QueryParser"/> read it. <see cref="Text"/>
/// is the query as the user wrote it: errors and JSON documents name the query by it.
/// </summary>
internal abstract record Query(string Text);

/// <summary><c>ps</c>: every process of the guest.</summary>
internal sealed record ProcessListQuery(string Text) : Query(Text);

/// <summary><c>maps PID [ADDRESS]</c>: the process's mappings, or only the one containing <paramref name="Address"/>.</summary>
internal sealed record MappingsQuery(string Text, int Pid, ulong? Address) : Query(Text);

/// <summary><c>fds [PID]</c>: the process's open file descriptors, or every process's when <paramref name="Pid"/> is null.</summary>
internal sealed record FileDescriptorsQuery(string Text, int? Pid) : Query(Text);

/// <summary><c>paths PID</c>: the process's executable, working directory and root.</summary>
internal sealed record PathsQuery(string Text, int Pid) : Query(Text);

/// <summary><c>cat PATH</c>: a guest file's bytes.</summary>
internal sealed record CatQuery(string Text, string Path) : Query(Text);

/// <summary><c>ls PATH</c>: a guest directory's entries.</summary>
internal sealed record ListQuery(string Text, string Path) : Query(Text);

/// <summary><c>stat PATH</c>: what stat says about a guest path.</summary>
internal sealed record StatQuery(string Text, string Path) : Query(Text);

/// <summary><c>run COMMAND [ARGUMENTS...]</c>: runs a command in the guest as <c>portal run</c> does, so a user can start something and look at it.</summary>
internal sealed record RunQuery(string Text, GuestCommand Command) : Query(Text);

