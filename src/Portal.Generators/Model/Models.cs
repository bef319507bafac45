using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Portal.Generators.Model;

/// <summary>How a member is exposed in C#; with <see cref="MemberModel.Type"/>, what its property's type is.</summary>
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

/// <summary>Everything generated for one header (one manifest file). Equatable: no Roslyn symbols, syntax or locations.</summary>
internal sealed record HeaderModel(
    string HintName,
    string Namespace,
    string ConstantsClass,
    string Header,
    EquatableArray<string> Abis,
    EquatableArray<RecordModel> Records,
    EquatableArray<EnumModel> Enums,
    EquatableArray<ConstantModel> Constants,
    EquatableArray<DiagnosticInfo> Diagnostics);

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

/// <summary>
/// A C# type the generated code uses, described by what it is: two shapes are equal exactly when they are
/// the same C# type. Only the emitter spells them (<c>Emit/TypeNames.cs</c>).
/// </summary>
internal abstract record ValueShape
{
    private ValueShape()
    {
    }

    /// <summary>An integer of <paramref name="Width"/> bytes: 1, 2, 4 or 8.</summary>
    public sealed record Integer(int Width, bool Signed) : ValueShape
    {
        /// <summary>The integer type that holds a C integer of <paramref name="size"/> bytes (3 bytes: a 4-byte one).</summary>
        public static Integer OfSize(int size, bool signed) => new(size switch { 1 => 1, 2 => 2, <= 4 => 4, _ => 8 }, signed);
    }

    public sealed record Bool : ValueShape;

    /// <summary>A binary floating-point number of <paramref name="Width"/> bytes: 4 or 8.</summary>
    public sealed record Float(int Width) : ValueShape;

    /// <summary>A guest address (<c>Portal.Typed.GuestAddress</c>).</summary>
    public sealed record Address : ValueShape;

    /// <summary>An enum this header generates (<see cref="EnumModel.TypeName"/>).</summary>
    public sealed record Enum(string TypeName) : ValueShape;

    /// <summary>A record this header generates (<see cref="RecordModel.TypeName"/>).</summary>
    public sealed record Record(string TypeName) : ValueShape;
}

/// <summary>A member (or a member reached through anonymous records or an alias macro).</summary>
/// <param name="CName">The C member name or path ("ifr_ifru.ifru_data" for aliases).</param>
/// <param name="Type">
/// What the property's type is built on, by <paramref name="Kind"/>: the value itself (Integer, Bool, Enum, Float, Address,
/// Record, Bitfield); the element (ScalarArray, RecordArray, and FlexibleArray, whose element is a Record or else an Address);
/// the target record (RecordPointer); null for String and Bytes, whose kind says all.
/// </param>
/// <param name="Signed">Whether the guest's value is sign-extended when read (integers, enums, integer arrays, bitfields).</param>
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
    ValueShape? Type,
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

/// <param name="Underlying">The enum's underlying integer type.</param>
internal sealed record EnumModel(string CName, string TypeName, ValueShape.Integer Underlying, EquatableArray<EnumValueModel> Values);

internal sealed record EnumValueModel(string Name, long Value);

/// <summary>An integer constant; <see cref="Values"/> has one entry per ABI (equal ones collapse to a const).</summary>
internal sealed record ConstantModel(string Name, string Expression, bool Unsigned, EquatableArray<long> Values, EquatableArray<bool> Present);

/// <summary>
/// A diagnostic to report: its descriptor, the arguments of the descriptor's message, and where (the manifest file;
/// a manifest has no source positions). Equatable and free of <see cref="Location"/>, which would defeat caching;
/// the output step turns it into a <see cref="Diagnostic"/>.
/// </summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, string FilePath, EquatableArray<string> MessageArgs)
{
    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(Descriptor, Location.Create(FilePath, default, default(LinePositionSpan)), MessageArgs.ToArray<object>());
}
