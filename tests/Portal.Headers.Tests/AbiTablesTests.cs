using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>
/// <c>portal-headers abi-tables</c> and Portal.Runtime's checked-in syscall and errno tables: the file in the repository
/// is what the command writes today, from this machine's Linux headers (scripts/setup-headers.sh installs them).
/// </summary>
[TestClass]
public sealed class AbiTablesTests
{
    static string CheckedIn => Path.Combine(TestPaths.RepositoryRoot, AbiTableGenerator.RepositoryPath);

    [TestMethod]
    public void The_checked_in_abi_tables_are_what_the_command_writes()
    {
        using var scratch = TestPaths.Scratch();
        var target = scratch.File("AbiTables.g.cs");
        using var output = new StringWriter();
        using var error = new StringWriter();

        var code = HeadersCommandLine.Run(["abi-tables", "--output", target], output, error);

        Assert.AreEqual(0, code, error.ToString());
        Assert.AreEqual("", output + error.ToString());
        var written = File.ReadAllLines(target);
        var checkedIn = File.ReadAllLines(CheckedIn);
        var first = Enumerable.Range(0, Math.Max(written.Length, checkedIn.Length))
            .FirstOrDefault(i => i >= written.Length || i >= checkedIn.Length || written[i] != checkedIn[i], -1);
        if (first >= 0)
        {
            Assert.Fail($"{AbiTableGenerator.RepositoryPath} is stale: line {first + 1} is\n  {Line(checkedIn, first)}\n"
                + $"where portal-headers writes\n  {Line(written, first)}\nRegenerate it from the repository root: {AbiTableGenerator.Command}");
        }
    }

    [TestMethod]
    public void The_tables_are_the_values_of_each_targets_own_macros()
    {
        // Spot checks that need no checked-in file: MIPS o32 numbers start at 4000, MIPS errno values differ from 35 up.
        Assert.Contains(("read", 0L), AbiTableGenerator.Syscalls(HeaderAbi.Get("x86_64")));
        Assert.Contains(("read", 4003L), AbiTableGenerator.Syscalls(HeaderAbi.Get("mipsel")));
        Assert.Contains(("EOPNOTSUPP", 95L), AbiTableGenerator.Errnos(HeaderAbi.Get("aarch64")));
        Assert.Contains(("EOPNOTSUPP", 122L), AbiTableGenerator.Errnos(HeaderAbi.Get("mips")));
        Assert.IsFalse(AbiTableGenerator.Syscalls(HeaderAbi.Get("mipsel")).Any(s => s.Name is "Linux" or "Linux_syscalls"), "bases and counts are not syscalls");
    }

    [TestMethod]
    public void A_syscall_macro_that_is_not_a_constant_fails_the_command_and_writes_nothing()
    {
        // A sysroot of its own (in a process of its own: the variable is process-wide), whose i386 asm/unistd.h has a
        // __NR_ macro clang cannot evaluate: the tables would have a gap, so there are none.
        using var scratch = TestPaths.Scratch();
        foreach (var abi in HeaderAbi.Names.Where(n => n != "x86_64"))
            Directory.CreateDirectory(scratch.File($"root/{HeaderAbi.Get(abi).Triple}/include"));
        scratch.Write("root/i686-linux-gnu/include/asm/unistd.h", "#define __NR_read 3\n#define __NR_write __NR_undefined\n");
        var target = scratch.File("AbiTables.g.cs");

        var result = Toolchain.Run("dotnet", [TestPaths.Tool, "abi-tables", "--output", target],
            environment: new Dictionary<string, string> { [HeaderAbi.CrossRootVariable] = scratch.File("root") });

        Assert.AreEqual(HeadersCommandLine.Failure, result.ExitCode, result.Both);
        Assert.AreEqual("portal-headers: asm/unistd.h for ABI i386: __NR_write: not an integer constant expression: use of undeclared identifier '__NR_undefined'\n", result.Error);
        Assert.IsFalse(File.Exists(target));
    }

    static string Line(string[] lines, int index) => index < lines.Length ? lines[index] : "(end of file)";
}
