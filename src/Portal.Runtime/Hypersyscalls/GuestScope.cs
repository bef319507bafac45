using System.Collections.Immutable;
using System.Globalization;

namespace Portal.Hypersyscalls;

/// <summary>How a <see cref="ScopeFilter"/> tests the calling process (kinds 11 to 13 of docs/protocol.md §4.3).</summary>
public enum ScopeFilterKind
{
    /// <summary>The process is the root or one of its descendants (at most 64 generations below it).</summary>
    Subtree = 11,
    /// <summary>The process is not in the root's subtree.</summary>
    NotSubtree = 12,
    /// <summary>The process is one of <see cref="ScopeFilter.Pids"/>.</summary>
    Processes = 13,
}

/// <summary>
/// One condition on the process that makes a syscall, evaluated by the guest like an argument filter
/// (it counts toward <see cref="HookSpec.MaxArgFilters"/>). Processes are thread groups: a pid here is
/// a tgid, as <see cref="SyscallContext.Pid"/> reports it. Made by <see cref="GuestScope"/>.
/// </summary>
public sealed record ScopeFilter
{
    private ScopeFilter(ScopeFilterKind kind, ImmutableArray<int> pids)
    {
        Kind = kind;
        Pids = pids;
    }

    /// <summary>The test.</summary>
    public ScopeFilterKind Kind { get; }

    /// <summary>The subtree's root (one pid), or the processes of a <see cref="ScopeFilterKind.Processes"/> set.</summary>
    public ImmutableArray<int> Pids { get; }

    /// <summary>The root of a subtree filter (the only pid).</summary>
    public int Root => Pids[0];

    internal static ScopeFilter Subtree(ScopeFilterKind kind, int root)
    {
        RequirePid(root, nameof(root));
        return new(kind, [root]);
    }

    internal static ScopeFilter Set(IReadOnlyCollection<int> pids)
    {
        ArgumentNullException.ThrowIfNull(pids);
        if (pids.Count is < 1 or > GuestScope.MaxProcesses)
            throw new ArgumentException($"A set of processes holds 1 to {GuestScope.MaxProcesses} pids; got {pids.Count}.", nameof(pids));
        foreach (var pid in pids)
            RequirePid(pid, nameof(pids));
        return new(ScopeFilterKind.Processes, [.. pids.Distinct()]);
    }

    /// <summary>Bytes the filter takes in the descriptor's data area (a set's le64 values).</summary>
    internal int DataLength => Kind == ScopeFilterKind.Processes ? 8 * Pids.Length : 0;

    /// <inheritdoc/>
    public bool Equals(ScopeFilter? other) => other is not null && Kind == other.Kind && Pids.SequenceEqual(other.Pids);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Pids.Length, Pids[0]);

    /// <summary>What it tests, e.g. <c>process in subtree of 1</c> or <c>process in {12, 40}</c>.</summary>
    public override string ToString() => Kind switch
    {
        ScopeFilterKind.Subtree => string.Create(CultureInfo.InvariantCulture, $"process in subtree of {Root}"),
        ScopeFilterKind.NotSubtree => string.Create(CultureInfo.InvariantCulture, $"process not in subtree of {Root}"),
        _ => $"process in {{{string.Join(", ", Pids.Select(p => p.ToString(CultureInfo.InvariantCulture)))}}}",
    };

    private static void RequirePid(int pid, string parameter)
    {
        // 0 is the idle task (no process descends from it that a host could mean); negative is no pid at all.
        if (pid < 1)
            throw new ArgumentOutOfRangeException(parameter, pid, "A pid is at least 1.");
    }
}

/// <summary>
/// Which processes a hook sees, evaluated in the guest (docs/filters.md, "Scope"): a process subtree
/// (e.g. the firmware's init, PID 1, and everything it starts), the complement of one (e.g. Portal's
/// own agent and the commands it runs), or a set of processes. Conditions combine, all must hold:
/// <c>GuestScope.Subtree(1).Excluding(agentPid)</c>. Give it to one hook with
/// <see cref="HookBuilder.WithinScope"/> or to every hook of a session with <see cref="PortalSession.Scope"/>.
/// </summary>
/// <remarks>
/// A subtree follows the process tree as it is at each syscall, at most 64 generations deep: a process
/// whose parent exited was reparented (usually to init) and has left the subtree of its former ancestors.
/// Needs a guest with the scope filters feature (<see cref="Protocol.GuestFeatures.ScopeFilters"/>).
/// </remarks>
public sealed class GuestScope
{
    /// <summary>Most pids one <see cref="Processes"/> set may hold.</summary>
    public const int MaxProcesses = 32;

    /// <summary>How many generations below its root a process may be and still be in the subtree.</summary>
    public const int MaxSubtreeDepth = 64;

    private GuestScope(ImmutableArray<ScopeFilter> filters) => Filters = filters;

    /// <summary>The conditions, all of which must hold; one filter each in the hook's descriptor.</summary>
    public ImmutableArray<ScopeFilter> Filters { get; }

    /// <summary>The process <paramref name="pid"/> and its descendants.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pid"/> is below 1.</exception>
    public static GuestScope Subtree(int pid) => new([ScopeFilter.Subtree(ScopeFilterKind.Subtree, pid)]);

    /// <summary>Every process except <paramref name="pid"/> and its descendants.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pid"/> is below 1.</exception>
    public static GuestScope ExcludingSubtree(int pid) => new([ScopeFilter.Subtree(ScopeFilterKind.NotSubtree, pid)]);

    /// <summary>Only these processes (1 to <see cref="MaxProcesses"/> pids; not their children).</summary>
    /// <exception cref="ArgumentException">No pid, more than <see cref="MaxProcesses"/>, or one below 1.</exception>
    public static GuestScope Processes(params int[] pids) => new([ScopeFilter.Set(pids)]);

    /// <summary>This scope without <paramref name="pid"/> and its descendants.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pid"/> is below 1.</exception>
    public GuestScope Excluding(int pid) => And(ExcludingSubtree(pid));

    /// <summary>The processes in both scopes (their conditions together; a condition already here is not repeated).</summary>
    public GuestScope And(GuestScope other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new([.. Filters, .. other.Filters.Where(f => !Filters.Contains(f))]);
    }

    /// <summary>The scopes' conditions together, or null when there is none.</summary>
    internal static GuestScope? AllOf(IEnumerable<GuestScope?> scopes) =>
        scopes.OfType<GuestScope>().Aggregate((GuestScope?)null, (all, scope) => all is null ? scope : all.And(scope));

    /// <summary>The conditions in words, e.g. <c>process in subtree of 1 and process not in subtree of 230</c>.</summary>
    public override string ToString() => string.Join(" and ", Filters);
}
