using System.Buffers.Binary;
using System.Text;
using Portal.Abi;
using Portal.Testing.Processes;

namespace Portal.Testing.Emulation;

/// <summary>One argument (or return-value) condition, as the guest stores it.</summary>
internal readonly record struct GuestFilter(uint Arg, uint Kind, ulong A, ulong B)
{
    public const uint Eq = 1, Ne = 2, Range = 3, SRange = 4, MaskSet = 5, MaskClear = 6;

    /// <summary>Filters v2 (docs/protocol.md §4.3, feature bit 3).</summary>
    public const uint InSet = 7, OutSRange = 8, MemEq = 9, MemContains = 10;

    /// <summary>Scope filters (§4.3, feature bit 5): on the calling process, not an argument.</summary>
    public const uint TaskSubtree = 11, NotSubtree = 12, TaskInSet = 13;

    /// <summary>The highest pid a subtree's root may be (the module's PORTAL_SCOPE_MAX_ROOT).</summary>
    public const ulong MaxRoot = 0x7fff_ffff;

    /// <summary>The most values a set holds; the longest pattern; the widest window (the module's PORTAL_SET_MAX, PORTAL_MEM_MAX_*).</summary>
    public const int MaxSetCount = 32, MaxPatternLength = 64, MaxWindow = 256;

    /// <summary>Memory filter <c>b</c>: bit 48 "through a pointer", bit 49 "stop at NUL"; everything above is unknown.</summary>
    public const ulong Deref = 1UL << 48, StopAtNul = 1UL << 49, KnownMemoryBits = 0xffff_ffff_ffffUL | Deref | StopAtNul;

    public bool IsMemoryFilter => Kind is MemEq or MemContains;

    public bool IsScopeFilter => Kind is TaskSubtree or NotSubtree or TaskInSet;

    /// <summary>Memory filters: the pattern's offset in the data area, its length, the window searched (kind 10).</summary>
    public int PatternOffset => (int)(B & 0xffff);

    public int PatternLength => (int)((B >> 16) & 0xffff);

    public int Window => (int)((B >> 32) & 0xffff);

    /// <summary>Memory filters: <c>offset</c> (s32, low half of <c>a</c>) and <c>ptr_offset</c> (s32, high half).</summary>
    public long Offset => (int)(uint)A;

    public long PointerOffset => (int)(uint)(A >> 32);
}

/// <summary>A registered hook, decoded from a HOOK_REGISTER descriptor.</summary>
internal sealed record GuestHook(uint Id, int Number, int Phase, byte[]? Comm, int? Pid, GuestFilter? Retval, GuestFilter[] ArgFilters,
    byte[] Data)
{
    public const int PhaseEnter = 1, PhaseReturn = 2;

    /// <summary>
    /// Whether the syscall passes the filters, in the module's order (portal_hook_match): pid, comm, the
    /// retval filter, the register and scope filters, and only then the memory filters, so memory is read
    /// only for calls the others let through. A memory filter that cannot read its memory does not match
    /// and is counted (<c>filter_faults</c>).
    /// </summary>
    public bool Matches(int number, int phase, ReadOnlySpan<ulong> args, long retval, EmulatedProcess process, ProcessTable tree,
        GuestCounters counters)
    {
        if (number != Number || phase != Phase)
            return false;
        if (Pid is { } wantedPid && wantedPid != process.Pid)
            return false;
        if (Comm is not null && !CommEquals(process.Comm))
            return false;
        if (Retval is { } r && !RegisterMatches(r, (ulong)retval, retval))
            return false;
        var abi = process.Memory.Abi;
        foreach (var filter in ArgFilters)
        {
            var x = args[(int)filter.Arg];
            if (filter.IsScopeFilter ? !ScopeMatches(filter, process, tree)
                : !filter.IsMemoryFilter && !RegisterMatches(filter, x, abi.SignExtendRegister(x)))
                return false;
        }
        foreach (var filter in ArgFilters)
        {
            if (!filter.IsMemoryFilter)
                continue;
            switch (MemoryMatches(filter, args[(int)filter.Arg], process.Memory))
            {
                case null:
                    counters.FilterFault();
                    return false;
                case false:
                    return false;
            }
        }
        return true;
    }

    /// <summary>docs/protocol.md §4.3: x zero-extended, s sign-extended from the register width.</summary>
    private bool RegisterMatches(GuestFilter f, ulong x, long s) => f.Kind switch
    {
        GuestFilter.Eq => x == f.A,
        GuestFilter.Ne => x != f.A,
        GuestFilter.Range => f.A <= x && x <= f.B,
        GuestFilter.SRange => (long)f.A <= s && s <= (long)f.B,
        GuestFilter.MaskSet => (x & f.A) == f.A,
        GuestFilter.MaskClear => (x & f.A) == 0,
        GuestFilter.InSet => SetContains(f, x),
        GuestFilter.OutSRange => s < (long)f.A || s > (long)f.B,
        _ => false,
    };

    /// <summary>The module's task_in_subtree and set_contains on the caller's tgid (one process, one thread, here).</summary>
    private bool ScopeMatches(GuestFilter f, EmulatedProcess process, ProcessTable tree) => f.Kind switch
    {
        GuestFilter.TaskSubtree => tree.InSubtree(process, f.A),
        GuestFilter.NotSubtree => !tree.InSubtree(process, f.A),
        GuestFilter.TaskInSet => SetContains(f, (ulong)process.Pid),
        _ => false,
    };

    private bool SetContains(GuestFilter f, ulong x)
    {
        var count = (int)Math.Min(f.B, GuestFilter.MaxSetCount);
        if (!GuestHookTable.DataHolds(Data.Length, f.A, 8 * (ulong)count))
            return false;
        for (var i = 0; i < count; i++)
        {
            if (BinaryPrimitives.ReadUInt64LittleEndian(Data.AsSpan((int)f.A + 8 * i)) == x)
                return true;
        }
        return false;
    }

    /// <summary>True or false; null when the memory could not be read (the module's -EFAULT).</summary>
    private bool? MemoryMatches(GuestFilter f, ulong x, EmulatedAddressSpace memory)
    {
        var length = f.PatternLength;
        if (length is < 1 or > GuestFilter.MaxPatternLength || !GuestHookTable.DataHolds(Data.Length, (ulong)f.PatternOffset, (ulong)length))
            return false;
        var pattern = Data.AsSpan(f.PatternOffset, length);
        Span<byte> buffer = stackalloc byte[GuestFilter.MaxWindow];
        var wanted = f.Kind == GuestFilter.MemEq ? length : Math.Clamp(f.Window, length, GuestFilter.MaxWindow);
        var got = ReadFilterMemory(f, x, memory, buffer[..wanted]);
        if (got < 0)
            return null;
        if (f.Kind == GuestFilter.MemEq)
            return got == length && buffer[..length].SequenceEqual(pattern);
        return buffer[..got].IndexOf(pattern) >= 0;
    }

    /// <summary>
    /// Reads what a memory filter looks at, as the module's mem_filter_read: at
    /// (through a pointer ? *(x + ptr_offset) : x) + offset, computed at the register width (addresses wrap
    /// to 32 bits on 32-bit ABIs), the pointer of register width in guest byte order. Returns the bytes
    /// read (with stop-at-NUL: those before the NUL), or −1 when the memory cannot be read.
    /// </summary>
    private static int ReadFilterMemory(GuestFilter f, ulong x, EmulatedAddressSpace memory, Span<byte> buffer)
    {
        var abi = memory.Abi;
        var address = abi.TruncateToRegister(x);
        if ((f.B & GuestFilter.Deref) != 0)
        {
            address = abi.TruncateToRegister(address + (ulong)f.PointerOffset);
            Span<byte> pointer = stackalloc byte[8];
            if (memory.CopyFromUser(address, pointer[..abi.PointerSize]) != abi.PointerSize)
                return -1;
            address = abi.ReadPointer(pointer);
        }
        address = abi.TruncateToRegister(address + (ulong)f.Offset);
        if ((f.B & GuestFilter.StopAtNul) != 0)
        {
            var length = memory.CopyStringFromUser(address, buffer, out var terminated);
            return terminated || length == buffer.Length ? length : -1;
        }
        return memory.CopyFromUser(address, buffer) == buffer.Length ? buffer.Length : -1;
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
    private const uint CommFlag = 1, PidFlag = 2, RetvalFlag = 4, DataFlag = 8, KnownFlags = CommFlag | PidFlag | RetvalFlag | DataFlag;
    private const int ArgFilters = 64, FilterSize = 24, MaxFilters = 8, DataHeader = 8, MaxData = 256;

    /// <summary>The longest descriptor the guest looks at: header, eight filters, the data area's header and its most bytes.</summary>
    private const int MaxDescriptor = ArgFilters + MaxFilters * FilterSize + DataHeader + MaxData;

    private readonly Lock _lock = new();
    private GuestHook[] _hooks = [];
    private uint _nextId = 1;

    public int Capacity { get; } = capacity;

    /// <summary>A stable snapshot for one syscall (registrations during a held syscall apply to later ones).</summary>
    public GuestHook[] Snapshot => Volatile.Read(ref _hooks);

    /// <summary>Whether [offset, offset + length) lies inside a data area of <paramref name="size"/> bytes (the module's data_holds).</summary>
    public static bool DataHolds(int size, ulong offset, ulong length) => offset <= (ulong)size && length <= (ulong)size - offset;

    /// <summary>Validates and installs a descriptor; returns the id, or a native errno (negative).</summary>
    public long Register(ReadOnlySpan<byte> region, int size, GuestAbi abi)
    {
        if (size < ArgFilters || size > region.Length)
            return -abi.ToNativeErrno(GuestErrno.EINVAL);
        // Parsed and validated from one private copy, data area included: what is installed is what was checked.
        ReadOnlySpan<byte> descriptor = region[..Math.Min(size, MaxDescriptor)].ToArray();
        var number = BinaryPrimitives.ReadUInt32LittleEndian(descriptor);
        var phase = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[4..]);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[8..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[12..]);
        if (phase is not (GuestHook.PhaseEnter or GuestHook.PhaseReturn) || (flags & ~KnownFlags) != 0 || count > MaxFilters
            || size < ArgFilters + FilterSize * count)
            return -abi.ToNativeErrno(GuestErrno.EINVAL);
        if ((flags & RetvalFlag) != 0 && phase != GuestHook.PhaseReturn)
            return -abi.ToNativeErrno(GuestErrno.EINVAL);

        byte[] data = [];
        if ((flags & DataFlag) != 0)
        {
            // The data area follows the argument filters: le32 data_size (1..256), 4 reserved bytes (0), the bytes.
            var at = ArgFilters + FilterSize * (int)count;
            if (size < at + DataHeader)
                return -abi.ToNativeErrno(GuestErrno.EINVAL);
            var dataSize = BinaryPrimitives.ReadUInt32LittleEndian(descriptor[at..]);
            if (dataSize is < 1 or > MaxData || BinaryPrimitives.ReadUInt32LittleEndian(descriptor[(at + 4)..]) != 0
                || size < at + DataHeader + (long)dataSize)
                return -abi.ToNativeErrno(GuestErrno.EINVAL);
            data = descriptor.Slice(at + DataHeader, (int)dataSize).ToArray();
        }

        GuestFilter? retval = null;
        if ((flags & RetvalFlag) != 0)
        {
            var filter = ReadFilter(descriptor[40..]) with { Arg = 0 };     // the arg field of the retval filter is ignored
            if (!ValidFilter(filter, data.Length, isRetval: true))
                return -abi.ToNativeErrno(GuestErrno.EINVAL);
            retval = filter;
        }
        var filters = new GuestFilter[count];
        for (var i = 0; i < count; i++)
        {
            var filter = ReadFilter(descriptor[(ArgFilters + FilterSize * i)..]);
            if (filter.Arg > 5 || !ValidFilter(filter, data.Length, isRetval: false))
                return -abi.ToNativeErrno(GuestErrno.EINVAL);
            filters[i] = filter;
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
                (flags & PidFlag) != 0 ? (int)pid : null, retval, filters, data);
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

    /// <summary>The module's filter_kind_valid and mem_filter_valid (docs/protocol.md §4.3).</summary>
    private static bool ValidFilter(GuestFilter filter, int dataSize, bool isRetval) => filter.Kind switch
    {
        GuestFilter.Eq or GuestFilter.Ne or GuestFilter.MaskSet or GuestFilter.MaskClear => true,
        GuestFilter.Range => filter.A <= filter.B,
        GuestFilter.SRange or GuestFilter.OutSRange => (long)filter.A <= (long)filter.B,
        GuestFilter.InSet => filter.B is >= 1 and <= GuestFilter.MaxSetCount && DataHolds(dataSize, filter.A, 8 * filter.B),
        GuestFilter.MemEq or GuestFilter.MemContains => !isRetval && ValidMemoryFilter(filter, dataSize),
        GuestFilter.TaskSubtree or GuestFilter.NotSubtree or GuestFilter.TaskInSet => !isRetval && ValidScopeFilter(filter, dataSize),
        _ => false,
    };

    /// <summary>A scope filter (the module's scope_filter_valid): arg 0; a subtree's root 1..2^31−1 with b 0; a set inside the data area.</summary>
    private static bool ValidScopeFilter(GuestFilter filter, int dataSize)
    {
        if (filter.Arg != 0)
            return false;
        if (filter.Kind == GuestFilter.TaskInSet)
            return filter.B is >= 1 and <= GuestFilter.MaxSetCount && DataHolds(dataSize, filter.A, 8 * filter.B);
        return filter.B == 0 && filter.A is >= 1 and <= GuestFilter.MaxRoot;
    }

    /// <summary>A memory filter: no unknown bits in b, a pattern of 1..64 bytes inside the data area, and a window only for MEM_CONTAINS.</summary>
    private static bool ValidMemoryFilter(GuestFilter filter, int dataSize)
    {
        if ((filter.B & ~GuestFilter.KnownMemoryBits) != 0)
            return false;
        var length = filter.PatternLength;
        if (length is < 1 or > GuestFilter.MaxPatternLength || !DataHolds(dataSize, (ulong)filter.PatternOffset, (ulong)length))
            return false;
        if (filter.Kind == GuestFilter.MemEq)
            return filter.Window == 0 && (filter.B & GuestFilter.StopAtNul) == 0;
        return filter.Window >= length && filter.Window <= GuestFilter.MaxWindow;
    }
}
