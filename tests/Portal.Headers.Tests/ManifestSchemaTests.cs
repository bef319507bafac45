using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Headers.Tests;

/// <summary>The manifest's shape and content, as docs/layout-manifest.md describes them.</summary>
[TestClass]
public sealed partial class ManifestSchemaTests
{
    public static IEnumerable<object[]> Abis => TestPaths.Abis.Select(a => new object[] { a });

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Every_manifest_has_exactly_the_documented_properties(string abi)
    {
        foreach (var manifest in new[] { Manifests.Torture(abi), Manifests.Raeth(abi) })
        {
            ManifestSchema.AssertConforms(ManifestJson.Serialize(manifest));
            // What a schema cannot say: a bitfield's byte offset is the byte holding its first bit.
            foreach (var field in manifest.Structs.SelectMany(s => AllFields(s.Fields ?? [])).Where(f => f.BitOffset is not null))
                Assert.AreEqual(field.BitOffset / 8, field.Offset, $"{abi}: {field.Name}");
        }

        static IEnumerable<ManifestField> AllFields(IEnumerable<ManifestField> fields)
            => fields.SelectMany(f => AllFields(f.Fields ?? []).Prepend(f));
    }

    [TestMethod]
    public void The_validator_rejects_what_the_schema_forbids()
    {
        var json = JsonNode.Parse(ManifestJson.Serialize(Manifests.Raeth("x86_64")))!.AsObject();
        json["Structs"] = new JsonArray();
        var ifreq = Manifests.Record(json, "ifreq");
        ifreq["packed"] = false;
        Manifests.Field(ifreq, "ifr_ifru")["type"]!["signed"] = true;
        Manifests.Field(ifreq, "ifr_ifrn")["bit_offset"] = 3;
        var problems = ManifestSchema.Problems(json);
        var ifreqPath = $"/structs/{json["structs"]!.AsArray().IndexOf(ifreq)}";
        Assert.IsTrue(problems.Any(p => p.StartsWith("/Structs: ", StringComparison.Ordinal)), "an undocumented property (or one not in camelCase)\n" + string.Join('\n', problems));
        Assert.IsTrue(problems.Any(p => p.StartsWith(ifreqPath + "/packed: const", StringComparison.Ordinal)), "packed is present only as true\n" + string.Join('\n', problems));
        Assert.IsTrue(problems.Any(p => p.StartsWith(ifreqPath + "/fields/", StringComparison.Ordinal) && p.Contains("/type: not", StringComparison.Ordinal)),
            "signed is for char, int and enum only\n" + string.Join('\n', problems));
        Assert.IsTrue(problems.Any(p => p.Contains("/bit_offset: ", StringComparison.Ordinal)), "bit_offset is not camelCase\n" + string.Join('\n', problems));
    }

    /// <summary>
    /// Ways a manifest can break the contract, each applied to raeth.h's x86_64 manifest, with the problem the schema
    /// must report (a pattern over <see cref="ManifestSchema.Problems(string)"/>'s lines: location, keyword, message).
    /// </summary>
    public static IEnumerable<object[]> Breakages =>
    [
        ["a type kind the manifest does not have", @"^/structs/\d+/fields/\d+/type/kind: enum: ", (Action<JsonObject>)(m => FirstType(m)["kind"] = "struct")],
        ["a record kind other than struct or union", @"^/structs/\d+/kind: enum: ", (Action<JsonObject>)(m => Manifests.Record(m, "ifreq")["kind"] = "class")],
        ["a required property missing", @"^: required: .*""abi""", (Action<JsonObject>)(m => m.Remove("abi"))],
        ["an unknown ABI", "^/abi: enum: ", (Action<JsonObject>)(m => m["abi"] = "sparc")],
        ["null instead of an omitted property", @"^/structs/\d+/fields/\d+/type/size: type: ", (Action<JsonObject>)(m => FirstType(m)["size"] = null)],
        ["an integer as a string", "^/constants/0/value: type: ", (Action<JsonObject>)(m => m["constants"]![0]!["value"] = "1")],
        ["another version", "^/version: const: ", (Action<JsonObject>)(m => m["version"] = 2)],
        ["an incomplete record with a size", @"^/structs/\d+: not: ", (Action<JsonObject>)(m => Manifests.Record(m, "ifreq")["incomplete"] = true)],
        ["a complete record without fields", @"^/structs/\d+: required: .*""fields""", (Action<JsonObject>)(m => Manifests.Record(m, "ifreq").Remove("fields"))],
        ["a pointer without its pointee", @"^/typedefs/\d+/type: required: .*""pointee""", (Action<JsonObject>)(m => Pointer(m).Remove("pointee"))],
        ["an array's length on a pointer", @"^/typedefs/\d+/type: not: ", (Action<JsonObject>)(m => Pointer(m)["length"] = 4)],
        ["a bitOffset without its bitWidth", @"^/structs/\d+/fields/0: dependentRequired: .*bitWidth",
            (Action<JsonObject>)(m => Manifests.Field(Manifests.Record(m, "sockaddr"), "sa_family")["bitOffset"] = 0)],
        ["an anonymous member without its fields", @"^/structs/\d+/fields/0: required: .*""fields""",
            (Action<JsonObject>)(m => Manifests.Field(Manifests.Record(m, "sockaddr"), "sa_family")["name"] = "")],
        ["an alias path that is not a member path", "^/aliases/0/path: pattern: ", (Action<JsonObject>)(m => m["aliases"]![0]!["path"] = "ifr_ifru")],
    ];

    [TestMethod]
    [DynamicData(nameof(Breakages))]
    public void A_manifest_that_breaks_the_schema_fails_validation(string breakage, string expected, Action<JsonObject> change)
    {
        var json = JsonNode.Parse(ManifestJson.Serialize(Manifests.Raeth("x86_64")))!.AsObject();
        Assert.AreEqual(0, ManifestSchema.Problems(json).Count, "the manifest conforms before it is broken");
        change(json);
        var problems = ManifestSchema.Problems(json);
        Assert.IsTrue(problems.Any(p => Regex.IsMatch(p, expected)), $"{breakage}: expected a problem like {expected}\n{string.Join('\n', problems)}");
        // The multi-ABI file holds the same manifests: it fails too.
        var file = new JsonObject { ["version"] = 1, ["header"] = "raeth.h", ["manifests"] = new JsonArray(json.DeepClone()) };
        Assert.AreNotEqual(0, ManifestSchema.Problems(file).Count, breakage + " (in a manifest file)");
    }

    static JsonObject FirstType(JsonObject manifest) => Manifests.Field(Manifests.Record(manifest, "ifreq"), "ifr_ifru")["type"]!.AsObject();

    static JsonObject Pointer(JsonObject manifest) => manifest["typedefs"]!.AsArray().Select(t => t!["type"]!.AsObject()).First(t => (string?)t["kind"] == "pointer");

    [TestMethod]
    public void The_schema_lists_the_kinds_the_writer_writes_and_the_abis_there_are()
    {
        // Every value of the writer's enums, through the writer's JSON.
        var manifest = new LayoutManifest
        {
            Abi = "x86_64", Target = "x86_64-linux-gnu", PointerSize = 8, Header = "kinds.h",
            Structs = [.. Enum.GetValues<ManifestRecordKind>().Select(k => new ManifestRecord { Name = "r", Kind = k, Incomplete = true })],
            Typedefs = [.. Enum.GetValues<ManifestTypeKind>().Select(k => new ManifestTypedef { Name = "t", Type = new ManifestType { Kind = k, Spelling = "t" } })],
            Enums = [], Constants = [], Aliases = [], Notes = [],
        };
        var written = JsonNode.Parse(ManifestJson.Serialize(manifest))!;
        var schema = ManifestSchema.Json["$defs"]!;
        CollectionAssert.AreEqual(Strings(schema["type"]!["properties"]!["kind"]!["enum"]!), Strings(written["typedefs"]!, t => t!["type"]!["kind"]!));
        CollectionAssert.AreEqual(Strings(schema["record"]!["properties"]!["kind"]!["enum"]!), Strings(written["structs"]!, r => r!["kind"]!));
        CollectionAssert.AreEqual(HeaderAbi.Names.ToArray(), Strings(schema["manifest"]!["properties"]!["abi"]!["enum"]!));
        Assert.AreEqual(manifest.Typedefs.Count, ManifestJson.DeserializeManifest(written.ToJsonString()).Typedefs.Select(t => t.Type.Kind).Distinct().Count(), "each kind reads back");

        static string[] Strings(JsonNode array, Func<JsonNode?, JsonNode>? select = null)
            => [.. array.AsArray().Select(n => (select is null ? n! : select(n)).GetValue<string>())];
    }

    [TestMethod]
    public void The_schema_is_a_json_schema_and_the_hand_written_manifests_follow_it()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(ManifestSchema.FilePath));
        var meta = MetaSchemas.Draft202012.Evaluate(schema.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.IsTrue(meta.IsValid, "layout-manifest.schema.json is a valid draft 2020-12 schema");
        // The generator's tests feed it manifests written by hand: they keep to the contract too.
        var handWritten = Directory.GetFiles(Path.Combine(TestPaths.RepositoryRoot, "tests", "Portal.Generators.Tests", "Manifests"), "*.portal.json");
        Assert.AreNotEqual(0, handWritten.Length);
        foreach (var path in handWritten)
            ManifestSchema.AssertConforms(File.ReadAllText(path));
    }

    [TestMethod]
    public void A_type_the_manifest_has_no_kind_for_is_void_with_its_size_and_a_note()
    {
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("bitint.h", "struct odd { _BitInt(7) a; int b; };\n");
        var manifest = HeaderParser.Parse(header, "x86_64");
        var a = manifest.Record("odd").Field("a");
        Assert.AreEqual((ManifestTypeKind.Void, 1, "_BitInt(7)"), (a.Type.Kind, a.Type.Size, a.Type.Spelling));
        StringAssert.StartsWith(manifest.Notes.Single(n => n.Name == "odd.a").Reason, "unsupported type '_BitInt(7)'");
        ManifestSchema.AssertConforms(ManifestJson.Serialize(manifest));
    }

    [TestMethod]
    public void Ifreq_on_x86_64_and_mipsel_has_the_target_glibc_layout()
    {
        foreach (var (abi, size, align, pointer, map) in new[] { ("x86_64", 40, 8, 8, 24), ("mipsel", 32, 4, 4, 16) })
        {
            var manifest = Manifests.Raeth(abi);
            Assert.AreEqual(pointer, manifest.PointerSize);
            Assert.IsFalse(manifest.BigEndian);
            var ifreq = manifest.Record("ifreq");
            Assert.AreEqual(ManifestRecordKind.Struct, ifreq.Kind);
            Assert.AreEqual(size, ifreq.Size, abi);
            Assert.AreEqual(align, ifreq.Align, abi);
            CollectionAssert.AreEqual(new[] { "ifr_ifrn", "ifr_ifru" }, ifreq.Fields!.Select(f => f.Name).ToArray());

            var ifrn = ifreq.Field("ifr_ifrn");
            Assert.AreEqual(0, ifrn.Offset);
            Assert.AreEqual(ManifestTypeKind.Record, ifrn.Type.Kind);
            Assert.IsNull(ifrn.Type.Record, "an anonymous union has no name in structs: its fields are listed in place");
            Assert.AreEqual("union (anonymous)", ifrn.Type.Spelling);
            var name = ifrn.Field("ifrn_name");
            Assert.AreEqual(0, name.Offset);
            Assert.AreEqual("char [16]", name.Type.Spelling);
            Assert.AreEqual(16, name.Type.Length);
            Assert.AreEqual(ManifestTypeKind.Char, name.Type.Element!.Kind);

            var ifru = ifreq.Field("ifr_ifru");
            Assert.AreEqual(16, ifru.Offset, "offsets are relative to the listing record");
            Assert.AreEqual(size - 16, ifru.Size);
            Assert.IsTrue(ifru.Fields!.All(f => f.Offset == 0), "union members all start at the union");
            var data = ifru.Field("ifru_data");
            Assert.AreEqual(ManifestTypeKind.Pointer, data.Type.Kind);
            Assert.AreEqual("__caddr_t", data.Type.Spelling, "typedefs keep their spelling and are resolved");
            Assert.AreEqual(pointer, data.Size);
            Assert.AreEqual(ManifestTypeKind.Char, data.Type.Pointee!.Kind);
            Assert.AreEqual(map, ifru.Field("ifru_map").Size);
            Assert.AreEqual("ifmap", ifru.Field("ifru_map").Type.Record);
            Assert.AreEqual("sockaddr", ifru.Field("ifru_addr").Type.Record);
            Assert.IsNull(ifru.Field("ifru_addr").Fields, "a record defined elsewhere is referenced, not inlined");

            Assert.IsTrue(manifest.Typedefs.Any(t => t.Name == "__caddr_t" && t.Type.Kind == ManifestTypeKind.Pointer), "an internal typedef a listed record refers to is listed");
            AssertAlias(manifest, "ifr_data", "ifreq", "ifr_ifru.ifru_data");
            AssertAlias(manifest, "ifr_name", "ifreq", "ifr_ifrn.ifrn_name");
            AssertAlias(manifest, "ifr_mtu", "ifreq", "ifr_ifru.ifru_mtu");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Esw_reg_and_the_raeth_constants(string abi)
    {
        var manifest = Manifests.Raeth(abi);
        Assert.AreEqual(TestPaths.Raeth, manifest.Header);
        var esw = manifest.Record("esw_reg");
        Assert.AreEqual(8, esw.Size);
        Assert.AreEqual(4, esw.Align);
        Assert.AreEqual((0, 4), (esw.Field("off").Offset, esw.Field("val").Offset));
        Assert.AreEqual("unsigned int", esw.Field("val").Type.Spelling);
        Assert.IsFalse(esw.Field("val").Type.IsSigned);
        var typedef = manifest.Typedefs.Single(t => t.Name == "esw_reg");
        Assert.AreEqual("esw_reg", typedef.Type.Record);

        var constants = manifest.Constants.ToDictionary(c => c.Name);
        Assert.AreEqual(35313, constants["RAETH_ESW_REG_READ"].Value);
        Assert.AreEqual("0x89F1", constants["RAETH_ESW_REG_READ"].Expression);
        Assert.AreEqual(0x89F2, constants["RAETH_ESW_REG_WRITE"].Value);
        Assert.AreEqual(0x34, constants["REG_ESW_WT_MAC_AD0"].Value);
        Assert.AreEqual(0x80, constants["REG_ESW_WT_MAC_ATC"].Value);
        Assert.AreEqual(0x90, constants["REG_ESW_TABLE_STATUS0"].Value);
        Assert.AreEqual(0x94, constants["REG_ESW_TABLE_STATUS1"].Value);
        Assert.AreEqual(0x89F3, constants["RAETH_MII_READ"].Value);
        Assert.AreEqual("(RAETH_ESW_REG_READ + 2)", constants["RAETH_MII_READ"].Expression);
        Assert.AreEqual(0x80000000L, constants["ESW_ATC_BUSY"].Value);
        Assert.IsTrue(constants["ESW_ATC_BUSY"].IsUnsigned);
        Assert.IsFalse(constants["RAETH_ESW_REG_READ"].IsUnsigned);
        Assert.AreEqual(16, constants["IFNAMSIZ"].Value, "constants of the included headers are listed too");
        Assert.AreEqual(1, constants["IFF_UP"].Value, "#define IFF_UP IFF_UP evaluates through the enum constant");
    }

    [TestMethod]
    [DataRow("x86_64", false, 8)]
    [DataRow("i386", true, 4)]
    [DataRow("mipsel", true, 4)]
    [DataRow("mips", true, 4)]
    [DataRow("armel", true, 4)]
    [DataRow("aarch64", false, 8)]
    public void Torture_constants_follow_C_arithmetic_on_each_abi(string abi, bool longTopIsUnsigned, int pointerSize)
    {
        var constants = Manifests.Torture(abi).Constants.ToDictionary(c => c.Name);
        void Is(string name, long value, bool unsigned)
        {
            Assert.IsTrue(constants.TryGetValue(name, out var c), $"{name} missing on {abi}");
            Assert.AreEqual(value, c!.Value, $"{name} on {abi}");
            Assert.AreEqual(unsigned, c.IsUnsigned, $"{name} unsigned on {abi}");
        }
        Is("TOR_DEC", 42, false);
        Is("TOR_HEX", 0x89F1, false);
        Is("TOR_HEX_UL", 0x7f, true);
        Is("TOR_OCT", 493, false);
        Is("TOR_NEG", -17, false);
        Is("TOR_LL", 123456789012, false);
        Is("TOR_ULL_MAX", -1, true);
        Is("TOR_U32_TOP", 0x80000000, true);
        Is("TOR_LONG_TOP", 0x80000000, longTopIsUnsigned);
        Is("TOR_CHAR", 'A', false);
        Is("TOR_SHIFT", 4096, false);
        Is("TOR_MASK", 4095, false);
        Is("TOR_ARITH", (42 * 3 + 7) / 2 % 50, false);
        Is("TOR_BITS", ~0x0Fu & 0xFF | 0x100 ^ 0x3, true);
        Is("TOR_NOT", 0, false);
        Is("TOR_CMP", 1, false);
        Is("TOR_TERNARY", 1, false);
        Is("TOR_ENUM_REF", 7, false);
        Is("TOR_CAST", 0xFF, true);
        Is("TOR_CAST_NEG", 0xFFFFFFFF, true);
        Is("TOR_SIZEOF", 8, true);
        Is("TOR_SIZEOF_PTR", pointerSize, true);
        Is("TOR_MADE", 0x102, false);
        Is("TOR_IOCTL", 0x89F7, false);
        Assert.AreEqual("(~0x0Fu & 0xFF | 0x100 ^ 0x3)", constants["TOR_BITS"].Expression);
        Assert.AreEqual("'A'", constants["TOR_CHAR"].Expression);
    }

    [TestMethod]
    public void Macros_that_are_not_integer_constants_are_notes_with_a_reason()
    {
        var notes = Manifests.Torture("mips").Notes.ToDictionary(n => n.Name, n => n.Reason);
        Assert.AreEqual("not an integer expression (char [6])", notes["TOR_STRING"]);
        Assert.AreEqual("not an integer expression (double)", notes["TOR_FLOAT"]);
        Assert.AreEqual("not an integer expression (void *)", notes["TOR_NULL"]);
        Assert.AreEqual("not an integer constant expression: use of undeclared identifier 'TOR_NO_SUCH_THING'", notes["TOR_UNDEFINED"]);
        Assert.AreEqual("not an expression (a type)", notes["TOR_TYPE"]);
        Assert.AreEqual("not an expression", notes["TOR_STATEMENT"]);
        Assert.AreEqual("empty macro (no value)", notes["TOR_EMPTY"]);
        Assert.AreEqual("function-like macro", notes["TOR_MAKE"]);
        Assert.AreEqual("member path that matches no record", notes["tor_not_a_path"]);
        Assert.AreEqual("not an expression (a comma-separated list)", notes["TOR_LIST"]);
        Assert.AreEqual("not an expression", notes["TOR_OPEN"]);
        Assert.AreEqual("not an expression (its expansion is not balanced)", notes["TOR_USES_OPEN"]);
        Assert.AreEqual(99, Manifests.Torture("mips").Constants.Single(c => c.Name == "TOR_LAST").Value, "a broken macro does not spoil the ones after it");
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Every_define_of_the_torture_header_is_a_constant_an_alias_or_a_note(string abi)
    {
        var manifest = Manifests.Torture(abi);
        var names = DefinePattern().Matches(File.ReadAllText(TestPaths.Torture)).Select(m => m.Groups[1].Value).ToList();
        Assert.IsGreaterThan(30, names.Count);
        foreach (var name in names)
        {
            var places = new[]
            {
                manifest.Constants.Any(c => c.Name == name),
                manifest.Aliases.Any(a => a.Name == name),
                manifest.Notes.Any(n => n.Name == name),
            };
            Assert.AreEqual(1, places.Count(p => p), $"{name} on {abi}: constant/alias/note = {string.Join('/', places)}");
        }
        CollectionAssert.AreEqual(new[] { "tor_lo", "tor_value", "tor_pair_b" }, manifest.Aliases.Select(a => a.Name).ToArray());
        AssertAlias(manifest, "tor_lo", "tor_hi_lo_holder", "hi_lo.lo");
        AssertAlias(manifest, "tor_value", "tor_nested", "inner.value");
        AssertAlias(manifest, "tor_pair_b", "tor_nested", "u.pair.b");
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Anonymous_members_and_inline_records_list_their_fields_relative_to_themselves(string abi)
    {
        var manifest = Manifests.Torture(abi);
        var nested = manifest.Record("tor_nested");
        CollectionAssert.AreEqual(new[] { "head", "", "inner", "u", "kv", "corners", "tail" }, nested.Fields!.Select(f => f.Name).ToArray());

        var anonymous = nested.Fields![1];
        Assert.AreEqual(4, anonymous.Offset);
        Assert.AreEqual("union (anonymous)", anonymous.Type.Spelling);
        CollectionAssert.AreEqual(new[] { "word", "", "bytes" }, anonymous.Fields!.Select(f => f.Name).ToArray());
        var halves = anonymous.Fields![1];
        Assert.AreEqual(0, halves.Offset);
        CollectionAssert.AreEqual(new[] { ("lo", 0), ("hi", 2) }, halves.Fields!.Select(f => (f.Name, f.Offset)).ToArray());

        var inner = nested.Field("inner");
        Assert.AreEqual("tor_inner", inner.Type.Record, "a named record defined inline is listed in structs too");
        Assert.IsNotNull(inner.Fields);
        var longSize = manifest.PointerSize;
        Assert.AreEqual(longSize, inner.Field("value").Offset, "relative to inner, not to tor_nested");
        Assert.AreEqual(inner.Offset + longSize, CNames.PathOffset(nested.Fields!, ["inner", "value"]));
        Assert.IsTrue(manifest.Structs.Any(s => s.Name == "tor_inner"));

        var u = nested.Field("u");
        Assert.IsNull(u.Type.Record);
        Assert.IsNotNull(u.Field("pair").Fields);

        var kv = nested.Field("kv");
        Assert.AreEqual(ManifestTypeKind.Array, kv.Type.Kind);
        Assert.AreEqual(3, kv.Type.Length);
        Assert.AreEqual(ManifestTypeKind.Record, kv.Type.Element!.Kind);
        CollectionAssert.AreEqual(new[] { ("k", 0), ("v", 4) }, kv.Fields!.Select(f => (f.Name, f.Offset)).ToArray(),
            "an array of an inline record lists the element's fields");

        var corners = nested.Field("corners");
        Assert.AreEqual("struct tor_point [2][2]", corners.Type.Spelling);
        Assert.AreEqual(2, corners.Type.Length);
        Assert.AreEqual(2, corners.Type.Element!.Length);
        Assert.AreEqual("tor_point", corners.Type.Element.Element!.Record);
        Assert.AreEqual(16, corners.Size);
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Bitfields_have_bit_offsets_widths_and_the_byte_of_their_first_bit(string abi)
    {
        var bits = Manifests.Torture(abi).Record("tor_bits");
        CollectionAssert.AreEqual(new[] { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m" }, bits.Fields!.Select(f => f.Name).ToArray(),
            "unnamed bitfields (padding) are not members");
        var b = bits.Field("b");
        Assert.AreEqual((1, 3, 0, 4), (b.BitOffset, b.BitWidth, b.Offset, b.Size));
        Assert.AreEqual(16, bits.Field("d").BitOffset);
        Assert.IsTrue(bits.Field("d").Type.IsSigned);
        Assert.AreEqual(32, bits.Field("e").BitOffset, "30 bits do not fit after 21: a new unit");
        Assert.AreEqual(64, bits.Field("f").BitOffset, "after a zero-width bitfield: a new unit");
        Assert.AreEqual(64 + 7 + 4, bits.Field("g").BitOffset, "after 4 bits of unnamed padding");
        Assert.AreEqual(ManifestTypeKind.Bool, bits.Field("j").Type.Kind);
        Assert.AreEqual("tor_color", bits.Field("k").Type.Enum);
        Assert.IsNull(bits.Field("m").BitOffset);
        foreach (var f in bits.Fields!.Where(f => f.BitOffset is not null))
            Assert.AreEqual(f.BitOffset / 8, f.Offset, f.Name);
        var packed = Manifests.Torture(abi).Record("tor_bits_packed");
        Assert.IsTrue(packed.Packed);
        Assert.AreEqual(8 + 3, packed.Field("b").BitOffset, "packed: b continues right after a");
    }

    [TestMethod]
    [DataRow("x86_64", true, 16, 16, 8)]
    [DataRow("i386", true, 12, 4, 4)]
    [DataRow("mipsel", true, 8, 8, 8)]
    [DataRow("mips", true, 8, 8, 8)]
    [DataRow("armel", false, 8, 8, 8)]
    [DataRow("aarch64", false, 16, 16, 8)]
    public void Scalars_follow_each_abi(string abi, bool charIsSigned, int longDoubleSize, int longDoubleAlign, int longLongAlign)
    {
        var manifest = Manifests.Torture(abi);
        var scalars = manifest.Record("tor_scalars");
        Assert.AreEqual(charIsSigned, scalars.Field("c").Type.IsSigned, "plain char");
        Assert.IsTrue(scalars.Field("sc").Type.IsSigned);
        Assert.IsFalse(scalars.Field("uc").Type.IsSigned);
        Assert.AreEqual(ManifestTypeKind.Bool, scalars.Field("flag").Type.Kind);
        Assert.AreEqual(manifest.PointerSize, scalars.Field("l").Size);
        Assert.AreEqual(longDoubleSize, scalars.Field("ld").Size);
        Assert.AreEqual(ManifestTypeKind.Float, scalars.Field("ld").Type.Kind);
        Assert.AreEqual(0, scalars.Field("ld").Offset % longDoubleAlign);
        Assert.AreEqual(longLongAlign, scalars.Field("ll").Offset % 8 == 0 ? 8 : 4);

        var reg = scalars.Field("reg");
        Assert.AreEqual((ManifestTypeKind.Int, "tor_reg_alias", 4, false), (reg.Type.Kind, reg.Type.Spelling, reg.Type.Size, reg.Type.IsSigned), "a typedef chain resolves");
        var typedefs = manifest.Typedefs.ToDictionary(t => t.Name);
        Assert.AreEqual("tor_reg", typedefs["tor_reg_alias"].Type.Spelling);
        Assert.AreEqual("tor_u32", typedefs["tor_reg"].Type.Spelling);
        Assert.AreEqual("unsigned int", typedefs["tor_u32"].Type.Spelling);
        Assert.AreEqual("uint16_t", scalars.Field("u16").Type.Spelling);
        Assert.IsTrue(typedefs.ContainsKey("__uint16_t"), "referenced internal typedefs are listed");
        var z = scalars.Field("z").Type;
        Assert.AreEqual((ManifestTypeKind.Array, 2, ManifestTypeKind.Float), (z.Kind, z.Length, z.Element!.Kind), "a complex number is laid out as two reals");
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Pointers_arrays_and_flexible_array_members(string abi)
    {
        var manifest = Manifests.Torture(abi);
        var node = manifest.Record("tor_node");
        Assert.AreEqual("tor_node", node.Field("next").Type.Pointee!.Record);
        var children = node.Field("children").Type;
        Assert.AreEqual((ManifestTypeKind.Pointer, ManifestTypeKind.Pointer, "tor_node"), (children.Kind, children.Pointee!.Kind, children.Pointee.Pointee!.Record));
        Assert.AreEqual("const char *const *", node.Field("names").Type.Spelling);
        Assert.AreEqual(ManifestTypeKind.Void, node.Field("data").Type.Pointee!.Kind);
        Assert.AreEqual(ManifestTypeKind.Function, node.Field("callback").Type.Pointee!.Kind);
        Assert.AreEqual("tor_callback", node.Field("callback").Type.Spelling);
        Assert.AreEqual(ManifestTypeKind.Function, node.Field("compare").Type.Pointee!.Kind);
        Assert.AreEqual(ManifestTypeKind.Function, node.Field("handler").Type.Pointee!.Kind);
        var ops = node.Field("ops").Type;
        Assert.AreEqual((ManifestTypeKind.Array, 3, ManifestTypeKind.Pointer, ManifestTypeKind.Function), (ops.Kind, ops.Length, ops.Element!.Kind, ops.Element.Pointee!.Kind));
        var matrix = node.Field("matrix").Type;
        Assert.AreEqual((ManifestTypeKind.Pointer, ManifestTypeKind.Array, 4), (matrix.Kind, matrix.Pointee!.Kind, matrix.Pointee.Length));

        var opaque = node.Field("opaque").Type.Pointee!;
        Assert.AreEqual((ManifestTypeKind.Record, "tor_opaque"), (opaque.Kind, opaque.Record));
        Assert.IsNull(opaque.Size);
        var incomplete = manifest.Record("tor_opaque");
        Assert.IsTrue(incomplete.Incomplete);
        Assert.IsNull(incomplete.Size);
        Assert.IsNull(incomplete.Fields);

        var flex = manifest.Record("tor_flex");
        var items = flex.Field("items");
        Assert.AreEqual(4, items.Offset);
        Assert.IsNull(items.Type.Length, "a flexible array member has no length");
        Assert.IsNull(items.Size);
        Assert.AreEqual(4, flex.Size);
        Assert.AreEqual(manifest.Abi == "i386" ? 4 : 8, manifest.Record("tor_flex_wide").Field("values").Offset);

        var arrays = manifest.Record("tor_arrays");
        Assert.AreEqual("int [3][4]", arrays.Field("grid").Type.Spelling);
        Assert.AreEqual(48, arrays.Field("grid").Size);
        Assert.AreEqual(5, arrays.Field("cube").Type.Element!.Element!.Length);
        Assert.AreEqual("tor_text [2]", arrays.Field("texts").Type.Spelling);
        Assert.AreEqual(8, arrays.Field("texts").Type.Element!.Length, "an array typedef resolves to its array");
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Enums_have_their_size_signedness_and_values(string abi)
    {
        var enums = Manifests.Torture(abi).Enums.ToDictionary(e => e.Name);
        Assert.AreEqual((4, false), (enums["tor_color"].Size, enums["tor_color"].IsSigned));
        CollectionAssert.AreEqual(new[] { ("TOR_RED", 0L), ("TOR_GREEN", 5L), ("TOR_BLUE", 6L) }, enums["tor_color"].Values.Select(v => (v.Name, v.Value)).ToArray());
        Assert.AreEqual((4, true), (enums["tor_negative"].Size, enums["tor_negative"].IsSigned));
        Assert.AreEqual(int.MinValue, enums["tor_negative"].Values[0].Value);
        Assert.AreEqual((1, false), (enums["tor_small"].Size, enums["tor_small"].IsSigned));
        Assert.AreEqual((1, true), (enums["tor_small_signed"].Size, enums["tor_small_signed"].IsSigned));
        Assert.AreEqual(2, enums["tor_short"].Size);
        Assert.AreEqual(8, enums["tor_big"].Size);
        Assert.AreEqual(0x100000000L, enums["tor_big"].Values[1].Value);
        Assert.AreEqual("TOR_MODE_ON", enums["tor_mode"].Values[1].Name, "a typedef'd anonymous enum takes the typedef name");
        Assert.AreEqual(7, enums[""].Values[0].Value, "an anonymous enum is listed with an empty name");
        Assert.AreEqual(3, enums["tor_inner_enum"].Values.Single().Value, "an enum declared inside a record is listed");
        Assert.AreEqual("tor_inner_enum", Manifests.Torture(abi).Record("tor_declared_with_a_variable").Field("kind").Type.Enum,
            "a record declared with a variable is listed");
        var fields = Manifests.Torture(abi).Record("tor_enums");
        Assert.AreEqual(fields.Field("small").Offset + 1, fields.Field("after_small").Offset, "a packed enum is one byte");
        Assert.AreEqual("tor_mode", fields.Field("mode").Type.Enum);
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Packing_and_alignment_attributes(string abi)
    {
        var manifest = Manifests.Torture(abi);
        var packed = manifest.Record("tor_packed");
        Assert.IsTrue(packed.Packed);
        Assert.AreEqual((1, 1, 5, 7), (packed.Align, packed.Field("i").Offset, packed.Field("s").Offset, packed.Field("ll").Offset));
        Assert.IsNull(manifest.Record("tor_packed_field").Packed, "a packed member does not make the record packed");
        Assert.AreEqual(1, manifest.Record("tor_packed_field").Field("i").Offset);
        var aligned = manifest.Record("tor_aligned_field");
        Assert.AreEqual((16, 16, 24), (aligned.Align, aligned.Field("i").Offset, aligned.Field("s").Offset));
        Assert.AreEqual((32, 32), (manifest.Record("tor_aligned").Size, manifest.Record("tor_aligned").Align));
        var both = manifest.Record("tor_packed_aligned");
        Assert.AreEqual((true, 4, 8, 1), (both.Packed, both.Align, both.Size, both.Field("i").Offset));
        var pragma = manifest.Record("tor_pragma_pack");
        Assert.AreEqual((2, 2), (pragma.Align, pragma.Field("i").Offset));
        Assert.IsNull(pragma.Packed, "#pragma pack is not __attribute__((packed)); its effect is in the offsets");
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public void Every_reference_resolves_and_internal_names_appear_only_when_referenced(string abi)
    {
        foreach (var manifest in new[] { Manifests.Torture(abi), Manifests.Raeth(abi) })
        {
            var records = manifest.Structs.Select(s => s.Name).ToHashSet();
            var enums = manifest.Enums.Select(e => e.Name).ToHashSet();
            var typedefs = manifest.Typedefs.Select(t => t.Name).ToHashSet();
            Assert.AreEqual(records.Count, manifest.Structs.Count, "record names are unique");
            var referenced = new HashSet<string>();
            void Visit(ManifestType t)
            {
                if (t.Record is { } r)
                {
                    Assert.IsTrue(records.Contains(r), $"{abi}: {t.Spelling} refers to record {r}, which is not listed");
                    referenced.Add(r);
                }
                if (t.Enum is { } e)
                    Assert.IsTrue(enums.Contains(e), $"{abi}: {t.Spelling} refers to enum {e}, which is not listed");
                if (typedefs.Contains(t.Spelling))
                    referenced.Add(t.Spelling);
                foreach (var inner in new[] { t.Element, t.Pointee })
                {
                    if (inner is not null)
                        Visit(inner);
                }
            }
            void Fields(IReadOnlyList<ManifestField> fields)
            {
                foreach (var f in fields)
                {
                    Visit(f.Type);
                    if (f.Fields is not null)
                        Fields(f.Fields);
                }
            }
            foreach (var s in manifest.Structs.Where(s => s.Fields is not null))
                Fields(s.Fields!);
            foreach (var t in manifest.Typedefs)
                Visit(t.Type);
            foreach (var name in records.Concat(typedefs).Where(n => n.StartsWith("__", StringComparison.Ordinal) || n.Length > 1 && n[0] == '_' && char.IsUpper(n[1])))
                Assert.IsTrue(referenced.Contains(name), $"{abi}: internal {name} is listed but nothing listed refers to it");
            Assert.IsFalse(manifest.Constants.Any(c => c.Name.StartsWith("__", StringComparison.Ordinal)), "internal macros are not listed");
            Assert.IsFalse(manifest.Notes.Any(c => c.Name.StartsWith("__", StringComparison.Ordinal)), "internal macros are not listed");
        }
    }

    [TestMethod]
    public void Each_abi_sees_its_own_system_headers_never_the_hosts()
    {
        // _IOW() comes from the kernel headers of the target: MIPS encodes the direction in 3 bits at 29 (write = 4),
        // x86 and ARM in 2 bits at 30 (write = 1). A mipsel parse that saw the host's headers would get 0x40047401.
        using var scratch = TestPaths.Scratch();
        var header = scratch.Write("ioctls.h", "#include <sys/ioctl.h>\n#define TOR_IOW _IOW('t', 1, int)\n#define TOR_IOR_LONG _IOR('t', 2, long)\n");
        var expected = new Dictionary<string, (long Write, long ReadLong)>
        {
            ["x86_64"] = (0x40047401, 0x80087402),
            ["i386"] = (0x40047401, 0x80047402),
            ["mipsel"] = (0x80047401, 0x40047402),
            ["mips"] = (0x80047401, 0x40047402),
            ["armel"] = (0x40047401, 0x80047402),
            ["aarch64"] = (0x40047401, 0x80087402),
        };
        var manifests = HeaderParser.ParseAll(header, expected.Keys).Manifests;
        foreach (var (abi, (write, readLong)) in expected)
        {
            var constants = manifests.Single(m => m.Abi == abi).Constants.ToDictionary(c => c.Name);
            Assert.AreEqual(write, constants["TOR_IOW"].Value, $"_IOW on {abi}");
            Assert.AreEqual(readLong, constants["TOR_IOR_LONG"].Value, $"_IOR(long) on {abi}");
            Assert.IsTrue(constants["TOR_IOW"].IsUnsigned);

            var args = HeaderParser.ClangArguments(HeaderAbi.Get(abi));
            Assert.IsTrue(args.Contains("-nostdlibinc"));
            CollectionAssert.Contains(args.ToList(), "--target=" + HeaderAbi.Get(abi).Triple);
            if (abi != "x86_64")
                Assert.IsFalse(args.Any(a => a.StartsWith("/usr/include", StringComparison.Ordinal)), string.Join(' ', args));
        }
    }

    [TestMethod]
    public void Output_is_deterministic()
    {
        var first = ManifestJson.Serialize(HeaderParser.Parse(TestPaths.Torture, "armel"));
        var second = ManifestJson.Serialize(HeaderParser.Parse(TestPaths.Torture, "armel"));
        Assert.AreEqual(first, second);
        Assert.AreEqual(first, ManifestJson.Serialize(ManifestJson.DeserializeManifest(first)), "the JSON round-trips");
        Assert.DoesNotContain("/usr/", first.Replace(TestPaths.Torture, "", StringComparison.Ordinal), "no sysroot paths (anonymous types are spelled without their location)");
    }

    [TestMethod]
    public void A_multi_abi_file_lists_the_abis_in_the_order_requested()
    {
        var file = HeaderParser.ParseAll(TestPaths.Raeth, ["mips", "x86_64", "armel"]);
        Assert.AreEqual(1, file.Version);
        Assert.AreEqual(TestPaths.Raeth, file.Header);
        CollectionAssert.AreEqual(new[] { "mips", "x86_64", "armel" }, file.Manifests.Select(m => m.Abi).ToArray());
        CollectionAssert.AreEqual(new[] { true, false, false }, file.Manifests.Select(m => m.BigEndian).ToArray());
        ManifestSchema.AssertConforms(ManifestJson.Serialize(file));
        Assert.ThrowsExactly<HeaderArgumentException>(() => HeaderParser.ParseAll(TestPaths.Raeth, ["mips", "mips"]));
        Assert.ThrowsExactly<HeaderArgumentException>(() => HeaderParser.ParseAll(TestPaths.Raeth, []));
    }

    [TestMethod]
    public void Struct_filter_keeps_the_records_what_they_reference_and_every_constant_enum_and_alias()
    {
        var all = Manifests.Raeth("mipsel");
        var kept = HeaderParser.Parse(TestPaths.Raeth, HeaderAbi.Get("mipsel"), new HeaderParseOptions { Structs = ["esw_reg", "ifreq"] });
        CollectionAssert.AreEqual(new[] { "sockaddr", "ifmap", "ifreq", "esw_reg" }, kept.Structs.Select(s => s.Name).ToArray());
        CollectionAssert.AreEqual(new[] { "__caddr_t", "sa_family_t", "esw_reg" }, kept.Typedefs.Select(t => t.Name).ToArray());
        CollectionAssert.AreEqual(all.Constants.Select(c => c.Name).ToArray(), kept.Constants.Select(c => c.Name).ToArray());
        CollectionAssert.AreEqual(all.Enums.Select(c => c.Name).ToArray(), kept.Enums.Select(c => c.Name).ToArray());
        CollectionAssert.AreEqual(all.Aliases.Select(c => c.Name).ToArray(), kept.Aliases.Select(c => c.Name).ToArray());
        var nested = HeaderParser.Parse(TestPaths.Torture, HeaderAbi.Get("x86_64"), new HeaderParseOptions { Structs = ["tor_nested"] });
        CollectionAssert.AreEqual(new[] { "tor_point", "tor_nested", "tor_inner" }, nested.Structs.Select(s => s.Name).ToArray());
        var error = Assert.ThrowsExactly<HeaderArgumentException>(() =>
            HeaderParser.Parse(TestPaths.Raeth, HeaderAbi.Get("mipsel"), new HeaderParseOptions { Structs = ["no_such_struct"] }));
        StringAssert.Contains(error.Message, "no struct or union named 'no_such_struct'");
    }

    [TestMethod]
    public void Include_directories_and_defines_reach_the_parser()
    {
        using var scratch = TestPaths.Scratch();
        scratch.Write("inc/sub.h", "struct from_sub { int a; };\n");
        var header = scratch.Write("top.h", "#include \"sub.h\"\n#define DOUBLED (VALUE * 2)\n#ifdef WIDE\nstruct wide { long long x; };\n#endif\n");
        var manifest = HeaderParser.Parse(header, "aarch64", [scratch.File("inc")], ["VALUE=21", "WIDE"]);
        Assert.AreEqual(42, manifest.Constants.Single(c => c.Name == "DOUBLED").Value);
        CollectionAssert.AreEqual(new[] { "from_sub", "wide" }, manifest.Structs.Select(s => s.Name).ToArray());
        Assert.IsFalse(manifest.Constants.Any(c => c.Name is "VALUE" or "WIDE"), "command-line macros are not the header's");

        var bare = HeaderParser.Parse(header, "aarch64", [scratch.File("inc")]);
        StringAssert.Contains(bare.Notes.Single(n => n.Name == "DOUBLED").Reason, "undeclared identifier 'VALUE'");
        Assert.ThrowsExactly<HeaderParseException>(() => HeaderParser.Parse(header, "aarch64"), "sub.h is not found without -I");
    }

    static void AssertAlias(LayoutManifest manifest, string name, string record, string path)
    {
        var alias = manifest.Aliases.SingleOrDefault(a => a.Name == name);
        Assert.IsNotNull(alias, $"alias {name} on {manifest.Abi}");
        Assert.AreEqual((record, path), (alias.Record, alias.Path), name);
    }

    [GeneratedRegex(@"^#define\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex DefinePattern();
}
