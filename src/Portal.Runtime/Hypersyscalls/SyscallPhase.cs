namespace Portal.Hypersyscalls;

/// <summary>When a hook runs.</summary>
public enum SyscallPhase
{
    /// <summary>Before the syscall runs: arguments can be rewritten, the syscall can be skipped.</summary>
    Enter = 1,
    /// <summary>After the syscall ran: the return value can be replaced.</summary>
    Return = 2,
}
