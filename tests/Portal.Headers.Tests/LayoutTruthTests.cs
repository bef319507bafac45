using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>
/// The manifest against the compilers, on every ABI: clang-14 and the target's gcc must accept every static assert
/// generated from it; clang's own record-layout dump must agree on every member and bitfield; and the target's gcc,
/// running the code under qemu-user, must lay bitfields out in exactly the bytes the manifest predicts.
/// </summary>
[TestClass]
public sealed class LayoutTruthTests
{
    public static IEnumerable<object[]> Abis => TestPaths.Abis.Select(a => new object[] { a });

    static IEnumerable<(string Header, LayoutManifest Manifest)> Headers(string abi)
        => [(TestPaths.Torture, Manifests.Torture(abi)), (TestPaths.Raeth, Manifests.Raeth(abi))];

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Clang_accepts_every_static_assert_generated_from_the_manifest(string abi)
    {
        foreach (var (header, manifest) in Headers(abi))
        {
            var result = CompileAsserts(abi, header, manifest, gcc: false);
            Assert.AreEqual(0, result.ExitCode, $"{Path.GetFileName(header)} on {abi}:\n{Toolchain.Errors(result.Both)}");
            var checks = StaticAsserts.Write(manifest, header).Split('\n').Count(l => l.StartsWith("_Static_assert(", StringComparison.Ordinal));
            Assert.IsGreaterThan(500, checks, $"{Path.GetFileName(header)} on {abi}: static asserts");
            Console.WriteLine($"{Path.GetFileName(header)} on {abi}: {checks} static asserts hold");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void The_target_gcc_accepts_every_static_assert_generated_from_the_manifest(string abi)
    {
        foreach (var (header, manifest) in Headers(abi))
        {
            var result = CompileAsserts(abi, header, manifest, gcc: true);
            Assert.AreEqual(0, result.ExitCode, $"{Path.GetFileName(header)} on {abi}:\n{Toolchain.Errors(result.Both)}");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Clang_record_layout_dump_agrees_with_every_member_and_bitfield(string abi)
    {
        foreach (var (header, manifest) in Headers(abi))
        {
            var problems = CompareWithDump(abi, header, manifest, out var compared);
            Assert.AreEqual(0, problems.Count, $"{Path.GetFileName(header)} on {abi}:\n{string.Join('\n', problems)}");
            Assert.IsGreaterThan(100, compared, $"{Path.GetFileName(header)} on {abi}: members compared");
            Console.WriteLine($"{Path.GetFileName(header)} on {abi}: {compared} members agree with the layout dump");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Bitfield_bytes_written_by_the_target_gcc_under_qemu_are_the_ones_the_manifest_predicts(string abi)
    {
        var manifest = Manifests.Torture(abi);
        var cases = BitfieldProbe.Cases(manifest);
        Assert.IsGreaterThan(30, cases.Count, "the torture header has bitfields in many shapes");
        var actual = RunBitfieldProgram(abi, cases);
        var expected = cases.Select(c => BitfieldProbe.Expected(c, manifest.BigEndian)).ToList();
        AssertSameLines(expected, actual, $"bitfields on {abi} (manifest prediction vs real code)");

        var truth = TruthFile(abi);
        if (Environment.GetEnvironmentVariable("PORTAL_HEADERS_UPDATE_TRUTH") == "1")
            File.WriteAllText(truth, TruthText(abi, manifest, actual));
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Recorded_bitfield_truth_matches_the_manifest(string abi)
    {
        // The bytes recorded from real code (truth/bitfields-<abi>.txt, written by the test above with
        // PORTAL_HEADERS_UPDATE_TRUTH=1): the generator's test data, and a check that needs no emulator.
        var manifest = Manifests.Torture(abi);
        var path = TruthFile(abi);
        Assert.IsTrue(File.Exists(path), $"{path} is missing: run the tests with PORTAL_HEADERS_UPDATE_TRUTH=1");
        var recorded = File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var expected = BitfieldProbe.Cases(manifest).Select(c => BitfieldProbe.Expected(c, manifest.BigEndian)).ToList();
        AssertSameLines(expected, recorded, $"recorded bitfield bytes on {abi}");
    }

    // ---- The checkers catch a wrong manifest ----

    [TestMethod]
    public void A_wrong_offset_fails_the_static_asserts_and_names_the_member()
    {
        var wrong = Manifests.Mutate(Manifests.Raeth("mipsel"), m =>
            Manifests.Field(Manifests.Record(m, "ifreq"), "ifr_ifru")["offset"] = 20);
        var result = CompileAsserts("mipsel", TestPaths.Raeth, wrong, gcc: false);
        Assert.AreNotEqual(0, result.ExitCode);
        StringAssert.Contains(result.Error, "ifreq.ifr_ifru offset 20");
        var gcc = CompileAsserts("mipsel", TestPaths.Raeth, wrong, gcc: true);
        Assert.AreNotEqual(0, gcc.ExitCode);
        StringAssert.Contains(gcc.Error, "ifreq.ifr_ifru offset 20");
    }

    [TestMethod]
    public void A_wrong_constant_sign_or_record_size_fails_the_static_asserts()
    {
        var wrong = Manifests.Mutate(Manifests.Torture("i386"), m =>
        {
            m["constants"]!.AsArray().Single(c => (string?)c!["name"] == "TOR_LONG_TOP")!["unsigned"] = false;
            Manifests.Record(m, "tor_scalars")["size"] = 999;
        });
        var result = CompileAsserts("i386", TestPaths.Torture, wrong, gcc: false);
        Assert.AreNotEqual(0, result.ExitCode);
        StringAssert.Contains(result.Error, "TOR_LONG_TOP unsigned False");
        StringAssert.Contains(result.Error, "sizeof(struct tor_scalars) == 999");
    }

    [TestMethod]
    public void A_wrong_bit_offset_disagrees_with_the_layout_dump_and_with_real_code()
    {
        var wrong = Manifests.Mutate(Manifests.Torture("mips"), m =>
            Manifests.Field(Manifests.Record(m, "tor_bits"), "b")["bitOffset"] = 2);
        var problems = CompareWithDump("mips", TestPaths.Torture, wrong, out _);
        Assert.IsTrue(problems.Any(p => p.StartsWith("tor_bits.b:", StringComparison.Ordinal)), string.Join('\n', problems));

        var right = BitfieldProbe.Cases(Manifests.Torture("mips")).Single(c => c is { Record: "tor_bits", Path: "b" });
        var moved = BitfieldProbe.Cases(wrong).Single(c => c is { Record: "tor_bits", Path: "b" });
        Assert.AreNotEqual(BitfieldProbe.Expected(right, true), BitfieldProbe.Expected(moved, true));
    }

    [TestMethod]
    public void Reading_a_big_endian_layout_as_little_endian_disagrees_with_real_code()
    {
        var manifest = Manifests.Torture("mips");
        var cases = BitfieldProbe.Cases(manifest);
        var actual = RunBitfieldProgram("mips", cases);
        var asLittleEndian = cases.Select(c => BitfieldProbe.Expected(c, bigEndian: false)).ToList();
        var differences = asLittleEndian.Zip(actual).Count(p => p.First != p.Second);
        Assert.IsGreaterThan(cases.Count / 2, differences, "most bitfields land elsewhere when the byte order is wrong");
    }

    // ---- helpers ----

    internal static ProcessResult CompileAsserts(string abi, string header, LayoutManifest manifest, bool gcc)
    {
        using var scratch = TestPaths.Scratch();
        var source = StaticAsserts.Write(gcc ? WithoutClangBuiltins(manifest) : manifest, header);
        var file = scratch.Write("checks.c", source);
        var result = gcc
            ? Toolchain.Run(Toolchain.Gcc(abi), ["-std=gnu11", "-fsyntax-only", file])
            : Toolchain.Run(Toolchain.Clang, Toolchain.ClangArguments(abi, "-fsyntax-only", file));
        return result with { Error = WithSourceLines(result.Error, file, source) };
    }

    /// <summary>
    /// max_align_t comes from the compiler's own stddef.h, and clang's differs from gcc's (member names everywhere, size
    /// and alignment on i386): the manifest describes clang's, so gcc cannot check it.
    /// </summary>
    static LayoutManifest WithoutClangBuiltins(LayoutManifest manifest) => Manifests.Mutate(manifest, m =>
    {
        foreach (var list in new[] { "structs", "typedefs" })
        {
            var array = m[list]!.AsArray();
            foreach (var item in array.Where(i => (string?)i!["name"] == "max_align_t").ToList())
                array.Remove(item);
        }
    });

    /// <summary>Appends the generated line each error points at, so a failure shows the assert itself.</summary>
    static string WithSourceLines(string errors, string file, string source)
    {
        var lines = source.Split('\n');
        var shown = new List<string>();
        foreach (var line in errors.Split('\n'))
        {
            shown.Add(line);
            if (line.StartsWith(file + ":", StringComparison.Ordinal) && line.Contains("error", StringComparison.Ordinal)
                && int.TryParse(line.AsSpan(file.Length + 1, line.IndexOf(':', file.Length + 1) - file.Length - 1), out var n) && n >= 1 && n <= lines.Length)
                shown.Add("    error in: " + lines[n - 1]);
        }
        return string.Join('\n', shown);
    }

    internal static List<string> CompareWithDump(string abi, string header, LayoutManifest manifest, out int compared)
    {
        compared = 0;
        using var scratch = TestPaths.Scratch();
        var file = scratch.Write("checks.c", StaticAsserts.Write(manifest, header));
        var result = Toolchain.Run(Toolchain.Clang, Toolchain.ClangArguments(abi, "-fsyntax-only", "-Wno-static-assert", "-Xclang", "-fdump-record-layouts", file));
        var blocks = RecordLayoutDump.Parse(result.Output);
        var problems = new List<string>();
        foreach (var record in manifest.Structs.Where(r => r.Incomplete != true))
        {
            var type = CNames.RecordType(manifest, record);
            if (!blocks.TryGetValue(type, out var lines))
            {
                problems.Add($"{type}: no layout in the dump");
                continue;
            }
            problems.AddRange(RecordLayoutDump.Compare(record, lines, out var count));
            compared += count;
        }
        return problems;
    }

    static List<string> RunBitfieldProgram(string abi, IReadOnlyList<BitfieldProbe.Case> cases)
    {
        using var scratch = TestPaths.Scratch();
        var source = scratch.Write("bitfields.c", BitfieldProbe.Program(TestPaths.Torture, cases));
        var binary = scratch.File("bitfields");
        var build = Toolchain.Run(Toolchain.Gcc(abi), ["-std=gnu11", "-static", "-O1", "-o", binary, source]);
        Assert.AreEqual(0, build.ExitCode, $"building the bitfield program for {abi}:\n{build.Both}");
        var (file, prefix) = Toolchain.Runner(abi, binary);
        var run = Toolchain.Run(file, prefix);
        Assert.AreEqual(0, run.ExitCode, $"running the bitfield program for {abi}:\n{run.Both}");
        return [.. run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    static string TruthFile(string abi) => Path.Combine(TestPaths.TruthDirectory, $"bitfields-{abi}.txt");

    static string TruthText(string abi, LayoutManifest manifest, List<string> lines)
        => $"""
            # Bitfield truth for {abi} ({manifest.Target}, {(manifest.BigEndian ? "big" : "little")}-endian), recorded from real code:
            # tests/Portal.Headers.Tests/headers/torture.h compiled by the target's gcc (Debian 12 cross gcc 12, -static)
            # and run under qemu-user (natively on x86_64). Each line: a record zeroed, one bitfield set to <value>, the
            # record's bytes in memory order.
            # <record> <member path> <width> <value hex> <bytes hex>
            {string.Join('\n', lines)}

            """;

    static void AssertSameLines(List<string> expected, List<string> actual, string what)
    {
        var differences = expected.Zip(actual).Where(p => p.First != p.Second)
            .Select(p => $"  expected {p.First}\n  actual   {p.Second}").Take(20).ToList();
        Assert.AreEqual(expected.Count, actual.Count, $"{what}: line count");
        Assert.AreEqual(0, differences.Count, $"{what}:\n{string.Join('\n', differences)}");
    }
}
