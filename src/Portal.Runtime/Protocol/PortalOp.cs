namespace Portal.Protocol;

/// <summary>Request codes the host writes into a region's <c>op</c> (docs/protocol.md §3).</summary>
public enum PortalOp : ulong
{
    /// <summary>No operation.</summary>
    None = 0,
    /// <summary>Read guest memory.</summary>
    Read = 1,
    /// <summary>Write guest memory.</summary>
    Write = 2,
    /// <summary>Path of a file descriptor of the held process.</summary>
    ReadFdName = 3,
    /// <summary>A chunk of the held process's argument block.</summary>
    ReadProcArgs = 4,
    /// <summary>A NUL-terminated string (one window of it).</summary>
    ReadStr = 6,
    /// <summary>A chunk of the held process's environment block.</summary>
    ReadProcEnv = 8,
    /// <summary>Process and thread id of the held process.</summary>
    ReadProcPid = 9,
    /// <summary>Extension: describe the guest (ABI, slots, kernel).</summary>
    GuestInfo = 0x100,
    /// <summary>Extension: install a hook (syscall + filters).</summary>
    HookRegister = 0x101,
    /// <summary>Extension: remove a hook.</summary>
    HookUnregister = 0x102,
    /// <summary>Extension: the host's last word on an event; not answered.</summary>
    Verdict = 0x103,
    /// <summary>Extension: many memory and process operations in one exchange, with pointer chasing.</summary>
    Batch = 0x104,
    /// <summary>Extension: round trip with no work (latency measurement).</summary>
    Ping = 0x105,
    /// <summary>Extension: the guest's counters.</summary>
    Stats = 0x106,
    /// <summary>Extension: remove every hook.</summary>
    HookReset = 0x107,
    /// <summary>Extension: run an introspection query (processes, mappings, files) on the control slot; the first page of its result.</summary>
    Query = 0x108,
    /// <summary>Extension: another page of the query result the guest holds.</summary>
    QueryPage = 0x109,
}

/// <summary>Response codes the guest writes into a region's <c>op</c> (docs/protocol.md §3).</summary>
public enum PortalResponse : ulong
{
    /// <summary>Read succeeded.</summary>
    ReadOk = 0xf000_0001,
    /// <summary>Read failed; <c>addr</c> holds the errno.</summary>
    ReadFail = 0xf000_0002,
    /// <summary>Read stopped early; <c>size</c> bytes came back, <c>addr</c> holds the errno.</summary>
    ReadPartial = 0xf000_0003,
    /// <summary>Write succeeded.</summary>
    WriteOk = 0xf000_0004,
    /// <summary>Write failed; <c>addr</c> holds the errno, <c>size</c> the bytes written before the fault.</summary>
    WriteFail = 0xf000_0005,
    /// <summary>A number in <c>addr</c> (and <c>size</c>).</summary>
    ReadNum = 0xf000_0006,
    /// <summary>A syscall event (guest to host, unasked).</summary>
    Event = 0xf000_0100,
    /// <summary>Extension request succeeded.</summary>
    ExtOk = 0xf000_0101,
    /// <summary>Extension request failed; <c>addr</c> holds the errno.</summary>
    ExtFail = 0xf000_0102,
    /// <summary>BATCH executed; <c>addr</c> holds the result count, <c>size</c> the response length.</summary>
    BatchOk = 0xf000_0103,
}
