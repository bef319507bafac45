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

    /// <summary>Argument equals one of these values (up to 32; one guest-side test, e.g. ten ioctl request numbers).</summary>
    public long[]? In { get; set; }

    internal IEnumerable<ArgFilter> Filters()
    {
        if (In is { } oneOf) yield return ArgFilter.OneOf(oneOf);
        if (_is is { } equal) yield return ArgFilter.Equal(equal);
        if (_isNot is { } notEqual) yield return ArgFilter.NotEqual(notEqual);
        if (_min is not null || _max is not null) yield return ArgFilter.Range(Min, Max);
        if (_signedMin is not null || _signedMax is not null) yield return ArgFilter.SignedRange(SignedMin, SignedMax);
        if (_maskSet is { } set) yield return ArgFilter.MaskSet(set);
        if (_maskClear is { } clear) yield return ArgFilter.MaskClear(clear);
    }
}

/// <summary>The two classes of syscall results, for <see cref="RetvalAttribute.Class"/>.</summary>
public enum ReturnClass
{
    /// <summary>Not an error: the return value is outside −4095..−1 (see <see cref="ArgFilter.Succeeded"/>).</summary>
    Success = 1,
    /// <summary>An error: −errno, −4095..−1.</summary>
    Error = 2,
}

/// <summary>
/// A condition on the return value (Return-phase handlers only), compared signed. Exactly one
/// property (or the Min/Max pair) may be set. Examples: <c>[Retval(Class = ReturnClass.Error)]</c>,
/// <c>[Retval(Is = 0)]</c>, <c>[Retval(Min = 1, Max = 4096)]</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RetvalAttribute : Attribute
{
    private long? _is, _isNot, _min, _max;
    private ReturnClass? _class;

    /// <summary>The call succeeded or failed (the kernel's −errno convention).</summary>
    public ReturnClass Class { get => _class ?? ReturnClass.Success; set => _class = value; }

    /// <summary>Return value is one of these.</summary>
    public long[]? In { get; set; }

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
        if (_class is { } resultClass)
            filters.Add(resultClass switch
            {
                ReturnClass.Success => ArgFilter.Succeeded,
                ReturnClass.Error => ArgFilter.Failed,
                _ => throw new ArgumentException($"[Retval] Class {resultClass} is neither Success nor Error."),
            });
        if (In is { } set) filters.Add(ArgFilter.OneOf(set));
        return filters.Count == 1
            ? filters[0]
            : throw new ArgumentException("[Retval] needs exactly one condition: Is, IsNot, Min/Max, Class or In.");
    }
}

/// <summary>
/// A condition on an argument naming generated constants, made for the guest's ABI when the hook is
/// registered: <c>[ArgConst(1, typeof(Rtc), nameof(Rtc.RTC_RD_TIME))]</c> works on x86_64 (0x80247009)
/// and MIPS (0x40247009) alike. Several names make a one-of-set test. A name may be a constant, a
/// static field or property, or a generated <c>static T NAME(GuestAbi abi)</c> method.
/// </summary>
/// <param name="index">Argument index 0..5.</param>
/// <param name="constants">The class that declares them (usually the header's generated constants class).</param>
/// <param name="names">One name (equality) or up to 32 (one of them).</param>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class ArgConstAttribute(int index, Type constants, params string[] names) : Attribute
{
    /// <summary>Argument index 0..5.</summary>
    public int Index { get; } = index;

    /// <summary>The class declaring the constants.</summary>
    public Type Constants { get; } = constants;

    /// <summary>The constants' names.</summary>
    public IReadOnlyList<string> Names { get; } = names;

    internal AbiDependentFilter Filter()
    {
        var shown = Names.Count == 1 ? $"== {Constants.Name}.{Names[0]}" : $"in {{{string.Join(", ", Names.Select(n => $"{Constants.Name}.{n}"))}}}";
        return new AbiDependentFilter(Index, shown, abi =>
        {
            var values = Names.Select(name => GeneratedConstants.Value(Constants, name, abi)).ToArray();
            return values.Length == 1 ? ArgFilter.Equal(values[0]) : ArgFilter.OneOf(values);
        }, null);
    }
}

/// <summary>
/// A condition on the memory an argument points to, tested by the guest: exactly one of
/// <see cref="Is"/>, <see cref="StartsWith"/>, <see cref="Contains"/> or <see cref="Bytes"/>.
/// Place it with <see cref="Offset"/>, or by name: <see cref="Record"/> + <see cref="Member"/> (the
/// member's offset on the guest's ABI), and through one pointer with <see cref="ThroughPointerAt"/> or
/// <see cref="PointerMember"/>. Examples: <c>[ArgMemory(1, StartsWith = "/dev/")]</c> (openat's path),
/// <c>[ArgMemory(2, Record = typeof(Ifreq), Member = nameof(Ifreq.IfrName), Is = "eth0")]</c>.
/// </summary>
/// <param name="index">Argument index 0..5.</param>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class ArgMemoryAttribute(int index) : Attribute
{
    private int? _throughPointerAt;

    /// <summary>Argument index 0..5.</summary>
    public int Index { get; } = index;

    /// <summary>The NUL-terminated string there equals this.</summary>
    public string? Is { get; set; }

    /// <summary>The string there starts with this.</summary>
    public string? StartsWith { get; set; }

    /// <summary>The string there contains this (within <see cref="Window"/> bytes, before its NUL).</summary>
    public string? Contains { get; set; }

    /// <summary>The bytes there equal this.</summary>
    public byte[]? Bytes { get; set; }

    /// <summary>Bytes searched by <see cref="Contains"/>.</summary>
    public int Window { get; set; } = MemoryFilter.DefaultWindow;

    /// <summary>Bytes added to the address (after the member's offset, if any).</summary>
    public int Offset { get; set; }

    /// <summary>Follow the pointer stored this many bytes past the argument first.</summary>
    public int ThroughPointerAt { get => _throughPointerAt ?? 0; set => _throughPointerAt = value; }

    /// <summary>The generated record the argument points to; with <see cref="Member"/> or <see cref="PointerMember"/>.</summary>
    public Type? Record { get; set; }

    /// <summary>A pointer member of <see cref="Record"/> to follow first (its offset on the guest's ABI); <see cref="Member"/> is then in <see cref="Target"/>.</summary>
    public string? PointerMember { get; set; }

    /// <summary>The generated record <see cref="PointerMember"/> points to.</summary>
    public Type? Target { get; set; }

    /// <summary>The member compared: of <see cref="Target"/> when a pointer is followed, else of <see cref="Record"/>.</summary>
    public string? Member { get; set; }

    internal AbiDependentFilter Filter(string method)
    {
        var tests = new[] { Is, StartsWith, Contains, Bytes is null ? null : "" }.Count(t => t is not null);
        if (tests != 1)
            throw new ArgumentException($"{method}: [ArgMemory({Index})] needs exactly one of Is, StartsWith, Contains or Bytes ({tests} set).");
        if (PointerMember is not null && _throughPointerAt is not null)
            throw new ArgumentException($"{method}: [ArgMemory({Index})] sets both PointerMember and ThroughPointerAt; one pointer is followed at most.");
        if ((Member is not null || PointerMember is not null) && Record is null)
            throw new ArgumentException($"{method}: [ArgMemory({Index})] names a member but no Record (the generated type the argument points to).");
        if (PointerMember is not null && Member is not null && Target is null)
            throw new ArgumentException($"{method}: [ArgMemory({Index})] follows {PointerMember} to a Member but names no Target record.");
        var test = Is is { } equal ? MemoryFilter.StringEquals(equal)
            : StartsWith is { } prefix ? MemoryFilter.StringStartsWith(prefix)
            : Contains is { } part ? MemoryFilter.StringContains(part, Window)
            : MemoryFilter.BytesEqual(Bytes!);
        var described = test.At(Offset);
        return new AbiDependentFilter(Index, Record is null ? described.Describe(Index) : $"{Record.Name}{(PointerMember is null ? "" : $".{PointerMember}->")}{(Member is null ? "" : $".{Member}")} {described.Describe(Index)}",
            null, abi =>
            {
                var offset = Offset;
                int? pointerAt = _throughPointerAt;
                if (PointerMember is not null)
                    pointerAt = GeneratedConstants.OffsetOf(Record!, PointerMember, abi);
                if (Member is not null)
                    offset += GeneratedConstants.OffsetOf(PointerMember is null ? Record! : Target!, Member, abi);
                var placed = test.At(offset);
                return pointerAt is { } p ? placed.ThroughPointerAt(p) : placed;
            });
    }
}

/// <summary>
/// Which processes a <see cref="HypersyscallAttribute"/> (or <see cref="FunctionHooks.UprobeAttribute"/>) handler sees, tested by the guest (docs/filters.md,
/// "Scope"); on a plugin class it applies to every handler of the class. Every property set adds a
/// condition; all must hold, with those of other [Scope] attributes and the session's
/// <see cref="PortalSession.Scope"/>. Examples: <c>[Scope(Subtree = 1)]</c> (the firmware's init and what
/// it starts), <c>[Scope(Subtree = 1, ExcludingSubtree = 230)]</c>, <c>[Scope(IgnoreSessionScope = true)]</c>.
/// Pids known only at run time belong in <see cref="PortalSession.Scope"/> or <see cref="HookBuilder.WithinScope"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = true)]
public sealed class ScopeAttribute : Attribute
{
    /// <summary>Only this process and its descendants (0 = no such condition).</summary>
    public int Subtree { get; set; }

    /// <summary>Not this process nor its descendants (0 = no such condition).</summary>
    public int ExcludingSubtree { get; set; }

    /// <summary>Only these processes (1 to <see cref="GuestScope.MaxProcesses"/> pids).</summary>
    public int[]? Processes { get; set; }

    /// <summary>The session's <see cref="PortalSession.Scope"/> does not apply to the handler.</summary>
    public bool IgnoreSessionScope { get; set; }

    /// <summary>The attribute's conditions, or null when it sets none (only <see cref="IgnoreSessionScope"/>).</summary>
    internal GuestScope? Scope(string place)
    {
        if (Subtree < 0 || ExcludingSubtree < 0 || Processes?.Any(pid => pid < 1) == true)
            throw new ArgumentException($"{place}: [Scope] names a pid below 1 (a pid is at least 1; 0 means no condition).");
        if (Processes is { Length: < 1 or > GuestScope.MaxProcesses })
            throw new ArgumentException($"{place}: [Scope] Processes holds {Processes.Length} pids; 1 to {GuestScope.MaxProcesses}.");
        var scope = GuestScope.AllOf(
        [
            Subtree != 0 ? GuestScope.Subtree(Subtree) : null,
            ExcludingSubtree != 0 ? GuestScope.ExcludingSubtree(ExcludingSubtree) : null,
            Processes is { } pids ? GuestScope.Processes(pids) : null,
        ]);
        return scope is null && !IgnoreSessionScope
            ? throw new ArgumentException($"{place}: [Scope] needs Subtree, ExcludingSubtree, Processes or IgnoreSessionScope.")
            : scope;
    }
}
