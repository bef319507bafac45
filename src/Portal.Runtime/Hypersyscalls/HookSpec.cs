using Portal.Abi;

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
    /// <summary>Most argument filters one hook may carry.</summary>
    public const int MaxArgFilters = 8;

    /// <summary>Bytes of comm the kernel keeps (TASK_COMM_LEN − 1).</summary>
    public const int CommLength = 15;

    /// <summary>Checks the spec against an ABI and reports every problem in one message.</summary>
    /// <exception cref="ArgumentException">The spec cannot be registered on that ABI.</exception>
    public void Validate(GuestAbi abi)
    {
        ArgumentNullException.ThrowIfNull(abi);
        var problems = new List<string>();
        if (!Enum.IsDefined(Phase))
            problems.Add($"phase {Phase} is neither Enter nor Return");
        if (!abi.Syscalls.TryGetNumber(Syscall, out _))
            problems.Add(abi.Syscalls.DescribeUnknown(Syscall));
        if (ArgFilters.Count > MaxArgFilters)
            problems.Add($"{ArgFilters.Count} argument filters; at most {MaxArgFilters}");
        foreach (var (index, filter) in ArgFilters)
        {
            if (index is < 0 or > 5)
                problems.Add($"argument index {index} is not between 0 and 5");
            else if (CheckFilter(filter, abi, isRetval: false) is { } problem)
                problems.Add($"argument {index} filter {filter}: {problem}");
        }
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
        if (problems.Count > 0)
            throw new ArgumentException($"Hook on {Syscall} ({Phase}) is invalid: {string.Join("; ", problems)}.");
    }

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
        return kind == ArgFilterKind.SignedRange ? (ulong)abi.SignExtendRegister(value) : abi.TruncateToRegister(value);
    }

    private static string? CheckFilter(ArgFilter filter, GuestAbi abi, bool isRetval)
    {
        if (!Enum.IsDefined(filter.Kind))
            return $"unknown kind {(int)filter.Kind}";
        if (isRetval)
            return filter.Kind switch
            {
                ArgFilterKind.Range when filter.A > filter.B => "minimum is above maximum",
                ArgFilterKind.SignedRange when (long)filter.A > (long)filter.B => "minimum is above maximum",
                _ => null,
            };
        var a = ToRegister(filter.A, filter.Kind, abi);
        var b = ToRegister(filter.B, filter.Kind, abi);
        if (a is null || b is null)
            return $"operand does not fit a {abi.PointerSize * 8}-bit register";
        return filter.Kind switch
        {
            ArgFilterKind.Range when a > b => "minimum is above maximum",
            ArgFilterKind.SignedRange when (long)a > (long)b => "minimum is above maximum",
            _ => null,
        };
    }
}
