using System.Buffers.Binary;
using System.Text;
using Portal.Abi;

namespace Portal.Testing.Emulation;

/// <summary>One argument (or return-value) condition, as the guest stores it.</summary>
internal readonly record struct GuestFilter(uint Arg, uint Kind, ulong A, ulong B)
{
    public const uint Eq = 1, Ne = 2, Range = 3, SRange = 4, MaskSet = 5, MaskClear = 6;

    /// <summary>docs/protocol.md §4.3: x zero-extended, s sign-extended from the register width.</summary>
    public bool Matches(ulong x, long s) => Kind switch
    {
        Eq => x == A,
        Ne => x != A,
        Range => A <= x && x <= B,
        SRange => (long)A <= s && s <= (long)B,
        MaskSet => (x & A) == A,
        MaskClear => (x & A) == 0,
        _ => false,
    };
}

/// <summary>A registered hook, decoded from a HOOK_REGISTER descriptor.</summary>
internal sealed record GuestHook(uint Id, int Number, int Phase, byte[]? Comm, int? Pid, GuestFilter? Retval, GuestFilter[] ArgFilters)
{
    public const int PhaseEnter = 1, PhaseReturn = 2;

    public bool Matches(int number, int phase, ReadOnlySpan<ulong> args, long retval, string comm, int pid, GuestAbi abi)
    {
        if (number != Number || phase != Phase)
            return false;
        if (Pid is { } wantedPid && wantedPid != pid)
            return false;
        if (Comm is not null && !CommEquals(comm))
            return false;
        foreach (var filter in ArgFilters)
        {
            var x = args[(int)filter.Arg];
            if (!filter.Matches(x, abi.SignExtendRegister(x)))
                return false;
        }
        return Retval is not { } r || r.Matches((ulong)retval, retval);
    }

    private bool CommEquals(string comm)
    {
        Span<byte> actual = stackalloc byte[16];
        actual.Clear();
        var bytes = Encoding.UTF8.GetBytes(comm);
        bytes.AsSpan(0, Math.Min(15, bytes.Length)).CopyTo(actual);
        return actual[..15].SequenceEqual(Comm.AsSpan(0, 15));
    }
}

/// <summary>The guest's hook table: fixed capacity, registration order kept.</summary>
internal sealed class GuestHookTable(int capacity)
{
    private const uint CommFlag = 1, PidFlag = 2, RetvalFlag = 4, KnownFlags = CommFlag | PidFlag | RetvalFlag;
    private readonly Lock _lock = new();
    private GuestHook[] _hooks = [];
    private uint _nextId = 1;

    public int Capacity { get; } = capacity;

    /// <summary>A stable snapshot for one syscall (registrations during a held syscall apply to later ones).</summary>
    public GuestHook[] Snapshot => Volatile.Read(ref _hooks);

    /// <summary>Validates and installs a descriptor; returns the id, or a native errno (negative).</summary>
    public long Register(ReadOnlySpan<byte> descriptor, int size, GuestAbi abi)
    {
        if (size < 64 || size > descriptor.Length)
            return -abi.ToNativeErrno(GuestErrno.EINVAL);
        var number = BinaryPrimitives.ReadUInt32LittleEndian(descriptor);
        var phase = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[4..]);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[8..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[12..]);
        if (phase is not (GuestHook.PhaseEnter or GuestHook.PhaseReturn) || (flags & ~KnownFlags) != 0 || count > 8 || size < 64 + 24 * count)
            return -abi.ToNativeErrno(GuestErrno.EINVAL);
        if ((flags & RetvalFlag) != 0 && phase != GuestHook.PhaseReturn)
            return -abi.ToNativeErrno(GuestErrno.EINVAL);

        var filters = new GuestFilter[count];
        for (var i = 0; i < count; i++)
        {
            var filter = ReadFilter(descriptor[(64 + 24 * i)..]);
            if (filter.Arg > 5 || !ValidFilter(filter))
                return -abi.ToNativeErrno(GuestErrno.EINVAL);
            filters[i] = filter;
        }
        GuestFilter? retval = null;
        if ((flags & RetvalFlag) != 0)
        {
            var filter = ReadFilter(descriptor[40..]);
            if (!ValidFilter(filter))
                return -abi.ToNativeErrno(GuestErrno.EINVAL);
            retval = filter;
        }
        var pid = BinaryPrimitives.ReadUInt64LittleEndian(descriptor[16..]);
        if ((flags & PidFlag) != 0 && pid is 0 or > int.MaxValue)
            return -abi.ToNativeErrno(GuestErrno.EINVAL);

        lock (_lock)
        {
            if (_hooks.Length >= Capacity)
                return -abi.ToNativeErrno(GuestErrno.ENOSPC);
            var hook = new GuestHook(_nextId++, (int)number, (int)phase,
                (flags & CommFlag) != 0 ? descriptor.Slice(24, 16).ToArray() : null,
                (flags & PidFlag) != 0 ? (int)pid : null, retval, filters);
            Volatile.Write(ref _hooks, [.. _hooks, hook]);
            return hook.Id;
        }
    }

    public bool Unregister(ulong id)
    {
        lock (_lock)
        {
            var remaining = _hooks.Where(h => h.Id != id).ToArray();
            if (remaining.Length == _hooks.Length)
                return false;
            Volatile.Write(ref _hooks, remaining);
            return true;
        }
    }

    public int Reset()
    {
        lock (_lock)
        {
            var removed = _hooks.Length;
            Volatile.Write(ref _hooks, []);
            return removed;
        }
    }

    /// <summary>True when some hook watches this syscall number (the cheap first check of the module).</summary>
    public bool Watches(int number) => Snapshot.Any(h => h.Number == number);

    private static GuestFilter ReadFilter(ReadOnlySpan<byte> entry) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(entry),
        BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]));

    private static bool ValidFilter(GuestFilter filter) => filter.Kind switch
    {
        GuestFilter.Eq or GuestFilter.Ne or GuestFilter.MaskSet or GuestFilter.MaskClear => true,
        GuestFilter.Range => filter.A <= filter.B,
        GuestFilter.SRange => (long)filter.A <= (long)filter.B,
        _ => false,
    };
}
