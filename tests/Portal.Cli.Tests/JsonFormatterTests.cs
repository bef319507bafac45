using System.Text.Json;
using Portal.Abi;
using Portal.Cli.Inspecting;
using Portal.Cli.Terminal;
using Portal.Guests;
using Portal.Introspection;
using Portal.Memory;
using Portal.Protocol;
using static Portal.Cli.Tests.InspectRecords;

namespace Portal.Cli.Tests;

/// <summary>portal inspect --json, from hand-made records: one document a line, camelCase, enums as strings, addresses as hex.</summary>
[TestClass]
public sealed class JsonFormatterTests
{
    [TestMethod]
    public void Ps_is_one_document_with_every_field_of_each_process()
    {
        var line = JsonFormatter.Format(new ProcessListResult(new ProcessListQuery("ps"), [Init, KernelThread, Truncated]));
        Assert.DoesNotContain("\n", line, "one line");
        using var document = JsonDocument.Parse(line);
        Assert.AreEqual("ps", document.RootElement.GetProperty("query").GetString());
        var processes = document.RootElement.GetProperty("processes");
        Assert.AreEqual(3, processes.GetArrayLength());
        Assert.AreEqual(
            """{"pid":345,"ppid":1,"threads":3,"state":"R","uid":1000,"euid":0,"gid":100,"egid":100,"startedAfterBoot":12.5,"comm":"httpd","arguments":["/usr/sbin/httpd","-f","/etc/httpd.co"],"commandLine":"/usr/sbin/httpd -f /etc/httpd.co","kernelThread":false,"argumentsTruncated":true,"argumentsUnreadable":false}""",
            processes[2].GetRawText());
        var kthread = processes[1];
        Assert.IsTrue(kthread.GetProperty("kernelThread").GetBoolean());
        Assert.AreEqual(0, kthread.GetProperty("arguments").GetArrayLength());
        Assert.AreEqual("[kthreadd]", kthread.GetProperty("commandLine").GetString());
    }

    [TestMethod]
    public void A_mapping_s_addresses_are_hex_strings_exact_beyond_53_bits()
    {
        var line = JsonFormatter.Format(new MappingsResult(new MappingsQuery("maps 1", 1, null), 1, [Text, Vsyscall]));
        Assert.AreEqual(
            """{"query":"maps 1","pid":1,"mappings":[""" +
            """{"start":"0x400000","end":"0x401000","permissions":"r-xp","offset":0,"deviceMajor":8,"deviceMinor":1,"inode":1234,"path":"/bin/busybox","pathTruncated":false},""" +
            """{"start":"0xffffffffff600000","end":"0xffffffffff601000","permissions":"--xp","offset":0,"deviceMajor":0,"deviceMinor":0,"inode":0,"path":"[vsyscall]","pathTruncated":false}]}""",
            line);
    }

    [TestMethod]
    public void Maps_with_an_address_gives_the_mapping_or_null()
    {
        var query = new MappingsQuery("maps 1 0x10", 1, 0x10);
        Assert.AreEqual("""{"query":"maps 1 0x10","pid":1,"address":"0x10","mapping":null}""", JsonFormatter.Format(new MappingAtResult(query, 1, 0x10, null)));
        using var found = JsonDocument.Parse(JsonFormatter.Format(new MappingAtResult(query, 1, 0x400010, Text)));
        Assert.AreEqual("0x400000", found.RootElement.GetProperty("mapping").GetProperty("start").GetString());
    }

    [TestMethod]
    public void Fds_give_access_and_type_as_camel_case_names()
    {
        using var document = JsonDocument.Parse(JsonFormatter.Format(new FileDescriptorsResult(new FileDescriptorsQuery("fds 1", 1), 1, EveryType)));
        var fds = document.RootElement.GetProperty("fds").EnumerateArray().ToList();
        CollectionAssert.AreEqual(new[] { "readWrite", "write", "write", "readWrite", "read", "read", "readWrite", "read" },
            fds.Select(f => f.GetProperty("access").GetString()).ToArray());
        CollectionAssert.AreEqual(new[] { "characterDevice", "regular", "fifo", "socket", "directory", "blockDevice", "unknown", "regular" },
            fds.Select(f => f.GetProperty("type").GetString()).ToArray());
        Assert.AreEqual(
            """{"fd":1,"access":"write","position":12345,"type":"regular","path":"/var/log/messages","openFlags":1025,"mode":33188,"pathTruncated":false}""",
            fds[1].GetRawText());
        Assert.IsTrue(fds[7].GetProperty("pathTruncated").GetBoolean());
    }

    [TestMethod]
    public void Fds_of_every_process_nest_each_process_s_descriptors()
    {
        var line = JsonFormatter.Format(new AllFileDescriptorsResult(new FileDescriptorsQuery("fds", null), [new(Init, [EveryType[0]]), new(Truncated, [])]));
        using var document = JsonDocument.Parse(line);
        var processes = document.RootElement.GetProperty("processes");
        Assert.AreEqual("init", processes[0].GetProperty("comm").GetString());
        Assert.AreEqual("/dev/console", processes[0].GetProperty("fds")[0].GetProperty("path").GetString());
        Assert.AreEqual(345, processes[1].GetProperty("pid").GetInt32());
        Assert.AreEqual(0, processes[1].GetProperty("fds").GetArrayLength());
    }

    [TestMethod]
    public void Cat_gives_base64_content_and_text_only_when_it_is_utf8()
    {
        var query = new CatQuery("cat /etc/banner", "/etc/banner");
        Assert.AreEqual("""{"query":"cat /etc/banner","path":"/etc/banner","length":10,"content":"aMOpIDwmPisKCg==","text":"hé <&>+\n\n"}""",
            JsonFormatter.Format(new FileContentResult(query, "/etc/banner", "hé <&>+\n\n"u8.ToArray())), "readable: no \\u escapes for é, <, & or +; control characters escaped");

        byte[] binary = [0x00, 0xff, 0xfe, 0x0a, 0xc3, 0x28];
        using var document = JsonDocument.Parse(JsonFormatter.Format(new FileContentResult(new CatQuery("cat /dev/mtd0", "/dev/mtd0"), "/dev/mtd0", binary)));
        CollectionAssert.AreEqual(binary, document.RootElement.GetProperty("content").GetBytesFromBase64());
        Assert.AreEqual(6, document.RootElement.GetProperty("length").GetInt32());
        Assert.IsFalse(document.RootElement.TryGetProperty("text", out _), "not UTF-8: no text");

        Assert.AreEqual("""{"query":"cat /empty","path":"/empty","length":0,"content":"","text":""}""",
            JsonFormatter.Format(new FileContentResult(new CatQuery("cat /empty", "/empty"), "/empty", [])));
    }

    [TestMethod]
    public void Paths_ls_stat_and_run_each_have_their_document()
    {
        Assert.AreEqual("""{"query":"paths 2","pid":2,"executable":null,"workingDirectory":"/","root":"/"}""",
            JsonFormatter.Format(new PathsResult(new PathsQuery("paths 2", 2), 2, new GuestProcessPaths(null, "/", "/"))));
        Assert.AreEqual("""{"query":"ls /","path":"/","entries":[{"name":"dev","type":"directory","inode":3},{"name":"mtd0","type":"characterDevice","inode":5}]}""",
            JsonFormatter.Format(new DirectoryResult(new ListQuery("ls /", "/"), "/", [new("dev", GuestFileType.Directory, 3), new("mtd0", GuestFileType.CharacterDevice, 5)])));
        var modified = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Assert.AreEqual(
            """{"query":"stat /dev/mtd0","path":"/dev/mtd0","type":"characterDevice","mode":8576,"permissions":"crw-------","links":1,"uid":0,"gid":0,"size":0,"inode":88,"modified":"2024-01-02T03:04:05+00:00","deviceMajor":90,"deviceMinor":0}""",
            JsonFormatter.Format(new StatResult(new StatQuery("stat /dev/mtd0", "/dev/mtd0"), "/dev/mtd0", new GuestFileStatus(0x2180, 1, 0, 0, 0, 88, modified, 90, 0))));
        Assert.AreEqual("""{"query":"run false","exitCode":1,"output":"no\n"}""",
            JsonFormatter.Format(new CommandResult(new RunQuery("run false", GuestCommand.Of("false")), 1, "no\n", OutputShown: false)));
    }

    [TestMethod]
    public void An_error_is_a_document_with_the_query_the_message_and_the_errno_name()
    {
        Assert.AreEqual("""{"query":"cat /nope","error":"No such file or directory","errno":"ENOENT"}""",
            JsonFormatter.Format(QueryFailure.From("cat /nope", new GuestOperationException(PortalOp.Query, GuestErrno.ENOENT, 2, "refused"))!));
        Assert.AreEqual("""{"query":"bogus","error":"unknown query","errno":null}""",
            JsonFormatter.Format(new QueryFailure("bogus", QueryFailureKind.Usage, "unknown query")));
    }

    [TestMethod]
    public void Results_and_failures_go_to_stdout_one_line_each()
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var formatter = new JsonFormatter(new CliConsole(output, errors, interactive: false));
        formatter.Write(new ProcessListResult(new ProcessListQuery("ps"), [Init]));
        formatter.Write(new QueryFailure("bogus", QueryFailureKind.Usage, "unknown query"));
        formatter.Write(new CommandResult(new RunQuery("run x", GuestCommand.Of("x")), 0, "a\nb\n", OutputShown: false));
        var lines = output.ToString().Split('\n');
        Assert.HasCount(4, lines, output.ToString());
        Assert.AreEqual("", lines[3], "each line ends with a newline");
        foreach (var line in lines[..3])
            JsonDocument.Parse(line).Dispose();
        Assert.AreEqual("", errors.ToString());
    }
}
