using System.Buffers.Binary;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Introspection;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>
/// The introspection decoders (QUERY pages and records, docs/protocol.md §3.4) against a guest that
/// lies: every lie is a <see cref="PortalProtocolException"/> naming the field, never data.
/// </summary>
[TestClass]
public sealed class HostileQueryTests
{
    private const int PageBytes = 4056;

    /// <summary>
    /// A session whose guest serves QUERY with <paramref name="result"/> (paged as the protocol says)
    /// and lets <paramref name="lie"/> change each page after it is written.
    /// </summary>
    private static async Task<(PortalSession Session, ScriptedConnection Connection)> SessionAsync(byte[] result,
        Action<byte[], long>? lie = null, GuestFeatures features = GuestFeatures.Query)
    {
        var cooperative = Answer.CooperativeControl(GuestAbi.X86_64);
        var connection = new ScriptedConnection(region =>
        {
            switch ((PortalOp)Answer.Op(region))
            {
                case PortalOp.GuestInfo:
                    Answer.GuestInfo(region, GuestAbi.X86_64, features: features);
                    break;
                case PortalOp.Query or PortalOp.QueryPage:
                    var offset = (PortalOp)Answer.Op(region) == PortalOp.Query ? 0 : BinaryPrimitives.ReadInt64LittleEndian(Answer.Data(region));
                    var count = (int)Math.Min(PageBytes, result.Length - offset);
                    var data = Answer.Data(region);
                    BinaryPrimitives.WriteUInt64LittleEndian(data, (ulong)result.Length);
                    BinaryPrimitives.WriteUInt64LittleEndian(data[8..], (ulong)offset);
                    result.AsSpan((int)offset, count).CopyTo(data[16..]);
                    Answer.Header(region, (ulong)PortalResponse.ExtOk, 7, (ulong)(16 + count));
                    lie?.Invoke(region, offset);
                    break;
                default:
                    cooperative(region);
                    break;
            }
        });
        return (await PortalSession.AttachAsync(connection), connection);
    }

    private static async Task<string> ProtocolErrorAsync(byte[] result, Func<PortalSession, Task> query, Action<byte[], long>? lie = null)
    {
        var (session, _) = await SessionAsync(result, lie);
        await using (session)
            return (await Assert.ThrowsExactlyAsync<PortalProtocolException>(() => query(session))).Message;
    }

    // ---- records, as a guest writes them ----

    private static byte[] Record(int fixedLength, ReadOnlySpan<byte> strings, Action<byte[]> fields, int? length = null)
    {
        var record = new byte[Math.Max(length ?? 0, (fixedLength + strings.Length + 7) / 8 * 8)];
        strings.CopyTo(record.AsSpan(fixedLength));
        BinaryPrimitives.WriteUInt16LittleEndian(record, (ushort)(length ?? record.Length));
        fields(record);
        return record;
    }

    private static byte[] Process(int pid, string argv = "", char state = 'S', uint flags = 0, int ppid = 1, int? length = null) =>
        Record(64, Encoding.ASCII.GetBytes(argv), r =>
        {
            BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(2), (ushort)argv.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(4), flags);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), (uint)pid);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(12), (uint)ppid);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), 1);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), state);
            BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(40), 1_500_000_000);
            "proc"u8.CopyTo(r.AsSpan(48));
        }, length);

    private static byte[] Mapping(ulong start, ulong end, string path = "", uint flags = 1) =>
        Record(48, Encoding.ASCII.GetBytes(path), r =>
        {
            BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(2), (ushort)path.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(4), flags);
            BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), start);
            BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(16), end);
        });

    private static byte[] Fd(int fd, string path, uint flags = 0) =>
        Record(32, Encoding.ASCII.GetBytes(path), r =>
        {
            BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(2), (ushort)path.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(4), flags);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), (uint)fd);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), 0x81a4);
        });

    private static byte[] Entry(string name, uint type = 8) =>
        Record(16, Encoding.ASCII.GetBytes(name), r =>
        {
            BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(2), (ushort)Encoding.ASCII.GetByteCount(name));
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(4), type);
            BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(8), 42);
        });

    private static byte[] PathsRecord(string exe, string cwd, string root, uint flags = 0) =>
        Record(16, Encoding.ASCII.GetBytes(exe + cwd + root), r =>
        {
            BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(2), (ushort)exe.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(4), (ushort)cwd.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(6), (ushort)root.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), flags);
        });

    private static byte[] Concat(params byte[][] records) => [.. records.SelectMany(r => r)];

    // ---- a well-formed answer, for contrast ----

    [TestMethod]
    public async Task A_well_formed_list_of_three_pages_decodes_in_three_exchanges()
    {
        var records = Enumerable.Range(1, 120).Select(pid => Process(pid, pid == 2 ? "" : $"/bin/p{pid}\0-x\0", flags: pid == 2 ? 1u : 0u)).ToArray();
        var result = Concat(records);
        Assert.IsTrue(result.Length is > 2 * PageBytes and <= 3 * PageBytes, $"{result.Length} bytes");
        var (session, connection) = await SessionAsync(result);
        await using (session)
        {
            var before = connection.ControlChannel.Exchanges;
            var list = await session.Processes.ListAsync();
            Assert.AreEqual(3, connection.ControlChannel.Exchanges - before);
            Assert.AreEqual(120, list.Count);
            CollectionAssert.AreEqual(new[] { "/bin/p7", "-x" }, list[6].Arguments.ToArray());
            Assert.IsTrue(list[1].IsKernelThread);
            Assert.AreEqual(TimeSpan.FromSeconds(1.5), list[0].StartedAfterBoot);
            Assert.AreEqual("proc", list[0].Comm);
        }
    }

    [TestMethod]
    public async Task A_guest_without_the_query_feature_is_not_asked()
    {
        var (session, connection) = await SessionAsync([], features: GuestFeatures.None);
        await using (session)
        {
            var before = connection.ControlChannel.Exchanges;
            await Assert.ThrowsExactlyAsync<NotSupportedException>(() => session.Processes.ListAsync());
            Assert.AreEqual(before, connection.ControlChannel.Exchanges);
        }
    }

    [TestMethod]
    public async Task A_refusal_is_the_guest_errno_and_a_refusal_without_one_is_a_protocol_error()
    {
        var connection = new ScriptedConnection(region =>
        {
            if ((PortalOp)Answer.Op(region) == PortalOp.GuestInfo)
                Answer.GuestInfo(region, GuestAbi.MipsEl, features: GuestFeatures.Query);
            else if ((PortalOp)Answer.Op(region) == PortalOp.Query)
                Answer.Header(region, (ulong)PortalResponse.ExtFail, Answer.Addr(region) == 5 ? 2UL /* ENOENT */ : 0UL, 0);
            else
                Answer.CooperativeControl(GuestAbi.MipsEl)(region);
        });
        await using var session = await PortalSession.AttachAsync(connection);
        var refused = await Assert.ThrowsExactlyAsync<GuestOperationException>(() => session.Files.ReadAllBytesAsync("/etc/missing"));
        Assert.AreEqual(GuestErrno.ENOENT, refused.Errno);
        StringAssert.Contains(refused.Message, "/etc/missing");
        var lie = await Assert.ThrowsExactlyAsync<PortalProtocolException>(() => session.Processes.ListAsync());
        StringAssert.Contains(lie.Message, "errno 0");
    }

    // ---- pages ----

    [TestMethod]
    public async Task Page_lies_are_protocol_errors()
    {
        var big = Concat([.. Enumerable.Range(1, 100).Select(pid => Process(pid, "/bin/x\0"))]);
        Task List(PortalSession s) => s.Processes.ListAsync();
        var cases = new (string Expected, Action<byte[], long> Lie)[]
        {
            ("result id 0", (r, _) => Answer.Header(r, Answer.Op(r), 0, Answer.Size(r))),
            ("result id 8", (r, offset) => { if (offset > 0) Answer.Header(r, Answer.Op(r), 8, Answer.Size(r)); }),
            ("shorter than the page header", (r, _) => Answer.Header(r, Answer.Op(r), 7, 15)),
            ("exceeds the", (r, _) => BinaryPrimitives.WriteUInt64LittleEndian(Answer.Data(r), 5UL << 20)),
            ("changed from", (r, offset) => { if (offset > 0) BinaryPrimitives.WriteUInt64LittleEndian(Answer.Data(r), (ulong)big.Length + 8); }),
            ("page offset 0 but 4056", (r, offset) => { if (offset > 0) BinaryPrimitives.WriteUInt64LittleEndian(Answer.Data(r)[8..], 0); }),
            ("remain from offset", (r, _) => Answer.Header(r, Answer.Op(r), 7, Answer.Size(r) - 8)),
            ("size 4080 exceeds 4072", (r, _) => Answer.Header(r, Answer.Op(r), 7, 4080)),
        };
        foreach (var (expected, lie) in cases)
            StringAssert.Contains(await ProtocolErrorAsync(big, List, lie), expected);
    }

    [TestMethod]
    public async Task A_file_read_longer_than_asked_is_a_protocol_error()
    {
        var message = await ProtocolErrorAsync(new byte[200], s => s.Files.ReadAsync("/etc/passwd", 0, 100));
        StringAssert.Contains(message, "a result of 200 bytes exceeds the 100");
    }

    // ---- records ----

    [TestMethod]
    public async Task Process_record_lies_are_protocol_errors()
    {
        Task List(PortalSession s) => s.Processes.ListAsync(argumentBytes: 16);
        var cases = new (string Expected, byte[] Result)[]
        {
            ("not a multiple of 8", Process(1, length: 70)),
            ("not a multiple of 8 between 64", Concat(Process(1), new byte[] { 8, 0 })),
            ("does not hold 64 + 8 bytes", Process(1, "abcdefgh", length: 64 + 16)),
            ("exceeds the 16 bytes asked", Process(1, "/a/very/long/argv/0\0")),
            ("does not follow 5", Concat(Process(5), Process(3))),
            ("does not follow 5", Concat(Process(5), Process(5))),
            ("state 0x51", Process(1, state: 'Q')),
            ("a kernel thread has argv", Process(2, "x\0", flags: 1)),
            ("unknown flags 0x8", Process(1, flags: 8)),
            ("pid 0 is out of range", Process(0)),
            ("ppid", Process(3, ppid: -1)),
        };
        foreach (var (expected, result) in cases)
            StringAssert.Contains(await ProtocolErrorAsync(result, List), expected, expected);
    }

    [TestMethod]
    public async Task Mapping_record_lies_are_protocol_errors()
    {
        Task Maps(PortalSession s) => s.Processes.GetMappingsAsync(10);
        StringAssert.Contains(await ProtocolErrorAsync(Mapping(0x2000, 0x2000), Maps), "is not below end");
        StringAssert.Contains(await ProtocolErrorAsync(Concat(Mapping(0x2000, 0x4000), Mapping(0x3000, 0x5000)), Maps), "overlaps");
        StringAssert.Contains(await ProtocolErrorAsync(Mapping(0x2000, 0x3000, flags: 0x20), Maps), "unknown flags");
        StringAssert.Contains(await ProtocolErrorAsync(Mapping(0x2000, 0x3000, new string('p', 4096)), Maps), "path_length 4096 exceeds 4095");
        StringAssert.Contains(await ProtocolErrorAsync(Mapping(0x2000, 0x3000), s => s.Processes.MappingOfAsync(10, 0x9000)), "containing 0x9000");
        StringAssert.Contains(await ProtocolErrorAsync(Concat(Mapping(0x2000, 0x3000), Mapping(0x4000, 0x5000)),
            s => s.Processes.MappingOfAsync(10, 0x2000)), "with 2 mapping(s)");
    }

    [TestMethod]
    public async Task File_descriptor_paths_directory_and_stat_lies_are_protocol_errors()
    {
        StringAssert.Contains(await ProtocolErrorAsync(Concat(Fd(3, "/a"), Fd(1, "/b")), s => s.Processes.GetFileDescriptorsAsync(10)), "does not follow 3");
        StringAssert.Contains(await ProtocolErrorAsync(Fd(3, "/a", flags: 2), s => s.Processes.GetFileDescriptorsAsync(10)), "unknown flags");

        Task Paths(PortalSession s) => s.Processes.GetPathsAsync(10);
        StringAssert.Contains(await ProtocolErrorAsync([], Paths), "no record");
        StringAssert.Contains(await ProtocolErrorAsync(Concat(PathsRecord("/bin/a", "/", "/"), PathsRecord("/bin/a", "/", "/")), Paths), "more than one record");
        StringAssert.Contains(await ProtocolErrorAsync(PathsRecord("/bin/a", "/", "/", flags: 1), Paths), "no-executable flag");

        Task List(PortalSession s) => s.Files.ListDirectoryAsync("/tmp");
        StringAssert.Contains(await ProtocolErrorAsync(Entry("a/b"), List), "containing '/'");
        StringAssert.Contains(await ProtocolErrorAsync(Entry(".."), List), "'.' or '..'");
        StringAssert.Contains(await ProtocolErrorAsync(Entry("a", type: 3), List), "type 3 is not a DT_* value");
        StringAssert.Contains(await ProtocolErrorAsync(Entry(""), List), "name_length 0");

        StringAssert.Contains(await ProtocolErrorAsync(Entry("x"), s => s.Files.StatAsync("/tmp/x")), "length 24 is not a multiple of 8 between 56");
        StringAssert.Contains(await ProtocolErrorAsync(new byte[16], s => s.Files.WriteAsync("/tmp/x", 0, new byte[4])), "result of 16 bytes");
        var written = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(written, 5);
        StringAssert.Contains(await ProtocolErrorAsync(written, s => s.Files.WriteAsync("/tmp/x", 0, new byte[4])), "5 bytes written, but 4 were sent");
    }

    [TestMethod]
    public async Task Bad_paths_are_refused_before_anything_is_sent()
    {
        var (session, connection) = await SessionAsync([]);
        await using (session)
        {
            var before = connection.ControlChannel.Exchanges;
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => session.Files.ReadAllBytesAsync("relative/path"));
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => session.Files.StatAsync("/a\0b"));
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => session.Files.ListDirectoryAsync("/" + new string('d', 4000)));
            await Assert.ThrowsExactlyAsync<ArgumentException>(() => session.Files.WriteAsync("/tmp/x", 0, new byte[4072]));
            await Assert.ThrowsExactlyAsync<ArgumentOutOfRangeException>(() => session.Processes.ListAsync(4097));
            await Assert.ThrowsExactlyAsync<ArgumentOutOfRangeException>(() => session.Processes.GetMappingsAsync(0));
            Assert.AreEqual(before, connection.ControlChannel.Exchanges);
        }
    }
}
