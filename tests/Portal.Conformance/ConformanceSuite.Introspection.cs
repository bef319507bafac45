using System.Globalization;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Introspection;
using Portal.Memory;
using Portal.Testing.Programs;

namespace Portal.Conformance;

/// <summary>
/// Introspection (docs/protocol.md §3.4): the process list, a live process's mappings, open files
/// and paths, guest files by path, and how each answer is paged. The live process is
/// <c>portal-selftest hold PATH</c> (docs/guest-programs.md): it keeps PATH open and mapped, in /tmp,
/// until PATH.release exists.
/// </summary>
public abstract partial class ConformanceSuite
{
    /// <summary>Bytes one page of a query result carries (4072 − the 16-byte page header).</summary>
    private const int QueryPageBytes = 4056;

    /// <summary>A held <c>portal-selftest hold</c>: its file, its process as the list showed it, and the running command.</summary>
    protected sealed record HeldProcess(string Path, GuestProcess Process, Task<Portal.Guests.GuestCommandResult> Run);

    /// <summary>
    /// Writes a file under /tmp (through the session: FILE_WRITE is tested on the way), starts
    /// <c>portal-selftest hold</c> on it, and waits until the process list shows it.
    /// </summary>
    protected async Task<HeldProcess> HoldAsync(PortalSession session)
    {
        var path = $"/tmp/portal-hold-{Guid.NewGuid():n}";
        await session.Files.WriteAllBytesAsync(path, Encoding.ASCII.GetBytes("held by portal-selftest\n"), cancellationToken: TestContext.CancellationToken);
        var run = RunAsync(PortalSelfTest.Name, "hold", path);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var processes = await session.Processes.ListAsync(cancellationToken: TestContext.CancellationToken);
            // Its comm too: an exec replaces argv a moment before the comm, so for that moment the list shows
            // the new argv under the old name (the agent's env, say) — the kernel's own state, not a torn record.
            var held = processes.FirstOrDefault(p => p.Arguments.Count == 3 && p.Arguments[1] == "hold" && p.Arguments[2] == path
                && p.Comm == PortalSelfTest.Name);
            // ...and its file mapped: the list shows the process as soon as it has exec'd, before it opened and mapped PATH
            if (held is not null && (await session.Processes.GetMappingsAsync(held.Pid, TestContext.CancellationToken)).Any(m => m.Path == path))
                return new HeldProcess(path, held, run);
            if (run.IsCompleted)
                Assert.Fail($"portal-selftest hold exited before the list showed it:\n{(await run).Output}");
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"the process list never showed portal-selftest hold {path}; it has:\n{string.Join('\n', processes)}");
            await Task.Delay(20, TestContext.CancellationToken);
        }
    }

    /// <summary>Lets the held process go and checks that it exited as itself.</summary>
    protected async Task ReleaseAsync(PortalSession session, HeldProcess held)
    {
        await session.Files.WriteAllBytesAsync(held.Path + ".release", "go"u8.ToArray(), cancellationToken: TestContext.CancellationToken);
        var result = await held.Run;
        Assert.AreEqual(0, result.ExitCode, result.Output);
        StringAssert.Contains(result.Output, string.Create(CultureInfo.InvariantCulture, $"hold pid={held.Process.Pid} "));
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task The_process_list_shows_a_live_process_with_its_arguments_and_parent()
    {
        await using var session = await AttachAsync();
        var held = await HoldAsync(session);
        try
        {
            var process = held.Process;
            Assert.AreEqual(PortalSelfTest.Name, process.Comm);
            Assert.AreEqual(PortalSelfTest.Name, process.Arguments[0][(process.Arguments[0].LastIndexOf('/') + 1)..]);
            Assert.IsFalse(process.IsKernelThread);
            Assert.AreEqual(1, process.Threads);
            Assert.AreEqual(0u, process.Uid);
            StringAssert.Contains("RS", process.State.ToString(), $"a process waiting in nanosleep is sleeping or running: {process.State}");
            var list = await session.Processes.ListAsync(cancellationToken: TestContext.CancellationToken);
            Assert.IsTrue(list.Any(p => p.Pid == process.ParentPid), $"its parent {process.ParentPid} is in the list");
            Assert.IsTrue(list.Any(p => p.Pid == 1 && !p.IsKernelThread), "init (pid 1) is in the list");
            Assert.IsTrue(list.Count(p => p.Pid == process.Pid) == 1, "one record per thread group");
        }
        finally
        {
            await ReleaseAsync(session, held);
        }
        var after = await session.Processes.ListAsync(cancellationToken: TestContext.CancellationToken);
        Assert.IsFalse(after.Any(p => p.Pid == held.Process.Pid && p.Arguments.Contains(held.Path)), "the exited process is gone from a new list");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_live_process_has_its_file_mapped_and_open_and_works_in_tmp()
    {
        await using var session = await AttachAsync();
        var held = await HoldAsync(session);
        try
        {
            var pid = held.Process.Pid;
            var mappings = await session.Processes.GetMappingsAsync(pid, TestContext.CancellationToken);
            var mapped = mappings.SingleOrDefault(m => m.Path == held.Path);
            Assert.IsNotNull(mapped, $"one mapping of {held.Path} among:\n{string.Join('\n', mappings)}");
            Assert.AreEqual(MappingPermissions.Read, mapped.Permissions, mapped.ToString());
            Assert.AreEqual(0UL, mapped.FileOffset);
            Assert.AreEqual((ulong)Abi.PageSize, mapped.Length);
            Assert.AreNotEqual(0UL, mapped.Inode);
            Assert.AreEqual(mapped, await session.Processes.MappingOfAsync(pid, mapped.Start + 17, TestContext.CancellationToken));
            Assert.IsNull(await session.Processes.MappingOfAsync(pid, 0, TestContext.CancellationToken), "nothing is mapped at address 0");

            var files = await session.Processes.GetFileDescriptorsAsync(pid, TestContext.CancellationToken);
            var open = files.SingleOrDefault(f => f.Path == held.Path);
            Assert.IsNotNull(open, $"an fd of {held.Path} among:\n{string.Join('\n', files)}");
            Assert.AreEqual(GuestFileType.Regular, open.Type);
            Assert.AreEqual(FileAccess.Read, open.Access);
            var devnull = files.FirstOrDefault(f => f.Path == "/dev/null" && f.Fd > 2);     // fds 0-2 may be /dev/null too, read-only (the agent's stdin)
            Assert.IsNotNull(devnull, "portal-selftest opens /dev/null first");
            Assert.AreEqual(GuestFileType.CharacterDevice, devnull.Type);
            Assert.AreEqual(FileAccess.ReadWrite, devnull.Access);

            var paths = await session.Processes.GetPathsAsync(pid, TestContext.CancellationToken);
            Assert.AreEqual("/tmp", paths.WorkingDirectory);
            Assert.AreEqual("/", paths.Root);
            Assert.IsNotNull(paths.Executable);
            Assert.AreEqual(PortalSelfTest.Name, paths.Executable[(paths.Executable.LastIndexOf('/') + 1)..]);
        }
        finally
        {
            await ReleaseAsync(session, held);
        }
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Kernel_threads_are_listed_without_arguments_memory_or_executable()
    {
        await using var session = await AttachAsync();
        var list = await session.Processes.ListAsync(cancellationToken: TestContext.CancellationToken);
        var kthreadd = list.SingleOrDefault(p => p.Pid == 2);
        Assert.IsNotNull(kthreadd, "kthreadd is pid 2");
        Assert.IsTrue(kthreadd.IsKernelThread, kthreadd.ToString());
        Assert.AreEqual(0, kthreadd.Arguments.Count);
        Assert.AreEqual("[kthreadd]", kthreadd.CommandLine);
        Assert.AreEqual(0, (await session.Processes.GetMappingsAsync(2, TestContext.CancellationToken)).Count);
        Assert.IsNull((await session.Processes.GetPathsAsync(2, TestContext.CancellationToken)).Executable);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_pid_that_is_no_process_is_ESRCH_for_every_process_query()
    {
        await using var session = await AttachAsync();
        const int Nobody = 0x3fff_fff0;     // above the kernel's largest pid_max
        foreach (var query in new Func<Task>[]
        {
            () => session.Processes.GetMappingsAsync(Nobody, TestContext.CancellationToken),
            () => session.Processes.MappingOfAsync(Nobody, 0x1000, TestContext.CancellationToken),
            () => session.Processes.GetFileDescriptorsAsync(Nobody, TestContext.CancellationToken),
            () => session.Processes.GetPathsAsync(Nobody, TestContext.CancellationToken),
        })
        {
            var error = await CaptureAsync(query);
            Assert.AreEqual(GuestErrno.ESRCH, (error as GuestOperationException)?.Errno, $"got {error}");
        }
    }

    /// <summary>
    /// A chain of 40 processes below the command (<c>--descend 40</c>), the last one holding a file,
    /// makes the list longer than a page on every guest, the emulated one too: 41 records of about
    /// 150 bytes each with their argv.
    /// </summary>
    [TestMethod, TestCategory("Conformance")]
    public async Task The_process_list_costs_one_exchange_per_page_of_its_records()
    {
        const int Generations = 40;
        await using var session = await AttachAsync();
        var path = $"/tmp/portal-hold-{Guid.NewGuid():n}";
        await session.Files.WriteAllBytesAsync(path, "held\n"u8.ToArray(), cancellationToken: TestContext.CancellationToken);
        var run = RunAsync(PortalSelfTest.Name, "--descend", Generations.ToString(CultureInfo.InvariantCulture), "hold", path);
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await session.Processes.ListAsync(cancellationToken: TestContext.CancellationToken))
                   .Count(p => p.Arguments.Count == 5 && p.Arguments[^1] == path) < Generations + 1)
            {
                if (run.IsCompleted)
                    Assert.Fail($"portal-selftest --descend {Generations} hold exited early:\n{(await run).Output}");
                Assert.IsLessThan(deadline, DateTime.UtcNow, $"the {Generations + 1} processes of the chain never all showed");
                await Task.Delay(20, TestContext.CancellationToken);
            }

            var paged = false;
            foreach (var argvBytes in new[] { 0, 16, GuestProcesses.DefaultArgumentBytes })
            {
                var before = session.Statistics.ControlExchanges;
                var list = await session.Processes.ListAsync(argvBytes, TestContext.CancellationToken);
                var exchanges = session.Statistics.ControlExchanges - before;
                // each record: 64 fixed bytes and argv's bytes as the kernel stores them (each argument NUL-terminated), padded to 8
                var total = list.Sum(p => (64L + ArgvBytes(p, argvBytes) + 7) / 8 * 8);
                Assert.AreEqual(Math.Max(1, (total + QueryPageBytes - 1) / QueryPageBytes), exchanges,
                    $"{list.Count} processes, {total} bytes of records with argv ≤ {argvBytes}");
                Assert.IsTrue(list.All(p => argvBytes > 0 || p.Arguments.Count == 0), "argv 0 bytes: no arguments");
                paged |= exchanges > 1;
            }
            Assert.IsTrue(paged, "with the chain, the list with argv takes more than one page: paging is what this test checks");
        }
        finally
        {
            await session.Files.WriteAllBytesAsync(path + ".release", Array.Empty<byte>(), cancellationToken: TestContext.CancellationToken);
        }
        var result = await run;
        Assert.AreEqual(0, result.ExitCode, result.Output);
    }

    private static long ArgvBytes(GuestProcess process, int argvMax) =>
        process.Traits.HasFlag(GuestProcessTraits.ArgumentsTruncated) ? argvMax
        : process.Arguments.Sum(a => Encoding.UTF8.GetByteCount(a) + 1L);

    [TestMethod, TestCategory("Conformance")]
    public async Task A_guest_file_is_written_read_back_listed_and_stat_in_as_many_exchanges_as_pages()
    {
        await using var session = await AttachAsync();
        var directory = $"/tmp/portal-files-{Guid.NewGuid():n}"[..24];
        var path = directory + "-data";
        var content = SelfTestPattern.Bytes(0, 10_000);
        await session.Files.WriteAllBytesAsync(path, content, cancellationToken: TestContext.CancellationToken);

        var before = session.Statistics.ControlExchanges;
        var read = await session.Files.ReadAllBytesAsync(path, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual(3, session.Statistics.ControlExchanges - before, "10000 bytes are three pages of one read");
        CollectionAssert.AreEqual(content, read);

        var status = await session.Files.StatAsync(path, cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual(GuestFileType.Regular, status.Type);
        Assert.AreEqual(10_000L, status.Size);
        Assert.AreEqual(0x1a4u, status.Mode & 0xfff, "created 0644");

        CollectionAssert.AreEqual(content.AsSpan(4000, 100).ToArray(),
            await session.Files.ReadAsync(path, 4000, 100, TestContext.CancellationToken), "a read at an offset");
        Assert.AreEqual(5L, await session.Files.WriteAsync(path, 0, "tail\n"u8.ToArray(), GuestWriteMode.Append,
            cancellationToken: TestContext.CancellationToken));
        Assert.AreEqual(10_005L, (await session.Files.StatAsync(path, cancellationToken: TestContext.CancellationToken)).Size, "appended at the end");

        var entries = await session.Files.ListDirectoryAsync("/tmp", TestContext.CancellationToken);
        var entry = entries.SingleOrDefault(e => "/tmp/" + e.Name == path);
        Assert.IsNotNull(entry, $"{path} is listed in /tmp");
        Assert.AreEqual(status.Inode, entry.Inode);
        Assert.IsTrue(entry.Type is GuestFileType.Regular or GuestFileType.Unknown, entry.ToString());
        Assert.IsFalse(entries.Any(e => e.Name is "." or ".."));
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_file_that_cannot_be_read_is_an_error_with_its_errno_never_an_empty_file()
    {
        await using var session = await AttachAsync();
        async Task<GuestErrno?> ErrnoOf(Func<Task> action) => ((await CaptureAsync(action)) as GuestOperationException)?.Errno;
        var missing = $"/tmp/portal-missing-{Guid.NewGuid():n}";
        Assert.AreEqual(GuestErrno.ENOENT, await ErrnoOf(() => session.Files.ReadAllBytesAsync(missing, cancellationToken: TestContext.CancellationToken)));
        Assert.AreEqual(GuestErrno.ENOENT, await ErrnoOf(() => session.Files.StatAsync(missing, cancellationToken: TestContext.CancellationToken)));
        Assert.AreEqual(GuestErrno.ENOENT, await ErrnoOf(() => session.Files.ListDirectoryAsync(missing, TestContext.CancellationToken)));
        Assert.AreEqual(GuestErrno.ENOENT, await ErrnoOf(() => session.Files.WriteAsync(missing, 0, "x"u8.ToArray(),
            cancellationToken: TestContext.CancellationToken)), "without Create a missing file is not made");
        Assert.AreEqual(GuestErrno.EISDIR, await ErrnoOf(() => session.Files.ReadAllBytesAsync("/tmp", cancellationToken: TestContext.CancellationToken)));
        Assert.AreEqual(GuestErrno.ENOTDIR, await ErrnoOf(() => session.Files.ListDirectoryAsync("/proc/version", TestContext.CancellationToken)));

        var version = await session.Files.ReadAllTextAsync("/proc/version", TestContext.CancellationToken);
        StringAssert.Contains(version, session.Guest.KernelRelease, "a procfs file (size 0 on a real guest) is read whole");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Concurrent_queries_each_get_their_own_pages()
    {
        await using var session = await AttachAsync();
        var path = $"/tmp/portal-concurrent-{Guid.NewGuid():n}";
        var content = SelfTestPattern.Bytes(7, 30_000);
        await session.Files.WriteAllBytesAsync(path, content, cancellationToken: TestContext.CancellationToken);
        var reads = Enumerable.Range(0, 3).Select(_ => session.Files.ReadAllBytesAsync(path, cancellationToken: TestContext.CancellationToken)).ToList();
        var lists = Enumerable.Range(0, 3).Select(_ => session.Processes.ListAsync(cancellationToken: TestContext.CancellationToken)).ToList();
        foreach (var read in reads)
            CollectionAssert.AreEqual(content, await read);
        foreach (var list in lists)
            Assert.IsTrue((await list).Any(p => p.Pid == 1));
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_query_from_a_handler_works_only_where_the_control_thread_can_run()
    {
        var (_, error) = await WithSelfTestAsync(async (context, _) =>
            await CaptureAsync(() => context.Session.Processes.ListAsync(cancellationToken: TestContext.CancellationToken)));
        await using var session = await AttachAsync();
        if (session.Guest.CpuSlots == 1)
        {
            Assert.IsInstanceOfType<InvalidOperationException>(error, "refused at once: the only vCPU is held by the handler");
            StringAssert.Contains(error!.Message, "only vCPU");
        }
        else
        {
            Assert.IsNull(error, $"with {session.Guest.CpuSlots} vCPUs the control thread runs beside the held one: {error}");
        }
    }
}
