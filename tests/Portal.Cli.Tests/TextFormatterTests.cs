using Portal.Abi;
using Portal.Cli.Inspecting;
using Portal.Channels;
using Portal.Cli.Terminal;
using Portal.Guests;
using Portal.Introspection;
using Portal.Memory;
using Portal.Protocol;
using static Portal.Cli.Tests.InspectRecords;

namespace Portal.Cli.Tests;

/// <summary>portal inspect's text, from hand-made records: what a person reads, column by column.</summary>
[TestClass]
public sealed class TextFormatterTests
{
    [TestMethod]
    public void Ps_shows_kernel_threads_in_brackets_and_a_cut_command_line_with_dots()
    {
        Assert.AreEqual(
            "PID  PPID   UID  S  STARTED  COMMAND\n" +
            "  1     0     0  S    0.52s  /sbin/init\n" +
            "  2     0     0  I    0.00s  [kthreadd]\n" +
            "345     1  1000  R   12.50s  /usr/sbin/httpd -f /etc/httpd.co ...\n",
            TextFormatter.Format(new ProcessListResult(new ProcessListQuery("ps"), [Init, KernelThread, Truncated])));
    }

    [TestMethod]
    public void Maps_prints_each_mapping_exactly_as_proc_maps_does()
    {
        Assert.AreEqual(
            "00400000-00401000 r-xp 00000000 08:01 1234 /bin/busybox\n" +
            "77f00000-77f10000 rw-s 00002000 1f:03 77 /dev/mtdblock3\n" +
            "7ffd0000-7ffd2000 rw-p 00000000 00:00 0\n" +
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n",
            TextFormatter.Format(new MappingsResult(new MappingsQuery("maps 1", 1, null), 1, [Text, SharedFile, Anonymous, Vsyscall])));
    }

    [TestMethod]
    public void Maps_with_an_address_prints_its_mapping_or_fails_saying_none_contains_it()
    {
        var query = new MappingsQuery("maps 1 0x400010", 1, 0x400010);
        Assert.AreEqual("00400000-00401000 r-xp 00000000 08:01 1234 /bin/busybox\n", TextFormatter.Format(new MappingAtResult(query, 1, 0x400010, Text)));

        var (console, output, errors) = Console();
        var none = new MappingAtResult(new MappingsQuery("maps 1 0x10", 1, 0x10), 1, 0x10, null);
        new TextFormatter(console).Write(none);
        Assert.AreEqual("", output.ToString());
        Assert.AreEqual("portal: maps 1 0x10: no mapping of process 1 contains 0x10\n", errors.ToString());
        Assert.IsFalse(none.Succeeded, "the query fails");
    }

    [TestMethod]
    public void Fds_shows_access_position_and_type_of_each_kind()
    {
        Assert.AreEqual(
            "FD  ACCESS  POSITION  TYPE  PATH\n" +
            " 0  rw             0  CHR   /dev/console\n" +
            " 1  w          12345  REG   /var/log/messages\n" +
            " 2  w              0  FIFO  pipe:[45]\n" +
            " 3  rw             0  SOCK  socket:[123]\n" +
            " 4  r              0  DIR   /etc\n" +
            " 5  r           4096  BLK   /dev/mtdblock3\n" +
            " 6  rw             0  ?     anon_inode:[eventfd]\n" +
            " 7  r              0  REG   /very/long/path...\n",
            TextFormatter.Format(new FileDescriptorsResult(new FileDescriptorsQuery("fds 1", 1), 1, EveryType)));
    }

    [TestMethod]
    public void Fds_of_every_process_prefixes_each_line_with_pid_and_comm()
    {
        var text = TextFormatter.Format(new AllFileDescriptorsResult(new FileDescriptorsQuery("fds", null),
        [
            new(Init, [EveryType[0]]),
            new(Truncated, [EveryType[1], EveryType[5]]),
            new(Init with { Pid = 50, Comm = "idle" }, []),
        ]));
        Assert.AreEqual(
            "PID  COMM   FD  ACCESS  POSITION  TYPE  PATH\n" +
            "  1  init    0  rw             0  CHR   /dev/console\n" +
            "345  httpd   1  w          12345  REG   /var/log/messages\n" +
            "345  httpd   5  r           4096  BLK   /dev/mtdblock3\n",
            text, "a process without descriptors has no line");
        Assert.AreEqual("345  httpd   5  r           4096  BLK   /dev/mtdblock3", text.Split('\n').Single(l => l.EndsWith("/dev/mtdblock3", StringComparison.Ordinal)),
            "grep for a device names the process that opened it");
    }

    [TestMethod]
    public void An_empty_list_prints_nothing()
    {
        Assert.AreEqual("", TextFormatter.Format(new FileDescriptorsResult(new FileDescriptorsQuery("fds 2", 2), 2, [])));
        Assert.AreEqual("", TextFormatter.Format(new MappingsResult(new MappingsQuery("maps 2", 2, null), 2, [])));
        Assert.AreEqual("", TextFormatter.Format(new DirectoryResult(new ListQuery("ls /empty", "/empty"), "/empty", [])));
    }

    [TestMethod]
    public void Paths_name_the_executable_or_say_there_is_none()
    {
        Assert.AreEqual("exe:  /bin/busybox\ncwd:  /tmp\nroot: /\n",
            TextFormatter.Format(new PathsResult(new PathsQuery("paths 1", 1), 1, new GuestProcessPaths("/bin/busybox", "/tmp", "/"))));
        Assert.AreEqual("exe:  (none: a kernel thread, or a process that has exited)\ncwd:  /\nroot: /\n",
            TextFormatter.Format(new PathsResult(new PathsQuery("paths 2", 2), 2, new GuestProcessPaths(null, "/", "/"))));
    }

    [TestMethod]
    public void Ls_shows_type_inode_and_name()
    {
        Assert.AreEqual(
            "T  INODE  NAME\n" +
            "d      2  bin\n" +
            "-  10245  init\n" +
            "l     17  sh\n" +
            "c      5  mtd0\n" +
            "?      9  odd\n",
            TextFormatter.Format(new DirectoryResult(new ListQuery("ls /", "/"), "/",
            [
                new("bin", GuestFileType.Directory, 2), new("init", GuestFileType.Regular, 10245), new("sh", GuestFileType.Symlink, 17),
                new("mtd0", GuestFileType.CharacterDevice, 5), new("odd", GuestFileType.Unknown, 9),
            ])));
    }

    [TestMethod]
    public void Stat_shows_a_device_with_its_numbers_and_a_file_without()
    {
        var modified = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)).AddTicks(1234567);
        Assert.AreEqual(
            "path:     /dev/mtd0\n" +
            "type:     character device\n" +
            "mode:     0600 (crw-------)\n" +
            "size:     0\n" +
            "links:    1\n" +
            "inode:    88\n" +
            "owner:    uid 0, gid 0\n" +
            "modified: 2024-01-02 01:04:05.1234567 UTC\n" +
            "device:   90, 0\n",
            TextFormatter.Format(new StatResult(new StatQuery("stat /dev/mtd0", "/dev/mtd0"), "/dev/mtd0", new GuestFileStatus(0x2180, 1, 0, 0, 0, 88, modified, 90, 0))));
        StringAssert.StartsWith(TextFormatter.Format(new StatResult(new StatQuery("stat /etc/passwd", "/etc/passwd"), "/etc/passwd",
            new GuestFileStatus(0x81a4, 1, 0, 0, 512, 12, modified, 0, 0))), "path:     /etc/passwd\ntype:     regular file\nmode:     0644 (-rw-r--r--)\nsize:     512\n");
        Assert.DoesNotContain("device:", TextFormatter.Format(new StatResult(new StatQuery("stat /etc/passwd", "/etc/passwd"), "/etc/passwd",
            new GuestFileStatus(0x81a4, 1, 0, 0, 512, 12, modified, 0, 0))));
    }

    [TestMethod]
    public void Cat_writes_the_bytes_unchanged_after_what_was_written_before()
    {
        var bytes = new byte[] { 0x00, 0xff, 0xfe, 0x0a, 0xc3, 0x28, 0x7f, 0x80 };     // NUL, bytes no UTF-8 has, a broken sequence
        var stdout = new MemoryStream();
        var output = new StreamWriter(stdout) { AutoFlush = false };
        var console = new CliConsole(output, new StringWriter(), interactive: false) { OutBytes = stdout };
        output.Write("before\n");     // still buffered: cat must come after it
        new TextFormatter(console).Write(new FileContentResult(new CatQuery("cat /dev/mtd0", "/dev/mtd0"), "/dev/mtd0", bytes));
        CollectionAssert.AreEqual("before\n"u8.ToArray().Concat(bytes).ToArray(), stdout.ToArray());
    }

    [TestMethod]
    public void A_command_streamed_is_not_printed_again_and_a_failing_one_says_its_status()
    {
        var (console, output, errors) = Console();
        var formatter = new TextFormatter(console);
        var query = new RunQuery("run false", GuestCommand.Of("false"));
        formatter.Write(new CommandResult(query, 0, "already shown\n", OutputShown: true));
        formatter.Write(new CommandResult(query, 0, "kept\n", OutputShown: false));
        formatter.Write(new CommandResult(query, 1, "", OutputShown: true));
        Assert.AreEqual("kept\n", output.ToString());
        Assert.AreEqual("portal: 'false' exited with status 1\n", errors.ToString());
    }

    [TestMethod]
    public void A_refusal_names_the_query_the_errno_and_what_it_means()
    {
        var (console, output, errors) = Console();
        var formatter = new TextFormatter(console);
        formatter.Write(QueryFailure.From("cat /nope", new GuestOperationException(PortalOp.Query, GuestErrno.ENOENT, 2, "The guest refused FileRead of /nope: ENOENT (2)."))!);
        formatter.Write(QueryFailure.From("fds 999", new GuestOperationException(PortalOp.Query, GuestErrno.ESRCH, 3, "The guest refused Files of process 999: ESRCH (3)."))!);
        formatter.Write(QueryFailure.From("ps", new NotSupportedException("This guest's Portal module does not serve introspection queries (Processes)."))!);
        formatter.Write(QueryFailure.From("maps x", new QueryUsageException("maps: 'x' is not a PID (a number from 1); usage: maps PID [ADDRESS]"))!);
        Assert.AreEqual("", output.ToString(), "failures go to stderr");
        Assert.AreEqual(
            "portal: cat /nope: ENOENT: No such file or directory\n" +
            "portal: fds 999: ESRCH: No such process\n" +
            "portal: ps: This guest's Portal module does not serve introspection queries (Processes).\n" +
            "portal: maps: 'x' is not a PID (a number from 1); usage: maps PID [ADDRESS]\n",
            errors.ToString());
    }

    [TestMethod]
    public void Only_a_query_s_own_failures_are_failures_the_guest_s_loss_is_not()
    {
        Assert.IsNull(QueryFailure.From("ps", new GuestLostException("QEMU exited")));
        Assert.IsNull(QueryFailure.From("ps", new OperationCanceledException()));
        Assert.AreEqual(QueryFailureKind.Other, QueryFailure.From("cat /dev/zero", new InvalidDataException("too long"))!.Kind);
        Assert.AreEqual(QueryFailureKind.Other, QueryFailure.From("ps", new PortalProtocolException("bad page"))!.Kind);
    }

    private static (CliConsole Console, StringWriter Output, StringWriter Errors) Console()
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        return (new CliConsole(output, errors, interactive: false), output, errors);
    }
}
