using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Portal.Generators.Model;

/// <summary>
/// Merges the per-ABI descriptions of a header into one model: one C# type per record, whose
/// members carry an offset (and size) per ABI. Problems become diagnostics, never exceptions.
/// </summary>
internal sealed class ModelBuilder
{
    /// <summary>
    /// Names a member property may not take: the record struct's own members, and those of
    /// <c>GuestPtr&lt;T&gt;</c>, because a member pointer is an extension property on it and C# resolves
    /// an instance member first (a C member <c>size</c> would otherwise silently be the record's size).
    /// </summary>
    private static readonly HashSet<string> ReservedMembers = new(StringComparer.Ordinal)
    {
        "View", "Bind", "CName", "SizeOf", "LayoutFor", "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone",
        "Address", "IsIndirect", "Memory", "IsNull", "Size", "LoadAsync", "StoreAsync", "ResolveAsync", "Offset", "Cast",
        "AsAddress", "Field", "Record", "NetworkOrderField",
        // Helpers of the socket structs (docs/networking.md).
        "ToIPAddress", "SetIPAddress", "ToIPEndPoint", "SetIPEndPoint",
    };

    private readonly List<AbiManifest> _abis;
    private readonly string _filePath;
    private readonly List<DiagnosticModel> _diagnostics = [];
    private readonly Dictionary<string, string> _recordTypeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _enumTypeNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedTypeNames = new(StringComparer.Ordinal);
    private readonly List<RecordModel> _records = [];
    private readonly Dictionary<string, string> _cPaths = new(StringComparer.Ordinal);     // C# type name → C path ("ifreq.ifr_ifru")
    private readonly ByteOrderRules _byteOrder;
    private readonly List<string> _byteOrderErrors = [];

    private ModelBuilder(List<AbiManifest> abis, string filePath, string? networkOrder, string? guestOrder)
    {
        _abis = abis;
        _filePath = filePath;
        _byteOrder = ByteOrderRules.Parse(networkOrder, guestOrder, _byteOrderErrors);
    }

    /// <summary>Builds the model of one manifest file; a malformed file gives a model with only a PTL0001 diagnostic.</summary>
    /// <param name="networkOrder">The PortalHeader's NetworkOrder metadata: members big-endian on every ABI, beyond the defaults.</param>
    /// <param name="guestOrder">The GuestOrder metadata: members in the guest's order although a default says network order.</param>
    public static HeaderModel Build(string filePath, string text, string? namespaceOverride, string? rootNamespace,
        string? networkOrder = null, string? guestOrder = null)
    {
        var fileStem = Stem(filePath);      // unique per manifest (MSBuild adds a hash): the hint name
        // <RootNamespace>.Headers.<HeaderName>, not <RootNamespace>.<HeaderName>: there, code in the root namespace
        // that writes Netdev.IFNAMSIZ finds the namespace Netdev before the class Netdev (CS0234).
        string Namespace(string stem) => namespaceOverride is { Length: > 0 } ? namespaceOverride
            : $"{(rootNamespace is { Length: > 0 } ? rootNamespace + "." : "")}Headers.{PascalCase(stem)}";
        List<AbiManifest> abis;
        string header;
        try
        {
            (header, abis) = ManifestReader.Read(text);
        }
        catch (ManifestException e)
        {
            return new HeaderModel($"{fileStem}.portal.g.cs", Namespace(fileStem), PascalCase(fileStem), "", EquatableArray<string>.Empty,
                EquatableArray<RecordModel>.Empty, EquatableArray<EnumModel>.Empty, EquatableArray<ConstantModel>.Empty,
                new[] { new DiagnosticModel(Diagnostics.BadManifest.Id, $"The layout manifest {filePath} is malformed: {e.Message}.", filePath) }.ToEquatableArray());
        }
        // Names come from the header itself ("raeth.h" → Raeth), not from the manifest file.
        var headerStem = Stem(header);
        return new ModelBuilder(abis, filePath, networkOrder, guestOrder).BuildModel(fileStem, headerStem, Namespace(headerStem), header);
    }

    private HeaderModel BuildModel(string fileStem, string stem, string @namespace, string header)
    {
        // Names first, so members can refer to any record or enum.
        foreach (var name in Ordered(_abis.SelectMany(a => a.Records.Where(r => !r.Incomplete).Select(r => r.Name))))
            _recordTypeNames[name] = UniqueTypeName(PascalCase(name), $"struct {name}");
        // Anonymous enums (`enum { A, B };`) name no type: their values join the constants.
        foreach (var name in Ordered(_abis.SelectMany(a => a.Enums.Where(e => e.Name.Length > 0).Select(e => e.Name))))
            _enumTypeNames[name] = UniqueTypeName(PascalCase(name), $"enum {name}");
        foreach (var abi in _abis)
        {
            foreach (var anonymous in abi.Enums.Where(e => e.Name.Length == 0))
            {
                abi.Constants.AddRange(anonymous.Values.Where(v => abi.Constants.All(c => c.Name != v.Name))
                    .Select(v => new RawConstant { Name = v.Name, Value = v.Value, Unsigned = !anonymous.Signed, Expression = "enum constant" }));
            }
        }

        foreach (var name in _recordTypeNames.Keys.ToList())
        {
            var perAbi = _abis.Select(a => a.Records.FirstOrDefault(r => r.Name == name && !r.Incomplete)).ToList();
            var first = perAbi.First(r => r is not null)!;
            BuildRecord($"{(first.IsUnion ? "union" : "struct")} {name}", _recordTypeNames[name], name, first.IsUnion,
                perAbi.Select(r => r?.Size ?? -1).ToList(), perAbi.Select(r => r?.Align ?? -1).ToList(),
                perAbi.Select(r => r?.Fields).ToList(), aliasesOf: name);
        }
        foreach (var error in _byteOrderErrors.Concat(_byteOrder.Unmatched(_recordTypeNames.Keys)))
            Report(Diagnostics.BadByteOrder, $"{error} (header {header})");

        var enums = _enumTypeNames.Select(pair =>
        {
            var raw = _abis.Select(a => a.Enums.FirstOrDefault(e => e.Name == pair.Key)).First(e => e is not null)!;
            return new EnumModel($"enum {pair.Key}", pair.Value, IntegerType(raw.Size, raw.Signed),
                raw.Values.Select(v => new EnumValueModel(v.Name, v.Value)).ToEquatableArray());
        }).ToEquatableArray();

        var constants = Ordered(_abis.SelectMany(a => a.Constants.Select(c => c.Name))).Select(name =>
        {
            var perAbi = _abis.Select(a => a.Constants.FirstOrDefault(c => c.Name == name)).ToList();
            var first = perAbi.First(c => c is not null)!;
            return new ConstantModel(name, first.Expression, first.Unsigned,
                perAbi.Select(c => c?.Value ?? 0).ToEquatableArray(), perAbi.Select(c => c is not null).ToEquatableArray());
        }).ToEquatableArray();

        // Named after the header, unless a record has that name, or a namespace enclosing the class does (a
        // header netdev.h under RootNamespace Netdev): code in that namespace would find the namespace instead.
        var constantsClass = PascalCase(stem);
        var segments = @namespace.Split('.');
        if (_usedTypeNames.Contains(constantsClass) || segments.Take(segments.Length - 1).Contains(constantsClass))
            constantsClass += "Constants";
        return new HeaderModel($"{fileStem}.portal.g.cs", @namespace, constantsClass, header, _abis.Select(a => a.Abi).ToEquatableArray(),
            _records.ToEquatableArray(), enums, constants, _diagnostics.ToEquatableArray());
    }

    /// <summary>Builds a record (and, recursively, the records defined inline in it).</summary>
    /// <param name="cPath">How byte-order metadata names this record: its C name, or "owner.member" for one defined inline.</param>
    private void BuildRecord(string cName, string typeName, string cPath, bool isUnion, List<int> sizes, List<int> aligns, List<List<RawField>?> fields, string? aliasesOf)
    {
        _cPaths[typeName] = cPath;
        var members = new List<MemberModel>();
        var names = new HashSet<string>(StringComparer.Ordinal) { typeName };

        // Every member name (with anonymous members flattened), in the order of the first ABI that has it.
        var flat = fields.Select(f => f is null ? null : Flatten(f, 0).ToList()).ToList();
        foreach (var memberName in Ordered(flat.Where(f => f is not null).SelectMany(f => f!.Select(m => m.Field.Name))))
        {
            // FirstOrDefault of a tuple is (null, 0), not null: an ABI without the member must read as absent.
            var perAbi = flat.Select(f => f?.FirstOrDefault(m => m.Field.Name == memberName) is { Field: not null } found
                ? ((RawField, int)?)(found.Field, found.Base) : null).ToList();
            var member = Merge(memberName, typeName, perAbi, isAlias: false);
            if (member is not null)
            {
                members.Add(WithByteOrder(member, $"{cPath}.{memberName}") with
                {
                    PropertyName = UniqueMemberName(member.PropertyName, names, cName, memberName),
                });
            }
        }

        if (aliasesOf is not null)
        {
            foreach (var aliasName in Ordered(_abis.SelectMany(a => a.Aliases.Where(x => x.Record == aliasesOf).Select(x => x.Name))))
            {
                var resolved = _abis.Select((a, i) =>
                    a.Aliases.FirstOrDefault(x => x.Record == aliasesOf && x.Name == aliasName) is { } alias && fields[i] is { } f
                        ? Resolve(f, alias.Path.Split('.'), i, cPath) : null).ToList();
                if (resolved.All(r => r is null))
                {
                    Report(Diagnostics.Unsupported, $"The alias {aliasName} of {cName} names a member path that does not exist; it was skipped.");
                    continue;
                }
                var member = Merge(aliasName, typeName, resolved.Select(r => r is { } found ? (found.Field, found.Base) : ((RawField, int)?)null).ToList(), isAlias: true);
                if (member is not null)
                {
                    // An alias decodes as the member it stands for (that member's path decides), unless the metadata names the alias itself.
                    var target = resolved.First(r => r is not null)!.Value;
                    var aliased = WithByteOrder(member, $"{target.OwnerPath}.{target.Field.Name}");
                    var own = _byteOrder.Declared($"{cPath}.{aliasName}", member.CType, member.Kind == MemberKind.Integer, _byteOrderErrors);
                    members.Add(aliased with
                    {
                        NetworkOrder = own ?? aliased.NetworkOrder,
                        PropertyName = UniqueMemberName(member.PropertyName, names, cName, aliasName),
                    });
                }
            }
        }

        // A char array is text to C code that treats it as such, and bytes to code that does not (sockaddr.sa_data
        // holds a MAC address): both views, the bytes one named after the string one.
        foreach (var text in members.Where(m => m.Kind == MemberKind.String).ToList())
        {
            members.Add(text with
            {
                Kind = MemberKind.Bytes,
                ClrType = "global::System.ReadOnlySpan<byte>",
                PropertyName = UniqueMemberName(text.PropertyName + "Bytes", names, cName, text.CName + " (its bytes)"),
                IsBytesView = true,
            });
        }

        var model = new RecordModel(cName, typeName, isUnion, sizes.ToEquatableArray(), aligns.ToEquatableArray(), members.ToEquatableArray());
        _records.Add(model with { SocketAddress = SocketAddressOf(aliasesOf, model) });
    }

    /// <summary>The member with its byte order: network order when the rules say so for <paramref name="path"/>.</summary>
    private MemberModel WithByteOrder(MemberModel member, string path) =>
        member with { NetworkOrder = _byteOrder.IsNetworkOrder(path, member.CType, member.Kind == MemberKind.Integer, _byteOrderErrors) };

    /// <summary>
    /// Which socket struct a record is, when it has the standard name and members on every ABI that has it
    /// (a header's own struct that happens to share the name, but not the shape, gets no helpers, and says so).
    /// </summary>
    private SocketAddressKind SocketAddressOf(string? recordName, RecordModel record)
    {
        var kind = recordName switch
        {
            "in_addr" => SocketAddressKind.InAddr,
            "in6_addr" => SocketAddressKind.In6Addr,
            "sockaddr_in" => SocketAddressKind.SockaddrIn,
            "sockaddr_in6" => SocketAddressKind.SockaddrIn6,
            _ => SocketAddressKind.None,
        };
        if (kind == SocketAddressKind.None)
            return kind;
        bool Has(string name, MemberKind memberKind, int size) =>
            record.Members.FirstOrDefault(m => m.CName == name && !m.IsAlias && !m.IsBytesView) is { } m && m.Kind == memberKind
            && Enumerable.Range(0, record.Sizes.Count).All(i => record.Sizes[i] < 0 || (m.Offsets[i] >= 0 && m.Sizes[i] == size));
        var standard = kind switch
        {
            SocketAddressKind.InAddr => Has("s_addr", MemberKind.Integer, 4),
            SocketAddressKind.In6Addr => record.Sizes.All(size => size is -1 or 16),
            SocketAddressKind.SockaddrIn => Has("sin_family", MemberKind.Integer, 2) && Has("sin_port", MemberKind.Integer, 2) && Has("sin_addr", MemberKind.Record, 4),
            _ => Has("sin6_family", MemberKind.Integer, 2) && Has("sin6_port", MemberKind.Integer, 2) && Has("sin6_flowinfo", MemberKind.Integer, 4)
                && Has("sin6_addr", MemberKind.Record, 16) && Has("sin6_scope_id", MemberKind.Integer, 4),
        };
        if (standard)
            return kind;
        Report(Diagnostics.Unsupported, $"{record.CName} does not have the standard members of the socket struct; it gets no IPAddress/IPEndPoint helpers.");
        return SocketAddressKind.None;
    }

    /// <summary>Anonymous (C11) members are reached as if they were members of the record that holds them.</summary>
    private static IEnumerable<(RawField Field, int Base)> Flatten(List<RawField> fields, int baseOffset)
    {
        foreach (var field in fields)
        {
            if (field.Name.Length == 0 && field.Fields is { } inner)
            {
                foreach (var nested in Flatten(inner, baseOffset + field.Offset))
                    yield return nested;
            }
            else
            {
                yield return (field, baseOffset);
            }
        }
    }

    /// <summary>
    /// Follows "a.b.c" through inline and named records; returns the last field, the offset of its record,
    /// and that record's C path (as byte-order metadata names it: "in_addr" after a named struct, "ifreq.ifr_ifru" inline).
    /// </summary>
    private (RawField Field, int Base, string OwnerPath)? Resolve(List<RawField> fields, string[] path, int abi, string recordPath)
    {
        var baseOffset = 0;
        var current = fields;
        var ownerPath = recordPath;
        for (var i = 0; i < path.Length; i++)
        {
            var found = Flatten(current, baseOffset).FirstOrDefault(m => m.Field.Name == path[i]);
            if (found.Field is null)
                return null;
            if (i == path.Length - 1)
                return (found.Field, found.Base, ownerPath);
            baseOffset = found.Base + found.Field.Offset;
            ownerPath = found.Field.Fields is null && found.Field.Type.Record is { } named ? named : $"{ownerPath}.{found.Field.Name}";
            current = found.Field.Fields
                ?? (found.Field.Type.Record is { } name ? _abis[abi].Records.FirstOrDefault(r => r.Name == name)?.Fields : null)
                ?? [];
        }
        return null;
    }

    /// <summary>Classifies a member on every ABI and merges the results (or reports why it cannot be).</summary>
    private MemberModel? Merge(string memberName, string ownerType, List<(RawField Field, int Base)?> perAbi, bool isAlias)
    {
        var classified = perAbi.Select((p, i) => p is null ? null : Classify(p.Value.Field, p.Value.Base, ownerType, i)).ToList();
        var reference = classified.FirstOrDefault(c => c is not null);
        if (reference is null)
            return null;
        for (var i = 0; i < classified.Count; i++)
        {
            if (classified[i] is { } other && !Compatible(reference, other))
            {
                Report(Diagnostics.AbiMismatch,
                    $"{ownerType}.{memberName} is {reference.CType} on {_abis[classified.IndexOf(reference)].Abi} but {other.CType} on {_abis[i].Abi}; on {_abis[i].Abi} it is treated as absent.");
                classified[i] = null;
            }
        }
        var present = classified.Where(c => c is not null).Select(c => c!).ToList();
        var clrType = reference.ClrType;
        var elementType = reference.ElementType;
        if (reference.Kind == MemberKind.Integer)
        {
            // A member whose width depends on the ABI (long, size_t...) gets the widest C# type.
            var widest = present.Max(c => c.Sizes[0]);
            clrType = reference.CType == "char" ? "byte" : IntegerType(widest, reference.Signed);
        }
        else if (reference.Kind == MemberKind.ScalarArray && IsInteger(reference.ElementType))
        {
            elementType = IntegerType(present.Max(c => c.Sizes[0]), reference.Signed);
            clrType = $"global::Portal.Typed.GuestArray<{elementType}>";
        }
        return new MemberModel(
            memberName, PascalCase(memberName), reference.Kind, clrType, elementType, reference.CType,
            reference.Signed, reference.BitWidth,
            classified.Select(c => c?.Offsets[0] ?? -1).ToEquatableArray(),
            classified.Select(c => c?.Sizes[0] ?? 0).ToEquatableArray(),
            classified.Select(c => c?.Lengths[0] ?? 0).ToEquatableArray(),
            classified.Select(c => c?.BitOffsets[0] ?? 0).ToEquatableArray(),
            isAlias);
    }

    /// <summary>Whether two ABIs' views of a member can share one C# property.</summary>
    private static bool Compatible(MemberModel reference, MemberModel other)
    {
        if (other.Kind != reference.Kind)
            return false;
        return reference.Kind switch
        {
            MemberKind.Integer => true,                                             // widened to the widest
            MemberKind.ScalarArray when IsInteger(reference.ElementType) && IsInteger(other.ElementType) => other.Signed == reference.Signed,
            MemberKind.Bitfield => other.ClrType == reference.ClrType || (IsInteger(other.ClrType) && IsInteger(reference.ClrType) && other.Signed == reference.Signed),
            _ => other.ClrType == reference.ClrType && other.ElementType == reference.ElementType,
        };
    }

    private static bool IsInteger(string? clrType) => clrType is "byte" or "sbyte" or "short" or "ushort" or "int" or "uint" or "long" or "ulong";

    /// <summary>What one ABI's field becomes in C# (per-ABI arrays have one element here).</summary>
    private MemberModel? Classify(RawField field, int baseOffset, string ownerType, int abi)
    {
        var offset = baseOffset + field.Offset;
        var type = field.Type;
        MemberModel Make(MemberKind kind, string clrType, int size, string? element = null, int length = 0, bool signed = false, int bitOffset = 0, int bitWidth = 0) =>
            new(field.Name, PascalCase(field.Name), kind, clrType, element, type.Spelling, signed, bitWidth,
                new[] { offset }.ToEquatableArray(), new[] { size }.ToEquatableArray(), new[] { length }.ToEquatableArray(),
                new[] { bitOffset }.ToEquatableArray(), false);

        if (field.BitWidth is { } width)
        {
            if (width == 0)
                return null;    // zero-width bitfields only align the next one
            var bitOffset = baseOffset * 8 + (field.BitOffset ?? field.Offset * 8);
            var (clr, signed) = type.Kind switch
            {
                "bool" => ("bool", false),
                "enum" when type.Enum is { } e && _enumTypeNames.TryGetValue(e, out var enumType) => (enumType, false),
                // Plain char is signed on x86, unsigned on ARM and MIPS: it is read as unsigned everywhere.
                _ when type.Spelling == "char" => (IntegerType(width > 8 ? 2 : 1, false), false),
                _ => (IntegerType(width > 32 ? 8 : width > 16 ? 4 : width > 8 ? 2 : 1, type.Signed ?? false), type.Signed ?? false),
            };
            return Make(MemberKind.Bitfield, clr, field.Size, signed: signed, bitOffset: bitOffset, bitWidth: width);
        }

        switch (type.Kind)
        {
            case "bool":
                return Make(MemberKind.Bool, "bool", type.Size ?? field.Size);
            case "char":
                return Make(MemberKind.Integer, type.Spelling == "char" ? "byte" : IntegerType(1, type.Signed ?? false), 1, signed: type.Spelling != "char" && (type.Signed ?? false));
            case "int":
                return Make(MemberKind.Integer, IntegerType(type.Size ?? field.Size, type.Signed ?? false), type.Size ?? field.Size, signed: type.Signed ?? false);
            case "enum":
                return type.Enum is { } enumName && _enumTypeNames.TryGetValue(enumName, out var enumTypeName)
                    ? Make(MemberKind.Enum, enumTypeName, type.Size ?? field.Size, signed: type.Signed ?? true)
                    : Make(MemberKind.Integer, IntegerType(type.Size ?? field.Size, type.Signed ?? true), type.Size ?? field.Size, signed: type.Signed ?? true);
            case "float":
                if ((type.Size ?? field.Size) is 4 or 8 && !type.Spelling.Contains("long double"))
                    return Make(MemberKind.Float, type.Size == 4 ? "float" : "double", type.Size ?? field.Size);
                // long double (x87 80-bit, IEEE quad, or plain double, by ABI) has no one C# type: its raw bytes are exposed.
                return Make(MemberKind.Bytes, "global::System.ReadOnlySpan<byte>", type.Size ?? field.Size, length: type.Size ?? field.Size);
            case "pointer":
                return type.Pointee is { Kind: "record", Record: { } target } && _recordTypeNames.TryGetValue(target, out var targetType)
                    ? Make(MemberKind.RecordPointer, $"global::Portal.Typed.GuestPtr<{targetType}>", _abis[abi].PointerSize, element: targetType)
                    : Make(MemberKind.Address, "global::Portal.Typed.GuestAddress", _abis[abi].PointerSize);
            case "record":
                if (type.Record is { } recordName && _recordTypeNames.TryGetValue(recordName, out var recordType) && field.Fields is null)
                    return Make(MemberKind.Record, recordType, type.Size ?? field.Size);
                if (field.Fields is not null)
                    return Make(MemberKind.Record, InlineRecord(ownerType, field, abi), type.Size ?? field.Size);
                Report(Diagnostics.Unsupported, $"{ownerType}.{field.Name} is {type.Spelling}, which the manifest does not describe; it was skipped.");
                return null;
            case "array":
                return ClassifyArray(field, type, ownerType, abi, Make);
            default:
                Report(Diagnostics.Unsupported, $"{ownerType}.{field.Name} has type {type.Spelling} (kind {type.Kind}), which has no C# form; it was skipped.");
                return null;
        }
    }

    private MemberModel? ClassifyArray(RawField field, RawType type, string ownerType, int abi,
        Func<MemberKind, string, int, string?, int, bool, int, int, MemberModel> make)
    {
        // Multi-dimensional arrays are read as one flat array of their innermost element (C's row-major order).
        var element = type.Element!;
        var length = type.Length;
        while (element.Kind == "array" && element.Element is not null)
        {
            length = length is null || element.Length is null ? null : length * element.Length;
            element = element.Element;
        }
        if (length is null)
        {
            // A flexible array member: its elements are past the end of the record.
            return element.Kind == "record" && element.Record is { } flexRecord && _recordTypeNames.TryGetValue(flexRecord, out var flexType)
                ? make(MemberKind.FlexibleArray, $"global::Portal.Typed.GuestPtr<{flexType}>", element.Size ?? 0, flexType, 0, false, 0, 0)
                : make(MemberKind.FlexibleArray, "global::Portal.Typed.GuestAddress", element.Size ?? 0, null, 0, false, 0, 0);
        }
        var elementSize = element.Size ?? 0;
        switch (element.Kind)
        {
            case "char" when element.Spelling == "char" && type.Element!.Kind != "array":
                return make(MemberKind.String, "string", length.Value, null, length.Value, false, 0, 0);
            case "char":
            case "int" when elementSize == 1:
                return make(MemberKind.Bytes, "global::System.ReadOnlySpan<byte>", length.Value, null, length.Value, false, 0, 0);
            case "int":
            case "bool":
                var clr = element.Kind == "bool" ? "bool" : IntegerType(elementSize, element.Signed ?? false);
                return make(MemberKind.ScalarArray, $"global::Portal.Typed.GuestArray<{clr}>", elementSize, clr, length.Value, element.Signed ?? false, 0, 0);
            case "enum" when element.Enum is { } enumName && _enumTypeNames.TryGetValue(enumName, out var enumType):
                return make(MemberKind.ScalarArray, $"global::Portal.Typed.GuestArray<{enumType}>", elementSize, enumType, length.Value, element.Signed ?? true, 0, 0);
            case "pointer":
                return make(MemberKind.ScalarArray, "global::Portal.Typed.GuestArray<global::Portal.Typed.GuestAddress>", elementSize,
                    "global::Portal.Typed.GuestAddress", length.Value, false, 0, 0);
            case "float" when elementSize is 4 or 8:
                var floating = elementSize == 4 ? "float" : "double";
                return make(MemberKind.ScalarArray, $"global::Portal.Typed.GuestArray<{floating}>", elementSize, floating, length.Value, false, 0, 0);
            case "record" when element.Record is { } recordName && _recordTypeNames.TryGetValue(recordName, out var recordType):
                return make(MemberKind.RecordArray, $"global::Portal.Typed.GuestRecordArray<{recordType}>", elementSize, recordType, length.Value, false, 0, 0);
            case "record" when element.Record is null && field.Fields is not null:
                // An array of a record defined inline: the manifest gives the element's fields.
                var elementRecord = InlineRecord(ownerType, new RawField { Name = field.Name, Size = elementSize, Type = element, Fields = field.Fields }, abi);
                return make(MemberKind.RecordArray, $"global::Portal.Typed.GuestRecordArray<{elementRecord}>", elementSize, elementRecord, length.Value, false, 0, 0);
            default:
                Report(Diagnostics.Unsupported, $"{ownerType}.{field.Name} is an array of {element.Spelling}, which has no C# form; it was skipped (its bytes are still in the record).");
                return null;
        }
    }

    /// <summary>A record defined inline (<c>union { ... } ifr_ifru;</c>) becomes its own type, named after its owner and member.</summary>
    private string InlineRecord(string ownerType, RawField field, int abi)
    {
        var key = $"{ownerType}.{field.Name}";
        if (_recordTypeNames.TryGetValue(key, out var existing))
            return existing;
        var typeName = UniqueTypeName(ownerType + PascalCase(field.Name), $"{ownerType}.{field.Name}");
        _recordTypeNames[key] = typeName;
        // The same member on every ABI (matched by owner and member name).
        var perAbi = _abis.Select((a, i) => i == abi ? field : FindInline(ownerType, field.Name, i)).ToList();
        BuildRecord($"{(field.Type.Spelling.StartsWith("union", StringComparison.Ordinal) ? "union" : "struct")} (in {ownerType}.{field.Name})", typeName,
            $"{(_cPaths.TryGetValue(ownerType, out var ownerPath) ? ownerPath : ownerType)}.{field.Name}",
            field.Type.Spelling.StartsWith("union", StringComparison.Ordinal),
            perAbi.Select(InlineSize).ToList(), perAbi.Select(_ => -1).ToList(),
            perAbi.Select(f => f?.Fields).ToList(), aliasesOf: null);
        return typeName;
    }

    /// <summary>The size of an inline record: of the member, or of one element when the member is an array of it.</summary>
    private static int InlineSize(RawField? field)
    {
        if (field is null)
            return -1;
        var type = field.Type;
        while (type.Kind == "array" && type.Element is not null)
            type = type.Element;
        return type.Size ?? field.Size;
    }

    private RawField? FindInline(string ownerType, string memberName, int abi)
    {
        // Inline records are reached from the top-level records of this ABI, searching every level.
        IEnumerable<(RawField Field, string Owner)> Walk(List<RawField> fields, string owner)
        {
            foreach (var (field, _) in Flatten(fields, 0))
            {
                yield return (field, owner);
                if (field.Fields is { } nested && field.Name.Length > 0)
                {
                    var nestedOwner = _recordTypeNames.TryGetValue($"{owner}.{field.Name}", out var known) ? known : owner + PascalCase(field.Name);
                    foreach (var inner in Walk(nested, nestedOwner))
                        yield return inner;
                }
            }
        }
        return _abis[abi].Records.Where(r => !r.Incomplete)
            .SelectMany(r => Walk(r.Fields, _recordTypeNames.TryGetValue(r.Name, out var t) ? t : PascalCase(r.Name)))
            .FirstOrDefault(x => x.Owner == ownerType && x.Field.Name == memberName && x.Field.Fields is not null).Field;
    }

    private string UniqueTypeName(string candidate, string what)
    {
        var name = candidate;
        for (var i = 2; !_usedTypeNames.Add(name); i++)
            name = candidate + i.ToString(CultureInfo.InvariantCulture);
        if (name != candidate)
            Report(Diagnostics.NameClash, $"{what} would be named {candidate}, which is taken; it is named {name}.");
        return name;
    }

    private string UniqueMemberName(string candidate, HashSet<string> used, string owner, string cName)
    {
        if (ReservedMembers.Contains(candidate))
        {
            Report(Diagnostics.ReservedName, $"{owner}.{cName} would be the property {candidate}, which the generated code already has; it is named {candidate}Field.");
            candidate += "Field";
        }
        var name = candidate;
        for (var i = 2; !used.Add(name); i++)
            name = candidate + i.ToString(CultureInfo.InvariantCulture);
        if (name != candidate)
            Report(Diagnostics.NameClash, $"{owner}.{cName} would be the property {candidate}, which is taken; it is named {name}.");
        return name;
    }

    private void Report(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, string message)
    {
        var diagnostic = new DiagnosticModel(descriptor.Id, message, _filePath);
        if (!_diagnostics.Contains(diagnostic))     // every ABI meets the same problem: report it once
            _diagnostics.Add(diagnostic);
    }

    /// <summary>Distinct, in first-seen order.</summary>
    private static List<string> Ordered(IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return names.Where(seen.Add).ToList();
    }

    private static readonly char[] NameSeparators = ['_', ' ', '-', '.', '/'];

    internal static string IntegerType(int size, bool signed) => size switch
    {
        1 => signed ? "sbyte" : "byte",
        2 => signed ? "short" : "ushort",
        <= 4 => signed ? "int" : "uint",
        _ => signed ? "long" : "ulong",
    };

    /// <summary>"ifr_data" → "IfrData", "__u32" → "U32", "2x" → "_2x".</summary>
    internal static string PascalCase(string name)
    {
        var builder = new StringBuilder();
        foreach (var part in name.Split(NameSeparators, StringSplitOptions.RemoveEmptyEntries))
            builder.Append(char.ToUpperInvariant(part[0])).Append(part.Substring(1));
        var result = builder.Length == 0 ? "Unnamed" : builder.ToString();
        return char.IsDigit(result[0]) ? "_" + result : result;
    }

    private static string Stem(string path)
    {
        var file = path.Substring(Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\')) + 1);
        var dot = file.IndexOf('.');
        return dot > 0 ? file.Substring(0, dot) : file;
    }
}
