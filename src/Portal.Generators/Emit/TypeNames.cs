using System;
using Portal.Generators.Model;

namespace Portal.Generators.Emit;

/// <summary>How the generated code spells the model's types: the one place C# type names are written from shapes.</summary>
internal static class TypeNames
{
    public const string GuestAddress = "global::Portal.Typed.GuestAddress";

    /// <summary>The C# type of a shape (<c>uint</c>, <c>double</c>, a generated record...).</summary>
    public static string Of(ValueShape shape) => shape switch
    {
        ValueShape.Integer { Width: 1 } integer => integer.Signed ? "sbyte" : "byte",
        ValueShape.Integer { Width: 2 } integer => integer.Signed ? "short" : "ushort",
        ValueShape.Integer { Width: 4 } integer => integer.Signed ? "int" : "uint",
        ValueShape.Integer integer => integer.Signed ? "long" : "ulong",
        ValueShape.Bool => "bool",
        ValueShape.Float { Width: 4 } => "float",
        ValueShape.Float => "double",
        ValueShape.Address => GuestAddress,
        ValueShape.Enum @enum => @enum.TypeName,
        ValueShape.Record record => record.TypeName,
        _ => throw new InvalidOperationException($"Unknown shape {shape}."),
    };

    /// <summary>A typed pointer into guest memory to <paramref name="target"/>.</summary>
    public static string PointerTo(ValueShape target) => $"global::Portal.Typed.GuestPtr<{Of(target)}>";

    /// <summary>The type of a member's property: its kind applied to its <see cref="MemberModel.Type"/>.</summary>
    public static string Property(MemberModel member) => member.Kind switch
    {
        MemberKind.String => "string",
        MemberKind.Bytes => "global::System.ReadOnlySpan<byte>",
        MemberKind.RecordPointer => PointerTo(Shape(member)),
        MemberKind.ScalarArray => $"global::Portal.Typed.GuestArray<{Of(Shape(member))}>",
        MemberKind.RecordArray => $"global::Portal.Typed.GuestRecordArray<{Of(Shape(member))}>",
        MemberKind.FlexibleArray => member.Type is ValueShape.Record record ? PointerTo(record) : GuestAddress,
        _ => Of(Shape(member)),
    };

    private static ValueShape Shape(MemberModel member) =>
        member.Type ?? throw new InvalidOperationException($"A {member.Kind} member ({member.CName}) has no type.");
}
