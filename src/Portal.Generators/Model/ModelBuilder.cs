using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Portal.Generators.Json;

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
    private readonly List<DiagnosticInfo> _diagnostics = [];
    private readonly Dictionary<string, string> _recordTypeNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _enumTypeNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedTypeNames = new(StringComparer.Ordinal);
    private readonly List<RecordModel> _records = [];
    private readonly Dictionary<string, string> _cPaths = new(StringComparer.Ordinal);     // C# type name → C path ("ifreq.ifr_ifru")
    private readonly ByteOrderRules _byteOrder;
    private readonly List<string> _byteOrderErrors = [];

    private ModelBuilder(List<AbiManifest> abis, string filePath, IReadOnlyCollection<string> knownAbis, string? networkOrder, string? guestOrder)
    {
        _filePath = filePath;
        foreach (var unknown in abis.Where(a => !knownAbis.Contains(a.Abi)))
            Report(Diagnostics.UnknownAbi, filePath, unknown.Abi, string.Join(", ", knownAbis));
        _abis = abis.Where(a => knownAbis.Contains(a.Abi)).ToList();
        _byteOrder = ByteOrderRules.Parse(networkOrder, guestOrder, _byteOrderErrors);
    }

    /// <summary>Builds the model of one manifest file; a malformed file gives a model with only a PTL0001 diagnostic.</summary>
    /// <param name="knownAbis">The ABIs the generated code can name; the manifest's others are PTL0007 and left out.</param>
    /// <param name="networkOrder">The PortalHeader's NetworkOrder metadata: members big-endian on every ABI, beyond the defaults.</param>
    /// <param name="guestOrder">The GuestOrder metadata: members in the guest's order although a default says network order.</param>
    public static HeaderModel Build(string filePath, string text, string? namespaceOverride, string? rootNamespace,
        IReadOnlyCollection<string> knownAbis, string? networkOrder = null, string? guestOrder = null)
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
                new[] { new DiagnosticInfo(Diagnostics.BadManifest, filePath, new[] { filePath, e.Message }.ToEquatableArray()) }.ToEquatableArray());
        }
        // Names come from the header itself ("raeth.h" → Raeth), not from the manifest file.
        var headerStem = Stem(header);
        return new ModelBuilder(abis, filePath, knownAbis, networkOrder, guestOrder).BuildModel(fileStem, headerStem, Namespace(headerStem), header);
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
            Report(Diagnostics.BadByteOrder, error, header);

        var enums = _enumTypeNames.Select(pair =>
        {
            var raw = _abis.Select(a => a.Enums.FirstOrDefault(e => e.Name == pair.Key)).First(e => e is not null)!;
            return new EnumModel($"enum {pair.Key}", pair.Value, ValueShape.Integer.OfSize(raw.Size, raw.Signed),
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

    /// <summary>One ABI's view of a member (what <see cref="Classify"/> finds), before <see cref="Merge"/> joins the ABIs' views.</summary>
    /// <param name="Size">Integer width, string/byte array length, or array element size (as <see cref="MemberModel.Sizes"/>).</param>
    private sealed record AbiMember(MemberKind Kind, ValueShape? Type, int Size)
    {
        public string CType { get; init; } = "";
        public int Offset { get; init; }
        public int Length { get; init; }
        public bool Signed { get; init; }
        public int BitOffset { get; init; }
        public int BitWidth { get; init; }
    }

    /// <summary>Classifies a member on every ABI and merges the results (or reports why it cannot be).</summary>
    private MemberModel? Merge(string memberName, string ownerType, List<(RawField Field, int Base)?> perAbi, bool isAlias)
    {
        var classified = perAbi.Select((p, i) => p is null ? null : Classify(p.Value.Field, p.Value.Base, ownerType, i)).ToList();
        var referenceIndex = classified.FindIndex(c => c is not null);
        if (referenceIndex < 0)
            return null;
        var reference = classified[referenceIndex]!;
        for (var i = 0; i < classified.Count; i++)
        {
            if (classified[i] is { } other && !Compatible(reference, other))
            {
                Report(Diagnostics.AbiMismatch, $"{ownerType}.{memberName}", reference.CType, _abis[referenceIndex].Abi, other.CType, _abis[i].Abi);
                classified[i] = null;
            }
        }
        var present = classified.Where(c => c is not null).Select(c => c!).ToList();
        var type = reference.Type;
        if (reference.Kind == MemberKind.Integer)
        {
            // A member whose width depends on the ABI (long, size_t...) gets the widest C# type; plain char is read unsigned everywhere.
            type = reference.CType == "char" ? new ValueShape.Integer(1, Signed: false) : ValueShape.Integer.OfSize(present.Max(c => c.Size), reference.Signed);
        }
        else if (reference.Kind == MemberKind.ScalarArray && reference.Type is ValueShape.Integer)
        {
            type = ValueShape.Integer.OfSize(present.Max(c => c.Size), reference.Signed);
        }
        return new MemberModel(
            memberName, PascalCase(memberName), reference.Kind, type, reference.CType,
            reference.Signed, reference.BitWidth,
            classified.Select(c => c?.Offset ?? -1).ToEquatableArray(),
            classified.Select(c => c?.Size ?? 0).ToEquatableArray(),
            classified.Select(c => c?.Length ?? 0).ToEquatableArray(),
            classified.Select(c => c?.BitOffset ?? 0).ToEquatableArray(),
            isAlias);
    }

    /// <summary>Whether two ABIs' views of a member can share one C# property.</summary>
    private static bool Compatible(AbiMember reference, AbiMember other)
    {
        if (other.Kind != reference.Kind)
            return false;
        var integers = reference.Type is ValueShape.Integer && other.Type is ValueShape.Integer;
        return reference.Kind switch
        {
            MemberKind.Integer => true,                                             // widened to the widest
            MemberKind.ScalarArray when integers => other.Signed == reference.Signed,
            MemberKind.Bitfield => other.Type == reference.Type || (integers && other.Signed == reference.Signed),
            _ => other.Type == reference.Type,
        };
    }

    /// <summary>What one ABI's field becomes in C# (null: nothing, and a diagnostic says why when it matters).</summary>
    private AbiMember? Classify(RawField field, int baseOffset, string ownerType, int abi)
    {
        var member = field.BitWidth is { } width ? ClassifyBitfield(field, baseOffset, width) : ClassifyValue(field, ownerType, abi);
        return member is null ? null : member with { CType = field.Type.Spelling, Offset = baseOffset + field.Offset };
    }

    private AbiMember? ClassifyBitfield(RawField field, int baseOffset, int width)
    {
        if (width == 0)
            return null;    // zero-width bitfields only align the next one
        var type = field.Type;
        (ValueShape Type, bool Signed) value = type.Kind switch
        {
            ManifestTypeKind.Bool => (new ValueShape.Bool(), false),
            ManifestTypeKind.Enum when type.Enum is { } e && _enumTypeNames.TryGetValue(e, out var enumType) => (new ValueShape.Enum(enumType), false),
            // Plain char is signed on x86, unsigned on ARM and MIPS: it is read as unsigned everywhere.
            _ when type.Spelling == "char" => (ValueShape.Integer.OfSize(width > 8 ? 2 : 1, false), false),
            _ => (ValueShape.Integer.OfSize(width > 32 ? 8 : width > 16 ? 4 : width > 8 ? 2 : 1, type.Signed ?? false), type.Signed ?? false),
        };
        return new AbiMember(MemberKind.Bitfield, value.Type, field.Size)
        {
            Signed = value.Signed,
            BitOffset = baseOffset * 8 + (field.BitOffset ?? field.Offset * 8),
            BitWidth = width,
        };
    }

    private AbiMember? ClassifyValue(RawField field, string ownerType, int abi)
    {
        var type = field.Type;
        var size = type.Size ?? field.Size;
        switch (type.Kind)
        {
            case ManifestTypeKind.Bool:
                return new AbiMember(MemberKind.Bool, new ValueShape.Bool(), size);
            case ManifestTypeKind.Char:
                // Plain char is read as unsigned everywhere (see ClassifyBitfield).
                var signedChar = type.Spelling != "char" && (type.Signed ?? false);
                return new AbiMember(MemberKind.Integer, ValueShape.Integer.OfSize(1, signedChar), 1) { Signed = signedChar };
            case ManifestTypeKind.Int:
                return new AbiMember(MemberKind.Integer, ValueShape.Integer.OfSize(size, type.Signed ?? false), size) { Signed = type.Signed ?? false };
            case ManifestTypeKind.Enum:
                return type.Enum is { } enumName && _enumTypeNames.TryGetValue(enumName, out var enumTypeName)
                    ? new AbiMember(MemberKind.Enum, new ValueShape.Enum(enumTypeName), size) { Signed = type.Signed ?? true }
                    : new AbiMember(MemberKind.Integer, ValueShape.Integer.OfSize(size, type.Signed ?? true), size) { Signed = type.Signed ?? true };
            case ManifestTypeKind.Float:
                if (size is 4 or 8 && !type.Spelling.Contains("long double"))
                    return new AbiMember(MemberKind.Float, new ValueShape.Float(size), size);
                // long double (x87 80-bit, IEEE quad, or plain double, by ABI) has no one C# type: its raw bytes are exposed.
                return new AbiMember(MemberKind.Bytes, null, size) { Length = size };
            case ManifestTypeKind.Pointer:
                var pointerSize = _abis[abi].PointerSize;
                return type.Pointee is { Kind: ManifestTypeKind.Record, Record: { } target } && _recordTypeNames.TryGetValue(target, out var targetType)
                    ? new AbiMember(MemberKind.RecordPointer, new ValueShape.Record(targetType), pointerSize)
                    : new AbiMember(MemberKind.Address, new ValueShape.Address(), pointerSize);
            case ManifestTypeKind.Record:
                if (type.Record is { } recordName && _recordTypeNames.TryGetValue(recordName, out var recordType) && field.Fields is null)
                    return new AbiMember(MemberKind.Record, new ValueShape.Record(recordType), size);
                if (field.Fields is not null)
                    return new AbiMember(MemberKind.Record, new ValueShape.Record(InlineRecord(ownerType, field, abi)), size);
                Report(Diagnostics.Unsupported, $"{ownerType}.{field.Name} is {type.Spelling}, which the manifest does not describe; it was skipped.");
                return null;
            case ManifestTypeKind.Array:
                return ClassifyArray(field, type, ownerType, abi);
            default:
                Report(Diagnostics.Unsupported, $"{ownerType}.{field.Name} has type {type.Spelling} (kind {type.KindName}), which has no C# form; it was skipped.");
                return null;
        }
    }

    private AbiMember? ClassifyArray(RawField field, RawType type, string ownerType, int abi)
    {
        // Multi-dimensional arrays are read as one flat array of their innermost element (C's row-major order).
        var element = type.Element!;
        var length = type.Length;
        while (element.Kind == ManifestTypeKind.Array && element.Element is not null)
        {
            length = length is null || element.Length is null ? null : length * element.Length;
            element = element.Element;
        }
        if (length is not { } count)
        {
            // A flexible array member: its elements are past the end of the record.
            ValueShape elementType = element.Kind == ManifestTypeKind.Record && element.Record is { } flexRecord && _recordTypeNames.TryGetValue(flexRecord, out var flexType)
                ? new ValueShape.Record(flexType) : new ValueShape.Address();
            return new AbiMember(MemberKind.FlexibleArray, elementType, element.Size ?? 0);
        }
        var elementSize = element.Size ?? 0;
        switch (element.Kind)
        {
            case ManifestTypeKind.Char when element.Spelling == "char" && type.Element!.Kind != ManifestTypeKind.Array:
                return new AbiMember(MemberKind.String, null, count) { Length = count };
            case ManifestTypeKind.Char:
            case ManifestTypeKind.Int when elementSize == 1:
                return new AbiMember(MemberKind.Bytes, null, count) { Length = count };
            case ManifestTypeKind.Int:
                return ScalarArray(ValueShape.Integer.OfSize(elementSize, element.Signed ?? false), element.Signed ?? false);
            case ManifestTypeKind.Bool:
                return ScalarArray(new ValueShape.Bool(), element.Signed ?? false);
            case ManifestTypeKind.Enum when element.Enum is { } enumName && _enumTypeNames.TryGetValue(enumName, out var enumType):
                return ScalarArray(new ValueShape.Enum(enumType), element.Signed ?? true);
            case ManifestTypeKind.Pointer:
                return ScalarArray(new ValueShape.Address(), signed: false);
            case ManifestTypeKind.Float when elementSize is 4 or 8:
                return ScalarArray(new ValueShape.Float(elementSize), signed: false);
            case ManifestTypeKind.Record when element.Record is { } recordName && _recordTypeNames.TryGetValue(recordName, out var recordType):
                return new AbiMember(MemberKind.RecordArray, new ValueShape.Record(recordType), elementSize) { Length = count };
            case ManifestTypeKind.Record when element.Record is null && field.Fields is not null:
                // An array of a record defined inline: the manifest gives the element's fields.
                var elementRecord = InlineRecord(ownerType, new RawField { Name = field.Name, Size = elementSize, Type = element, Fields = field.Fields }, abi);
                return new AbiMember(MemberKind.RecordArray, new ValueShape.Record(elementRecord), elementSize) { Length = count };
            default:
                Report(Diagnostics.Unsupported, $"{ownerType}.{field.Name} is an array of {element.Spelling}, which has no C# form; it was skipped (its bytes are still in the record).");
                return null;
        }

        AbiMember ScalarArray(ValueShape elementType, bool signed) => new(MemberKind.ScalarArray, elementType, elementSize) { Length = count, Signed = signed };
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
        while (type.Kind == ManifestTypeKind.Array && type.Element is not null)
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
            Report(Diagnostics.NameClash, what, $"named {candidate}", name);
        return name;
    }

    private string UniqueMemberName(string candidate, HashSet<string> used, string owner, string cName)
    {
        if (ReservedMembers.Contains(candidate))
        {
            Report(Diagnostics.ReservedName, $"{owner}.{cName}", candidate);
            candidate += "Field";
        }
        var name = candidate;
        for (var i = 2; !used.Add(name); i++)
            name = candidate + i.ToString(CultureInfo.InvariantCulture);
        if (name != candidate)
            Report(Diagnostics.NameClash, $"{owner}.{cName}", $"the property {candidate}", name);
        return name;
    }

    private void Report(DiagnosticDescriptor descriptor, params string[] messageArgs)
    {
        var diagnostic = new DiagnosticInfo(descriptor, _filePath, messageArgs.ToEquatableArray());
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
