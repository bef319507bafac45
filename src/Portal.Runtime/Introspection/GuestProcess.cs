using System.Globalization;

namespace Portal.Introspection;

/// <summary>What kind of process a <see cref="GuestProcess"/> is, and how much of its argv came back.</summary>
[Flags]
public enum GuestProcessTraits
{
    /// <summary>A user process whose argv was read whole.</summary>
    None = 0,
    /// <summary>A kernel thread (no user memory, no argv).</summary>
    KernelThread = 1,
    /// <summary>argv was longer than the bytes asked for; <see cref="GuestProcess.Arguments"/> is its beginning.</summary>
    ArgumentsTruncated = 2,
    /// <summary>argv could not be read (the process exited after the walk, or has no memory).</summary>
    ArgumentsUnreadable = 4,
}

/// <summary>
/// One process (thread group) of the guest, as one walk over the guest's task list saw it
/// (docs/protocol.md §3.4, PROCESSES).
/// </summary>
/// <param name="Pid">The thread group id (what <c>ps</c> calls the pid).</param>
/// <param name="ParentPid">The parent's thread group id (0 for the kernel's first tasks).</param>
/// <param name="Threads">Threads in the group.</param>
/// <param name="State">The state letter as <c>ps</c> shows it (R, S, D, T, t, X, Z, P, I).</param>
/// <param name="Uid">Real user id.</param>
/// <param name="EffectiveUid">Effective user id.</param>
/// <param name="Gid">Real group id.</param>
/// <param name="EffectiveGid">Effective group id.</param>
/// <param name="StartedAfterBoot">When it started, after the guest booted.</param>
/// <param name="Comm">The kernel's name for it (at most 15 bytes).</param>
/// <param name="Arguments">argv (its beginning when <see cref="GuestProcessTraits.ArgumentsTruncated"/>).</param>
/// <param name="Traits">Kernel thread; argv truncated or unreadable.</param>
public sealed record GuestProcess(int Pid, int ParentPid, int Threads, char State, uint Uid, uint EffectiveUid, uint Gid, uint EffectiveGid,
    TimeSpan StartedAfterBoot, string Comm, IReadOnlyList<string> Arguments, GuestProcessTraits Traits)
{
    /// <summary>A kernel thread.</summary>
    public bool IsKernelThread => Traits.HasFlag(GuestProcessTraits.KernelThread);

    /// <summary>The command line as <c>ps</c> shows it: argv joined by spaces, or <c>[comm]</c> without one.</summary>
    public string CommandLine => Arguments.Count > 0 ? string.Join(' ', Arguments) : $"[{Comm}]";

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pid} {Comm} ({State}, parent {ParentPid}): {CommandLine}");
}
