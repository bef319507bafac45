using System.Globalization;
using System.Reflection;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Typed;

namespace Portal.Generators.Tests;

/// <summary>
/// Generated bitfield setters against real code. tests/Portal.Headers.Tests/truth/bitfields-&lt;abi&gt;.txt
/// holds, for every bitfield of torture.h, the bytes a program compiled by the target's own gcc and
/// run under qemu-user produced after setting that one field. The generated proxy (from the manifest
/// libclang wrote for the same header at build time) must produce the same bytes, on all six ABIs.
/// </summary>
[TestClass]
public sealed class BitfieldTruthTests
{
    private static readonly string TruthDirectory =
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../Portal.Headers.Tests/truth"));

    private static readonly MethodInfo Create = typeof(GuestRecord).GetMethod(nameof(GuestRecord.Create))!;

    [TestMethod]
    [DataRow("x86_64"), DataRow("i386"), DataRow("mipsel"), DataRow("mips"), DataRow("armel"), DataRow("aarch64")]
    public void Generated_bitfields_write_the_bytes_the_targets_compiler_writes(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        var lines = File.ReadAllLines(Path.Combine(TruthDirectory, $"bitfields-{abiName}.txt"))
            .Where(line => line.Length > 0 && !line.StartsWith('#')).ToList();
        Assert.IsGreaterThanOrEqualTo(30, lines.Count, "the truth file has the torture header's bitfields");
        var mismatches = new List<string>();
        foreach (var line in lines)
        {
            var (record, path, width, value, expected) = Parse(line);
            var type = typeof(BitfieldTruthTests).Assembly.GetType($"Portal.Generators.Tests.Torture.{Pascal(record)}")
                ?? throw new AssertFailedException($"no generated type for {record}");
            var instance = Create.MakeGenericMethod(type).Invoke(null, [abi])!;
            Set(instance, path.Split('.'), width, value);
            var view = (RecordView)type.GetProperty(nameof(IGuestRecord<>.View))!.GetValue(instance)!;
            var actual = Convert.ToHexStringLower(view.Buffer);
            if (actual != expected)
                mismatches.Add($"{record}.{path} = 0x{value:x} ({width} bits): compiler {expected}, generated {actual}");
        }
        Assert.IsEmpty(mismatches, string.Join("\n", mismatches));
    }

    /// <summary>Follows nested members (views share the record's bytes, so setting through a boxed copy is fine).</summary>
    private static void Set(object target, string[] path, int width, ulong value)
    {
        for (var i = 0; i < path.Length - 1; i++)
            target = target.GetType().GetProperty(Pascal(path[i]))!.GetValue(target)!;
        var property = target.GetType().GetProperty(Pascal(path[^1])) ?? throw new AssertFailedException($"no property for {path[^1]} on {target.GetType().Name}");
        property.SetValue(target, ToPropertyType(property.PropertyType, width, value));
    }

    /// <summary>The bits the C program stored, as the property's type (signed fields read them sign-extended).</summary>
    private static object ToPropertyType(Type type, int width, ulong value)
    {
        var bits = width >= 64 ? value : value & ((1UL << width) - 1);
        var underlying = type.IsEnum ? Enum.GetUnderlyingType(type) : type;
        var signed = underlying == typeof(sbyte) || underlying == typeof(short) || underlying == typeof(int) || underlying == typeof(long);
        if (underlying == typeof(bool))
            return bits != 0;
        object number = signed
            ? Convert.ChangeType(width >= 64 ? (long)bits : (long)(bits << (64 - width)) >> (64 - width), underlying, CultureInfo.InvariantCulture)
            : Convert.ChangeType(bits, underlying, CultureInfo.InvariantCulture);
        return type.IsEnum ? Enum.ToObject(type, number) : number;
    }

    private static (string Record, string Path, int Width, ulong Value, string Bytes) Parse(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (parts[0], parts[1], int.Parse(parts[2], CultureInfo.InvariantCulture),
            ulong.Parse(parts[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture), parts[4].ToLowerInvariant());
    }

    private static string Pascal(string name) =>
        string.Concat(name.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
}
