using System.Runtime.InteropServices;

namespace Portal.Headers.Clang;

/// <summary>A libclang cursor, kept together with the translation unit it belongs to.</summary>
internal readonly unsafe struct Cursor : IEquatable<Cursor>
{
    readonly CXCursor value;

    public Cursor(CXCursor value, TranslationUnit unit)
    {
        this.value = value;
        Unit = unit;
    }

    public TranslationUnit Unit { get; }
    public CXCursor Value => value;
    public CXCursorKind Kind => NativeMethods.GetCursorKind(value);
    public string Spelling => LibClang.ToManaged(NativeMethods.GetCursorSpelling(value));
    public ClangType Type => new(NativeMethods.GetCursorType(value), Unit);
    public bool IsNull => NativeMethods.CursorIsNull(value) != 0;
    public bool IsDefinition => NativeMethods.IsCursorDefinition(value) != 0;
    public Cursor Definition => new(NativeMethods.GetCursorDefinition(value), Unit);
    public Cursor Canonical => new(NativeMethods.GetCanonicalCursor(value), Unit);
    public Cursor LexicalParent => new(NativeMethods.GetCursorLexicalParent(value), Unit);

    /// <summary>True for a declaration without a name (<c>struct { ... }</c>, <c>enum { ... }</c>).</summary>
    public bool IsAnonymous => NativeMethods.CursorIsAnonymous(value) != 0;

    /// <summary>True for a C11 anonymous struct or union member (<c>union { ... };</c> inside a record).</summary>
    public bool IsAnonymousRecordMember => NativeMethods.CursorIsAnonymousRecordDecl(value) != 0;
    public bool IsBitField => NativeMethods.CursorIsBitField(value) != 0;
    public int BitWidth => NativeMethods.GetFieldDeclBitWidth(value);

    /// <summary>The field's offset in bits from the start of its record (negative: a layout error code).</summary>
    public long OffsetOfFieldInBits => NativeMethods.CursorGetOffsetOfField(value);
    public ClangType EnumIntegerType => new(NativeMethods.GetEnumDeclIntegerType(value), Unit);
    public long EnumConstantValue => NativeMethods.GetEnumConstantDeclValue(value);
    public ClangType TypedefUnderlyingType => new(NativeMethods.GetTypedefDeclUnderlyingType(value), Unit);
    public bool IsMacroFunctionLike => NativeMethods.CursorIsMacroFunctionLike(value) != 0;
    public bool IsMacroBuiltin => NativeMethods.CursorIsMacroBuiltin(value) != 0;
    public SourcePosition Location => SourcePosition.Of(NativeMethods.GetCursorLocation(value), expansion: false);
    public CXSourceRange Extent => NativeMethods.GetCursorExtent(value);

    /// <summary>The direct children, in source order.</summary>
    public List<Cursor> Children()
    {
        var list = new List<CXCursor>();
        var handle = GCHandle.Alloc(list);
        try
        {
            _ = NativeMethods.VisitChildren(value, &CollectChild, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        var unit = Unit;
        return list.ConvertAll(c => new Cursor(c, unit));
    }

    [UnmanagedCallersOnly]
    static CXChildVisitResult CollectChild(CXCursor cursor, CXCursor parent, nint data)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr(data).Target!).Add(cursor);
        return CXChildVisitResult.Continue;
    }

    /// <summary>Evaluates a variable's initializer as an integer (null when it is not an integer constant).</summary>
    public (long Value, bool IsUnsigned)? EvaluateInteger()
    {
        var result = NativeMethods.CursorEvaluate(value);
        if (result == 0)
            return null;
        try
        {
            if (NativeMethods.EvalResultGetKind(result) != CXEvalResultKind.Int)
                return null;
            return NativeMethods.EvalResultIsUnsignedInt(result) != 0
                ? ((long)NativeMethods.EvalResultGetAsUnsigned(result), true)
                : (NativeMethods.EvalResultGetAsLongLong(result), false);
        }
        finally
        {
            NativeMethods.EvalResultDispose(result);
        }
    }

    public bool Equals(Cursor other) => NativeMethods.EqualCursors(value, other.value) != 0;
    public override bool Equals(object? obj) => obj is Cursor other && Equals(other);
    public override int GetHashCode() => (int)NativeMethods.HashCursor(value);
    public static bool operator ==(Cursor left, Cursor right) => left.Equals(right);
    public static bool operator !=(Cursor left, Cursor right) => !left.Equals(right);
    public override string ToString() => $"{Kind} {Spelling} at {Location}";
}

/// <summary>A libclang type.</summary>
internal readonly unsafe struct ClangType
{
    readonly CXType value;

    public ClangType(CXType value, TranslationUnit unit)
    {
        this.value = value;
        Unit = unit;
    }

    public TranslationUnit Unit { get; }
    public CXTypeKind Kind => value.Kind;
    public string Spelling => LibClang.ToManaged(NativeMethods.GetTypeSpelling(value));
    public ClangType Canonical => new(NativeMethods.GetCanonicalType(value), Unit);
    public ClangType Pointee => new(NativeMethods.GetPointeeType(value), Unit);
    public ClangType ArrayElement => new(NativeMethods.GetArrayElementType(value), Unit);
    public long ArraySize => NativeMethods.GetArraySize(value);
    public ClangType Element => new(NativeMethods.GetElementType(value), Unit);
    public long ElementCount => NativeMethods.GetNumElements(value);
    public ClangType Named => new(NativeMethods.TypeGetNamedType(value), Unit);
    public ClangType Modified => new(NativeMethods.TypeGetModifiedType(value), Unit);
    public ClangType AtomicValue => new(NativeMethods.TypeGetValueType(value), Unit);
    public Cursor Declaration => new(NativeMethods.GetTypeDeclaration(value), Unit);

    /// <summary><c>sizeof</c> in bytes, or a negative CXTypeLayoutError.</summary>
    public long SizeOf => NativeMethods.TypeGetSizeOf(value);

    /// <summary><c>_Alignof</c> in bytes, or a negative CXTypeLayoutError.</summary>
    public long AlignOf => NativeMethods.TypeGetAlignOf(value);

    /// <summary>The record's fields (including the unnamed fields of C11 anonymous members), in declaration order.</summary>
    public List<Cursor> Fields()
    {
        var list = new List<CXCursor>();
        var handle = GCHandle.Alloc(list);
        try
        {
            _ = NativeMethods.TypeVisitFields(value, &CollectField, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        var unit = Unit;
        return list.ConvertAll(c => new Cursor(c, unit));
    }

    [UnmanagedCallersOnly]
    static int CollectField(CXCursor cursor, nint data)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr(data).Target!).Add(cursor);
        return 1; // CXVisit_Continue
    }

    /// <summary>Strips sugar that does not change the type: elaborated (<c>struct x</c>), attributed, parentheses.</summary>
    public ClangType Desugared()
    {
        var t = this;
        for (var i = 0; i < 64; i++)
        {
            switch (t.Kind)
            {
                case CXTypeKind.Elaborated:
                    t = t.Named;
                    continue;
                case CXTypeKind.Attributed:
                    t = t.Modified;
                    continue;
                default:
                    return t;
            }
        }
        return t;
    }

    public override string ToString() => Spelling;
}
