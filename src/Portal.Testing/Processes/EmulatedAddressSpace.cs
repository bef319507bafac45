using Portal.Abi;

namespace Portal.Testing.Processes;

/// <summary>Page permissions.</summary>
[Flags]
public enum PageProtection
{
    /// <summary>Mapped but inaccessible.</summary>
    None = 0,
    /// <summary>Readable.</summary>
    Read = 1,
    /// <summary>Writable.</summary>
    Write = 2,
    /// <summary>Readable and writable.</summary>
    ReadWrite = Read | Write,
}

/// <summary>The file a page's bytes came from: its path, inode, the file offset of the page, and whether the mapping is shared.</summary>
internal readonly record struct FileOrigin(string Path, ulong Inode, ulong Offset, bool Shared);

/// <summary>
/// A run of mapped pages with the same protection and the same origin (anonymous, or consecutive pages of
/// one file): what <c>/proc/&lt;pid&gt;/maps</c> shows as one line. <see cref="Origin"/> is that of
/// <see cref="Start"/>.
/// </summary>
internal readonly record struct MemoryRun(ulong Start, ulong End, PageProtection Protection, FileOrigin? Origin);

/// <summary>A process touched memory it may not touch (the emulated program would have crashed).</summary>
public sealed class SegmentationFaultException(ulong address, string access)
    : Exception($"Segmentation fault: {access} at 0x{address:x}.")
{
    /// <summary>The faulting address.</summary>
    public ulong Address { get; } = address;
}

/// <summary>
/// A process's virtual memory: pages with permissions. Unmapped pages fault. The kernel-side copies
/// behave like <c>copy_from_user</c>/<c>copy_to_user</c>: they stop at the first inaccessible byte
/// and report how much they copied, so partial reads and writes are exact.
/// </summary>
public sealed class EmulatedAddressSpace
{
    private readonly Dictionary<ulong, Page> _pages = [];
    private readonly Lock _lock = new();
    private ulong _nextMapping;

    internal EmulatedAddressSpace(GuestAbi abi)
    {
        Abi = abi;
        PageSize = abi.PageSize;
        // Below the user limit with room to spare; the first page (address 0) is never mapped.
        _nextMapping = abi.PointerSize == 4 ? 0x1000_0000UL : 0x7f00_0000_0000UL;
    }

    /// <summary>The ABI (byte order, pointer size, user address limit).</summary>
    public GuestAbi Abi { get; }

    /// <summary>Page size in bytes.</summary>
    public int PageSize { get; }

    /// <summary>Maps fresh zeroed pages (like anonymous <c>mmap</c>) and returns their address.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Zero length, or the range leaves user space.</exception>
    public ulong Map(ulong length, PageProtection protection, ulong? fixedAddress = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        lock (_lock)
        {
            var size = RoundUp(length);
            var start = fixedAddress ?? _nextMapping;
            if (start % (ulong)PageSize != 0 || start == 0 || start + size > Abi.UserAddressLimit || start + size < start)
                throw new ArgumentOutOfRangeException(nameof(fixedAddress), $"Cannot map 0x{size:x} bytes at 0x{start:x} on {Abi.Name}.");
            for (var page = start; page < start + size; page += (ulong)PageSize)
                _pages[page / (ulong)PageSize] = new Page(new byte[PageSize], protection);
            if (fixedAddress is null)
                _nextMapping = start + size + (ulong)PageSize;   // leave an unmapped guard page between mappings
            return start;
        }
    }

    /// <summary>
    /// Maps pages holding <paramref name="content"/> then zeros (like a file-backed <c>mmap</c>, by copy),
    /// each page remembering its place in the file <paramref name="origin"/> names; returns their address.
    /// </summary>
    internal ulong MapFile(ulong length, PageProtection protection, ReadOnlySpan<byte> content, FileOrigin origin)
    {
        lock (_lock)
        {
            var start = Map(length, protection);
            for (var offset = 0UL; offset < RoundUp(length); offset += (ulong)PageSize)
            {
                var key = (start + offset) / (ulong)PageSize;
                var page = _pages[key];
                if (offset < (ulong)content.Length)
                    content[(int)offset..(int)Math.Min((ulong)content.Length, offset + (ulong)PageSize)].CopyTo(page.Data);
                _pages[key] = page with { Origin = origin with { Offset = origin.Offset + offset } };
            }
            return start;
        }
    }

    /// <summary>The mapped memory as runs of like pages, by address (MAPPINGS, docs/protocol.md §3.4).</summary>
    internal List<MemoryRun> Runs()
    {
        var runs = new List<MemoryRun>();
        lock (_lock)
        {
            var size = (ulong)PageSize;
            foreach (var key in _pages.Keys.Order())
            {
                var page = _pages[key];
                if (runs.Count > 0 && runs[^1] is var last && last.End == key * size && Continues(last, page))
                    runs[^1] = last with { End = last.End + size };
                else
                    runs.Add(new MemoryRun(key * size, (key + 1) * size, page.Protection, page.Origin));
            }
        }
        return runs;

        // The page extends the run: same protection, and both anonymous or the next page of the same file.
        static bool Continues(MemoryRun run, Page page) =>
            run.Protection == page.Protection && (run.Origin, page.Origin) switch
            {
                (null, null) => true,
                ({ } file, { } next) => file.Path == next.Path && file.Inode == next.Inode && file.Shared == next.Shared
                    && next.Offset == file.Offset + (run.End - run.Start),
                _ => false,
            };
    }

    /// <summary>Unmaps the pages of a range (like <c>munmap</c>); unmapped pages in it are ignored.</summary>
    public void Unmap(ulong address, ulong length)
    {
        lock (_lock)
        {
            foreach (var page in PagesOf(address, length))
                _pages.Remove(page);
        }
    }

    /// <summary>Changes the permissions of a mapped range (like <c>mprotect</c>); false when part of it is unmapped.</summary>
    public bool Protect(ulong address, ulong length, PageProtection protection)
    {
        lock (_lock)
        {
            var pages = PagesOf(address, length).ToList();
            if (pages.Any(p => !_pages.ContainsKey(p)))
                return false;
            foreach (var page in pages)
                _pages[page] = _pages[page] with { Protection = protection };
            return true;
        }
    }

    /// <summary>True when the page holding <paramref name="address"/> is mapped.</summary>
    public bool IsMapped(ulong address)
    {
        lock (_lock)
            return _pages.ContainsKey(address / (ulong)PageSize);
    }

    /// <summary>The process itself writes memory (a C program's store); faults throw.</summary>
    /// <exception cref="SegmentationFaultException">A page is unmapped or not writable.</exception>
    public void Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (CopyToUser(address, data, ignoreProtection: false) != data.Length)
            throw new SegmentationFaultException(address, $"write of {data.Length} bytes");
    }

    /// <summary>The process itself reads memory; faults throw.</summary>
    /// <exception cref="SegmentationFaultException">A page is unmapped or not readable.</exception>
    public void Read(ulong address, Span<byte> destination)
    {
        if (CopyFromUser(address, destination) != destination.Length)
            throw new SegmentationFaultException(address, $"read of {destination.Length} bytes");
    }

    /// <summary>Reads <paramref name="count"/> bytes; faults throw.</summary>
    public byte[] Read(ulong address, int count)
    {
        var bytes = new byte[count];
        Read(address, bytes);
        return bytes;
    }

    /// <summary>Writes a 32-bit integer in the guest's byte order.</summary>
    public void WriteUInt32(ulong address, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        Abi.WriteUInt32(bytes, value);
        Write(address, bytes);
    }

    /// <summary>Writes a 64-bit integer in the guest's byte order.</summary>
    public void WriteUInt64(ulong address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        Abi.WriteUInt64(bytes, value);
        Write(address, bytes);
    }

    /// <summary>Writes a pointer in the guest's size and byte order.</summary>
    public void WritePointer(ulong address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        Abi.WritePointer(bytes, value);
        Write(address, bytes[..Abi.PointerSize]);
    }

    /// <summary>Reads a 32-bit integer in the guest's byte order.</summary>
    public uint ReadUInt32(ulong address) => Abi.ReadUInt32(Read(address, 4));

    /// <summary>Reads a 64-bit integer in the guest's byte order.</summary>
    public ulong ReadUInt64(ulong address) => Abi.ReadUInt64(Read(address, 8));

    /// <summary>Reads a pointer in the guest's size and byte order.</summary>
    public ulong ReadPointer(ulong address) => Abi.ReadPointer(Read(address, Abi.PointerSize));

    /// <summary>Reads a NUL-terminated string (at most <paramref name="maxLength"/> bytes); faults throw.</summary>
    public string ReadCString(ulong address, int maxLength = 4096)
    {
        var bytes = new List<byte>();
        Span<byte> one = stackalloc byte[1];
        for (var i = 0; i < maxLength; i++)
        {
            Read(address + (ulong)i, one);
            if (one[0] == 0)
                break;
            bytes.Add(one[0]);
        }
        return System.Text.Encoding.UTF8.GetString([.. bytes]);
    }

    /// <summary>Writes a string as UTF-8 plus NUL; faults throw.</summary>
    public void WriteCString(ulong address, string value)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(value) + 1];
        System.Text.Encoding.UTF8.GetBytes(value, bytes);
        Write(address, bytes);
    }

    /// <summary>Kernel read of user memory: copies until the first unreadable byte; returns the count.</summary>
    internal int CopyFromUser(ulong address, Span<byte> destination)
    {
        lock (_lock)
        {
            var done = 0;
            while (done < destination.Length)
            {
                var at = address + (ulong)done;
                if (at < address || at >= Abi.UserAddressLimit || !_pages.TryGetValue(at / (ulong)PageSize, out var page)
                    || (page.Protection & PageProtection.Read) == 0)
                    break;
                var offset = (int)(at % (ulong)PageSize);
                var count = Math.Min(PageSize - offset, destination.Length - done);
                page.Data.AsSpan(offset, count).CopyTo(destination[done..]);
                done += count;
            }
            return done;
        }
    }

    /// <summary>
    /// Kernel read of a string: copies until the first unreadable byte, at most <paramref name="destination"/>'s
    /// length; returns the length before the first NUL copied (<paramref name="terminated"/> true), or the
    /// bytes copied when there is none. Used by READ_STR and by the memory filters' stop-at-NUL reads, so a
    /// short string at the end of a mapping reads although the window reaches past it.
    /// </summary>
    internal int CopyStringFromUser(ulong address, Span<byte> destination, out bool terminated)
    {
        var copied = CopyFromUser(address, destination);
        var nul = destination[..copied].IndexOf((byte)0);
        terminated = nul >= 0;
        return terminated ? nul : copied;
    }

    /// <summary>Kernel write of user memory: copies until the first unwritable byte; returns the count.</summary>
    internal int CopyToUser(ulong address, ReadOnlySpan<byte> source, bool ignoreProtection = false)
    {
        lock (_lock)
        {
            var done = 0;
            while (done < source.Length)
            {
                var at = address + (ulong)done;
                if (at < address || at >= Abi.UserAddressLimit || !_pages.TryGetValue(at / (ulong)PageSize, out var page)
                    || (!ignoreProtection && (page.Protection & PageProtection.Write) == 0))
                    break;
                var offset = (int)(at % (ulong)PageSize);
                var count = Math.Min(PageSize - offset, source.Length - done);
                source.Slice(done, count).CopyTo(page.Data.AsSpan(offset));
                done += count;
            }
            return done;
        }
    }

    private IEnumerable<ulong> PagesOf(ulong address, ulong length)
    {
        var first = address / (ulong)PageSize;
        var last = (address + RoundUp(length)) / (ulong)PageSize;
        for (var page = first; page < last; page++)
            yield return page;
    }

    private ulong RoundUp(ulong length) => (length + (ulong)PageSize - 1) / (ulong)PageSize * (ulong)PageSize;

    /// <summary>A page: its bytes, its protection, and the file it was mapped from (null: anonymous memory).</summary>
    private readonly record struct Page(byte[] Data, PageProtection Protection, FileOrigin? Origin = null);
}
