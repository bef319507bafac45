using Portal.Cli.Inspecting;

namespace Portal.Cli.Tests;

/// <summary>The queries of portal inspect as a user writes them: each one read into its record, each mistake refused with the query's usage.</summary>
[TestClass]
public sealed class QueryParserTests
{
    [TestMethod]
    public void Every_query_is_read_with_its_arguments()
    {
        Assert.AreEqual(new ProcessListQuery("ps"), QueryParser.Parse("ps"));
        Assert.AreEqual(new MappingsQuery("maps 12", 12, null), QueryParser.Parse("maps 12"));
        Assert.AreEqual(new MappingsQuery("maps 12 0x7fff0010", 12, 0x7fff0010), QueryParser.Parse("maps 12 0x7fff0010"));
        Assert.AreEqual(new MappingsQuery("maps 12 0XAbC", 12, 0xabc), QueryParser.Parse("maps 12 0XAbC"), "hex in either case");
        Assert.AreEqual(new MappingsQuery("maps 12 4096", 12, 4096), QueryParser.Parse("maps 12 4096"), "decimal");
        Assert.AreEqual(new MappingsQuery("maps 1 0xffffffffffffffff", 1, ulong.MaxValue), QueryParser.Parse("maps 1 0xffffffffffffffff"));
        Assert.AreEqual(new FileDescriptorsQuery("fds 7", 7), QueryParser.Parse("fds 7"));
        Assert.AreEqual(new FileDescriptorsQuery("fds", null), QueryParser.Parse("fds"));
        Assert.AreEqual(new PathsQuery("paths 3", 3), QueryParser.Parse("paths 3"));
        Assert.AreEqual(new CatQuery("cat /proc/version", "/proc/version"), QueryParser.Parse("cat /proc/version"));
        Assert.AreEqual(new ListQuery("ls /dev", "/dev"), QueryParser.Parse("ls /dev"));
        Assert.AreEqual(new StatQuery("stat /dev/mtd0", "/dev/mtd0"), QueryParser.Parse("stat /dev/mtd0"));
        var run = (RunQuery)QueryParser.Parse("run mtk7530_switch table_del");
        CollectionAssert.AreEqual(new[] { "mtk7530_switch", "table_del" }, run.Command.Arguments.ToArray());
    }

    [TestMethod]
    public void Blanks_around_and_between_words_do_not_matter_and_the_text_is_the_trimmed_line()
    {
        var query = QueryParser.Parse("  maps \t 5   0x10 ");
        Assert.AreEqual(new MappingsQuery("maps \t 5   0x10", 5, 0x10), query);
    }

    [TestMethod]
    public void Quotes_keep_blanks_in_a_path_and_in_run_arguments()
    {
        Assert.AreEqual("/tmp/a file", ((CatQuery)QueryParser.Parse("cat '/tmp/a file'")).Path);
        Assert.AreEqual("/tmp/a \"b\" c\\d", ((StatQuery)QueryParser.Parse("stat \"/tmp/a \\\"b\\\" c\\\\d\"")).Path);
        Assert.AreEqual("/tmp/a b", ((ListQuery)QueryParser.Parse("ls /tmp/a\\ b")).Path);
        var run = (RunQuery)QueryParser.Parse("run sh -c 'sleep 100 &' ''");
        CollectionAssert.AreEqual(new[] { "sh", "-c", "sleep 100 &", "" }, run.Command.Arguments.ToArray(), "'' is an empty argument");
    }

    [TestMethod]
    [DataRow("'/tmp", "the quote ' is not closed")]
    [DataRow("\"/tmp", "the quote \" is not closed")]
    [DataRow("/tmp\\", "the line ends with a backslash")]
    public void An_unclosed_quote_is_refused(string path, string message)
    {
        var e = Assert.ThrowsExactly<QueryUsageException>(() => QueryParser.Parse("cat " + path));
        Assert.AreEqual(message, e.Message);
    }

    [TestMethod]
    [DataRow("", "an empty query")]
    [DataRow("top", "unknown query 'top' (queries: ps, maps, fds, paths, cat, ls, stat, run)")]
    [DataRow("PS", "unknown query 'PS' (queries: ps, maps, fds, paths, cat, ls, stat, run)")]
    [DataRow("ps 1", "ps: it takes no arguments; usage: ps")]
    [DataRow("maps", "maps: an argument is missing; usage: maps PID [ADDRESS]")]
    [DataRow("maps init", "maps: 'init' is not a PID (a number from 1); usage: maps PID [ADDRESS]")]
    [DataRow("maps 0", "maps: '0' is not a PID (a number from 1); usage: maps PID [ADDRESS]")]
    [DataRow("maps -1", "maps: '-1' is not a PID (a number from 1); usage: maps PID [ADDRESS]")]
    [DataRow("maps 99999999999", "maps: '99999999999' is not a PID (a number from 1); usage: maps PID [ADDRESS]")]
    [DataRow("maps 1 0x", "maps: '0x' is not an address (hex with 0x, or decimal, at most 64 bits); usage: maps PID [ADDRESS]")]
    [DataRow("maps 1 0xg", "maps: '0xg' is not an address (hex with 0x, or decimal, at most 64 bits); usage: maps PID [ADDRESS]")]
    [DataRow("maps 1 7fff0000", "maps: '7fff0000' is not an address (hex with 0x, or decimal, at most 64 bits); usage: maps PID [ADDRESS]")]
    [DataRow("maps 1 0x10000000000000000", "maps: '0x10000000000000000' is not an address (hex with 0x, or decimal, at most 64 bits); usage: maps PID [ADDRESS]")]
    [DataRow("maps 1 2 3", "maps: too many arguments ('3'); usage: maps PID [ADDRESS]")]
    [DataRow("fds x", "fds: 'x' is not a PID (a number from 1); usage: fds [PID]")]
    [DataRow("fds 1 2", "fds: too many arguments ('2'); usage: fds [PID]")]
    [DataRow("paths", "paths: an argument is missing; usage: paths PID")]
    [DataRow("paths 1 2", "paths: too many arguments ('2'); usage: paths PID")]
    [DataRow("paths +1", "paths: '+1' is not a PID (a number from 1); usage: paths PID")]
    [DataRow("cat", "cat: an argument is missing; usage: cat PATH")]
    [DataRow("cat proc/version", "cat: 'proc/version' is not an absolute path (guest paths start with /); usage: cat PATH")]
    [DataRow("cat /a /b", "cat: too many arguments ('/b'); usage: cat PATH")]
    [DataRow("ls", "ls: an argument is missing; usage: ls PATH")]
    [DataRow("ls .", "ls: '.' is not an absolute path (guest paths start with /); usage: ls PATH")]
    [DataRow("stat", "stat: an argument is missing; usage: stat PATH")]
    [DataRow("stat ~/x", "stat: '~/x' is not an absolute path (guest paths start with /); usage: stat PATH")]
    [DataRow("run", "run: no command; usage: run COMMAND [ARGUMENTS...]")]
    public void A_mistake_is_refused_with_the_usage_of_its_query(string line, string message)
    {
        var e = Assert.ThrowsExactly<QueryUsageException>(() => QueryParser.Parse(line));
        Assert.AreEqual(message, e.Message);
    }

    [TestMethod]
    public void A_path_the_guest_would_refuse_is_refused_first()
    {
        var nul = Assert.ThrowsExactly<QueryUsageException>(() => QueryParser.Parse(["cat", "/a\0b"], "cat /a"));
        Assert.AreEqual("cat: a path cannot contain a NUL; usage: cat PATH", nul.Message);
        Assert.AreEqual("/" + new string('a', 3999), ((CatQuery)QueryParser.Parse("cat /" + new string('a', 3999))).Path, "4000 bytes: the longest");
        var tooLong = Assert.ThrowsExactly<QueryUsageException>(() => QueryParser.Parse("cat /" + new string('é', 2000)));
        Assert.AreEqual("cat: the path is 4001 bytes long, more than the guest takes (4000); usage: cat PATH", tooLong.Message, "bytes of UTF-8, not characters");
    }

    /// <summary>What makes the command line suggest quoting (portal inspect maps 1): an unknown name or a missing argument, nothing else.</summary>
    [TestMethod]
    [DataRow("1", true), DataRow("maps", true), DataRow("run", true), DataRow("maps x", false), DataRow("ps 1", false)]
    public void Only_a_query_cut_from_its_arguments_looks_cut(string line, bool cut)
    {
        var e = Assert.ThrowsExactly<QueryUsageException>(() => QueryParser.Parse(line));
        Assert.AreEqual(cut, e.MissingWords, e.Message);
    }

    [TestMethod]
    public void Words_given_apart_are_read_as_the_same_query()
    {
        Assert.AreEqual(new MappingsQuery("maps 1 0x400000", 1, 0x400000), QueryParser.Parse(["maps", "1", "0x400000"], "maps 1 0x400000"));
        Assert.AreEqual(new CatQuery("cat /a b", "/a b"), QueryParser.Parse(["cat", "/a b"], "cat /a b"), "a word with a blank stays one word");
    }
}
