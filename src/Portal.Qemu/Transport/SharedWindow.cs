using System.IO.MemoryMappedFiles;
using System.Text;

namespace Portal.Qemu.Transport;

/// <summary>
/// The shared window of docs/protocol.md §5: a range of guest RAM (the guest kernel reserved it with
/// <c>memmap=</c>) seen through the host file that backs the guest's RAM.
/// </summary>
internal sealed unsafe class SharedWindow : IDisposable
{
    public const int HeaderSize = 4096;
    public const int SlotStride = 8192;
    public const int ReadyState = 1;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    private SharedWindow(MemoryMappedFile file, MemoryMappedViewAccessor view, int size)
    {
        _file = file;
        _view = view;
        Size = size;
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
    }

    public int Size { get; }

    /// <summary>Maps <paramref name="size"/> bytes of <paramref name="ramFile"/> at <paramref name="offset"/>.</summary>
    public static SharedWindow Map(string ramFile, long offset, int size)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("The window's control words are little-endian; the host must be too.");
        var file = MemoryMappedFile.CreateFromFile(ramFile, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.ReadWrite);
        try
        {
            return new SharedWindow(file, file.CreateViewAccessor(offset, size, MemoryMappedFileAccess.ReadWrite), size);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public byte* Base => _base;

    public string Magic => Encoding.ASCII.GetString(new ReadOnlySpan<byte>(_base, 8));

    public uint Version => Volatile.Read(ref *(uint*)(_base + 8));

    public uint SlotCount => Volatile.Read(ref *(uint*)(_base + 12));

    public uint Stride => Volatile.Read(ref *(uint*)(_base + 16));

    /// <summary>0 not ready, 1 ready, 2 unloading (read with acquire: the layout is valid once it says 1).</summary>
    public uint State => Volatile.Read(ref *(uint*)(_base + 20));

    /// <summary>Non-zero while a host is attached.</summary>
    public ulong HostSession
    {
        get => Volatile.Read(ref *(ulong*)(_base + 64));
        set => Volatile.Write(ref *(ulong*)(_base + 64), value);
    }

    /// <summary>Address of slot <paramref name="index"/> in this process.</summary>
    public nint Slot(int index)
    {
        if (index < 0 || HeaderSize + (long)SlotStride * (index + 1) > Size)
            throw new ArgumentOutOfRangeException(nameof(index), index, "Slot outside the window.");
        return (nint)(_base + HeaderSize + SlotStride * index);
    }

    public void Dispose()
    {
        if (_base == null)
            return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
