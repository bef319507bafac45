using Portal.Abi;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Portal.Qemu.Image;

namespace Portal.Qemu;

/// <summary>Options of a <see cref="QemuGuest"/>.</summary>
public sealed class QemuGuestOptions
{
    /// <summary>The module's cap on <c>hold_budget_ms</c> (PORTAL_MAX_TIMEOUT_MS in guest/module/portal.h).</summary>
    internal static readonly TimeSpan MaxHoldBudget = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The guest's architecture: x86_64 (default, the host's own kernel), mipsel (Malta, the Archer C20's),
    /// aarch64 or armel (ARM's virt machine); the foreign ones come from the kits scripts/setup-guest.sh prepares.
    /// </summary>
    /// <remarks>With <see cref="Firmware"/>, the firmware's binaries decide; an ABI given here must agree with them.</remarks>
    public GuestAbi Abi
    {
        get;
        init
        {
            field = value;
            AbiGiven = true;
        }
    } = GuestAbi.X86_64;

    /// <summary>True when <see cref="Abi"/> was set (rather than left at its default).</summary>
    internal bool AbiGiven { get; private init; }

    /// <summary>Boot a firmware's root filesystem instead of Portal's busybox userland (null: Portal's).</summary>
    public FirmwareOptions? Firmware { get; init; }

    /// <summary>
    /// Called with each line the guest writes on its console (kernel messages, init's and the firmware's
    /// output), in order, a fraction of a second after it is written; keep it quick. The kernel boots
    /// with <c>quiet</c>, so a firmware's own output is most of it.
    /// </summary>
    public Action<string>? ConsoleLine { get; init; }

    /// <summary>Number of vCPUs (1 or 2 are tested; TCG runs them on host threads). The mipsel guest runs only one.</summary>
    public int Cpus { get; init; } = 1;

    /// <summary>Guest RAM in MiB (at least 256: the shared window sits at 192 MiB).</summary>
    public int MemoryMiB { get; init; } = 256;

    /// <summary>Use KVM instead of TCG. Off by default: on these machines /dev/kvm exists but does not run guests.</summary>
    public bool UseKvm { get; init; }

    /// <summary>
    /// How long the guest holds a syscall for the host, per event, before letting it go unmodified
    /// (module parameter <c>host_timeout_ms</c>). No event waits past its stop's <see cref="HoldBudget"/>,
    /// so a longer timeout needs a longer budget too.
    /// </summary>
    public TimeSpan HostTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The longest time one syscall stop (its enter events, or its return events) may hold a vCPU,
    /// requests included, whatever the number of hooks (module parameter <c>hold_budget_ms</c>,
    /// docs/protocol.md §5.3). An event still unanswered when the budget runs out is abandoned like a
    /// timeout; hooks whose event would start after it are not delivered and are counted in
    /// <see cref="Portal.Protocol.GuestStatistics.EventsOverBudget"/>. More than 0 and at most 10 s;
    /// keep it well below the guest kernel's soft-lockup threshold (20 s by default).
    /// </summary>
    public TimeSpan HoldBudget { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>How long the host waits for the guest to answer one request.</summary>
    public TimeSpan ExchangeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long booting may take (building the guest, when needed, is not counted).</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How long the guest may leave the host's pings unanswered before it counts as lost ("not
    /// responding": QEMU paused, or the guest wedged). <see cref="Timeout.InfiniteTimeSpan"/> turns the check off.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero or negative (other than infinite).</exception>
    public TimeSpan LivenessTimeout
    {
        get;
        init => field = value == Timeout.InfiniteTimeSpan || value > TimeSpan.Zero
            ? value
            : throw new ArgumentOutOfRangeException(nameof(LivenessTimeout), value, "The liveness timeout must be positive (or infinite: off).");
    } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Boot with <c>oops=panic</c> (default): a kernel oops ends the VM like a panic, and the host reports
    /// it. Off, an oops kills only the process that caused it and the guest goes on (a rehoster may want
    /// to continue past a driver's oops); the kernel is tainted from then on.
    /// </summary>
    public bool PanicOnOops { get; init; } = true;

    /// <summary>The guest kernel version to use (default: the newest installed *-amd64 with headers).</summary>
    public string? KernelVersion { get; init; }

    /// <summary>Host files to place in the guest (executables go on PATH under /usr/bin).</summary>
    public IReadOnlyList<GuestFile> Files { get; init; } = [];

    /// <summary>Load portal.ko (default). Without it the guest runs unobserved: useful for baselines; its Connection refuses to work.</summary>
    public bool LoadPortalModule { get; init; } = true;

    /// <summary>Extra kernel command-line arguments.</summary>
    public IReadOnlyList<string> KernelArguments { get; init; } = [];

    /// <summary>Where built guests are cached (default: $PORTAL_CACHE, else $XDG_CACHE_HOME/portal, else ~/.cache/portal).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Logging (build steps, boot, transport problems).</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    internal string ResolveCacheDirectory()
    {
        if (CacheDirectory is { } configured)
            return configured;
        if (Environment.GetEnvironmentVariable("PORTAL_CACHE") is { Length: > 0 } fromEnvironment)
            return fromEnvironment;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = xdg is { Length: > 0 } ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "portal");
    }
}
