using ELFSharp.ELF;
using ELFSharp.ELF.Sections;
using ELFSharp.ELF.Segments;
using Portal.Abi;

namespace Portal.FunctionHooks;

/// <summary>A function found in an ELF file: where it is in memory and in the file.</summary>
/// <param name="Symbol">Its name.</param>
/// <param name="Address">Its virtual address as linked (for a shared library: relative to its load address).</param>
/// <param name="FileOffset">Where its first instruction is in the file: what the guest's uprobes need.</param>
/// <param name="Size">Its size in bytes, as the symbol table says (0 when unknown).</param>
public sealed record ResolvedFunction(string Symbol, ulong Address, ulong FileOffset, ulong Size);

/// <summary>
/// Finds a function's file offset from an ELF file's symbol tables (<c>.symtab</c>, then <c>.dynsym</c>)
/// and program headers, with ELFSharp, and refuses what the guest kernel's uprobes cannot probe on
/// the guest's architecture, saying why (docs/protocol.md §4.6).
/// </summary>
public static class ElfFunctionResolver
{
    /// <summary>Resolves <paramref name="symbol"/> in the ELF file <paramref name="image"/> for a guest of <paramref name="abi"/>.</summary>
    /// <param name="image">The whole file.</param>
    /// <param name="symbol">A function symbol (its name in the symbol table, e.g. "nvram_get").</param>
    /// <param name="abi">The guest's ABI: the file must be for it.</param>
    /// <param name="fileName">The file's name, for messages.</param>
    /// <exception cref="ArgumentException">Not an ELF file of that architecture, no such function, or one the kernel cannot probe.</exception>
    public static ResolvedFunction Resolve(byte[] image, string symbol, GuestAbi abi, string fileName)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(symbol);
        ArgumentNullException.ThrowIfNull(abi);
        using var stream = new MemoryStream(image, writable: false);
        if (!ELFReader.TryLoad(stream, shouldOwnStream: false, out var elf))
            throw new ArgumentException($"{fileName} is not an ELF file: cannot find the function {symbol} in it.");
        using (elf)
        {
            CheckArchitecture(elf, abi, fileName);
            var (address, size, other) = FindSymbol(elf, symbol, fileName);
            CheckProbeable(address, other, abi, symbol, fileName);
            var offset = FileOffsetOf(elf, address, symbol, fileName);
            return new ResolvedFunction(symbol, address, offset, size);
        }
    }

    /// <summary>
    /// Checks a raw file offset for <paramref name="abi"/>: the instruction alignment its uprobes need.
    /// (Whether the offset is inside the file and at an instruction the kernel can single-step only
    /// the guest knows: it refuses with EINVAL or EOPNOTSUPP.)
    /// </summary>
    /// <exception cref="ArgumentException">Misaligned for the architecture.</exception>
    public static void CheckOffset(ulong offset, GuestAbi abi, string fileName)
    {
        ArgumentNullException.ThrowIfNull(abi);
        if (InstructionAlignment(abi) is var alignment and > 1 && offset % alignment != 0)
            throw new ArgumentException(
                $"Offset 0x{offset:x} in {fileName} is not {alignment}-byte aligned: {abi.Name} instructions are, and its uprobes probe only those.");
    }

    private static void CheckArchitecture(IELF elf, GuestAbi abi, string fileName)
    {
        var (machine, @class) = abi.Id switch
        {
            GuestAbiId.X86_64 => (Machine.AMD64, Class.Bit64),
            GuestAbiId.I386 => (Machine.Intel386, Class.Bit32),
            GuestAbiId.MipsEl or GuestAbiId.Mips => (Machine.MIPS, Class.Bit32),
            GuestAbiId.ArmEl => (Machine.ARM, Class.Bit32),
            GuestAbiId.AArch64 => (Machine.AArch64, Class.Bit64),
            _ => throw new ArgumentException($"Function hooks do not know the {abi.Name} ABI."),
        };
        var endianness = abi.IsBigEndian ? ELFSharp.Endianess.BigEndian : ELFSharp.Endianess.LittleEndian;
        if (elf.Machine != machine || elf.Class != @class || elf.Endianess != endianness)
            throw new ArgumentException(
                $"{fileName} is a {elf.Class} {elf.Endianess} {elf.Machine} ELF file; a {abi.Name} guest runs {@class} {endianness} {machine} code.");
    }

    /// <summary>
    /// The function's address, size and <c>st_other</c> byte; .symtab first (static and unstripped
    /// binaries), then .dynsym (exported functions).
    /// </summary>
    private static (ulong Address, ulong Size, byte Other) FindSymbol(IELF elf, string symbol, string fileName)
    {
        var tables = elf.GetSections<ISymbolTable>().OrderBy(table => ((ISection)table).Type == SectionType.SymbolTable ? 0 : 1).ToList();
        if (tables.Count == 0)
            throw new ArgumentException($"{fileName} has no symbol table (it is stripped): give the function's file offset instead of its name.");
        ISymbolEntry? other = null;
        foreach (var table in tables)
        {
            var index = 0;
            foreach (var entry in table.Entries)
            {
                if (entry.Name == symbol && !entry.IsPointedIndexSpecial && entry.PointedSectionIndex != 0)
                {
                    if (entry.Type == SymbolType.Function)
                        return entry switch
                        {
                            SymbolEntry<uint> narrow => (narrow.Value, narrow.Size, OtherByte((ISection)table, index, 16, 13)),
                            SymbolEntry<ulong> wide => (wide.Value, wide.Size, OtherByte((ISection)table, index, 24, 5)),
                            _ => throw new ArgumentException($"{symbol} in {fileName}: unexpected symbol entry {entry.GetType().Name}."),
                        };
                    other ??= entry;
                }
                index++;
            }
        }
        throw new ArgumentException(other is null
            ? $"{fileName} defines no symbol {symbol}."
            : $"{symbol} in {fileName} is a {other.Type} symbol, not a function.");
    }

    /// <summary>
    /// A symbol's <c>st_other</c> byte, which ELFSharp reduces to its visibility bits: MIPS keeps the
    /// microMIPS and MIPS16 marks there (STO_MICROMIPS, STO_MIPS16), so it is read from the table's bytes.
    /// </summary>
    private static byte OtherByte(ISection table, int index, int entrySize, int offset)
    {
        var contents = table.GetContents();
        var at = (long)index * entrySize + offset;
        return at < contents.Length ? contents[at] : (byte)0;
    }

    private static void CheckProbeable(ulong address, byte other, GuestAbi abi, string symbol, string fileName)
    {
        // Bit 0 of a function symbol marks Thumb code on ARM; on MIPS st_other marks MIPS16 (0xf0) and
        // microMIPS (0x80) code, and linked addresses may also carry bit 0. The kernels' uprobes place only
        // ARM and standard MIPS breakpoints (arch/arm/probes/uprobes, arch/mips/kernel/uprobes.c).
        const byte MipsCompressed = 0x80;
        if ((address & 1) != 0 && abi.Id is GuestAbiId.ArmEl)
            throw new ArgumentException($"{symbol} in {fileName} is Thumb code: the ARM kernel's uprobes cannot probe Thumb instructions.");
        if (((address & 1) != 0 || (other & MipsCompressed) != 0) && abi.Id is GuestAbiId.MipsEl or GuestAbiId.Mips)
            throw new ArgumentException($"{symbol} in {fileName} is MIPS16 or microMIPS code: the MIPS kernel's uprobes probe only standard MIPS instructions.");
        if (InstructionAlignment(abi) is var alignment and > 1 && address % alignment != 0)
            throw new ArgumentException($"{symbol} in {fileName} is at 0x{address:x}, which is not {alignment}-byte aligned as {abi.Name} instructions are.");
    }

    /// <summary>The file offset of <paramref name="address"/>: inside an executable PT_LOAD segment's file bytes.</summary>
    private static ulong FileOffsetOf(IELF elf, ulong address, string symbol, string fileName)
    {
        foreach (var segment in elf.Segments)
        {
            if (segment.Type != SegmentType.Load)
                continue;
            var (start, offset, fileSize) = segment switch
            {
                Segment<uint> narrow => ((ulong)narrow.Address, (ulong)narrow.Offset, (ulong)narrow.FileSize),
                Segment<ulong> wide => (wide.Address, (ulong)wide.Offset, (ulong)wide.FileSize),
                _ => (0UL, 0UL, 0UL),
            };
            if (address < start || address - start >= fileSize)
                continue;
            return segment.Flags.HasFlag(SegmentFlags.Execute)
                ? offset + (address - start)
                : throw new ArgumentException($"{symbol} in {fileName} (0x{address:x}) lies in a segment that is not executable.");
        }
        throw new ArgumentException($"{symbol} in {fileName} (0x{address:x}) lies in no loadable segment of the file.");
    }

    private static uint InstructionAlignment(GuestAbi abi) => abi.Id switch
    {
        GuestAbiId.MipsEl or GuestAbiId.Mips or GuestAbiId.ArmEl or GuestAbiId.AArch64 => 4,
        _ => 1,
    };
}
