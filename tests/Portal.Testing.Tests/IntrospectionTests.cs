using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Guests;
using Portal.Introspection;
using Portal.Memory;
using Portal.Testing.Processes;
using Portal.Testing.Programs;

namespace Portal.Testing.Tests;

/// <summary>
/// session.Processes and session.Files against the emulated guest (docs/protocol.md §3.4): what it serves
/// looks like a small Linux, and every page and record passes the host's checks.
/// </summary>
[TestClass]
public sealed class IntrospectionTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    public TestContext TestContext { get; set; } = null!;

    private CancellationToken Cancellation => TestContext.CancellationToken;

    [TestMethod]
    public async Task A_20_KB_file_comes_back_byte_identical_in_one_exchange_per_4056_bytes()
    {
        await using var guest = new EmulatedGuest(GuestAbi.MipsEl);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var content = new byte[20 * 1024];
        new Random(7).NextBytes(content);
        guest.AddFile("/etc/firmware.bin", content);

        var before = session.Statistics.ControlExchanges;
        var read = await session.Files.ReadAllBytesAsync("/etc/firmware.bin", cancellationToken: Cancellation);
        var exchanges = session.Statistics.ControlExchanges - before;

        CollectionAssert.AreEqual(content, read);
        Assert.AreEqual((content.Length + 4055) / 4056, exchanges, "⌈20480 / 4056⌉ = 6: one QUERY and five QUERY_PAGE");
    }

    [TestMethod]
    public async Task Hold_is_seen_with_its_argv_mapping_descriptor_and_working_directory()
    {
        await using var guest = new EmulatedGuest(GuestAbi.AArch64);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        const string Path = "/etc/held.bin";
        guest.AddFile(Path, Encoding.ASCII.GetBytes("held content"));

        var run = guest.RunAsync(GuestCommand.Of(PortalSelfTest.Name, "hold", Path), Cancellation);
        var (holder, mapping) = await WaitForMappingAsync(session, Path, run);

        CollectionAssert.AreEqual(new[] { PortalSelfTest.Name, "hold", Path }, holder.Arguments.ToArray());
        Assert.AreEqual(PortalSelfTest.Name, holder.Comm);
        Assert.AreEqual(1, holder.ParentPid);
        Assert.IsFalse(holder.IsKernelThread);

        var status = await session.Files.StatAsync(Path, cancellationToken: Cancellation);
        Assert.AreEqual(MappingPermissions.Read, mapping.Permissions, "PROT_READ, MAP_PRIVATE");
        Assert.AreEqual(4096UL, mapping.Length);
        Assert.AreEqual(0UL, mapping.FileOffset);
        Assert.AreEqual(status.Inode, mapping.Inode, "the mapping names the file's inode");
        Assert.AreEqual(mapping, await session.Processes.MappingOfAsync(holder.Pid, mapping.Start + 100, Cancellation));

        var descriptors = await session.Processes.GetFileDescriptorsAsync(holder.Pid, Cancellation);
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 4 }, descriptors.Select(d => d.Fd).ToArray());
        var held = descriptors[4];
        Assert.AreEqual(Path, held.Path);
        Assert.AreEqual(FileAccess.Read, held.Access);
        Assert.AreEqual(GuestFileType.Regular, held.Type);
        Assert.AreEqual(0x81a4u, held.Mode, "0100644");
        Assert.AreEqual("/dev/null", descriptors[3].Path, "every portal-selftest command opens /dev/null first");
        Assert.AreEqual(FileAccess.ReadWrite, descriptors[3].Access);
        Assert.AreEqual(0x21b6u, descriptors[3].Mode, "crw-rw-rw-");
        Assert.AreEqual("/dev/console", descriptors[0].Path);
        Assert.AreEqual(0x2190u, descriptors[0].Mode, "crw--w----");

        var paths = await session.Processes.GetPathsAsync(holder.Pid, Cancellation);
        Assert.AreEqual(new GuestProcessPaths("/bin/portal-selftest", "/tmp", "/"), paths);

        await session.Files.WriteAllBytesAsync(Path + ".release", Array.Empty<byte>(), cancellationToken: Cancellation);
        var result = await run.WaitAsync(Patience, Cancellation);
        Assert.AreEqual(0, result.ExitCode, result.Output);
        Assert.AreEqual($"hold pid={holder.Pid} fd=4 map=0x{mapping.Start:x}\n", result.Output);
        var after = await session.Processes.ListAsync(cancellationToken: Cancellation);
        Assert.IsFalse(after.Any(p => p.Pid == holder.Pid), "an ended program leaves the process list");
        var gone = await Assert.ThrowsExactlyAsync<GuestOperationException>(() => session.Processes.GetPathsAsync(holder.Pid, Cancellation));
        Assert.AreEqual(GuestErrno.ESRCH, gone.Errno);
    }

    [TestMethod]
    public async Task Hold_opens_a_relative_path_in_tmp_and_reports_a_missing_one()
    {
        await using var guest = new EmulatedGuest(GuestAbi.ArmEl);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var missing = await guest.RunAsync(GuestCommand.Of(PortalSelfTest.Name, "hold", "/etc/nothing"), Cancellation);
        Assert.AreEqual(1, missing.ExitCode);
        Assert.AreEqual("hold: open /etc/nothing: errno=2\n", missing.Output);

        guest.AddFile("/tmp/local.bin", [1, 2, 3]);
        var run = guest.RunAsync(GuestCommand.Of(PortalSelfTest.Name, "hold", "local.bin"), Cancellation);
        var (holder, mapping) = await WaitForMappingAsync(session, "/tmp/local.bin", run);
        Assert.AreEqual("local.bin", holder.Arguments[2]);
        Assert.AreEqual("/tmp/local.bin", mapping.Path, "the mapping shows the resolved path");
        await session.Files.WriteAllBytesAsync("/tmp/local.bin.release", Array.Empty<byte>(), cancellationToken: Cancellation);
        Assert.AreEqual(0, (await run.WaitAsync(Patience, Cancellation)).ExitCode);
    }

    [TestMethod]
    public async Task The_process_list_is_init_kthreadd_and_the_running_programs()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var processes = await session.Processes.ListAsync(cancellationToken: Cancellation);
        Assert.HasCount(2, processes);
        var (init, kthreadd) = (processes[0], processes[1]);
        Assert.AreEqual((1, 0, "init", 'S', 1), (init.Pid, init.ParentPid, init.Comm, init.State, init.Threads));
        CollectionAssert.AreEqual(new[] { "/sbin/init" }, init.Arguments.ToArray());
        Assert.AreEqual((2, 0, "kthreadd", GuestProcessTraits.KernelThread), (kthreadd.Pid, kthreadd.ParentPid, kthreadd.Comm, kthreadd.Traits));
        Assert.IsEmpty(kthreadd.Arguments);

        var cut = await session.Processes.ListAsync(argumentBytes: 5, Cancellation);
        Assert.AreEqual(GuestProcessTraits.ArgumentsTruncated, cut[0].Traits);
        CollectionAssert.AreEqual(new[] { "/sbin" }, cut[0].Arguments.ToArray(), "the first 5 bytes of \"/sbin/init\\0\"");

        Assert.AreEqual(new GuestProcessPaths(null, "/", "/"), await session.Processes.GetPathsAsync(2, Cancellation));
        Assert.AreEqual(new GuestProcessPaths("/sbin/init", "/", "/"), await session.Processes.GetPathsAsync(1, Cancellation));
        Assert.IsEmpty(await session.Processes.GetMappingsAsync(2, Cancellation));
        Assert.IsEmpty(await session.Processes.GetFileDescriptorsAsync(2, Cancellation));
        Assert.HasCount(3, await session.Processes.GetFileDescriptorsAsync(1, Cancellation));
        var missing = await Assert.ThrowsExactlyAsync<GuestOperationException>(() => session.Processes.GetMappingsAsync(99_999, Cancellation));
        Assert.AreEqual(GuestErrno.ESRCH, missing.Errno);

        // A running program is listed, with its start time after boot.
        var started = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        var run = guest.RunAsync(async context =>
        {
            started.SetResult(context.Process.Pid);
            await release.Task;
            return 0;
        }, ["/usr/sbin/daemon", "--foreground"], Cancellation);
        var pid = await started.Task.WaitAsync(Patience, Cancellation);
        var listed = (await session.Processes.ListAsync(cancellationToken: Cancellation)).Single(p => p.Pid == pid);
        CollectionAssert.AreEqual(new[] { "/usr/sbin/daemon", "--foreground" }, listed.Arguments.ToArray());
        Assert.AreEqual("daemon", listed.Comm);
        Assert.IsGreaterThan(TimeSpan.Zero, listed.StartedAfterBoot);
        Assert.AreEqual("/bin/daemon", (await session.Processes.GetPathsAsync(pid, Cancellation)).Executable);
        release.SetResult();
        await run.WaitAsync(Patience, Cancellation);
        Assert.HasCount(2, await session.Processes.ListAsync(cancellationToken: Cancellation));
    }

    [TestMethod]
    public async Task Mappings_are_runs_of_like_pages_with_the_file_offset_of_their_start()
    {
        await using var guest = new EmulatedGuest(GuestAbi.I386);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        const int Page = 4096;
        var content = new byte[Page * 3 + 100];
        new Random(3).NextBytes(content);
        guest.AddFile("/lib/data.so", content);

        var mapped = new TaskCompletionSource<(int Pid, ulong Map, ulong Anonymous, string Errors)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        var run = guest.RunAsync(async context =>
        {
            var fd = (int)await context.OpenAsync("/lib/data.so", 0);
            // Three pages from file offset 4096 (the last one past the end of the file: zeros after 100 bytes),
            // the middle one then made inaccessible: three runs.
            var map = (ulong)await context.MmapFileAsync(3 * Page, PageProtection.Read, shared: false, fd, offset: Page);
            await context.MprotectAsync(map + Page, Page, PageProtection.None);
            var anonymous = (ulong)await context.MmapAsync(2 * Page, PageProtection.ReadWrite);
            CollectionAssert.AreEqual(content[Page..(2 * Page)], context.Memory.Read(map, Page), "the file's bytes, by copy");
            CollectionAssert.AreEqual(content[(3 * Page)..].Concat(new byte[Page - 100]).ToArray(), context.Memory.Read(map + 2 * Page, Page));
            var errors = string.Join(' ',
                GuestProgramContext.Libc(await context.MmapFileAsync(Page, PageProtection.Read, false, fd, offset: 100)).Errno,     // unaligned: EINVAL
                GuestProgramContext.Libc(await context.MmapFileAsync(Page, PageProtection.Read, false, 99)).Errno,                   // EBADF
                GuestProgramContext.Libc(await context.MmapFileAsync(Page, PageProtection.Read, false, 0)).Errno,                    // the console: ENODEV
                GuestProgramContext.Libc(await context.MmapFileAsync(Page, PageProtection.ReadWrite, true, fd)).Errno);              // shared, writable, O_RDONLY: EACCES
            mapped.SetResult((context.Process.Pid, map, anonymous, errors));
            await release.Task;
            return 0;
        }, ["mapper"], Cancellation);
        var (pid, map, anonymous, errors) = await mapped.Task.WaitAsync(Patience, Cancellation);
        Assert.AreEqual("22 9 19 13", errors, "EINVAL EBADF ENODEV EACCES (i386 numbers)");

        var inode = (await session.Files.StatAsync("/lib/data.so", cancellationToken: Cancellation)).Inode;
        var mappings = await session.Processes.GetMappingsAsync(pid, Cancellation);
        var file = mappings.Where(m => m.Path == "/lib/data.so").ToList();
        Assert.HasCount(3, file);
        Assert.AreEqual((map, map + Page, MappingPermissions.Read, (ulong)Page, inode), Describe(file[0]));
        Assert.AreEqual((map + Page, map + 2 * Page, MappingPermissions.None, 2UL * Page, inode), Describe(file[1]));
        Assert.AreEqual((map + 2 * Page, map + 3 * Page, MappingPermissions.Read, 3UL * Page, inode), Describe(file[2]));
        Assert.AreEqual("r--p", file[0].PermissionText);
        var heap = mappings.Single(m => m.Start == anonymous);
        Assert.AreEqual((anonymous, anonymous + 2 * Page, MappingPermissions.Read | MappingPermissions.Write, 0UL, 0UL), Describe(heap));
        Assert.AreEqual("", heap.Path, "anonymous memory has no path");
        Assert.IsNull(await session.Processes.MappingOfAsync(pid, map + 3 * Page, Cancellation), "the guard page after a mapping");
        Assert.AreEqual(file[1], await session.Processes.MappingOfAsync(pid, map + Page + 5, Cancellation));
        release.SetResult();
        await run.WaitAsync(Patience, Cancellation);

        static (ulong, ulong, MappingPermissions, ulong, ulong) Describe(GuestMapping m) => (m.Start, m.End, m.Permissions, m.FileOffset, m.Inode);
    }

    [TestMethod]
    public async Task Files_are_created_truncated_appended_and_written_at_an_offset()
    {
        await using var guest = new EmulatedGuest(GuestAbi.Mips);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var files = session.Files;
        async Task<string> TextAsync(string path) => Encoding.ASCII.GetString(await files.ReadAllBytesAsync(path, cancellationToken: Cancellation));
        byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

        Assert.AreEqual("Linux version 6.1.0-portal-emulated (emulated)\n", await files.ReadAllTextAsync("/proc/version", Cancellation));

        var noCreate = await Assert.ThrowsExactlyAsync<GuestOperationException>(() => files.WriteAsync("/tmp/a", 0, Ascii("x"), cancellationToken: Cancellation));
        Assert.AreEqual(GuestErrno.ENOENT, noCreate.Errno, "a missing file without create");
        var noParent = await Assert.ThrowsExactlyAsync<GuestOperationException>(() => files.WriteAllBytesAsync("/tmp/no/a", Ascii("x"), cancellationToken: Cancellation));
        Assert.AreEqual(GuestErrno.ENOENT, noParent.Errno, "a missing directory, even with create");
        var directory = await Assert.ThrowsExactlyAsync<GuestOperationException>(() => files.WriteAllBytesAsync("/tmp", Ascii("x"), cancellationToken: Cancellation));
        Assert.AreEqual(GuestErrno.EISDIR, directory.Errno);

        await files.WriteAllBytesAsync("/tmp/a", Ascii("hello world"), cancellationToken: Cancellation);
        Assert.AreEqual("hello world", await TextAsync("/tmp/a"));
        Assert.AreEqual(1, await files.WriteAsync("/tmp/a", 0, Ascii("!"), GuestWriteMode.Append, cancellationToken: Cancellation));
        Assert.AreEqual(5, await files.WriteAsync("/tmp/a", 6, Ascii("WORLD"), cancellationToken: Cancellation));
        Assert.AreEqual("hello WORLD!", await TextAsync("/tmp/a"));
        await files.WriteAsync("/tmp/a", 0, Ascii("x"), GuestWriteMode.Truncate, cancellationToken: Cancellation);
        await files.WriteAsync("/tmp/a", 3, Ascii("yz"), cancellationToken: Cancellation);
        Assert.AreEqual("x\0\0yz", await TextAsync("/tmp/a"), "a write past the end fills the gap with zeros");
        Assert.IsEmpty(await files.ReadAsync("/tmp/a", 100, 10, Cancellation), "a read past the end");
        CollectionAssert.AreEqual(Ascii("\0y"), await files.ReadAsync("/tmp/a", 2, 2, Cancellation));

        // Large contents go one region-full per FILE_WRITE.
        var large = new byte[10_000];
        new Random(5).NextBytes(large);
        await files.WriteAllBytesAsync("/tmp/large", large, cancellationToken: Cancellation);
        CollectionAssert.AreEqual(large, await files.ReadAllBytesAsync("/tmp/large", cancellationToken: Cancellation));

        // Devices: /dev/zero reads zeros, /dev/null nothing; both swallow writes.
        CollectionAssert.AreEqual(new byte[16], await files.ReadAsync("/dev/zero", 0, 16, Cancellation));
        Assert.IsEmpty(await files.ReadAllBytesAsync("/dev/null", cancellationToken: Cancellation));
        Assert.AreEqual(3, await files.WriteAsync("/dev/null", 0, Ascii("abc"), cancellationToken: Cancellation));
    }

    [TestMethod]
    public async Task Directories_and_stat_look_like_linux()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        var files = session.Files;
        guest.AddFile("/etc/config/network", Encoding.ASCII.GetBytes("eth0"));

        var root = await files.ListDirectoryAsync("/", Cancellation);
        CollectionAssert.AreEqual(new[] { "bin", "dev", "etc", "proc", "sys", "tmp" }, root.Select(e => e.Name).ToArray());
        Assert.IsTrue(root.All(e => e.Type == GuestFileType.Directory));
        var dev = await files.ListDirectoryAsync("/dev", Cancellation);
        CollectionAssert.AreEqual(new[] { "console", "null", "tty", "zero" }, dev.Select(e => e.Name).ToArray());
        Assert.IsTrue(dev.All(e => e.Type == GuestFileType.CharacterDevice));
        var etc = await files.ListDirectoryAsync("/etc/", Cancellation);
        Assert.AreEqual(new GuestDirectoryEntry("config", GuestFileType.Directory, etc[0].Inode), etc.Single(), "a file's parents exist with it");
        var config = (await files.ListDirectoryAsync("/etc/./config//", Cancellation)).Single();
        Assert.AreEqual(("network", GuestFileType.Regular), (config.Name, config.Type));

        var network = await files.StatAsync("/etc/config/network", cancellationToken: Cancellation);
        Assert.AreEqual((0x81a4u, 1u, 0u, 0u, 4L), (network.Mode, network.Links, network.Uid, network.Gid, network.Size), "0100644, one link, root's, 4 bytes");
        Assert.AreEqual(config.Inode, network.Inode, "the listing and stat agree on the inode");
        Assert.AreEqual(network.Inode, (await files.StatAsync("/etc/../etc/config/network", cancellationToken: Cancellation)).Inode, "stable per path");
        var etcStatus = await files.StatAsync("/etc", cancellationToken: Cancellation);
        Assert.AreEqual((0x41edu, 2u, GuestFileType.Directory), (etcStatus.Mode, etcStatus.Links, etcStatus.Type), "040755, two links");
        Assert.AreNotEqual(network.Inode, etcStatus.Inode);
        var devNull = await files.StatAsync("/dev/null", cancellationToken: Cancellation);
        Assert.AreEqual((0x21b6u, 1u, 3u), (devNull.Mode, devNull.DeviceMajor, devNull.DeviceMinor), "crw-rw-rw- 1,3");

        // mtime: the last write; a new file's permissions: the mode asked, less the umask (022).
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await files.WriteAllBytesAsync("/tmp/secret", Encoding.ASCII.GetBytes("s"), createMode: 0x180 /* 0600 */, cancellationToken: Cancellation);
        var secret = await files.StatAsync("/tmp/secret", cancellationToken: Cancellation);
        Assert.AreEqual(0x8180u, secret.Mode, "0100600");
        Assert.IsGreaterThanOrEqualTo(before, secret.Modified);
        Assert.IsLessThanOrEqualTo(DateTimeOffset.UtcNow.AddSeconds(1), secret.Modified);
        await files.WriteAllBytesAsync("/tmp/open", Encoding.ASCII.GetBytes("o"), createMode: 0x1ff /* 0777 */, cancellationToken: Cancellation);
        Assert.AreEqual(0x81edu, (await files.StatAsync("/tmp/open", cancellationToken: Cancellation)).Mode, "0777 & ~022 = 0755");
        await Task.Delay(20, Cancellation);
        await files.WriteAsync("/tmp/secret", 0, Encoding.ASCII.GetBytes("t"), cancellationToken: Cancellation);
        Assert.IsGreaterThan(secret.Modified, (await files.StatAsync("/tmp/secret", cancellationToken: Cancellation)).Modified, "a write moves mtime");

        // The kernel's errors.
        await AssertErrnoAsync(GuestErrno.ENOENT, () => files.StatAsync("/nope", cancellationToken: Cancellation));
        await AssertErrnoAsync(GuestErrno.ENOENT, () => files.ListDirectoryAsync("/nope", Cancellation));
        await AssertErrnoAsync(GuestErrno.ENOTDIR, () => files.ListDirectoryAsync("/proc/version", Cancellation));
        await AssertErrnoAsync(GuestErrno.ENOTDIR, () => files.StatAsync("/proc/version/x", cancellationToken: Cancellation));
        await AssertErrnoAsync(GuestErrno.ENOTDIR, () => files.ReadAllBytesAsync("/proc/version/", cancellationToken: Cancellation));
        await AssertErrnoAsync(GuestErrno.EISDIR, () => files.ReadAllBytesAsync("/tmp", cancellationToken: Cancellation));
        await AssertErrnoAsync(GuestErrno.ENOENT, () => files.ReadAllBytesAsync("/tmp/none", cancellationToken: Cancellation));
    }

    private static async Task AssertErrnoAsync<T>(GuestErrno expected, Func<Task<T>> action)
    {
        var error = await Assert.ThrowsExactlyAsync<GuestOperationException>(action);
        Assert.AreEqual(expected, error.Errno, error.Message);
    }

    /// <summary>
    /// Polls the process list until a process maps <paramref name="path"/> (the program has got that far);
    /// fails at once with the program's output if <paramref name="run"/> ends first.
    /// </summary>
    private async Task<(GuestProcess Process, GuestMapping Mapping)> WaitForMappingAsync(PortalSession session, string path,
        Task<GuestCommandResult> run)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        timeout.CancelAfter(Patience);
        while (true)
        {
            if (run.IsCompleted)
                Assert.Fail($"The program ended before it mapped {path}: exit code {(await run).ExitCode}, output: {(await run).Output}");
            foreach (var process in await session.Processes.ListAsync(cancellationToken: timeout.Token))
            {
                try
                {
                    var mapping = (await session.Processes.GetMappingsAsync(process.Pid, timeout.Token)).FirstOrDefault(m => m.Path == path);
                    if (mapping is not null)
                        return (process, mapping);
                }
                catch (GuestOperationException gone) when (gone.Errno == GuestErrno.ESRCH)
                {
                    // it ended between the list and this question
                }
            }
            await Task.Delay(10, timeout.Token);
        }
    }
}
