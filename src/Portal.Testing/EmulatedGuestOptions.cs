namespace Portal.Testing;

/// <summary>Options of an <see cref="EmulatedGuest"/>.</summary>
public sealed class EmulatedGuestOptions
{
    /// <summary>Number of vCPUs (slots); a syscall held by the host occupies one.</summary>
    public int CpuCount { get; init; } = 1;

    /// <summary>How many hooks the guest's table holds.</summary>
    public int HookCapacity { get; init; } = 64;

    /// <summary>How long a held syscall waits for the host's verdict before continuing unmodified.</summary>
    public TimeSpan HostTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one syscall may be held in all, whatever the number of hooks (the module's
    /// <c>hold_budget_ms</c>, docs/protocol.md §5.3). As on the real guest, the return stop shares the
    /// enter stop's budget (nothing schedules in between). Hooks that would start past it are not
    /// delivered and are counted as over budget.
    /// </summary>
    public TimeSpan HoldBudget { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Whether the guest advertises the BATCH extension (default true). Off, it looks like a guest
    /// without it, and a host must fall back to one operation per exchange.
    /// </summary>
    public bool Batch { get; init; } = true;

    /// <summary>
    /// How long the guest takes to answer each exchange (default: at once, synchronously). A real guest
    /// answers a few microseconds later, or, when its vCPU is descheduled, milliseconds later, and the
    /// host's code then goes on on another thread: tests of the host's concurrency set this.
    /// </summary>
    public TimeSpan ExchangeDelay { get; init; }

    /// <summary>The kernel release the guest reports.</summary>
    public string KernelRelease { get; init; } = "6.1.0-portal-emulated";
}
