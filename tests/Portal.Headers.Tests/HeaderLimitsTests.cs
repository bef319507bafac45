using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>The limits as a library caller meets them: <see cref="HeaderParseLimits"/>, the exceptions, the in-process escape hatch.</summary>
[TestClass]
[TestCategory("Reliability")]
public sealed class HeaderLimitsTests
{
    [TestMethod]
    public void A_library_call_on_a_header_including_a_fifo_throws_the_time_limit_instead_of_hanging()
    {
        using var scratch = TestPaths.Scratch();
        var fifo = scratch.File("pipe.h");
        Assert.AreEqual(0, Toolchain.Run("mkfifo", [fifo]).ExitCode);
        var header = scratch.Write("top.h", $"#include \"{fifo}\"\n");
        var started = DateTime.UtcNow;
        var error = Assert.ThrowsExactly<HeaderLimitException>(() => HeaderParser.ParseAll(header, ["mips", "x86_64"],
            new HeaderParseOptions { Limits = new HeaderParseLimits { Timeout = TimeSpan.FromSeconds(1) } }));
        Assert.AreEqual(HeaderLimit.Time, error.Limit);
        Assert.AreEqual("mips", error.Abi, "the first ABI blocks");
        Assert.AreEqual($"libclang did not finish reading {header} for mips within the 1 s time limit (an #include of a FIFO, a device or a huge file?)", error.Message);
        Assert.IsLessThan(20.0, (DateTime.UtcNow - started).TotalSeconds);
    }

    [TestMethod]
    public void Errors_are_capped_and_counted_through_the_worker()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.File("ls.h");
        File.Copy("/bin/ls", header);
        var error = Assert.ThrowsExactly<HeaderParseException>(() => HeaderParser.Parse(header, HeaderAbi.Get("armel"),
            new HeaderParseOptions { Limits = HeaderParseLimits.Default with { MaxDiagnostics = 5 } }));
        Assert.HasCount(5, error.Errors);
        Assert.IsGreaterThan(1000, error.ErrorCount);
        Assert.AreEqual("armel", error.Abi);
        Assert.AreEqual($"{error.ErrorCount:N0} error(s) parsing the header for armel", error.Message);
        Assert.AreEqual(header, error.Errors[0].File);
    }

    [TestMethod]
    public void Without_limits_the_parse_runs_in_process_and_agrees_with_the_worker()
    {
        var limited = HeaderParser.Parse(TestPaths.Raeth, HeaderAbi.Get("mipsel"));
        var inProcess = HeaderParser.Parse(TestPaths.Raeth, HeaderAbi.Get("mipsel"), new HeaderParseOptions { Limits = null });
        Assert.AreEqual(ManifestJson.Serialize(inProcess), ManifestJson.Serialize(limited));

        using var scratch = TestPaths.Scratch();
        var header = scratch.File("ls.h");
        File.Copy("/bin/ls", header);
        var error = Assert.ThrowsExactly<HeaderParseException>(() => HeaderParser.Parse(header, HeaderAbi.Get("x86_64"), new HeaderParseOptions { Limits = null }));
        Assert.AreEqual(error.ErrorCount, error.Errors.Count, "no cap without limits");
    }

    [TestMethod]
    public void Non_regular_files_are_refused_with_or_without_limits()
    {
        using var scratch = TestPaths.Scratch();
        Directory.CreateDirectory(scratch.File("dir.h"));
        foreach (var limits in new[] { HeaderParseLimits.Default, null })
        {
            var options = new HeaderParseOptions { Limits = limits };
            Assert.AreEqual($"{scratch.File("dir.h")} is a directory, not a header file",
                Assert.ThrowsExactly<HeaderArgumentException>(() => HeaderParser.Parse(scratch.File("dir.h"), HeaderAbi.Get("x86_64"), options)).Message);
            Assert.AreEqual("/dev/null is a character device, not a header file",
                Assert.ThrowsExactly<HeaderArgumentException>(() => HeaderParser.Parse("/dev/null", HeaderAbi.Get("x86_64"), options)).Message);
            Assert.AreEqual($"include directory {TestPaths.Raeth} is a regular file, not a directory",
                Assert.ThrowsExactly<HeaderArgumentException>(() => HeaderParser.Parse(TestPaths.Raeth, HeaderAbi.Get("x86_64"),
                    options.WithIncludes(TestPaths.Raeth))).Message);
        }
    }

    [TestMethod]
    public void The_header_size_limit_counts_bytes()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("small.h", new string(' ', 2000) + "struct s { int a; };\n");
        var tight = new HeaderParseOptions { Limits = HeaderParseLimits.Default with { MaxHeaderSize = 1024 } };
        var error = Assert.ThrowsExactly<HeaderLimitException>(() => HeaderParser.Parse(header, HeaderAbi.Get("i386"), tight));
        Assert.AreEqual(HeaderLimit.HeaderSize, error.Limit);
        Assert.AreEqual($"{header} is 2 KiB, over the 1 KiB size limit for a header file", error.Message);
        Assert.AreEqual("s", HeaderParser.Parse(header, HeaderAbi.Get("i386"), new HeaderParseOptions { Limits = null }).Structs.Single().Name, "no size limit without limits");
    }

    [TestMethod]
    [DataRow("2GiB", 2L << 30)]
    [DataRow("2G", 2L << 30)]
    [DataRow("512M", 512L << 20)]
    [DataRow("512 MiB", 512L << 20)]
    [DataRow("1.5g", 3L << 29)]
    [DataRow("64k", 64L << 10)]
    [DataRow("1048576", 1L << 20)]
    public void Sizes_parse_with_binary_units(string text, long bytes)
    {
        Assert.IsTrue(HeaderParseLimits.TryParseSize(text, out var parsed), text);
        Assert.AreEqual(bytes, parsed);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("lots")]
    [DataRow("2 parsecs")]
    [DataRow("-1G")]
    [DataRow("99999999999T")]
    public void Malformed_sizes_do_not_parse(string text) => Assert.IsFalse(HeaderParseLimits.TryParseSize(text, out _), text);

    [TestMethod]
    public void Times_parse_as_seconds_or_with_a_unit()
    {
        Assert.IsTrue(HeaderParseLimits.TryParseTime("60", out var a));
        Assert.AreEqual(TimeSpan.FromSeconds(60), a);
        Assert.IsTrue(HeaderParseLimits.TryParseTime("2.5s", out var b));
        Assert.AreEqual(TimeSpan.FromSeconds(2.5), b);
        Assert.IsTrue(HeaderParseLimits.TryParseTime("500ms", out var c));
        Assert.AreEqual(TimeSpan.FromMilliseconds(500), c);
        Assert.IsTrue(HeaderParseLimits.TryParseTime("2m", out var d));
        Assert.AreEqual(TimeSpan.FromMinutes(2), d);
        Assert.IsFalse(HeaderParseLimits.TryParseTime("soon", out _));
        Assert.AreEqual("60 s", HeaderParseLimits.FormatTime(HeaderParseLimits.DefaultTimeout));
        Assert.AreEqual("2 GiB", HeaderParseLimits.FormatSize(HeaderParseLimits.DefaultMemoryLimit));
        Assert.AreEqual("1.5 MiB", HeaderParseLimits.FormatSize(3L << 19));
    }

    [TestMethod]
    public void Limits_refuse_nonsense()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new HeaderParseLimits { Timeout = TimeSpan.Zero });
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new HeaderParseLimits { MemoryLimit = 1 << 20 });
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new HeaderParseLimits { MaxHeaderSize = 0 });
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new HeaderParseLimits { MaxDiagnostics = -1 });
    }
}

internal static class HeaderParseOptionsExtensions
{
    public static HeaderParseOptions WithIncludes(this HeaderParseOptions options, params string[] directories)
        => new() { IncludeDirectories = directories, Defines = options.Defines, Structs = options.Structs, Limits = options.Limits };
}
