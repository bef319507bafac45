using System.Buffers.Binary;
using System.Text;
using Portal.Abi;
using Portal.Testing.Processes;
using static Portal.Testing.Emulation.GuestWire;

namespace Portal.Testing.Emulation;

/// <summary>
/// Executes one host request in a region, in the context of the held process, the way the kernel
/// module does (docs/protocol.md §3). Never throws on what the host sends: every size and offset is
/// checked, and anything invalid gets the op's failure response.
/// </summary>
internal sealed class OpServer
{
    private readonly EmulatedKernel _kernel;
    private readonly BatchServer _batch;
    private readonly QueryServer _queries;

    public OpServer(EmulatedKernel kernel)
    {
        _kernel = kernel;
        _batch = new BatchServer(this, kernel.Abi);
        _queries = new QueryServer(kernel);
    }

    private GuestAbi Abi => _kernel.Abi;

    /// <summary>
    /// Serves the request if it is one of the seven memory and process ops (what a BATCH entry may
    /// be); false for anything else.
    /// </summary>
    public bool ServeProcessOp(Span<byte> region, EmulatedProcess? held)
    {
        var addr = Addr(region);
        var size = Size(region);
        var data = Data(region);
        switch (Op(region))
        {
            case OpRead: ServeRead(region, data, held, addr, size); return true;
            case OpWrite: ServeWrite(region, data, held, addr, size); return true;
            case OpReadStr: ServeReadStr(region, data, held, addr, size); return true;
            case OpReadFdName: ServeFdName(region, data, held, addr, size); return true;
            case OpReadProcArgs: ServeBlock(region, data, held, addr, size, p => p.Arguments); return true;
            case OpReadProcEnv: ServeBlock(region, data, held, addr, size, p => p.Environment); return true;
            case OpReadProcPid:
                if (held is null)
                    Respond(region, ReadFail, Errno(GuestErrno.ESRCH), 0);
                else
                    Respond(region, ReadNum, (ulong)held.Pid, (ulong)held.Pid);
                return true;
            default:
                return false;
        }
    }

    public void Serve(Span<byte> region, EmulatedProcess? held)
    {
        var op = Op(region);
        var addr = Addr(region);
        var size = Size(region);
        var data = Data(region);
        _kernel.Counters.OpServed();
        if (ServeProcessOp(region, held))
            return;
        switch (op)
        {
            case OpBatch:
                _batch.Serve(region, held);
                break;
            case OpGuestInfo: ServeGuestInfo(region, data); break;
            case OpQuery or OpQueryPage:
                _queries.Serve(region, held);
                break;
            case OpHookRegister:
                var id = size > DataCapacity ? -(long)Errno(GuestErrno.EINVAL) : _kernel.Hooks.Register(data, (int)size, Abi);
                Respond(region, id > 0 ? ExtOk : ExtFail, id > 0 ? (ulong)id : (ulong)-id, 0);
                break;
            case OpHookUnregister:
                if (_kernel.Hooks.Unregister(addr))
                    Respond(region, ExtOk, addr, 0);
                else
                    Respond(region, ExtFail, Errno(GuestErrno.ENOENT), 0);
                break;
            case OpHookReset:
                Respond(region, ExtOk, (ulong)_kernel.Hooks.Reset(), 0);
                break;
            case OpPing:
                Respond(region, ExtOk, addr, 0);
                break;
            case OpStats:
                var counters = _kernel.Counters.Snapshot();
                for (var i = 0; i < counters.Length; i++)
                    BinaryPrimitives.WriteUInt64LittleEndian(data[(8 * i)..], (ulong)counters[i]);
                Respond(region, ExtOk, 0, (ulong)(8 * counters.Length));
                break;
            case OpVerdict:
                // A verdict is handed back, not exchanged; sent as an exchange it is a host error.
                Respond(region, ExtFail, Errno(GuestErrno.EINVAL), 0);
                break;
            default:
                Respond(region, ExtFail, Errno(GuestErrno.ENOSYS), 0);
                break;
        }
    }

    private void ServeRead(Span<byte> region, Span<byte> data, EmulatedProcess? held, ulong addr, ulong size)
    {
        if (held is null) { Respond(region, ReadFail, Errno(GuestErrno.ESRCH), 0); return; }
        if (size > DataCapacity) { Respond(region, ReadFail, Errno(GuestErrno.EINVAL), 0); return; }
        RespondCopied(region, addr, size, held.Memory.CopyFromUser(addr, data[..(int)size]));
    }

    /// <summary>A read's answer from how much of it was copied: all, some (then a fault), or nothing.</summary>
    private void RespondCopied(Span<byte> region, ulong addr, ulong size, int copied)
    {
        if (copied == (int)size)
            Respond(region, ReadOk, addr, size);
        else if (copied > 0)
            Respond(region, ReadPartial, Errno(GuestErrno.EFAULT), (ulong)copied);
        else
            Respond(region, ReadFail, Errno(GuestErrno.EFAULT), 0);
    }

    private void ServeWrite(Span<byte> region, Span<byte> data, EmulatedProcess? held, ulong addr, ulong size)
    {
        if (held is null) { Respond(region, WriteFail, Errno(GuestErrno.ESRCH), 0); return; }
        if (size > DataCapacity) { Respond(region, WriteFail, Errno(GuestErrno.EINVAL), 0); return; }
        var copied = held.Memory.CopyToUser(addr, data[..(int)size]);
        if (copied == (int)size)
            Respond(region, WriteOk, addr, size);
        else
            Respond(region, WriteFail, Errno(GuestErrno.EFAULT), (ulong)copied);
    }

    private void ServeReadStr(Span<byte> region, Span<byte> data, EmulatedProcess? held, ulong addr, ulong size)
    {
        if (held is null) { Respond(region, ReadFail, Errno(GuestErrno.ESRCH), 0); return; }
        if (size is 0 or > DataCapacity) { Respond(region, ReadFail, Errno(GuestErrno.EINVAL), 0); return; }
        var copied = held.Memory.CopyStringFromUser(addr, data[..(int)size], out var terminated);
        if (terminated)
            Respond(region, ReadOk, addr, (ulong)copied);
        else
            RespondCopied(region, addr, size, copied);       // all of it, no NUL in the window: the host continues
    }

    private void ServeFdName(Span<byte> region, Span<byte> data, EmulatedProcess? held, ulong addr, ulong size)
    {
        if (held is null) { Respond(region, ReadFail, Errno(GuestErrno.ESRCH), 0); return; }
        if (size is 0 or > DataCapacity) { Respond(region, ReadFail, Errno(GuestErrno.EINVAL), 0); return; }
        var fd = (long)addr;
        OpenFile? file = null;
        lock (held.Files)
        {
            if (fd is >= 0 and <= int.MaxValue)
                held.Files.TryGetValue((int)fd, out file);
        }
        if (file is null) { Respond(region, ReadFail, Errno(GuestErrno.EBADF), 0); return; }
        var name = Encoding.UTF8.GetBytes(file.Path);
        var count = Math.Min(name.Length, (int)size);
        name.AsSpan(0, count).CopyTo(data);
        Respond(region, count == name.Length ? ReadOk : ReadPartial, count == name.Length ? addr : Errno(GuestErrno.ENAMETOOLONG), (ulong)count);
    }

    private void ServeBlock(Span<byte> region, Span<byte> data, EmulatedProcess? held, ulong offset, ulong size,
        Func<EmulatedProcess, IEnumerable<string>> strings)
    {
        if (held is null) { Respond(region, ReadFail, Errno(GuestErrno.ESRCH), 0); return; }
        var block = EmulatedProcess.Block(strings(held));
        if (size is 0 or > DataCapacity || offset > (ulong)block.Length) { Respond(region, ReadFail, Errno(GuestErrno.EINVAL), 0); return; }
        var count = (int)Math.Min(size, (ulong)block.Length - offset);
        block.AsSpan((int)offset, count).CopyTo(data);
        Respond(region, ReadOk, (ulong)block.Length, (ulong)count);
    }

    private void ServeGuestInfo(Span<byte> region, Span<byte> data)
    {
        data[..96].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(data, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], (uint)Abi.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(data[8..], (uint)Abi.PointerSize);
        BinaryPrimitives.WriteUInt32LittleEndian(data[12..], Abi.IsBigEndian ? 1u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(data[16..], (uint)Abi.PageSize);
        BinaryPrimitives.WriteUInt32LittleEndian(data[20..], (uint)_kernel.CpuCount);
        BinaryPrimitives.WriteUInt32LittleEndian(data[24..], (uint)_kernel.Hooks.Capacity);
        // verdict writes (bit 0), BATCH (bit 1, optional), verdict reports (bit 2), filters v2 (bit 3), QUERY (bit 4), scope filters (bit 5)
        BinaryPrimitives.WriteUInt32LittleEndian(data[28..], _kernel.OffersBatch ? 0x3fu : 0x3du);
        var release = Encoding.UTF8.GetBytes(_kernel.KernelRelease);
        release.AsSpan(0, Math.Min(63, release.Length)).CopyTo(data[32..]);
        Respond(region, ExtOk, 0, 96);
    }

    public ulong Errno(GuestErrno errno) => (ulong)Abi.ToNativeErrno(errno);
}
