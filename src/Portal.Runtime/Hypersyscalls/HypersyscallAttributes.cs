namespace Portal.Hypersyscalls;

/// <summary>
/// Marks a plugin method as a hypersyscall handler: <c>ValueTask Method(SyscallContext context)</c>
/// (or <c>Task</c>). Combine with <see cref="ArgAttribute"/> and <see cref="RetvalAttribute"/>.
/// Load the plugin with <see cref="PortalSession.LoadPluginAsync"/>.
/// </summary>
/// <param name="syscall">Syscall name (e.g. "ioctl").</param>
/// <param name="phase">Enter or return.</param>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class HypersyscallAttribute(string syscall, SyscallPhase phase) : Attribute
{
    /// <summary>Syscall name.</summary>
    public string Syscall { get; } = syscall;

    /// <summary>Enter or return.</summary>
    public SyscallPhase Phase { get; } = phase;

    /// <summary>Only processes with this comm.</summary>
    public string? Comm { get; set; }

    /// <summary>Only this process id (0 = any).</summary>
    public int Pid { get; set; }

    /// <summary>Handler name for statistics (default: Type.Method).</summary>
    public string? Name { get; set; }
}

/// <summary>
/// A condition on one argument of a <see cref="HypersyscallAttribute"/> handler. Every property set
/// adds a condition; all must hold. Example: <c>[Arg(1, Is = 0x89F1)]</c>.
/// </summary>
/// <param name="index">Argument index 0..5.</param>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class ArgAttribute(int index) : Attribute
{
    private long? _is, _isNot, _signedMin, _signedMax;
    private ulong? _min, _max, _maskSet, _maskClear;

    /// <summary>Argument index 0..5.</summary>
    public int Index { get; } = index;

    /// <summary>Argument equals this value.</summary>
    public long Is { get => _is ?? 0; set => _is = value; }

    /// <summary>Argument differs from this value.</summary>
    public long IsNot { get => _isNot ?? 0; set => _isNot = value; }

    /// <summary>Unsigned lower bound (inclusive); pair with <see cref="Max"/> or alone.</summary>
    public ulong Min { get => _min ?? 0; set => _min = value; }

    /// <summary>Unsigned upper bound (inclusive).</summary>
    public ulong Max { get => _max ?? ulong.MaxValue; set => _max = value; }

    /// <summary>Signed lower bound (inclusive).</summary>
    public long SignedMin { get => _signedMin ?? long.MinValue; set => _signedMin = value; }

    /// <summary>Signed upper bound (inclusive).</summary>
    public long SignedMax { get => _signedMax ?? long.MaxValue; set => _signedMax = value; }

    /// <summary>Every bit of this mask is set.</summary>
    public ulong MaskSet { get => _maskSet ?? 0; set => _maskSet = value; }

    /// <summary>No bit of this mask is set.</summary>
    public ulong MaskClear { get => _maskClear ?? 0; set => _maskClear = value; }

    internal IEnumerable<ArgFilter> Filters()
    {
        if (_is is { } equal) yield return ArgFilter.Equal(equal);
        if (_isNot is { } notEqual) yield return ArgFilter.NotEqual(notEqual);
        if (_min is not null || _max is not null) yield return ArgFilter.Range(Min, Max);
        if (_signedMin is not null || _signedMax is not null) yield return ArgFilter.SignedRange(SignedMin, SignedMax);
        if (_maskSet is { } set) yield return ArgFilter.MaskSet(set);
        if (_maskClear is { } clear) yield return ArgFilter.MaskClear(clear);
    }
}

/// <summary>
/// A condition on the return value (Return-phase handlers only), compared signed. Exactly one
/// property (or the Min/Max pair) may be set. Example: <c>[Retval(Min = -4095, Max = -1)]</c> for errors.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RetvalAttribute : Attribute
{
    private long? _is, _isNot, _min, _max;

    /// <summary>Return value equals this.</summary>
    public long Is { get => _is ?? 0; set => _is = value; }

    /// <summary>Return value differs from this.</summary>
    public long IsNot { get => _isNot ?? 0; set => _isNot = value; }

    /// <summary>Signed lower bound (inclusive).</summary>
    public long Min { get => _min ?? long.MinValue; set => _min = value; }

    /// <summary>Signed upper bound (inclusive).</summary>
    public long Max { get => _max ?? long.MaxValue; set => _max = value; }

    internal ArgFilter Filter()
    {
        var filters = new List<ArgFilter>();
        if (_is is { } equal) filters.Add(ArgFilter.Equal(equal));
        if (_isNot is { } notEqual) filters.Add(ArgFilter.NotEqual(notEqual));
        if (_min is not null || _max is not null) filters.Add(ArgFilter.SignedRange(Min, Max));
        return filters.Count == 1
            ? filters[0]
            : throw new ArgumentException("[Retval] needs exactly one condition: Is, IsNot, or Min/Max.");
    }
}
