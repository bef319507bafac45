using System;

namespace Portal.Generators.Model;

/// <summary>How a member is exposed in C#.</summary>
internal enum MemberKind
{
    Integer,
    Bool,
    Enum,
    Float,
    Address,
    RecordPointer,
    String,
    Bytes,
    ScalarArray,
    RecordArray,
    Record,
    Bitfield,
    FlexibleArray,
}

/// <summary>Everything generated for one header (one manifest file). Equatable: no Roslyn symbols, no locations.</summary>
internal sealed record HeaderModel(
    string HintName,
    string Namespace,
    string ConstantsClass,
    string Header,
    EquatableArray<string> Abis,
    EquatableArray<RecordModel> Records,
    EquatableArray<EnumModel> Enums,
    EquatableArray<ConstantModel> Constants,
    EquatableArray<DiagnosticModel> Diagnostics);

/// <summary>A struct or union (or a record defined inline in another one).</summary>
/// <param name="CName">C spelling for docs and errors, e.g. "struct ifreq".</param>
/// <param name="TypeName">The C# type name.</param>
/// <param name="Sizes">sizeof per ABI (index as in <see cref="HeaderModel.Abis"/>), -1 where the ABI has no such record.</param>
/// <param name="SocketAddress">A standard socket struct with the standard members: it gets IPAddress/IPEndPoint helpers.</param>
internal sealed record RecordModel(
    string CName,
    string TypeName,
    bool IsUnion,
    EquatableArray<int> Sizes,
    EquatableArray<int> Aligns,
    EquatableArray<MemberModel> Members,
    SocketAddressKind SocketAddress = SocketAddressKind.None);

/// <summary>The socket structs whose records get <c>ToIPAddress</c>/<c>ToIPEndPoint</c> helpers.</summary>
internal enum SocketAddressKind
{
    None,
    InAddr,
    In6Addr,
    SockaddrIn,
    SockaddrIn6,
}

/// <summary>A member (or a member reached through anonymous records or an alias macro).</summary>
/// <param name="CName">The C member name or path ("ifr_ifru.ifru_data" for aliases).</param>
/// <param name="ClrType">The C# type of the property ("uint", a record or enum type name, ...).</param>
/// <param name="ElementType">For arrays: the element's C# type; for record pointers: the pointee record type.</param>
/// <param name="Offsets">Byte offset per ABI, -1 where the member does not exist.</param>
/// <param name="Sizes">Per ABI: integer width, string/byte array length, or array element size.</param>
/// <param name="Lengths">Per ABI: array element count (0 when not an array).</param>
/// <param name="BitOffsets">Per ABI: bit offset from the record start (bitfields).</param>
/// <param name="NetworkOrder">An integer stored big-endian on every ABI (network byte order), not in the guest's order.</param>
/// <param name="IsBytesView">The raw bytes of a char array that is also exposed as a string (<c>SaDataBytes</c> next to <c>SaData</c>).</param>
internal sealed record MemberModel(
    string CName,
    string PropertyName,
    MemberKind Kind,
    string ClrType,
    string? ElementType,
    string CType,
    bool Signed,
    int BitWidth,
    EquatableArray<int> Offsets,
    EquatableArray<int> Sizes,
    EquatableArray<int> Lengths,
    EquatableArray<int> BitOffsets,
    bool IsAlias,
    bool NetworkOrder = false,
    bool IsBytesView = false);

internal sealed record EnumModel(string CName, string TypeName, string Underlying, EquatableArray<EnumValueModel> Values);

internal sealed record EnumValueModel(string Name, long Value);

/// <summary>An integer constant; <see cref="Values"/> has one entry per ABI (equal ones collapse to a const).</summary>
internal sealed record ConstantModel(string Name, string Expression, bool Unsigned, EquatableArray<long> Values, EquatableArray<bool> Present);

/// <summary>A diagnostic to report, without a Location (equatable).</summary>
internal sealed record DiagnosticModel(string Id, string Message, string FilePath) : IEquatable<DiagnosticModel>;
