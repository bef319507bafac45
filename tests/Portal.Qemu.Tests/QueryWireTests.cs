using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Channels;
using Portal.Guests;

namespace Portal.Qemu.Tests;

/// <summary>
/// QUERY and QUERY_PAGE (docs/protocol.md §3.4) against the real guest, at the wire level, on every
/// architecture. Requests are encoded byte by byte here and results decoded by hand, independently of
/// the runtime's decoder, so these tests pin down the module itself: the paging, the parameter checks,
/// each kind's records as the guest's own kernel sees the thing (busybox's init, the agent, /dev/null),
/// and that no request, well-formed or not, hurts the guest. One boot per class.
/// </summary>
public abstract class QueryWireTests
{
    private const ulong OpGuestInfo = 0x100, OpHookRegister = 0x101, OpVerdict = 0x103, OpPing = 0x105, OpHookReset = 0x107,
        OpQuery = 0x108, OpQueryPage = 0x109;
    private const ulong ExtOk = 0xf000_0101, ExtFail = 0xf000_0102;
    private const uint Processes = 1, Mappings = 2, Files = 3, Paths = 4, FileRead = 5, FileWrite = 6, Directory = 7, Stat = 8;
    private const int PageMax = 4056, Chunk = 4072;
    private const uint Mode600 = 0x180, Mode640 = 0x1a0, Mode644 = 0x1a4;   // 0600, 0640, 0644
    private const uint SIfMt = 0xf000, SIfReg = 0x8000, SIfDir = 0x4000, SIfChr = 0x2000, SIfLnk = 0xa000;

    private ulong _lastId;

    public TestContext TestContext { get; set; } = null!;

    private QemuGuest Guest => ClassGuests.Of(GetType());

    private IGuestChannel Control => Guest.Connection.Control;

    private CancellationToken Token => TestContext.CancellationToken;

    protected static Task BootAsync(Type suite, GuestAbi abi, CancellationToken cancellationToken) =>
        ClassGuests.BootAsync(suite, new QemuGuestOptions { Abi = abi, ExchangeTimeout = TimeSpan.FromSeconds(20) }, cancellationToken);

    protected static Task ShutDownAsync(Type suite) => ClassGuests.ShutDownAsync(suite);

    [TestCleanup]
    public async Task KernelStaysHealthyAsync() => await KernelLog.AssertCleanAsync(Guest, Token);

    [TestMethod]
    public async Task Query_processes_lists_every_thread_group_by_pid_with_argv_from_its_memory()
    {
        var info = await RequestAsync(OpGuestInfo, 0, []);
        Assert.AreEqual(ExtOk, info.Op);
        Assert.AreEqual(0x10u, BinaryPrimitives.ReadUInt32LittleEndian(info.Data.AsSpan(28)) & 0x10u, "features bit 4: QUERY");

        var watch = Stopwatch.StartNew();
        var all = ParseProcesses(await QueryAsync(Processes, P(4096u, 0u)), 4096);
        TestContext.WriteLine($"PROCESSES (argv_max 4096): {all.Count} processes in {watch.ElapsedMilliseconds} ms");
        for (var i = 1; i < all.Count; i++)
            Assert.IsGreaterThan(all[i - 1].Pid, all[i].Pid, "by pid, each once");

        var init = all.Single(p => p.Pid == 1);
        Assert.AreEqual("init", init.Comm);
        Assert.AreEqual(0u, init.Ppid);
        Assert.AreEqual(0u, init.Flags);
        Assert.AreEqual("/bin/busybox\0sh\0/init\0", init.Argv);
        Assert.AreEqual((0u, 0u, 0u, 0u), (init.Uid, init.Euid, init.Gid, init.Egid));

        var kthreadd = all.Single(p => p.Pid == 2);
        Assert.AreEqual(("kthreadd", 0u, 1u, ""), (kthreadd.Comm, kthreadd.Ppid, kthreadd.Flags, kthreadd.Argv), "a kernel thread: no argv, flag bit 0");

        // The control thread is the one running this query.
        var control = all.Single(p => p.Comm == "portal-control");
        Assert.AreEqual((2u, 1u, 'R'), (control.Ppid, control.Flags, control.State));

        var agent = all.Single(p => p.Comm == "portal-agent");
        Assert.AreEqual(0u, agent.Flags);
        Assert.AreEqual("portal-agent\0org.portal.agent\0", agent.Argv);
        Assert.IsGreaterThanOrEqualTo(init.Start, agent.Start);
        Assert.IsTrue(all.All(p => p.Threads >= 1 && "RSDTtXZPI".Contains(p.State, StringComparison.Ordinal)));
        Assert.IsTrue(all.Where(p => (p.Flags & 1) != 0).All(p => p.Argv.Length == 0));

        // argv_max cuts the block and says so; 0 reads none.
        var cut = ParseProcesses(await QueryAsync(Processes, P(4u, 0u)), 4);
        Assert.AreEqual(("port", 2u), (cut.Single(p => p.Pid == agent.Pid).Argv, cut.Single(p => p.Pid == agent.Pid).Flags));
        var none = ParseProcesses(await QueryAsync(Processes, P(0u, 0u)), 0);
        Assert.IsTrue(none.All(p => p.Argv.Length == 0));
        Assert.AreEqual(2u, none.Single(p => p.Pid == 1).Flags, "init's argv truncated at 0 bytes");
        Assert.AreEqual(1u, none.Single(p => p.Pid == 2).Flags, "a kernel thread's empty argv is not truncated");
    }

    [TestMethod]
    public async Task A_result_is_fetched_page_by_page_and_released_after_its_last_page()
    {
        var estale = (ulong)Guest.Abi.ToNativeErrno(GuestErrno.ESTALE);
        var einval = (ulong)Guest.Abi.ToNativeErrno(GuestErrno.EINVAL);

        // 1 MiB of /dev/zero (a file with both ->read and ->read_iter): 259 pages.
        const int Mib = 1 << 20;
        var first = await RequestAsync(OpQuery, FileRead, P(0UL, (uint)Mib, 9u, Path("/dev/zero")));
        Assert.AreEqual(ExtOk, first.Op, $"errno {first.Addr}");
        var id = first.Addr;
        Assert.IsGreaterThan(_lastId, id);
        _lastId = id;
        AssertPage(first.Data, Mib, 0);

        // The page requests that must fail leave the result held.
        Assert.AreEqual((ExtFail, einval), Fail(await RequestAsync(OpQueryPage, id, Le64(Mib))), "offset = total");
        Assert.AreEqual((ExtFail, einval), Fail(await RequestAsync(OpQueryPage, id, Le64(ulong.MaxValue))), "offset past the total");
        Assert.AreEqual((ExtFail, einval), Fail(await RequestAsync(OpQueryPage, id, Le64(0), size: 7)), "size 7");
        Assert.AreEqual((ExtFail, einval), Fail(await RequestAsync(OpQueryPage, id, Le64(0), size: 9)), "size 9");
        Assert.AreEqual((ExtFail, estale), Fail(await RequestAsync(OpQueryPage, id + 1, Le64(0))), "another id");
        Assert.AreEqual((ExtFail, estale), Fail(await RequestAsync(OpQueryPage, 0, Le64(0))), "id 0");

        // Pages in any order, at any offset; the one reaching the end releases the result.
        var middle = await RequestAsync(OpQueryPage, id, Le64(12345));
        Assert.AreEqual((ExtOk, id), (middle.Op, middle.Addr));
        AssertPage(middle.Data, Mib, 12345);
        var watch = Stopwatch.StartNew();
        var pages = 0;
        for (long offset = PageMax; offset < Mib; offset += PageMax, pages++)
        {
            var page = await RequestAsync(OpQueryPage, id, Le64((ulong)offset));
            Assert.AreEqual((ExtOk, id), (page.Op, page.Addr), $"offset {offset}");
            AssertPage(page.Data, Mib, offset);
            Assert.IsTrue(page.Data.AsSpan(16).IndexOfAnyExcept((byte)0) < 0);
        }
        TestContext.WriteLine($"1 MiB in {pages + 1} pages: {watch.ElapsedMilliseconds} ms for {pages} QUERY_PAGE exchanges");
        Assert.AreEqual((ExtFail, estale), Fail(await RequestAsync(OpQueryPage, id, Le64(0))), "released after its last page");

        // An empty result is one page of 16 bytes, released at once.
        var empty = await RequestAsync(OpQuery, FileRead, P(0UL, 100u, 9u, Path("/dev/null")));
        Assert.AreEqual(ExtOk, empty.Op);
        AssertPage(empty.Data, 0, 0);
        Assert.AreEqual((ExtFail, estale), Fail(await RequestAsync(OpQueryPage, empty.Addr, Le64(0))));

        // A new QUERY replaces the held result, failed or not.
        var held = await RequestAsync(OpQuery, FileRead, P(0UL, 10_000u, 9u, Path("/dev/zero")));
        Assert.AreEqual(ExtOk, held.Op);
        var next = await RequestAsync(OpQuery, FileRead, P(0UL, 10_000u, 9u, Path("/dev/zero")));
        Assert.IsGreaterThan(held.Addr, next.Addr, "a new id for every QUERY");
        Assert.AreEqual((ExtFail, estale), Fail(await RequestAsync(OpQueryPage, held.Addr, Le64(PageMax))));
        Assert.AreEqual(ExtFail, (await RequestAsync(OpQuery, 99, [])).Op);
        Assert.AreEqual((ExtFail, estale), Fail(await RequestAsync(OpQueryPage, next.Addr, Le64(PageMax))));
        _lastId = next.Addr;
    }

    [TestMethod]
    public async Task Files_are_written_read_listed_and_stat_ed_and_errors_carry_the_kernels_errno()
    {
        const string File = "/tmp/query-wire.txt";
        Assert.AreEqual(12UL, await WriteAsync(File, 0, 1 | 2, Mode640, "hello query\n"), "create, truncate");
        Assert.AreEqual("hello query\n", await ReadTextAsync(File, 0, 4096));
        Assert.AreEqual("que", await ReadTextAsync(File, 6, 3));
        Assert.AreEqual("", await ReadTextAsync(File, 100, 10), "past the end: nothing");
        Assert.AreEqual(4UL, await WriteAsync(File, 0, 4, 0, "more"), "append");
        Assert.AreEqual(1UL, await WriteAsync(File, 0, 0, 0, "J"), "at offset 0, in place");
        Assert.AreEqual("Jello query\nmore", await ReadTextAsync(File, 0, 4096));
        Assert.AreEqual(0UL, await WriteAsync(File, 0, 2, 0, ""), "truncate only");
        Assert.AreEqual("", await ReadTextAsync(File, 0, 4096));
        Assert.AreEqual(5UL, await WriteAsync(File, 3, 0, 0, "12345"), "at an offset past the end");
        Assert.AreEqual("\0\0\012345", await ReadTextAsync(File, 0, 4096));

        var st = ParseStat(await QueryAsync(Stat, P((uint)Encoding.UTF8.GetByteCount(File), 0u, Path(File))));
        Assert.AreEqual((SIfReg | Mode640, 1u, 0u, 0u, 8UL), (st.Mode, st.Nlink, st.Uid, st.Gid, st.Size));

        var tmp = ParseDirectory(await QueryAsync(Directory, P(4u, 0u, Path("/tmp"))));
        var entry = tmp.Single(e => e.Name == "query-wire.txt");
        Assert.AreEqual((8u, st.Inode), (entry.Type, entry.Inode), "DT_REG, the same inode");

        var root = ParseDirectory(await QueryAsync(Directory, P(1u, 0u, Path("/"))));
        Assert.AreEqual(4u, root.Single(e => e.Name == "proc").Type, "DT_DIR");
        Assert.AreEqual(10u, root.Single(e => e.Name == "linuxrc").Type, "DT_LNK");
        Assert.IsFalse(root.Any(e => e.Name is "." or ".."));

        var link = await StatAsync("/linuxrc", nofollow: true);
        Assert.AreEqual(SIfLnk, link.Mode & SIfMt);
        var busybox = await StatAsync("/bin/busybox", nofollow: false);
        var followed = await StatAsync("/linuxrc", nofollow: false);
        Assert.AreEqual((SIfReg, busybox.Inode), (followed.Mode & SIfMt, followed.Inode), "followed to /bin/busybox");
        var devNull = await StatAsync("/dev/null", nofollow: false);
        Assert.AreEqual((SIfChr, 1u, 3u), (devNull.Mode & SIfMt, devNull.RdevMajor, devNull.RdevMinor));
        Assert.AreEqual(SIfDir, (await StatAsync("/proc", nofollow: false)).Mode & SIfMt);

        // procfs and sysfs files have no size: read to their end.
        StringAssert.StartsWith(await ReadTextAsync("/proc/version", 0, 65536), "Linux version 6.1.");
        Assert.AreEqual("Linux\n", await ReadTextAsync("/proc/sys/kernel/ostype", 0, 4096));
        Assert.AreEqual("2000\n", await ReadTextAsync("/sys/module/portal/parameters/host_timeout_ms", 0, 4096));

        // Many entries: the listing outgrows its first buffer and several pages.
        var names = Enumerable.Range(0, 300).Select(i => $"query-wire-entry-with-a-long-name-{i:D3}").ToList();
        foreach (var name in names)
            Assert.AreEqual(1UL, await WriteAsync("/tmp/" + name, 0, 1, Mode600, "x"));
        var listed = ParseDirectory(await QueryAsync(Directory, P(4u, 0u, Path("/tmp"))));
        CollectionAssert.IsSubsetOf(names, listed.Select(e => e.Name).ToList());
        Assert.AreEqual(listed.Count, listed.Select(e => e.Name).Distinct().Count(), "each entry once");

        // The kernel's errno, never an empty success.
        Assert.AreEqual(Errno(GuestErrno.ENOENT), await ReadFailsAsync("/nonexistent"));
        Assert.AreEqual(Errno(GuestErrno.EISDIR), await ReadFailsAsync("/tmp"));
        Assert.AreEqual(Errno(GuestErrno.ENOTDIR), await ReadFailsAsync(File + "/x"));
        Assert.AreEqual(Errno(GuestErrno.ENOTDIR), await FailsAsync(Directory, P((uint)Encoding.UTF8.GetByteCount(File), 0u, Path(File))));
        Assert.AreEqual(Errno(GuestErrno.ENOENT), await FailsAsync(Directory, P(8u, 0u, Path("/nothere"))));
        Assert.AreEqual(Errno(GuestErrno.ENOENT), await FailsAsync(Stat, P(10u, 0u, Path("/nothere/x"))));
        Assert.AreEqual(Errno(GuestErrno.ENOENT), await FailsAsync(FileWrite, P(0UL, 0u, 0u, 12u, 1u, Path("/tmp/nothere"), "x")),
            "no create: the File must exist");
    }

    /// <summary>
    /// The result cap: a directory of 16,000 entries with 255-byte names lists to 4.35 MB of records,
    /// over the 4 MiB a result may hold. The listing's buffer doubles until the cap and the query fails
    /// with E2BIG, with no result held; the guest answers the next query as before.
    /// </summary>
    [TestMethod]
    public async Task A_result_over_4_MiB_is_E2BIG_and_the_guest_answers_on()
    {
        const string Big = "/tmp/query-wire-e2big";
        var pad = new string('n', 250);     // + a five-digit number: 255 bytes, the longest name; a record of 16 + 256
        var made = await Guest.RunAsync(GuestCommand.Of("sh", "-c",
            $"mkdir {Big} && cd {Big} && i=10000; while [ $i -lt 26000 ]; do : > {pad}$i; i=$((i+1)); done && ls | wc -l"), Token);
        Assert.AreEqual((0, "16000"), (made.ExitCode, made.Output.Trim()), made.Output);
        try
        {
            Assert.AreEqual(Errno(GuestErrno.E2BIG), await FailsAsync(Directory, P((uint)Big.Length, 0u, Path(Big))));
            Assert.AreEqual(ExtFail, (await RequestAsync(OpQueryPage, _lastId + 1, Le64(0))).Op, "no result is held");
            var listed = ParseDirectory(await QueryAsync(Directory, P(4u, 0u, Path("/tmp"))));
            Assert.IsTrue(listed.Any(e => e.Name == "query-wire-e2big" && e.Type == 4), "the next query is answered");
        }
        finally
        {
            await Guest.RunAsync(GuestCommand.Of("rm", "-rf", Big), Token);
        }
    }

    [TestMethod]
    public async Task Mappings_files_and_paths_of_a_process_are_what_proc_shows()
    {
        var paths = ParsePaths(await QueryAsync(Paths, P(1u, 0u)));
        Assert.AreEqual((0u, "/bin/busybox", "/", "/"), paths);
        var kthreadPaths = ParsePaths(await QueryAsync(Paths, P(2u, 0u)));
        Assert.AreEqual((1u, "", "/", "/"), kthreadPaths, "a kernel thread has no executable");

        var maps = ParseMappings(await QueryAsync(Mappings, P(1u, 0u, 0UL)));
        for (var i = 1; i < maps.Count; i++)
            Assert.IsGreaterThanOrEqualTo(maps[i - 1].End, maps[i].Start, "by address, without overlap");
        var busybox = await StatAsync("/bin/busybox", nofollow: false);
        var text = maps.First(m => m.Path == "/bin/busybox" && (m.Flags & 4) != 0);
        Assert.AreEqual(busybox.Inode, text.Inode);
        Assert.AreEqual(0u, text.Flags & 2, "text is not writable");
        var stack = maps.Single(m => m.Path == "[stack]");
        Assert.AreEqual((3u, 0UL, 0UL), (stack.Flags & 0xb, stack.Offset, stack.Inode), "rw-p, anonymous");
        Assert.IsTrue(maps.Any(m => m.Path == "[vdso]" || m.Path == "[sigpage]" || m.Path == "[vectors]"), string.Join('\n', maps.Select(m => m.Path)));

        var only = ParseMappings(await QueryAsync(Mappings, P(1u, 1u, stack.Start + 8)));
        Assert.AreEqual(stack, only.Single(), "bit 0: the one mapping containing the address");
        Assert.AreEqual(0, (await QueryAsync(Mappings, P(1u, 1u, 0UL))).Length, "no mapping at 0");
        Assert.AreEqual(0, (await QueryAsync(Mappings, P(1u, 1u, ulong.MaxValue))).Length);
        Assert.AreEqual(0, (await QueryAsync(Mappings, P(2u, 0u, 0UL))).Length, "a kernel thread has no memory");

        var fds = ParseFiles(await QueryAsync(Files, P(1u, 0u)));
        for (var i = 1; i < fds.Count; i++)
            Assert.IsGreaterThan(fds[i - 1].Fd, fds[i].Fd, "by fd");
        foreach (var fd in new uint[] { 0, 1, 2 })
        {
            var f = fds.Single(f => f.Fd == fd);
            Assert.AreEqual(("/dev/console", SIfChr), (f.Path, f.Mode & SIfMt), $"fd {fd}");
            Assert.AreEqual(2u, f.OpenFlags & 3, "O_RDWR");
        }
        var script = fds.Single(f => f.Path == "/init");
        Assert.AreEqual((SIfReg, 0u), (script.Mode & SIfMt, script.OpenFlags & 3), "the script, O_RDONLY");
        Assert.IsGreaterThan(0UL, script.Position, "sh has read into it");

        // The agent: a user process with sockets or ports, its own exe.
        var agent = ParseProcesses(await QueryAsync(Processes, P(0u, 0u)), 0).Single(p => p.Comm == "portal-agent");
        var agentPaths = ParsePaths(await QueryAsync(Paths, P(agent.Pid, 0u)));
        StringAssert.EndsWith(agentPaths.Exe, "/portal-agent");
        var agentMaps = ParseMappings(await QueryAsync(Mappings, P(agent.Pid, 0u, 0UL)));
        Assert.IsTrue(agentMaps.Any(m => m.Path == agentPaths.Exe));
        var agentFds = ParseFiles(await QueryAsync(Files, P(agent.Pid, 0u)));
        Assert.IsNotEmpty(agentFds);
        TestContext.WriteLine(string.Join('\n', agentFds.Select(f => $"{f.Fd} {f.Path} flags 0x{f.OpenFlags:x} mode 0{Convert.ToString(f.Mode, 8)}")));
    }

    [TestMethod]
    public async Task Malformed_parameters_are_EINVAL_and_unknown_processes_ESRCH()
    {
        var einval = Errno(GuestErrno.EINVAL);
        (ulong Kind, byte[] Parameters, string Why)[] malformed =
        [
            (0, [], "kind 0"),
            (9, P(0u, 0u), "kind 9"),
            (ulong.MaxValue, P(0u, 0u), "kind 2^64-1"),
            (Processes, P(0u), "PROCESSES short"),
            (Processes, P(0u, 0u, 0u), "PROCESSES long"),
            (Processes, P(4097u, 0u), "argv_max over 4096"),
            (Processes, P(0u, 1u), "PROCESSES flags"),
            (Mappings, P(1u, 0u), "MAPPINGS short"),
            (Mappings, P(1u, 2u, 0UL), "MAPPINGS unknown flag"),
            (Mappings, P(1u, 0x80000000u, 0UL), "MAPPINGS high flag"),
            (Files, P(1u, 1u), "FILES flags"),
            (Files, P(1u, 0u, 0u), "FILES long"),
            (Paths, P(1u, 0x100u), "PATHS flags"),
            (FileRead, P(0UL, 0u, 4u, Path("/tmp")), "max_length 0"),
            (FileRead, P(0UL, (1u << 20) + 1, 4u, Path("/tmp")), "max_length over 1 MiB"),
            (FileRead, P(0UL, 16u, 0u), "path_length 0"),
            (FileRead, P(0UL, 16u, 4001u, Path("/" + new string('a', 4000))), "path_length 4001"),
            (FileRead, P(0UL, 16u, 4u, Path("tmp/")), "relative path"),
            (FileRead, P(0UL, 16u, 4u, Path("/t\0p")), "NUL in the path"),
            (FileRead, P(0UL, 16u, 5u, Path("/tmp")), "path_length past the parameters"),
            (FileRead, P(0UL, 16u, 3u, Path("/tmp")), "bytes after the path"),
            (FileRead, P(1UL << 63, 16u, 4u, Path("/tmp")), "offset past 2^63-1"),
            (FileRead, P(0UL, 16u), "FILE_READ short"),
            (FileWrite, P(0UL, 8u, 0u, 6u, 0u, Path("/tmp/x")), "FILE_WRITE unknown flag"),
            (FileWrite, P(0UL, 1u, 0x1000u, 6u, 0u, Path("/tmp/x")), "mode over 0o7777"),
            (FileWrite, P(0UL, 1u, Mode644, 6u, 2u, Path("/tmp/x"), "a"), "data_length past the parameters"),
            (FileWrite, P(0UL, 1u, Mode644, 6u, 0u, Path("/tmp/x"), "a"), "bytes after the data"),
            (FileWrite, P(0UL, 1u, Mode644, 0xffff_fff0u, 0x16u, Path("/tmp/x")), "lengths that wrap 32 bits"),
            (Directory, P(4u, 1u, Path("/tmp")), "DIRECTORY flags"),
            (Directory, P(4u, 0u, Path("/tmp"), "x"), "DIRECTORY long"),
            (Stat, P(4u, 2u, Path("/tmp")), "STAT unknown flag"),
            (Stat, P(4u, 0u, Path("\\tmp")), "STAT relative"),
        ];
        foreach (var (kind, parameters, why) in malformed)
            Assert.AreEqual(einval, await FailsAsync(kind, parameters), why);
        var oversized = await RequestAsync(OpQuery, Processes, P(0u, 0u), size: Chunk + 1);
        Assert.AreEqual((ExtFail, einval), Fail(oversized), "size over 4072");
        Assert.AreEqual((ExtFail, einval), Fail(await RequestAsync(OpQuery, Processes, P(0u, 0u), size: ulong.MaxValue)), "size 2^64-1");

        var esrch = Errno(GuestErrno.ESRCH);
        foreach (var pid in new uint[] { 0, 999_999, 0x7fff_ffff, 0xffff_ffff })
        {
            Assert.AreEqual(esrch, await FailsAsync(Mappings, P(pid, 0u, 0UL)), $"MAPPINGS {pid}");
            Assert.AreEqual(esrch, await FailsAsync(Files, P(pid, 0u)), $"FILES {pid}");
            Assert.AreEqual(esrch, await FailsAsync(Paths, P(pid, 0u)), $"PATHS {pid}");
        }
        Assert.AreEqual(ExtOk, (await RequestAsync(OpPing, 7, [])).Op);
    }

    [TestMethod]
    public async Task A_held_vcpu_slot_refuses_both_ops_with_EPERM()
    {
        var eperm = (ulong)Guest.Abi.ToNativeErrno(GuestErrno.EPERM);
        const uint Cmd = 0x7481;
        var region = Control.Region;
        region[..(24 + 88)].Clear();
        Header(region, OpHookRegister, 0, 64 + 24);
        var d = region[24..];
        BinaryPrimitives.WriteUInt32LittleEndian(d, (uint)Guest.Abi.Syscalls.GetNumber("ioctl"));
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 1);          // enter
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], 1);         // one argument filter
        BinaryPrimitives.WriteUInt32LittleEndian(d[64..], 1);         // arg 1
        BinaryPrimitives.WriteUInt32LittleEndian(d[68..], 1);         // EQ
        BinaryPrimitives.WriteUInt64LittleEndian(d[72..], Cmd);
        await Control.ExchangeAsync(Token);
        Assert.AreEqual(ExtOk, Op(Control.Region), "hook installed");

        var sink = new HeldSink(async channel =>
        {
            (ulong Op, ulong Addr, byte[] Data)[] requests =
            [
                (OpQuery, Processes, P(0u, 0u)),
                (OpQuery, 0, []),
                (OpQuery, Stat, P(4u, 0u, Path("/tmp"))),
                (OpQueryPage, 1, Le64(0)),
                (OpQueryPage, 0, []),
            ];
            foreach (var (op, addr, data) in requests)
            {
                Header(channel.Region, op, addr, (ulong)data.Length);
                data.CopyTo(channel.Region[24..]);
                await channel.ExchangeAsync(Token);
                Assert.AreEqual((ExtFail, eperm), (Op(channel.Region), Addr(channel.Region)), $"op 0x{op:x} on a held slot");
            }
        });
        GuestCommandResult run;
        using (Guest.Connection.Attach(sink))
            run = await Guest.RunAsync(GuestCommand.Of("portal-selftest", "desc", $"0x{Cmd:x}"), Token);
        Header(Control.Region, OpHookReset, 0, 0);
        await Control.ExchangeAsync(Token);
        sink.Error?.Throw();
        Assert.AreEqual(1, sink.Events, run.Output);
        Assert.AreEqual(0, run.ExitCode, run.Output);

        // The control slot still serves them.
        Assert.AreEqual(ExtOk, (await RequestAsync(OpQuery, Stat, P(4u, 0u, Path("/tmp")))).Op);
    }

    /// <summary>
    /// What a handler does on a guest with two vCPUs: its syscall holds one, and the control thread
    /// queries the held process on the other, which must neither wait for the held vCPU nor disturb it.
    /// </summary>
    [TestMethod]
    public async Task The_control_thread_queries_a_held_process_beside_its_held_vcpu()
    {
        var abi = Guest.Abi;
        if (abi == GuestAbi.MipsEl)
        {
            // One vCPU only: a handler there cannot query at all (the conformance suite checks that the
            // host refuses at once); what is left to check is that a second vCPU is refused with the reason.
            var refused = await Assert.ThrowsAsync<ArgumentException>(() => QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi, Cpus = 2 }, Token));
            StringAssert.Contains(refused.Message, "at most 1 vCPU");
            return;
        }
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions
        {
            Abi = abi, Cpus = 2, HostTimeout = TimeSpan.FromSeconds(10), HoldBudget = TimeSpan.FromSeconds(10),
            ExchangeTimeout = TimeSpan.FromSeconds(20),
        }, Token);
        await KernelLog.AssertCleanAsync(guest, Token);
        var control = guest.Connection.Control;
        const uint Cmd = 0x7482;
        var region = control.Region;
        region[..(24 + 88)].Clear();
        Header(region, OpHookRegister, 0, 64 + 24);
        var d = region[24..];
        BinaryPrimitives.WriteUInt32LittleEndian(d, (uint)abi.Syscalls.GetNumber("ioctl"));
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(d[64..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(d[68..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(d[72..], Cmd);
        await control.ExchangeAsync(Token);
        Assert.AreEqual(ExtOk, Op(control.Region), "hook installed");

        var sink = new HeldSink(async channel =>
        {
            var pid = BinaryPrimitives.ReadUInt32LittleEndian(channel.Region[(24 + 72)..]);
            var desc = BinaryPrimitives.ReadUInt64LittleEndian(channel.Region[(24 + 16 + 16)..]);
            var watch = Stopwatch.StartNew();
            var processes = ParseProcesses(await QueryOnAsync(control, Processes, P(64u, 0u)), 64);
            var held = processes.Single(p => p.Pid == pid);
            Assert.AreEqual(("portal-selftest", 'R'), (held.Comm, held.State), "held in its syscall, on its vCPU");
            StringAssert.StartsWith(held.Argv.Split('\0')[1], "desc");
            var maps = ParseMappings(await QueryOnAsync(control, Mappings, P(pid, 0u, 0UL)));
            var area = ParseMappings(await QueryOnAsync(control, Mappings, P(pid, 1u, desc))).Single();
            Assert.IsTrue(area.Start <= desc && desc < area.End && (area.Flags & 3) == 3, "the descriptor is in a rw mapping");
            CollectionAssert.Contains(maps, area);
            var fds = ParseFiles(await QueryOnAsync(control, Files, P(pid, 0u)));
            var devNull = fds.Single(f => f.Path == "/dev/null" && f.Fd > 2);
            Assert.AreEqual(2u, devNull.OpenFlags & 3, "portal-selftest opened /dev/null O_RDWR");
            var paths = ParsePaths(await QueryOnAsync(control, Paths, P(pid, 0u)));
            StringAssert.EndsWith(paths.Exe, "/portal-selftest");
            Assert.IsTrue(maps.Any(m => m.Path == paths.Exe));
            TestContext.WriteLine($"4 kinds of query on the held process ({processes.Count} processes, {maps.Count} mappings, {fds.Count} fds) in {watch.ElapsedMilliseconds} ms");
        });
        GuestCommandResult run;
        using (guest.Connection.Attach(sink))
            run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "desc", $"0x{Cmd:x}"), Token);
        Header(control.Region, OpHookReset, 0, 0);
        await control.ExchangeAsync(Token);
        sink.Error?.Throw();
        Assert.AreEqual(1, sink.Events, run.Output);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        await KernelLog.AssertCleanAsync(guest, Token);
    }

    /// <summary>
    /// Processes that appear and exit while they are listed and looked at: every query answers,
    /// with a record or ESRCH, and no reference is left behind (the kernel log stays clean).
    /// </summary>
    [TestMethod]
    public async Task Queries_race_processes_that_come_and_go()
    {
        var esrch = Errno(GuestErrno.ESRCH);
        var churn = Guest.RunShellAsync("i=0; while [ $i -lt 300 ]; do (sleep 0; true) & i=$((i+1)); done; wait; echo churned",
            cancellationToken: Token);
        var random = new Random(1109);
        int lists = 0, looks = 0, gone = 0, unreadable = 0;
        var watch = Stopwatch.StartNew();
        while (!churn.IsCompleted || lists < 5)
        {
            var processes = ParseProcesses(await QueryAsync(Processes, P(4096u, 0u)), 4096);
            lists++;
            unreadable += processes.Count(p => (p.Flags & 4) != 0);
            var users = processes.Where(p => (p.Flags & 1) == 0).ToList();
            for (var i = 0; i < 6 && users.Count > 0; i++)
            {
                var pid = users[random.Next(users.Count)].Pid;
                foreach (var (kind, parameters) in new[] { (Mappings, P(pid, 0u, 0UL)), (Files, P(pid, 0u)), (Paths, P(pid, 0u)) })
                {
                    var first = await RequestAsync(OpQuery, kind, parameters);
                    looks++;
                    if (first.Op == ExtFail)
                    {
                        Assert.AreEqual(esrch, first.Addr, $"QUERY {kind} of pid {pid}");
                        gone++;
                    }
                    else
                    {
                        Assert.AreEqual(ExtOk, first.Op);
                        _lastId = first.Addr;
                    }
                }
            }
        }
        var result = await churn;
        StringAssert.Contains(result.Output, "churned");
        TestContext.WriteLine($"{lists} lists and {looks} looks in {watch.ElapsedMilliseconds} ms while 300 processes came and went: " +
            $"{gone} ESRCH, {unreadable} argv unreadable");
    }

    [TestMethod]
    public async Task Reading_every_proc_and_sys_file_and_random_queries_do_not_hurt_the_guest()
    {
        // Every regular file of a few procfs and sysfs directories: content or an errno, promptly.
        var watch = Stopwatch.StartNew();
        var read = 0;
        var failed = new Dictionary<ulong, List<string>>();
        foreach (var dir in new[] { "/proc", "/proc/1", "/proc/self", "/sys/kernel", "/sys/module/portal/parameters", "/dev" })
        {
            var entries = ParseDirectory(await QueryAsync(Directory, P((uint)Encoding.UTF8.GetByteCount(dir), 0u, Path(dir))));
            foreach (var e in entries.Where(e => e.Type is 8 or 0))
            {
                // /dev: only the memory-like devices; reading hardware ports or a watchdog is not this test's business
                if (dir == "/dev" && e.Name is not ("null" or "zero" or "full" or "random" or "urandom" or "kmsg"))
                    continue;
                var path = dir + "/" + e.Name;
                var response = await RequestAsync(OpQuery, FileRead, P(0UL, 65536u, (uint)Encoding.UTF8.GetByteCount(path), Path(path)));
                Assert.IsTrue(response.Op is ExtOk or ExtFail, path);
                if (response.Op == ExtFail)
                    (failed.TryGetValue(response.Addr, out var list) ? list : failed[response.Addr] = []).Add(path);
                read++;
            }
        }
        TestContext.WriteLine($"{read} files read in {watch.ElapsedMilliseconds} ms; failures by errno: " +
            string.Join("; ", failed.Select(f => $"{Guest.Abi.ToErrno((long)f.Key)} x{f.Value.Count}: {string.Join(' ', f.Value)}")));

        // Random requests, biased to the kinds' real shapes; FILE_WRITE only ever under /tmp.
        var random = new Random(108109);
        string[] paths = ["/", "/tmp", "/proc/self/status", "/proc/1/maps", "/dev/null", "/bin/busybox", "/linuxrc", "/sys/kernel", "/nothere", "/proc/kallsyms"];
        for (var i = 0; i < 3000; i++)
        {
            var path = paths[random.Next(paths.Length)];
            if (random.Next(4) == 0)
                path = path[..random.Next(1, path.Length + 1)];
            var pathBytes = Encoding.UTF8.GetBytes(path);
            var plen = (uint)pathBytes.Length;
            if (random.Next(8) == 0)
                plen = (uint)random.Next(0, 5000);
            uint pid = random.Next(3) switch { 0 => 1, 1 => (uint)random.Next(0, 200), _ => (uint)random.NextInt64(0, 1L << 32) };
            uint flags = random.Next(4) == 0 ? (uint)random.NextInt64(0, 1L << 32) : (uint)random.Next(0, 3);
            ulong kind = (ulong)random.Next(0, 10);
            byte[] parameters = kind switch
            {
                Processes => P((uint)random.Next(0, 5000), flags),
                Mappings => P(pid, flags, (ulong)random.NextInt64()),
                Files or Paths => P(pid, flags),
                FileRead => P(random.Next(2) == 0 ? 0UL : (ulong)random.NextInt64(), (uint)random.Next(0, 70000), plen, pathBytes),
                FileWrite => P((ulong)random.Next(0, 100), flags & 7, Mode644, 11u, 3u, "/tmp/fuzz-", (byte)('a' + random.Next(3)), "xyz"),
                Directory or Stat => P(plen, flags & 1, pathBytes),
                _ => RandomBytes(random, random.Next(0, 64)),
            };
            if (random.Next(10) == 0)
                parameters = parameters[..random.Next(0, parameters.Length + 1)];
            var response = random.Next(5) == 0
                ? await RequestAsync(OpQueryPage, random.Next(2) == 0 ? _lastId : (ulong)random.NextInt64(), Le64((ulong)random.Next(0, 10000)),
                    size: random.Next(4) == 0 ? (ulong)random.Next(0, 16) : 8)
                : await RequestAsync(OpQuery, kind, parameters);
            Assert.IsTrue(response.Op is ExtOk or ExtFail, $"request {i}");
            if (response.Op == ExtOk)
            {
                Assert.IsGreaterThanOrEqualTo(16, response.Data.Length);
                _lastId = response.Addr;
            }
        }
        Assert.AreEqual((ExtOk, 42UL), ((await RequestAsync(OpPing, 42, [])).Op, (await RequestAsync(OpPing, 42, [])).Addr));
    }

    // ---------------------------------------------------------------------------------------------
    // Exchanges

    private sealed record Response(ulong Op, ulong Addr, byte[] Data);

    /// <summary>One exchange on the control slot; <paramref name="size"/> overrides the data's length.</summary>
    private Task<Response> RequestAsync(ulong op, ulong addr, byte[] data, ulong? size = null) => RequestOnAsync(Control, op, addr, data, size);

    private async Task<Response> RequestOnAsync(IGuestChannel channel, ulong op, ulong addr, byte[] data, ulong? size = null)
    {
        Assert.IsLessThanOrEqualTo(Chunk, data.Length);
        channel.Region[24..].Clear();
        data.CopyTo(channel.Region[24..]);
        Header(channel.Region, op, addr, size ?? (ulong)data.Length);
        await channel.ExchangeAsync(Token);
        var responseSize = Size(channel.Region);
        Assert.IsLessThanOrEqualTo((ulong)Chunk, responseSize);
        return new(Op(channel.Region), Addr(channel.Region), channel.Region.Slice(24, (int)responseSize).ToArray());
    }

    private static (ulong Op, ulong Errno) Fail(Response response) => (response.Op, response.Addr);

    private ulong Errno(GuestErrno errno) => (ulong)Guest.Abi.ToNativeErrno(errno);

    /// <summary>A whole result, every page checked; afterwards the result is released (ESTALE).</summary>
    private Task<byte[]> QueryAsync(ulong kind, byte[] parameters) => QueryOnAsync(Control, kind, parameters);

    private async Task<byte[]> QueryOnAsync(IGuestChannel channel, ulong kind, byte[] parameters)
    {
        var first = await RequestOnAsync(channel, OpQuery, kind, parameters);
        Assert.AreEqual(ExtOk, first.Op, $"QUERY {kind} failed with errno {first.Addr} ({Guest.Abi.ToErrno((long)first.Addr)})");
        var id = first.Addr;
        if (channel == Control)
        {
            Assert.IsGreaterThan(_lastId, id, "a new id for every QUERY");
            _lastId = id;
        }
        var total = (long)BinaryPrimitives.ReadUInt64LittleEndian(first.Data);
        Assert.IsLessThanOrEqualTo(4L << 20, total);
        AssertPage(first.Data, total, 0);
        var result = new byte[total];
        first.Data.AsSpan(16).CopyTo(result);
        for (long offset = first.Data.Length - 16; offset < total; offset += PageMax)
        {
            var page = await RequestOnAsync(channel, OpQueryPage, id, Le64((ulong)offset));
            Assert.AreEqual((ExtOk, id), (page.Op, page.Addr), $"page at {offset}");
            AssertPage(page.Data, total, offset);
            page.Data.AsSpan(16).CopyTo(result.AsSpan((int)offset));
        }
        var after = await RequestOnAsync(channel, OpQueryPage, id, Le64(0));
        Assert.AreEqual((ExtFail, Errno(GuestErrno.ESTALE)), Fail(after), "released after its last page");
        return result;
    }

    private async Task<ulong> FailsAsync(ulong kind, byte[] parameters)
    {
        var response = await RequestAsync(OpQuery, kind, parameters);
        Assert.AreEqual(ExtFail, response.Op, $"QUERY {kind} succeeded");
        Assert.IsEmpty(response.Data);
        return response.Addr;
    }

    private static void AssertPage(byte[] page, long total, long offset)
    {
        Assert.IsGreaterThanOrEqualTo(16, page.Length);
        Assert.AreEqual(total, (long)BinaryPrimitives.ReadUInt64LittleEndian(page), "total");
        Assert.AreEqual(offset, (long)BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(8)), "offset echoed");
        Assert.AreEqual(Math.Min(PageMax, total - offset), page.Length - 16, "n = min(4056, total - offset)");
    }

    private async Task<ulong> WriteAsync(string path, ulong offset, uint flags, uint mode, string data)
    {
        var result = await QueryAsync(FileWrite, P(offset, flags, mode, (uint)Encoding.UTF8.GetByteCount(path), (uint)Encoding.UTF8.GetByteCount(data), Path(path), data));
        Assert.HasCount(8, result);
        return BinaryPrimitives.ReadUInt64LittleEndian(result);
    }

    private async Task<string> ReadTextAsync(string path, ulong offset, uint max)
    {
        var bytes = await QueryAsync(FileRead, P(offset, max, (uint)Encoding.UTF8.GetByteCount(path), Path(path)));
        Assert.IsLessThanOrEqualTo((int)max, bytes.Length);
        return Encoding.UTF8.GetString(bytes);
    }

    private Task<ulong> ReadFailsAsync(string path) =>
        FailsAsync(FileRead, P(0UL, 4096u, (uint)Encoding.UTF8.GetByteCount(path), Path(path)));

    private async Task<StatRecord> StatAsync(string path, bool nofollow) =>
        ParseStat(await QueryAsync(Stat, P((uint)Encoding.UTF8.GetByteCount(path), nofollow ? 1u : 0u, Path(path))));

    // ---------------------------------------------------------------------------------------------
    // Records (§3.4), checked as they are read

    private sealed record ProcessRecord(uint Pid, uint Ppid, uint Threads, char State, uint Flags, uint Uid, uint Euid, uint Gid, uint Egid,
        ulong Start, string Comm, string Argv);

    private sealed record MappingRecord(ulong Start, ulong End, uint Flags, ulong Offset, ulong Inode, uint Major, uint Minor, string Path);

    private sealed record FileRecord(uint Fd, uint Flags, uint OpenFlags, uint Mode, ulong Position, string Path);

    private sealed record EntryRecord(string Name, uint Type, ulong Inode);

    private sealed record StatRecord(uint Mode, uint Nlink, uint Uid, uint Gid, ulong Size, ulong Inode, long MtimeNs, uint RdevMajor, uint RdevMinor);

    /// <summary>Splits a result into records: each a multiple of 8 long, at least the fixed part, inside the result.</summary>
    private static List<byte[]> Records(byte[] result, int fixedLength)
    {
        var records = new List<byte[]>();
        for (var offset = 0; offset < result.Length;)
        {
            Assert.IsGreaterThanOrEqualTo(2, result.Length - offset);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(result.AsSpan(offset));
            Assert.IsTrue(length >= fixedLength && length % 8 == 0 && length <= result.Length - offset, $"record length {length} at {offset}");
            records.Add(result[offset..(offset + length)]);
            offset += length;
        }
        return records;
    }

    /// <summary>The record holds exactly its fixed part and <paramref name="variable"/> bytes, zero-padded to 8.</summary>
    private static void AssertLength(byte[] record, int fixedLength, int variable)
    {
        Assert.AreEqual((fixedLength + variable + 7) / 8 * 8, record.Length, "length = fixed + strings, padded to 8");
        Assert.IsTrue(record.AsSpan(fixedLength + variable).IndexOfAnyExcept((byte)0) < 0, "zero padding");
    }

    private static List<ProcessRecord> ParseProcesses(byte[] result, int argvMax) =>
        [.. Records(result, 64).Select(r =>
        {
            int argv = U16(r, 2);
            Assert.IsLessThanOrEqualTo(argvMax, argv);
            AssertLength(r, 64, argv);
            var flags = U32(r, 4);
            Assert.AreEqual(0u, flags & ~7u, "flags");
            var comm = r.AsSpan(48, 16);
            var nul = comm.IndexOf((byte)0);
            Assert.IsGreaterThanOrEqualTo(0, nul, "comm NUL-padded");
            Assert.IsTrue(comm[nul..].IndexOfAnyExcept((byte)0) < 0, "comm NUL-padded");
            return new ProcessRecord(U32(r, 8), U32(r, 12), U32(r, 16), (char)U32(r, 20), flags, U32(r, 24), U32(r, 28), U32(r, 32), U32(r, 36),
                U64(r, 40), Encoding.UTF8.GetString(comm[..nul]), Encoding.UTF8.GetString(r, 64, argv));
        })];

    private static List<MappingRecord> ParseMappings(byte[] result) =>
        [.. Records(result, 48).Select(r =>
        {
            int path = U16(r, 2);
            Assert.IsLessThanOrEqualTo(4095, path);
            AssertLength(r, 48, path);
            Assert.AreEqual(0u, U32(r, 4) & ~0x1fu, "flags");
            Assert.IsGreaterThan(U64(r, 8), U64(r, 16), "start < end");
            return new MappingRecord(U64(r, 8), U64(r, 16), U32(r, 4), U64(r, 24), U64(r, 32), U32(r, 40), U32(r, 44), Encoding.UTF8.GetString(r, 48, path));
        })];

    private static List<FileRecord> ParseFiles(byte[] result) =>
        [.. Records(result, 32).Select(r =>
        {
            int path = U16(r, 2);
            Assert.IsLessThanOrEqualTo(4095, path);
            AssertLength(r, 32, path);
            Assert.AreEqual(0u, U32(r, 4) & ~1u, "flags");
            Assert.AreEqual(0u, U32(r, 20), "reserved");
            return new FileRecord(U32(r, 8), U32(r, 4), U32(r, 12), U32(r, 16), U64(r, 24), Encoding.UTF8.GetString(r, 32, path));
        })];

    private static (uint Flags, string Exe, string Cwd, string Root) ParsePaths(byte[] result)
    {
        var r = Records(result, 16).Single();
        int exe = U16(r, 2), cwd = U16(r, 4), root = U16(r, 6);
        AssertLength(r, 16, exe + cwd + root);
        Assert.AreEqual(0u, U32(r, 12), "reserved");
        return (U32(r, 8), Encoding.UTF8.GetString(r, 16, exe), Encoding.UTF8.GetString(r, 16 + exe, cwd), Encoding.UTF8.GetString(r, 16 + exe + cwd, root));
    }

    private static List<EntryRecord> ParseDirectory(byte[] result) =>
        [.. Records(result, 16).Select(r =>
        {
            int name = U16(r, 2);
            Assert.IsTrue(name is >= 1 and <= 255, "name length");
            AssertLength(r, 16, name);
            return new EntryRecord(Encoding.UTF8.GetString(r, 16, name), U32(r, 4), U64(r, 8));
        })];

    private static StatRecord ParseStat(byte[] result)
    {
        var r = Records(result, 56).Single();
        AssertLength(r, 56, 0);
        Assert.AreEqual((0, 0u), (U16(r, 2), U32(r, 20)), "reserved");
        return new StatRecord(U32(r, 4), U32(r, 8), U32(r, 12), U32(r, 16), U64(r, 24), U64(r, 32), (long)U64(r, 40), U32(r, 48), U32(r, 52));
    }

    private static int U16(byte[] r, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(r.AsSpan(offset));

    private static uint U32(byte[] r, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(offset));

    private static ulong U64(byte[] r, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(offset));

    // ---------------------------------------------------------------------------------------------
    // Encoding

    /// <summary>Parameters: uint → le32, ulong → le64, byte → one byte, string → its UTF-8 bytes, byte[] → as is.</summary>
    private static byte[] P(params object[] fields)
    {
        var bytes = new List<byte>();
        foreach (var field in fields)
        {
            switch (field)
            {
                case uint u:
                    var le32 = new byte[4];
                    BinaryPrimitives.WriteUInt32LittleEndian(le32, u);
                    bytes.AddRange(le32);
                    break;
                case ulong l:
                    bytes.AddRange(Le64(l));
                    break;
                case byte b:
                    bytes.Add(b);
                    break;
                case string s:
                    bytes.AddRange(Encoding.UTF8.GetBytes(s));
                    break;
                case byte[] raw:
                    bytes.AddRange(raw);
                    break;
                default:
                    throw new ArgumentException($"no encoding for {field.GetType()}", nameof(fields));
            }
        }
        return [.. bytes];
    }

    private static byte[] Path(string path) => Encoding.UTF8.GetBytes(path);

    private static byte[] Le64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private static void Header(Span<byte> region, ulong op, ulong addr, ulong size)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(region, op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], size);
    }

    private static ulong Op(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region);

    private static ulong Addr(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[8..]);

    private static ulong Size(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[16..]);

    /// <summary>Runs the handler on the one held event, then answers with a verdict that changes nothing.</summary>
    private sealed class HeldSink(Func<IGuestChannel, Task> handler) : IGuestEventSink
    {
        public int Events { get; private set; }

        public ExceptionDispatchInfo? Error { get; private set; }

        public async ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            var eventId = Addr(channel.Region);
            Events++;
            try
            {
                await handler(channel);
            }
            catch (Exception e)
            {
                Error ??= ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                var region = channel.Region;
                region[..(24 + 72)].Clear();
                Header(region, OpVerdict, eventId, 72);
                channel.ReleaseToGuest();
            }
        }
    }
}

[TestClass, TestCategory("RealGuest")]
public sealed class QueryWireX86_64Tests : QueryWireTests
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QueryWireX86_64Tests), GuestAbi.X86_64, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QueryWireX86_64Tests));
}

[TestClass, TestCategory("RealGuest")]
public sealed class QueryWireMipsElTests : QueryWireTests
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QueryWireMipsElTests), GuestAbi.MipsEl, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QueryWireMipsElTests));
}

[TestClass, TestCategory("RealGuest")]
public sealed class QueryWireAArch64Tests : QueryWireTests
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QueryWireAArch64Tests), GuestAbi.AArch64, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QueryWireAArch64Tests));
}

[TestClass, TestCategory("RealGuest")]
public sealed class QueryWireArmElTests : QueryWireTests
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QueryWireArmElTests), GuestAbi.ArmEl, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QueryWireArmElTests));
}
