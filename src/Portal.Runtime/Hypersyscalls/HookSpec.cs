using System.Globalization;
using Portal.Abi;
using Portal.Protocol;

namespace Portal.Hypersyscalls;

/// <summary>What a hook selects: a syscall, a phase and the filters the guest evaluates.</summary>
/// <param name="Syscall">Syscall name in the guest ABI's numbering (e.g. "ioctl").</param>
/// <param name="Phase">Enter or return.</param>
/// <param name="ArgFilters">Conditions on arguments (index 0..5); all must hold.</param>
/// <param name="Comm">Process name (the kernel's comm: its first 15 bytes are compared), or null.</param>
/// <param name="Pid">Process id (tgid), or null.</param>
/// <param name="RetvalFilter">Condition on the return value (return phase only), or null.</param>
public sealed record HookSpec(string Syscall, SyscallPhase Phase, IReadOnlyList<(int Index, ArgFilter Filter)> ArgFilters,
    string? Comm, int? Pid, ArgFilter? RetvalFilter)
{
    /// <summary>Most argument filters (value and memory filters together) one hook may carry.</summary>
    public const int MaxArgFilters = 8;

    /// <summary>Bytes of comm the kernel keeps (TASK_COMM_LEN − 1).</summary>
    public const int CommLength = 15;

    /// <summary>Bytes of set values and patterns one hook may carry (the descriptor's data area).</summary>
    public const int MaxFilterData = 256;

    /// <summary>Conditions on the memory arguments point to (all must hold; the guest tests them after the value filters).</summary>
    public IReadOnlyList<(int Index, MemoryFilter Filter)> MemoryFilters { get; init; } = [];

    /// <summary>
    /// For a function hook (a uprobe, docs/protocol.md §4.6): the function; <see cref="Syscall"/> is then
    /// unused and <see cref="Phase"/> means the function's entry or its return. Null for a syscall hook.
    /// </summary>
    public FunctionHooks.FunctionTarget? Function { get; init; }

    /// <summary>What the hook is on, for messages: the syscall's name or the function.</summary>
    public string Subject => Function?.ToString() ?? Syscall;

    /// <summary>Filters that depend on the guest's ABI (a generated ioctl number, a member's offset), made when the hook is registered.</summary>
    public IReadOnlyList<AbiDependentFilter> AbiDependentFilters { get; init; } = [];

    /// <summary>
    /// Which processes the hook sees (tested by the guest with the value filters; each condition counts
    /// toward <see cref="MaxArgFilters"/>), or null for every process. A session's
    /// <see cref="PortalSession.Scope"/> is added to it when the hook is registered, unless
    /// <see cref="IgnoresSessionScope"/>.
    /// </summary>
    public GuestScope? Scope { get; init; }

    /// <summary>The session's <see cref="PortalSession.Scope"/> does not apply to this hook (e.g. a hook that watches Portal's own agent).</summary>
    public bool IgnoresSessionScope { get; init; }

    /// <summary>The scope's conditions (none without a scope).</summary>
    internal IReadOnlyList<ScopeFilter> ScopeFilters => Scope is { } scope ? scope.Filters : [];

    /// <summary>True when the guest needs the filters v2 feature for this spec (sets, outside-ranges, memory filters).</summary>
    public bool NeedsFiltersV2 =>
        MemoryFilters.Count > 0 || AbiDependentFilters.Count > 0
        || ArgFilters.Any(f => f.Filter.Kind is ArgFilterKind.OneOf or ArgFilterKind.OutsideSignedRange)
        || RetvalFilter is { Kind: ArgFilterKind.OneOf or ArgFilterKind.OutsideSignedRange };

    /// <summary>
    /// The spec with its ABI-dependent filters made for <paramref name="abi"/> (ordinary filters, in
    /// order after the others); the spec itself when it has none.
    /// </summary>
    /// <exception cref="ArgumentException">A filter cannot be made for that ABI (the message says which and why).</exception>
    public HookSpec ForAbi(GuestAbi abi)
    {
        ArgumentNullException.ThrowIfNull(abi);
        if (AbiDependentFilters.Count == 0)
            return this;
        var values = ArgFilters.ToList();
        var memory = MemoryFilters.ToList();
        var problems = new List<string>();
        foreach (var deferred in AbiDependentFilters)
        {
            try
            {
                if (deferred.Value is { } value)
                    values.Add((deferred.Index, value(abi)));
                if (deferred.Memory is { } memoryFilter)
                    memory.Add((deferred.Index, memoryFilter(abi)));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                problems.Add($"argument {deferred.Index} filter {deferred.Description} on {abi.Name}: {e.Message}");
            }
        }
        if (problems.Count > 0)
            throw new ArgumentException($"Hook on {Subject} ({Phase}) is invalid: {string.Join("; ", problems)}");
        return this with { ArgFilters = values, MemoryFilters = memory, AbiDependentFilters = [] };
    }

    /// <summary>Checks the spec against an ABI and reports every problem in one message.</summary>
    /// <exception cref="ArgumentException">The spec cannot be registered on that ABI, or its filters can never all hold.</exception>
    public void Validate(GuestAbi abi)
    {
        ArgumentNullException.ThrowIfNull(abi);
        var problems = new List<string>();
        if (!Enum.IsDefined(Phase))
            problems.Add($"phase {Phase} is neither Enter nor Return");
        if (Function is { } function)
        {
            if (!function.Path.StartsWith('/') || function.Path.Contains('\0', StringComparison.Ordinal))
                problems.Add($"the binary's path {function.Path} must be absolute and without NUL");
            if (function.Offset is { } offset)
            {
                try
                {
                    FunctionHooks.ElfFunctionResolver.CheckOffset(offset, abi, function.Path);
                }
                catch (ArgumentException e)
                {
                    problems.Add(e.Message.TrimEnd('.'));
                }
            }
        }
        else if (!abi.Syscalls.TryGetNumber(Syscall, out _))
        {
            problems.Add(abi.Syscalls.DescribeUnknown(Syscall));
        }
        var filterCount = ArgFilters.Count + MemoryFilters.Count + AbiDependentFilters.Count + ScopeFilters.Count;
        if (filterCount > MaxArgFilters)
            problems.Add(ScopeFilters.Count == 0
                ? $"{filterCount} argument filters; at most {MaxArgFilters}"
                : $"{filterCount} argument filters, {ScopeFilters.Count} of them the scope's ({Scope}); at most {MaxArgFilters}");
        foreach (var (index, filter) in ArgFilters)
        {
            if (index is < 0 or > 5)
                problems.Add($"argument index {index} is not between 0 and 5");
            else if (CheckFilter(filter, abi, isRetval: false) is { } problem)
                problems.Add($"argument {index} filter {filter}: {problem}");
        }
        foreach (var (index, filter) in MemoryFilters)
        {
            if (index is < 0 or > 5)
                problems.Add($"argument index {index} is not between 0 and 5");
            else if (filter.Problem() is { } problem)
                problems.Add($"memory filter {filter.Describe(index)}: {problem}");
        }
        if (FilterDataLength > MaxFilterData)
            problems.Add($"the sets, patterns and process sets take {FilterDataLength} bytes; at most {MaxFilterData}");
        if (RetvalFilter is { } retval)
        {
            if (Phase != SyscallPhase.Return)
                problems.Add("a return-value filter needs the Return phase");
            else if (CheckFilter(retval, abi, isRetval: true) is { } problem)
                problems.Add($"return-value filter {retval}: {problem}");
        }
        if (Comm is not null && (Comm.Length == 0 || Comm.Contains('\0')))
            problems.Add("comm filter must be a non-empty name without NUL");
        if (Pid is <= 0)
            problems.Add($"pid filter {Pid} must be positive");
        if (problems.Count == 0)
            problems.AddRange(FilterContradictions.Find(this, abi));
        if (problems.Count > 0)
            throw new ArgumentException($"Hook on {Subject} ({Phase}) is invalid: {string.Join("; ", problems)}.");
    }

    /// <summary>
    /// What the hook selects in one line, every filter the guest evaluates included, for logs and
    /// <c>--verbose</c>: "ioctl Return where arg1 in {0x8913, 0x8914} and *(arg2) == "eth0" and comm is
    /// 'ifconfig'" ("every call" when there is no filter).
    /// </summary>
    public override string ToString()
    {
        var conditions = new List<string>();
        conditions.AddRange(ArgFilters.Select(f => string.Create(CultureInfo.InvariantCulture, $"arg{f.Index} {f.Filter}")));
        conditions.AddRange(MemoryFilters.Select(f => f.Filter.Describe(f.Index)));
        conditions.AddRange(AbiDependentFilters.Select(f => string.Create(CultureInfo.InvariantCulture, $"arg{f.Index} {f.Description}")));
        if (RetvalFilter is { } retval)
            conditions.Add($"retval {retval}");
        conditions.AddRange(ScopeFilters.Select(f => f.ToString()));
        if (Comm is not null)
            conditions.Add($"comm is '{Comm}'");
        if (Pid is { } pid)
            conditions.Add(string.Create(CultureInfo.InvariantCulture, $"pid is {pid}"));
        var subject = Function is null ? $"{Syscall} {Phase}" : $"function {Function} {(Phase == SyscallPhase.Enter ? "entry" : "return")}";
        return conditions.Count == 0 ? $"{subject}, every call" : $"{subject} where {string.Join(" and ", conditions)}";
    }

    /// <summary>Checks what the guest must support for this spec.</summary>
    /// <exception cref="ArgumentException">The guest's portal.ko lacks a feature the filters need.</exception>
    internal void RequireFeatures(GuestFeatures features)
    {
        if (NeedsFiltersV2 && !features.HasFlag(GuestFeatures.FiltersV2))
            throw new ArgumentException($"Hook on {Subject} ({Phase}) uses set, outside-range or memory filters, which this guest's portal.ko predates (no filters v2 feature): rebuild the guest image.");
        if (Scope is not null && !features.HasFlag(GuestFeatures.ScopeFilters))
            throw new ArgumentException($"Hook on {Subject} ({Phase}) is limited to a scope ({Scope}), which this guest's portal.ko predates (no scope filters feature): rebuild the guest image, or register the hook without the scope (and without the session's: IgnoringSessionScope).");
        if (Function is not null && !features.HasFlag(GuestFeatures.FunctionHooks))
            throw new ArgumentException($"Hook on function {Function}: this guest's portal.ko has no function hooks (uprobes; docs/protocol.md §4.6): rebuild the guest image.");
    }

    /// <summary>Bytes of the descriptor's data area: the sets' values, the process sets and the patterns.</summary>
    internal int FilterDataLength =>
        ArgFilters.Sum(f => 8 * f.Filter.Values.Length) + (RetvalFilter?.Values.Length ?? 0) * 8
        + ScopeFilters.Sum(f => f.DataLength) + MemoryFilters.Sum(f => f.Filter.Pattern.Length);

    /// <summary>Converts an operand to what the guest compares against, or null when it cannot be represented.</summary>
    internal static ulong? ToRegister(ulong value, ArgFilterKind kind, GuestAbi abi)
    {
        if (abi.PointerSize == 8)
            return value;
        var signed = (long)value;
        var fits = value <= uint.MaxValue || signed is >= int.MinValue and < 0;
        if (!fits)
            return null;
        // SRANGE operands are compared sign-extended; the others zero-extended (docs/protocol.md §4.3).
        return kind is ArgFilterKind.SignedRange or ArgFilterKind.OutsideSignedRange
            ? (ulong)abi.SignExtendRegister(value) : abi.TruncateToRegister(value);
    }

    private static string? CheckFilter(ArgFilter filter, GuestAbi abi, bool isRetval)
    {
        if (!Enum.IsDefined(filter.Kind))
            return $"unknown kind {(int)filter.Kind}";
        if (filter.Kind == ArgFilterKind.OneOf && filter.Values.Length is < 1 or > ArgFilter.MaxValues)
            return $"{filter.Values.Length} values; 1 to {ArgFilter.MaxValues}";
        if (isRetval)
            return filter.Kind switch
            {
                ArgFilterKind.Range when filter.A > filter.B => "minimum is above maximum",
                ArgFilterKind.SignedRange or ArgFilterKind.OutsideSignedRange when (long)filter.A > (long)filter.B => "minimum is above maximum",
                _ => null,
            };
        var a = ToRegister(filter.A, filter.Kind, abi);
        var b = ToRegister(filter.B, filter.Kind, abi);
        if (a is null || b is null || filter.Values.Any(v => ToRegister(v, filter.Kind, abi) is null))
            return $"operand does not fit a {abi.PointerSize * 8}-bit register";
        return filter.Kind switch
        {
            ArgFilterKind.Range when a > b => "minimum is above maximum",
            ArgFilterKind.SignedRange or ArgFilterKind.OutsideSignedRange when (long)a > (long)b => "minimum is above maximum",
            _ => null,
        };
    }
}

/// <summary>
/// An argument filter made when the hook is registered, for the guest's ABI: e.g. the value of a
/// generated ioctl number (<c>_IOR</c> differs between ABIs) or a member's offset.
/// </summary>
/// <param name="Index">Argument index 0..5.</param>
/// <param name="Description">What it is, for messages and <c>--verbose</c> (e.g. "== Rtc.RTC_RD_TIME").</param>
/// <param name="Value">Makes a value filter for an ABI, or null.</param>
/// <param name="Memory">Makes a memory filter for an ABI, or null.</param>
public sealed record AbiDependentFilter(int Index, string Description, Func<GuestAbi, ArgFilter>? Value, Func<GuestAbi, MemoryFilter>? Memory);
