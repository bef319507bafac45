using System.Buffers.Binary;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Channels;
using Portal.Guests;
using Portal.Protocol;
using Portal.Testing.Programs;

namespace Portal.Testing.Tests;

/// <summary>
/// The emulated guest's QUERY and QUERY_PAGE refusals (docs/protocol.md §3.4), written byte by byte on the
/// control slot, the way a hostile or buggy host would send them. Big-endian MIPS: its errno numbers differ
/// from x86's (ESTALE is 70, not 116), so an answer in the wrong numbering shows.
/// </summary>
[TestClass]
public sealed class QueryWireTests
{
    private const ulong Processes = 1, Mappings = 2, Files = 3, Paths = 4, FileRead = 5, FileWrite = 6, Directory = 7, Stat = 8;
    private static readonly GuestAbi Abi = GuestAbi.Mips;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>Each kind's parameters, valid; the malformed cases below change one field of these.</summary>
    private static readonly (string Name, ulong Kind, byte[] Parameters)[] ValidQueries =
    [
        ("processes", Processes, PidAndFlags(256, 0)),
        ("mappings", Mappings, MappingsParameters(1, 0, 0)),
        ("files", Files, PidAndFlags(1, 0)),
        ("paths", Paths, PidAndFlags(1, 0)),
        ("file read", FileRead, FileReadParameters(0, 100, "/proc/version")),
        ("file write", FileWrite, FileWriteParameters(0, 1, 0x1a4, "/tmp/written", "abc"u8.ToArray())),
        ("directory", Directory, PathParameters("/", 0)),
        ("stat", Stat, PathParameters("/", 0)),
    ];

    private static readonly (string Name, ulong Kind, byte[] Parameters)[] MalformedQueries =
    [
        ("kind 0", 0, PidAndFlags(256, 0)),
        ("kind 9", 9, PidAndFlags(256, 0)),
        ("processes: argv_max 4097", Processes, PidAndFlags(4097, 0)),
        ("processes: flags", Processes, PidAndFlags(256, 1)),
        ("mappings: unknown flag", Mappings, MappingsParameters(1, 2, 0)),
        ("files: flags", Files, PidAndFlags(1, 1)),
        ("paths: flags", Paths, PidAndFlags(1, 0x8000_0000)),
        ("file read: max_length 0", FileRead, FileReadParameters(0, 0, "/proc/version")),
        ("file read: max_length over 1 MiB", FileRead, FileReadParameters(0, (1 << 20) + 1, "/proc/version")),
        ("file read: offset past LLONG_MAX", FileRead, FileReadParameters(1UL << 63, 100, "/proc/version")),
        ("file read: path_length 0", FileRead, FileReadParameters(0, 100, "")),
        ("file read: path_length 4001", FileRead, FileReadParameters(0, 100, "/" + new string('a', 4000))),
        ("file read: relative path", FileRead, FileReadParameters(0, 100, "proc/version")),
        ("file read: NUL in the path", FileRead, FileReadParameters(0, 100, "/proc\0version")),
        ("file write: unknown flag", FileWrite, FileWriteParameters(0, 8, 0x1a4, "/tmp/written", "abc"u8.ToArray())),
        ("file write: mode over 07777", FileWrite, FileWriteParameters(0, 1, 0x1000, "/tmp/written", "abc"u8.ToArray())),
        ("file write: offset past LLONG_MAX", FileWrite, FileWriteParameters(1UL << 63, 1, 0x1a4, "/tmp/written", "abc"u8.ToArray())),
        ("file write: relative path", FileWrite, FileWriteParameters(0, 1, 0x1a4, "tmp/written", "abc"u8.ToArray())),
        ("directory: flags", Directory, PathParameters("/", 1)),
        ("directory: NUL in the path", Directory, PathParameters("/tmp\0", 0)),
        ("stat: unknown flag", Stat, PathParameters("/", 2)),
        ("stat: path_length 4001", Stat, PathParameters("/" + new string('a', 4000), 0)),
    ];

    [TestMethod]
    public async Task Malformed_parameters_are_einval_and_the_same_requests_well_formed_are_served()
    {
        await using var guest = new EmulatedGuest(Abi);
        var control = guest.Connection.Control;
        var einval = (ulong)Abi.ToNativeErrno(GuestErrno.EINVAL);
        foreach (var (name, kind, parameters) in ValidQueries)
        {
            var answer = await QueryAsync(control, kind, parameters);
            Assert.AreEqual((ulong)PortalResponse.ExtOk, answer.Response, $"{name}: a valid query is served (errno {answer.Addr})");
            // One byte more or less than the kind's parameters is malformed too.
            AssertRefused(einval, await QueryAsync(control, kind, [.. parameters, 0]), $"{name} with a byte too many");
            AssertRefused(einval, await QueryAsync(control, kind, parameters[..^1]), $"{name} with a byte too few");
        }
        foreach (var (name, kind, parameters) in MalformedQueries)
            AssertRefused(einval, await QueryAsync(control, kind, parameters), name);
        // A parameter length beyond the region's data.
        AssertRefused(einval, await QueryAsync(control, Processes, PidAndFlags(256, 0), size: 4073), "size 4073");
        // The longest path is 4000 bytes: it is looked up (and not found), not refused.
        var longest = await QueryAsync(control, Stat, PathParameters("/" + new string('a', 3999), 0));
        AssertRefused((ulong)Abi.ToNativeErrno(GuestErrno.ENAMETOOLONG), longest, "a 4000-byte path is a lookup's problem");
    }

    [TestMethod]
    public async Task Query_and_query_page_are_eperm_on_a_slot_that_holds_a_syscall()
    {
        await using var guest = new EmulatedGuest(Abi);
        await RegisterGetpidHookAsync(guest);
        using var sink = new QueryingSink(guest.Connection);
        var run = await guest.RunAsync(GuestCommand.Of(PortalSelfTest.Name, "getpid"), TestContext.CancellationToken);
        StringAssert.StartsWith(run.Output, "pid=", "the syscall completed after the refusals");
        var eperm = (ulong)Abi.ToNativeErrno(GuestErrno.EPERM);
        AssertRefused(eperm, sink.QueryAnswer!.Value, "QUERY on the vCPU slot");
        AssertRefused(eperm, sink.PageAnswer!.Value, "QUERY_PAGE on the vCPU slot");
        // The control slot still serves it.
        Assert.AreEqual((ulong)PortalResponse.ExtOk, (await QueryAsync(guest.Connection.Control, Processes, PidAndFlags(256, 0))).Response);
    }

    [TestMethod]
    public async Task Only_the_held_result_has_pages_and_it_is_freed_by_a_new_query_or_its_last_page()
    {
        await using var guest = new EmulatedGuest(Abi);
        guest.AddFile("/etc/big.bin", new byte[20_000]);        // five pages of result
        var control = guest.Connection.Control;
        var estale = (ulong)Abi.ToNativeErrno(GuestErrno.ESTALE);
        var einval = (ulong)Abi.ToNativeErrno(GuestErrno.EINVAL);

        var first = await QueryAsync(control, FileRead, FileReadParameters(0, 1 << 20, "/etc/big.bin"));
        Assert.AreEqual((ulong)PortalResponse.ExtOk, first.Response);
        Assert.AreEqual(16UL + 4056, first.Size);
        Assert.AreEqual(20_000UL, BinaryPrimitives.ReadUInt64LittleEndian(first.Data), "total");
        var id = first.Addr;
        AssertRefused(estale, await PageAsync(control, id + 1, 4056), "an id that was never given");
        AssertRefused(einval, await PageAsync(control, id, 20_000), "offset = total");
        AssertRefused(einval, await PageAsync(control, id, 4056, size: 16), "size 16");
        var second = await PageAsync(control, id, 4056);
        Assert.AreEqual((ulong)PortalResponse.ExtOk, second.Response, "the refusals left the result held");
        Assert.AreEqual(id, second.Addr);
        Assert.AreEqual(4056UL, BinaryPrimitives.ReadUInt64LittleEndian(second.Data.AsSpan(8)), "offset echoed");

        // A new query replaces the held result; its id is a new, larger one.
        var replacement = await QueryAsync(control, FileRead, FileReadParameters(0, 1 << 20, "/etc/big.bin"));
        Assert.IsGreaterThan(id, replacement.Addr);
        AssertRefused(estale, await PageAsync(control, id, 8112), "the replaced result");
        // The last page frees it: asking again is stale.
        var last = await PageAsync(control, replacement.Addr, 16_224);
        Assert.AreEqual(16UL + 20_000 - 16_224, last.Size);
        AssertRefused(estale, await PageAsync(control, replacement.Addr, 0), "freed after its last page");
        // A one-page result is freed by its first page.
        var small = await QueryAsync(control, Stat, PathParameters("/", 0));
        Assert.AreEqual(16UL + 56, small.Size);
        AssertRefused(estale, await PageAsync(control, small.Addr, 0), "a result that fit its first page");
        // A failed query frees the held result too.
        var held = await QueryAsync(control, FileRead, FileReadParameters(0, 1 << 20, "/etc/big.bin"));
        AssertRefused((ulong)Abi.ToNativeErrno(GuestErrno.ENOENT), await QueryAsync(control, Stat, PathParameters("/nope", 0)), "a missing path");
        AssertRefused(estale, await PageAsync(control, held.Addr, 4056), "replaced by a query that failed");
    }

    [TestMethod]
    public async Task A_result_of_4_MiB_is_served_and_one_record_more_is_e2big()
    {
        await using var guest = new EmulatedGuest(Abi);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        // 16384 entries of 16 + 240 bytes: exactly 4 MiB.
        for (var i = 0; i < 16_384; i++)
            guest.AddFile($"/big/{i:D6}{new string('n', 234)}", []);
        var entries = await session.Files.ListDirectoryAsync("/big", TestContext.CancellationToken);
        Assert.HasCount(16_384, entries);
        guest.AddFile($"/big/{16_384:D6}{new string('n', 234)}", []);
        var error = await Assert.ThrowsExactlyAsync<Memory.GuestOperationException>(() => session.Files.ListDirectoryAsync("/big", TestContext.CancellationToken));
        Assert.AreEqual(GuestErrno.E2BIG, error.Errno);
        Assert.AreEqual(Abi.ToNativeErrno(GuestErrno.E2BIG), error.NativeErrno);
    }

    [TestMethod]
    public async Task Guest_info_offers_query()
    {
        await using var guest = new EmulatedGuest(Abi);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        Assert.IsTrue(session.Guest.Features.HasFlag(GuestFeatures.Query));
    }

    /// <summary>The answer is EXT_FAIL with <paramref name="errno"/> (the guest's number).</summary>
    private static void AssertRefused(ulong errno, Answer answer, string request)
    {
        Assert.AreEqual((ulong)PortalResponse.ExtFail, answer.Response, $"{request}: expected EXT_FAIL, got 0x{answer.Response:x} (addr {answer.Addr})");
        Assert.AreEqual(errno, answer.Addr, $"{request}: errno");
        Assert.AreEqual(0UL, answer.Size, request);
    }

    private static async Task<Answer> QueryAsync(IGuestChannel channel, ulong kind, byte[] parameters, ulong? size = null)
    {
        WriteRequest(channel.Region, PortalOp.Query, kind, parameters, size ?? (ulong)parameters.Length);
        await channel.ExchangeAsync();
        return Answer.Of(channel.Region);
    }

    private static async Task<Answer> PageAsync(IGuestChannel channel, ulong id, ulong offset, ulong size = 8)
    {
        var data = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(data, offset);
        WriteRequest(channel.Region, PortalOp.QueryPage, id, data, size);
        await channel.ExchangeAsync();
        return Answer.Of(channel.Region);
    }

    private static void WriteRequest(Span<byte> region, PortalOp op, ulong addr, ReadOnlySpan<byte> data, ulong size)
    {
        region.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(region, (ulong)op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], size);
        data.CopyTo(region[24..]);
    }

    private static byte[] PidAndFlags(uint first, uint flags)
    {
        var p = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(p, first);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(4), flags);
        return p;
    }

    private static byte[] MappingsParameters(uint pid, uint flags, ulong address) => [.. PidAndFlags(pid, flags), .. U64(address)];

    private static byte[] FileReadParameters(ulong offset, uint maxLength, string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        return [.. U64(offset), .. U32(maxLength), .. U32((uint)bytes.Length), .. bytes];
    }

    private static byte[] FileWriteParameters(ulong offset, uint flags, uint mode, string path, byte[] data)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        return [.. U64(offset), .. U32(flags), .. U32(mode), .. U32((uint)bytes.Length), .. U32((uint)data.Length), .. bytes, .. data];
    }

    private static byte[] PathParameters(string path, uint flags)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        return [.. U32((uint)bytes.Length), .. U32(flags), .. bytes];
    }

    private static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>HOOK_REGISTER written byte by byte: getpid, enter, no filter.</summary>
    private static async Task RegisterGetpidHookAsync(EmulatedGuest guest)
    {
        var control = guest.Connection.Control;
        var descriptor = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor, (uint)Abi.Syscalls.GetNumber("getpid"));
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor.AsSpan(4), 1);      // enter
        WriteRequest(control.Region, PortalOp.HookRegister, 0, descriptor, 64);
        await control.ExchangeAsync();
        Assert.AreEqual((ulong)PortalResponse.ExtOk, BinaryPrimitives.ReadUInt64LittleEndian(control.Region));
    }

    /// <summary>The response in a region: op, addr, size and the data bytes.</summary>
    private readonly record struct Answer(ulong Response, ulong Addr, ulong Size, byte[] Data)
    {
        public static Answer Of(ReadOnlySpan<byte> region)
        {
            var size = BinaryPrimitives.ReadUInt64LittleEndian(region[16..]);
            return new Answer(BinaryPrimitives.ReadUInt64LittleEndian(region), BinaryPrimitives.ReadUInt64LittleEndian(region[8..]), size,
                region.Slice(24, (int)Math.Min(size, 4072)).ToArray());
        }
    }

    /// <summary>A raw sink that, holding an event, sends QUERY and QUERY_PAGE on the event's own slot, then an empty verdict.</summary>
    private sealed class QueryingSink : IGuestEventSink, IDisposable
    {
        private readonly IDisposable _attachment;

        public QueryingSink(IGuestConnection connection) => _attachment = connection.Attach(this);

        public Answer? QueryAnswer { get; private set; }

        public Answer? PageAnswer { get; private set; }

        public async ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            var eventId = BinaryPrimitives.ReadUInt64LittleEndian(channel.Region[8..]);
            QueryAnswer = await QueryAsync(channel, Processes, PidAndFlags(256, 0));
            PageAnswer = await PageAsync(channel, 1, 0);
            WriteRequest(channel.Region, PortalOp.Verdict, eventId, new byte[72], 72);
            channel.ReleaseToGuest();
        }

        public void Dispose() => _attachment.Dispose();
    }
}
