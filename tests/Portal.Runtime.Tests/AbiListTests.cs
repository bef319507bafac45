using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;

namespace Portal.Runtime.Tests;

/// <summary>
/// <see cref="GuestAbi.All"/> is the list of ABIs; every other copy is checked against it here. portal-headers' list
/// (HeaderAbi) is what <c>portal-headers abi-tables</c> writes into <see cref="AbiTables.Abis"/>, whose staleness
/// tests/Portal.Headers.Tests checks; the generator's ABI ids (HeaderEmitter) are checked by tests/Portal.Generators.Tests.
/// </summary>
[TestClass]
public sealed partial class AbiListTests
{
    private static string RepositoryRoot([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../.."));

    [TestMethod]
    public void Every_abi_id_is_one_guest_abi()
    {
        CollectionAssert.AreEqual(Enum.GetValues<GuestAbiId>(), GuestAbi.All.Select(a => a.Id).ToArray());
        CollectionAssert.AllItemsAreUnique(GuestAbi.All.Select(a => a.Name).ToArray());
    }

    [TestMethod]
    public void The_generated_tables_describe_exactly_the_guest_abis()
    {
        CollectionAssert.AreEqual(GuestAbi.All.Select(a => a.Name).ToArray(), AbiTables.Abis,
            "src/Portal.Runtime/Generated/AbiTables.g.cs is written for portal-headers' ABIs (src/Portal.Headers/HeaderAbi.cs): "
            + "make them GuestAbi's and regenerate it (its first lines say how)");
    }

    [TestMethod]
    public void The_guest_modules_abi_numbers_are_the_guest_abi_ids()
    {
        var header = File.ReadAllText(Path.Combine(RepositoryRoot(), "guest", "module", "portal_proto.h"));
        var defined = ProtoAbiDefine().Matches(header).ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        var expected = GuestAbi.All.ToDictionary(a => "PORTAL_ABI_" + a.Name.ToUpperInvariant(), a => (int)a.Id);
        CollectionAssert.AreEquivalent(expected.ToArray(), defined.ToArray(), "guest/module/portal_proto.h's PORTAL_ABI_* defines");
    }

    [TestMethod]
    public void The_protocol_document_lists_the_guest_abi_ids()
    {
        var row = File.ReadAllLines(Path.Combine(RepositoryRoot(), "docs", "protocol.md")).Single(l => l.Contains("| `abi` |", StringComparison.Ordinal));
        var listed = DocumentedAbi().Matches(row).Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value}").ToArray();
        CollectionAssert.AreEqual(GuestAbi.All.Select(a => $"{(int)a.Id} {a.Name}").ToArray(), listed, $"docs/protocol.md: {row}");
    }

    [GeneratedRegex(@"^#define\s+(PORTAL_ABI_\w+)\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex ProtoAbiDefine();

    // "le32: 1 x86_64, 2 i386, 3 mipsel, 4 mips (big-endian), ..."
    [GeneratedRegex(@"(\d+) (\w+)")]
    private static partial Regex DocumentedAbi();
}
