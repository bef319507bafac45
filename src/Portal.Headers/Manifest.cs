using System.Text.Json.Serialization;

namespace Portal.Headers;

// The layout manifest (docs/layout-manifest.md; its JSON Schema is layout-manifest.schema.json beside this file).
// Property order is the JSON order; optional properties are null (or false flags are null) and omitted from the JSON.

/// <summary>A multi-ABI manifest file (<c>*.portal.json</c>): one single-ABI manifest per requested ABI, in the order requested.</summary>
public sealed class ManifestFile
{
    /// <summary>Schema version: 1.</summary>
    public int Version { get; init; } = 1;

    /// <summary>The header as given on the command line.</summary>
    public required string Header { get; init; }

    /// <summary>One manifest per ABI.</summary>
    public required IReadOnlyList<LayoutManifest> Manifests { get; init; }
}

/// <summary>What one target ABI's C compiler does with a header's records, typedefs, enums and integer macros.</summary>
public sealed class LayoutManifest
{
    /// <summary>Schema version: 1.</summary>
    public int Version { get; init; } = 1;

    /// <summary>The ABI name (<c>x86_64</c>, <c>i386</c>, <c>mipsel</c>, <c>mips</c>, <c>armel</c>, <c>aarch64</c>).</summary>
    public required string Abi { get; init; }

    /// <summary>The clang target triple used.</summary>
    public required string Target { get; init; }

    /// <summary><c>sizeof(void *)</c> on the target.</summary>
    public int PointerSize { get; init; }

    /// <summary>Whether the target is big-endian.</summary>
    public bool BigEndian { get; init; }

    /// <summary>The header as given.</summary>
    public required string Header { get; init; }

    /// <summary>Named structs and unions (and typedef'd anonymous ones), in declaration order.</summary>
    public required IReadOnlyList<ManifestRecord> Structs { get; init; }

    /// <summary>Typedefs with their resolved types.</summary>
    public required IReadOnlyList<ManifestTypedef> Typedefs { get; init; }

    /// <summary>Enums with their values.</summary>
    public required IReadOnlyList<ManifestEnumeration> Enums { get; init; }

    /// <summary>Integer <c>#define</c>s that evaluate.</summary>
    public required IReadOnlyList<ManifestConstant> Constants { get; init; }

    /// <summary>Member-path macros such as <c>#define ifr_data ifr_ifru.ifru_data</c>.</summary>
    public required IReadOnlyList<ManifestAlias> Aliases { get; init; }

    /// <summary>What was skipped and why.</summary>
    public required IReadOnlyList<ManifestNote> Notes { get; init; }
}

/// <summary>A struct or union.</summary>
public sealed class ManifestRecord
{
    /// <summary>The tag, or the typedef name of a typedef'd anonymous record.</summary>
    public required string Name { get; init; }

    /// <summary><c>struct</c> or <c>union</c>.</summary>
    public required ManifestRecordKind Kind { get; init; }

    /// <summary><c>sizeof</c>; null for an incomplete record.</summary>
    public int? Size { get; init; }

    /// <summary><c>_Alignof</c>; null for an incomplete record.</summary>
    public int? Align { get; init; }

    /// <summary>True when <c>__attribute__((packed))</c> applies to the record; otherwise null.</summary>
    public bool? Packed { get; init; }

    /// <summary>The fields in declaration order; null for an incomplete record.</summary>
    public IReadOnlyList<ManifestField>? Fields { get; init; }

    /// <summary>True for a declared but undefined record; otherwise null.</summary>
    public bool? Incomplete { get; init; }
}

/// <summary>A record's <c>kind</c>: the C keyword that declares it (the JSON value is the keyword).</summary>
public enum ManifestRecordKind
{
    /// <summary><c>struct</c>.</summary>
    [JsonStringEnumMemberName("struct")] Struct,

    /// <summary><c>union</c>.</summary>
    [JsonStringEnumMemberName("union")] Union,
}

/// <summary>A member of a record.</summary>
public sealed class ManifestField
{
    /// <summary>The member name; empty for a C11 anonymous struct or union member (and for an unnamed bitfield).</summary>
    public required string Name { get; init; }

    /// <summary>Byte offset from the start of the record that lists the field (for a bitfield: the byte holding its first bit).</summary>
    public int Offset { get; init; }

    /// <summary><c>sizeof</c> the member's type (for a bitfield: its declared type); null for a flexible array member.</summary>
    public int? Size { get; init; }

    /// <summary>The member's type.</summary>
    public required ManifestType Type { get; init; }

    /// <summary>Bitfields only: the offset in bits from the start of the record that lists the field.</summary>
    public int? BitOffset { get; init; }

    /// <summary>Bitfields only: the width in bits.</summary>
    public int? BitWidth { get; init; }

    /// <summary>When the member's type is a record defined inline (or an array of one): that record's fields, offsets relative to the member (to its element for an array).</summary>
    public IReadOnlyList<ManifestField>? Fields { get; init; }
}

/// <summary>A C type, with typedefs resolved (the spelling keeps the name used in the source).</summary>
public sealed class ManifestType
{
    /// <summary>What the type is once typedefs are resolved.</summary>
    public required ManifestTypeKind Kind { get; init; }

    /// <summary>The C spelling (<c>unsigned int</c>, <c>struct sockaddr</c>, <c>char [16]</c>, <c>__caddr_t</c>).</summary>
    public required string Spelling { get; init; }

    /// <summary><c>sizeof</c>; null for void, functions and incomplete types.</summary>
    public int? Size { get; init; }

    /// <summary>For <c>char</c>, <c>int</c> and <c>enum</c>: whether the type is signed on this ABI.</summary>
    [JsonPropertyName("signed")]
    public bool? IsSigned { get; init; }

    /// <summary>Arrays: the element type.</summary>
    public ManifestType? Element { get; init; }

    /// <summary>Arrays: the element count; null for a flexible array member.</summary>
    public int? Length { get; init; }

    /// <summary>Pointers: the target type.</summary>
    public ManifestType? Pointee { get; init; }

    /// <summary>Records: the name in <see cref="LayoutManifest.Structs"/>; null for an anonymous record.</summary>
    public string? Record { get; init; }

    /// <summary>Enums: the name in <see cref="LayoutManifest.Enums"/>.</summary>
    public string? Enum { get; init; }
}

/// <summary>
/// A type's <c>kind</c>, with typedefs resolved. The JSON values are the names in brackets; the schema's
/// <c>$defs.type.properties.kind.enum</c> lists the same (a test checks).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "C's kinds of type, named as the manifest names them.")]
public enum ManifestTypeKind
{
    /// <summary><c>void</c>: also what a type the manifest cannot describe becomes (with a note, and its size).</summary>
    [JsonStringEnumMemberName("void")] Void,

    /// <summary><c>bool</c>: <c>_Bool</c>.</summary>
    [JsonStringEnumMemberName("bool")] Bool,

    /// <summary><c>char</c>: <c>char</c>, <c>signed char</c>, <c>unsigned char</c> (with <see cref="ManifestType.IsSigned"/>).</summary>
    [JsonStringEnumMemberName("char")] Char,

    /// <summary><c>int</c>: every other integer type (with <see cref="ManifestType.IsSigned"/>).</summary>
    [JsonStringEnumMemberName("int")] Int,

    /// <summary><c>float</c>: every floating-point type.</summary>
    [JsonStringEnumMemberName("float")] Float,

    /// <summary><c>pointer</c> (with <see cref="ManifestType.Pointee"/>).</summary>
    [JsonStringEnumMemberName("pointer")] Pointer,

    /// <summary><c>array</c> (with <see cref="ManifestType.Element"/>): also <c>_Complex T</c> and vector types.</summary>
    [JsonStringEnumMemberName("array")] Array,

    /// <summary><c>record</c>: a struct or union (with <see cref="ManifestType.Record"/> unless anonymous).</summary>
    [JsonStringEnumMemberName("record")] Record,

    /// <summary><c>enum</c> (with <see cref="ManifestType.IsSigned"/>, and <see cref="ManifestType.Enum"/> unless anonymous).</summary>
    [JsonStringEnumMemberName("enum")] Enum,

    /// <summary><c>function</c>: what a function pointer points to.</summary>
    [JsonStringEnumMemberName("function")] Function,
}

/// <summary>A typedef.</summary>
public sealed class ManifestTypedef
{
    /// <summary>The typedef name.</summary>
    public required string Name { get; init; }

    /// <summary>The type it names, resolved.</summary>
    public required ManifestType Type { get; init; }
}

/// <summary>An enum.</summary>
public sealed class ManifestEnumeration
{
    /// <summary>The tag or typedef name; empty for an anonymous enum.</summary>
    public required string Name { get; init; }

    /// <summary><c>sizeof</c> the enum type.</summary>
    public int Size { get; init; }

    /// <summary>Whether the enum's integer type is signed.</summary>
    [JsonPropertyName("signed")]
    public bool IsSigned { get; init; }

    /// <summary>The enumerators in declaration order.</summary>
    public required IReadOnlyList<ManifestEnumerator> Values { get; init; }
}

/// <summary>An enumerator.</summary>
public sealed class ManifestEnumerator
{
    /// <summary>The enumerator name.</summary>
    public required string Name { get; init; }

    /// <summary>The value as a signed 64-bit integer.</summary>
    public long Value { get; init; }
}

/// <summary>An integer <c>#define</c>.</summary>
public sealed class ManifestConstant
{
    /// <summary>The macro name.</summary>
    public required string Name { get; init; }

    /// <summary>The value as a signed 64-bit integer (an unsigned 64-bit value above <see cref="long.MaxValue"/> wraps).</summary>
    public long Value { get; init; }

    /// <summary>True when the expression's type is unsigned.</summary>
    [JsonPropertyName("unsigned")]
    public bool IsUnsigned { get; init; }

    /// <summary>The macro's replacement text.</summary>
    public required string Expression { get; init; }
}

/// <summary>A member-path macro.</summary>
public sealed class ManifestAlias
{
    /// <summary>The macro name (<c>ifr_data</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The record whose member the path starts at (<c>ifreq</c>).</summary>
    public required string Record { get; init; }

    /// <summary>The member path (<c>ifr_ifru.ifru_data</c>).</summary>
    public required string Path { get; init; }
}

/// <summary>Something that was skipped, and why.</summary>
public sealed class ManifestNote
{
    /// <summary>The macro or declaration name.</summary>
    public required string Name { get; init; }

    /// <summary>Why it was skipped.</summary>
    public required string Reason { get; init; }
}
