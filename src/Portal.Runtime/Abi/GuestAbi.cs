using System.Buffers.Binary;
using System.Collections.Frozen;

namespace Portal.Abi;

/// <summary>The ABIs Portal knows. The numbers are the <c>abi</c> field of the guest info record (docs/protocol.md §4.4).</summary>
public enum GuestAbiId
{
    /// <summary>64-bit x86, little-endian.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707", Justification = "The architecture's name.")]
    X86_64 = 1,
    /// <summary>32-bit x86, little-endian.</summary>
    I386 = 2,
    /// <summary>32-bit MIPS o32, little-endian (e.g. the TP-Link Archer C20).</summary>
    MipsEl = 3,
    /// <summary>32-bit MIPS o32, big-endian.</summary>
    Mips = 4,
    /// <summary>32-bit ARM EABI, little-endian.</summary>
    ArmEl = 5,
    /// <summary>64-bit ARM, little-endian.</summary>
    AArch64 = 6,
}

/// <summary>
/// What the host must know about a guest to talk to it: pointer size, byte order, page size, syscall
/// numbering and errno numbering. This is the list of ABIs: portal-headers' HeaderAbi, the generator's ABI ids
/// (HeaderEmitter) and the guest module's <c>PORTAL_ABI_*</c> are checked against it by tests (AbiListTests).
/// The syscall and errno tables come from each target's own kernel headers (<see cref="AbiTables"/>, written by
/// <c>portal-headers abi-tables</c>).
/// </summary>
public sealed class GuestAbi
{
    /// <summary>64-bit x86.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707", Justification = "The architecture's name.")]
    public static GuestAbi X86_64 { get; } = new(GuestAbiId.X86_64, "x86_64", 8, false, 0x0000_7fff_ffff_f000);
    /// <summary>32-bit x86.</summary>
    public static GuestAbi I386 { get; } = new(GuestAbiId.I386, "i386", 4, false, 0xc000_0000);
    /// <summary>32-bit little-endian MIPS (o32).</summary>
    public static GuestAbi MipsEl { get; } = new(GuestAbiId.MipsEl, "mipsel", 4, false, 0x8000_0000);
    /// <summary>32-bit big-endian MIPS (o32).</summary>
    public static GuestAbi Mips { get; } = new(GuestAbiId.Mips, "mips", 4, true, 0x8000_0000);
    /// <summary>32-bit little-endian ARM (EABI).</summary>
    public static GuestAbi ArmEl { get; } = new(GuestAbiId.ArmEl, "armel", 4, false, 0xbf00_0000);
    /// <summary>64-bit ARM.</summary>
    public static GuestAbi AArch64 { get; } = new(GuestAbiId.AArch64, "aarch64", 8, false, 0x0001_0000_0000_0000);

    /// <summary>Every ABI Portal supports.</summary>
    public static IReadOnlyList<GuestAbi> All { get; } = [X86_64, I386, MipsEl, Mips, ArmEl, AArch64];

    private readonly FrozenDictionary<int, GuestErrno> _nativeToErrno;
    private readonly FrozenDictionary<GuestErrno, int> _errnoToNative;

    private GuestAbi(GuestAbiId id, string name, int pointerSize, bool bigEndian, ulong userAddressLimit)
    {
        Id = id;
        Name = name;
        PointerSize = pointerSize;
        IsBigEndian = bigEndian;
        UserAddressLimit = userAddressLimit;
        Syscalls = new SyscallTable(this, AbiTables.Syscalls(name));

        // Native errno numbers are matched to the generic enum by name (EOPNOTSUPP is 95 on x86, 122 on MIPS).
        var nativeToErrno = new Dictionary<int, GuestErrno>();
        var errnoToNative = new Dictionary<GuestErrno, int>();
        foreach (var (errnoName, number) in AbiTables.Errnos(name))
        {
            if (!Enum.TryParse(errnoName, out GuestErrno generic))
                continue;
            nativeToErrno.TryAdd(number, generic);
            errnoToNative.TryAdd(generic, number);
        }
        _nativeToErrno = nativeToErrno.ToFrozenDictionary();
        _errnoToNative = errnoToNative.ToFrozenDictionary();
    }

    /// <summary>Which ABI this is.</summary>
    public GuestAbiId Id { get; }

    /// <summary>The ABI's name as used on the command line: x86_64, i386, mipsel, mips, armel, aarch64.</summary>
    public string Name { get; }

    /// <summary>Size of a pointer and of a general-purpose register, in bytes (4 or 8).</summary>
    public int PointerSize { get; }

    /// <summary>True when the guest stores integers most significant byte first.</summary>
    public bool IsBigEndian { get; }

    /// <summary>The page size the guest kernels Portal targets use on this ABI.</summary>
    public int PageSize { get; } = 4096;

    /// <summary>First address above user space (user addresses are below it).</summary>
    public ulong UserAddressLimit { get; }

    /// <summary>The syscall numbering of this ABI.</summary>
    public SyscallTable Syscalls { get; }

    /// <summary>Finds an ABI by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is not a supported ABI; the message lists the supported ones.</exception>
    public static GuestAbi Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryParse(name, out var abi)
            ? abi
            : throw new ArgumentException($"Unknown ABI '{name}'. Supported: {string.Join(", ", All.Select(a => a.Name))}.", nameof(name));
    }

    /// <summary>Finds an ABI by name (case-insensitive).</summary>
    public static bool TryParse(string? name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GuestAbi? abi)
    {
        abi = All.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase));
        return abi is not null;
    }

    /// <summary>Finds an ABI by its protocol number.</summary>
    public static GuestAbi FromId(GuestAbiId id) =>
        All.FirstOrDefault(a => a.Id == id) ?? throw new ArgumentOutOfRangeException(nameof(id), id, "Unknown ABI id.");

    /// <summary>Translates a guest-native errno number to the generic enum; unknown numbers pass through unchanged.</summary>
    public GuestErrno ToErrno(long nativeErrno) =>
        nativeErrno is > 0 and < 4096 && _nativeToErrno.TryGetValue((int)nativeErrno, out var errno) ? errno : (GuestErrno)nativeErrno;

    /// <summary>Translates a generic errno to this guest's native number.</summary>
    /// <exception cref="ArgumentException">This ABI has no such errno.</exception>
    public int ToNativeErrno(GuestErrno errno) =>
        _errnoToNative.TryGetValue(errno, out var native)
            ? native
            : throw new ArgumentException($"{errno} does not exist on {Name}.", nameof(errno));

    /// <summary>Cuts a value to the register width (a 32-bit guest sees the low 32 bits).</summary>
    public ulong TruncateToRegister(ulong value) => PointerSize == 4 ? (uint)value : value;

    /// <summary>Interprets a register value as signed (sign-extends 32-bit registers).</summary>
    public long SignExtendRegister(ulong value) => PointerSize == 4 ? (int)(uint)value : (long)value;

    /// <summary>Reads a 16-bit integer in the guest's byte order.</summary>
    public ushort ReadUInt16(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt16BigEndian(source) : BinaryPrimitives.ReadUInt16LittleEndian(source);

    /// <summary>Reads a 32-bit integer in the guest's byte order.</summary>
    public uint ReadUInt32(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt32BigEndian(source) : BinaryPrimitives.ReadUInt32LittleEndian(source);

    /// <summary>Reads a 64-bit integer in the guest's byte order.</summary>
    public ulong ReadUInt64(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt64BigEndian(source) : BinaryPrimitives.ReadUInt64LittleEndian(source);

    /// <summary>Reads a pointer (<see cref="PointerSize"/> bytes) in the guest's byte order.</summary>
    public ulong ReadPointer(ReadOnlySpan<byte> source) => PointerSize == 4 ? ReadUInt32(source) : ReadUInt64(source);

    /// <summary>Writes a 16-bit integer in the guest's byte order.</summary>
    public void WriteUInt16(Span<byte> destination, ushort value)
    {
        if (IsBigEndian) BinaryPrimitives.WriteUInt16BigEndian(destination, value);
        else BinaryPrimitives.WriteUInt16LittleEndian(destination, value);
    }

    /// <summary>Writes a 32-bit integer in the guest's byte order.</summary>
    public void WriteUInt32(Span<byte> destination, uint value)
    {
        if (IsBigEndian) BinaryPrimitives.WriteUInt32BigEndian(destination, value);
        else BinaryPrimitives.WriteUInt32LittleEndian(destination, value);
    }

    /// <summary>Writes a 64-bit integer in the guest's byte order.</summary>
    public void WriteUInt64(Span<byte> destination, ulong value)
    {
        if (IsBigEndian) BinaryPrimitives.WriteUInt64BigEndian(destination, value);
        else BinaryPrimitives.WriteUInt64LittleEndian(destination, value);
    }

    /// <summary>Writes a pointer (<see cref="PointerSize"/> bytes) in the guest's byte order.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit a 32-bit pointer.</exception>
    public void WritePointer(Span<byte> destination, ulong value)
    {
        if (PointerSize == 8)
        {
            WriteUInt64(destination, value);
            return;
        }
        if (value > uint.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(value), $"0x{value:x} does not fit a 32-bit {Name} pointer.");
        WriteUInt32(destination, (uint)value);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
