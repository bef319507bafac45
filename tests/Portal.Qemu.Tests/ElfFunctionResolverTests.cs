using System.Diagnostics;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.FunctionHooks;

namespace Portal.Qemu.Tests;

/// <summary>
/// Function hooks find a function's file offset from the guest binary's ELF file (docs/protocol.md
/// §4.6). The binaries are compiled here by each real guest's compiler (scripts/setup.sh installs
/// them); the offsets are checked against binutils' own view of the same file.
/// </summary>
[TestClass]
public sealed class ElfFunctionResolverTests
{
    private const string Source = """
        long portal_probe_target(long a, long b) { return a + 2 * b; }
        int data_symbol = 5;
        int main(int argc, char **argv) { (void)argv; return (int)portal_probe_target(argc, 1); }
        """;

    public TestContext TestContext { get; set; } = null!;

    private static string Compiler(GuestAbi abi) => abi.Id switch
    {
        GuestAbiId.X86_64 => "gcc",
        GuestAbiId.MipsEl => "mipsel-linux-gnu-gcc",
        GuestAbiId.ArmEl => "arm-linux-gnueabi-gcc",
        GuestAbiId.AArch64 => "aarch64-linux-gnu-gcc",
        _ => throw new ArgumentOutOfRangeException(nameof(abi)),
    };

    private async Task<string> CompileAsync(GuestAbi abi, params string[] options)
    {
        var directory = Directory.CreateTempSubdirectory("portal-elf-").FullName;
        var source = Path.Combine(directory, "target.c");
        var output = Path.Combine(directory, "target");
        await File.WriteAllTextAsync(source, Source, TestContext.CancellationToken);
        await RunAsync(Compiler(abi), ["-O2", "-static", .. options, "-o", output, source]);
        return output;
    }

    private async Task<string> RunAsync(string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync(TestContext.CancellationToken);
        var errors = await process.StandardError.ReadToEndAsync(TestContext.CancellationToken);
        await process.WaitForExitAsync(TestContext.CancellationToken);
        Assert.AreEqual(0, process.ExitCode, $"{program} {string.Join(' ', start.ArgumentList)}: {errors}");
        return output;
    }

    /// <summary>binutils' address of a symbol and the file offset of that address (readelf's program headers).</summary>
    private async Task<(ulong Address, ulong Offset)> BinutilsViewAsync(string file, string symbol)
    {
        var symbols = await RunAsync("nm", [file]);
        var line = symbols.Split('\n').Single(l => l.EndsWith(" " + symbol, StringComparison.Ordinal));
        var address = Convert.ToUInt64(line.Split(' ')[0], 16) & ~1UL;
        var headers = await RunAsync("readelf", ["-lW", file]);
        foreach (var row in headers.Split('\n').Where(l => l.TrimStart().StartsWith("LOAD", StringComparison.Ordinal)))
        {
            var fields = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var (offset, virtualAddress, fileSize) = (Convert.ToUInt64(fields[1], 16), Convert.ToUInt64(fields[2], 16), Convert.ToUInt64(fields[4], 16));
            if (address >= virtualAddress && address < virtualAddress + fileSize)
                return (address, offset + address - virtualAddress);
        }
        throw new AssertFailedException($"{symbol} is in no LOAD segment of {file}");
    }

    [TestMethod]
    [DataRow("x86_64"), DataRow("mipsel"), DataRow("aarch64"), DataRow("armel")]
    public async Task A_function_resolves_to_the_file_offset_binutils_gives(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        var file = await CompileAsync(abi);
        var resolved = ElfFunctionResolver.Resolve(await File.ReadAllBytesAsync(file, TestContext.CancellationToken), "portal_probe_target", abi, file);
        var (address, offset) = await BinutilsViewAsync(file, "portal_probe_target");
        Assert.AreEqual(address, resolved.Address);
        Assert.AreEqual(offset, resolved.FileOffset);
        Assert.IsTrue(resolved.Size > 0);
    }

    [TestMethod]
    public async Task What_the_kernel_cannot_probe_is_refused_with_the_reason()
    {
        var mipsel = await File.ReadAllBytesAsync(await CompileAsync(GuestAbi.MipsEl), TestContext.CancellationToken);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ElfFunctionResolver.Resolve(mipsel, "nvram_get", GuestAbi.MipsEl, "t")).Message,
            "defines no symbol nvram_get");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ElfFunctionResolver.Resolve(mipsel, "data_symbol", GuestAbi.MipsEl, "t")).Message,
            "not a function");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ElfFunctionResolver.Resolve(mipsel, "portal_probe_target", GuestAbi.ArmEl, "t")).Message,
            "a armel guest runs");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ElfFunctionResolver.Resolve("#!/bin/sh\n"u8.ToArray(), "main", GuestAbi.MipsEl, "t")).Message,
            "not an ELF file");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ElfFunctionResolver.CheckOffset(0x402, GuestAbi.MipsEl, "t")).Message,
            "not 4-byte aligned");
        ElfFunctionResolver.CheckOffset(0x403, GuestAbi.X86_64, "t");   // x86 instructions have any alignment

        var thumb = await File.ReadAllBytesAsync(await CompileAsync(GuestAbi.ArmEl, "-mthumb"), TestContext.CancellationToken);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ElfFunctionResolver.Resolve(thumb, "portal_probe_target", GuestAbi.ArmEl, "t")).Message,
            "Thumb");
        var micromips = await File.ReadAllBytesAsync(await CompileAsync(GuestAbi.MipsEl, "-mmicromips"), TestContext.CancellationToken);
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ElfFunctionResolver.Resolve(micromips, "portal_probe_target", GuestAbi.MipsEl, "t")).Message,
            "microMIPS");

        var stripped = await CompileAsync(GuestAbi.MipsEl, "-s");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() =>
            ElfFunctionResolver.Resolve(File.ReadAllBytes(stripped), "portal_probe_target", GuestAbi.MipsEl, "t")).Message, "stripped");
    }
}
