using Portal.Headers.Clang;

namespace Portal.Headers.Building;

/// <summary>
/// The manifest entries of records (the target's layout: size, alignment, each field's offset), enums (size,
/// signedness, values) and typedefs; member types through <see cref="TypeDescriber"/>.
/// </summary>
internal sealed class LayoutDescriber(HeaderAbi abi, TypeDescriber types)
{
    /// <summary>A named record (an anonymous one is described as its holder's field's <see cref="ManifestField.Fields"/>).</summary>
    public ManifestRecord Describe(RecordDeclaration record)
    {
        var name = record.Name!;
        if (record.Definition is not { } definition || definition.Type.SizeOf < 0)
            return new ManifestRecord { Name = name, Kind = record.Kind, Incomplete = true };
        var type = definition.Type;
        var packed = definition.Children().Any(c => c.Kind == CXCursorKind.PackedAttr);
        return new ManifestRecord
        {
            Name = name,
            Kind = record.Kind,
            Size = checked((int)type.SizeOf),
            Align = checked((int)type.AlignOf),
            Packed = packed ? true : null,
            Fields = Fields(type, definition, name),
        };
    }

    /// <summary>A defined enum (a declared but undefined one has no size or values to list).</summary>
    public static ManifestEnumeration Describe(EnumDeclaration declaration)
    {
        var definition = declaration.Definition!.Value;
        var integer = definition.EnumIntegerType.Canonical;
        return new ManifestEnumeration
        {
            Name = declaration.Name,
            Size = checked((int)definition.Type.SizeOf),
            IsSigned = TypeSpelling.IsSignedInteger(integer.Kind),
            Values = [.. definition.Children().Where(c => c.Kind == CXCursorKind.EnumConstantDecl)
                .Select(c => new ManifestEnumerator { Name = c.Spelling, Value = c.EnumConstantValue })],
        };
    }

    public ManifestTypedef Describe(TypedefDeclaration typedef)
        => new() { Name = typedef.Name, Type = types.Describe(typedef.Cursor.TypedefUnderlyingType, typedef.Name) };

    /// <summary>The fields of <paramref name="definition"/>; <paramref name="context"/> names it in errors and notes (<c>ifreq.ifr_ifru</c>).</summary>
    List<ManifestField> Fields(ClangType recordType, Cursor definition, string context)
    {
        var fields = new List<ManifestField>();
        var owner = DeclarationIndex.Identity(definition);
        foreach (var field in recordType.Fields())
        {
            var name = field.Spelling;
            // An unnamed bitfield (`int : 3;`, `int : 0;`) is padding, not a member (C11 6.7.2.1): its effect is in the
            // offsets of the members that follow.
            if (name.Length == 0 && field.IsBitField)
                continue;
            var where = $"{context}.{(name.Length == 0 ? "(anonymous)" : name)}";
            var bits = field.OffsetOfFieldInBits;
            if (bits < 0)
                throw new HeaderToolException($"libclang gave no offset for {where} ({abi.Name}): layout error {bits}");
            var declared = field.Type;
            var size = declared.SizeOf;
            var bitField = field.IsBitField;
            fields.Add(new ManifestField
            {
                Name = name,
                Offset = checked((int)(bits / 8)),
                Size = size >= 0 ? checked((int)size) : null,
                Type = types.Describe(declared, where),
                BitOffset = bitField ? checked((int)bits) : null,
                BitWidth = bitField ? field.BitWidth : null,
                Fields = InlineRecordFields(declared, owner, where),
            });
        }
        return fields;
    }

    /// <summary>The fields of a record defined inside the record <paramref name="owner"/> (directly or as an array's element).</summary>
    List<ManifestField>? InlineRecordFields(ClangType declared, nint owner, string where)
    {
        var t = declared.Desugared();
        while (t.Kind is CXTypeKind.ConstantArray or CXTypeKind.IncompleteArray)
            t = t.ArrayElement.Desugared();
        if (t.Kind != CXTypeKind.Record)
            return null;
        var declaration = t.Declaration;
        var parent = declaration.LexicalParent;
        if (parent.IsNull || parent.Kind is not (CXCursorKind.StructDecl or CXCursorKind.UnionDecl) || DeclarationIndex.Identity(parent) != owner)
            return null;
        var definition = declaration.IsDefinition ? declaration : declaration.Definition;
        return definition.IsNull ? null : Fields(definition.Type, definition, where);
    }
}
