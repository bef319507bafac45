using System.Runtime.InteropServices;

namespace Portal.Headers.Clang;

/// <summary>A libclang cursor, kept together with the translation unit it belongs to.</summary>
internal readonly unsafe struct Cursor : IEquatable<Cursor>
{
    readonly CXCursor _value;

    public Cursor(CXCursor value, TranslationUnit unit)
    {
        _value = value;
        Unit = unit;
    }

    public TranslationUnit Unit { get; }
    public CXCursor Value => _value;
    public CXCursorKind Kind => NativeMethods.GetCursorKind(_value);
    public string Spelling => LibClang.ToManaged(NativeMethods.GetCursorSpelling(_value));
    public ClangType Type => new(NativeMethods.GetCursorType(_value), Unit);
    public bool IsNull => NativeMethods.CursorIsNull(_value) != 0;
    public bool IsDefinition => NativeMethods.IsCursorDefinition(_value) != 0;
    public Cursor Definition => new(NativeMethods.GetCursorDefinition(_value), Unit);
    public Cursor Canonical => new(NativeMethods.GetCanonicalCursor(_value), Unit);
    public Cursor LexicalParent => new(NativeMethods.GetCursorLexicalParent(_value), Unit);

    /// <summary>True for a declaration without a name (<c>struct { ... }</c>, <c>enum { ... }</c>).</summary>
    public bool IsAnonymous => NativeMethods.CursorIsAnonymous(_value) != 0;

    /// <summary>True for a C11 anonymous struct or union member (<c>union { ... };</c> inside a record).</summary>
    public bool IsAnonymousRecordMember => NativeMethods.CursorIsAnonymousRecordDecl(_value) != 0;
    public bool IsBitField => NativeMethods.CursorIsBitField(_value) != 0;
    public int BitWidth => NativeMethods.GetFieldDeclBitWidth(_value);

    /// <summary>The field's offset in bits from the start of its record (negative: a layout error code).</summary>
    public long OffsetOfFieldInBits => NativeMethods.CursorGetOffsetOfField(_value);
    public ClangType EnumIntegerType => new(NativeMethods.GetEnumDeclIntegerType(_value), Unit);
    public long EnumConstantValue => NativeMethods.GetEnumConstantDeclValue(_value);
    public ClangType TypedefUnderlyingType => new(NativeMethods.GetTypedefDeclUnderlyingType(_value), Unit);
    public bool IsMacroFunctionLike => NativeMethods.CursorIsMacroFunctionLike(_value) != 0;
    public bool IsMacroBuiltin => NativeMethods.CursorIsMacroBuiltin(_value) != 0;
    public SourcePosition Location => SourcePosition.Of(NativeMethods.GetCursorLocation(_value), expansion: false);
    public CXSourceRange Extent => NativeMethods.GetCursorExtent(_value);

    /// <summary>The direct children, in source order.</summary>
    public List<Cursor> Children()
    {
        var list = new List<CXCursor>();
        var handle = GCHandle.Alloc(list);
        try
        {
            _ = NativeMethods.VisitChildren(_value, &CollectChild, GCHandle.ToIntPtr(handle));
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
        var result = NativeMethods.CursorEvaluate(_value);
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

    public bool Equals(Cursor other) => NativeMethods.EqualCursors(_value, other._value) != 0;
    public override bool Equals(object? obj) => obj is Cursor other && Equals(other);
    public override int GetHashCode() => (int)NativeMethods.HashCursor(_value);
    public static bool operator ==(Cursor left, Cursor right) => left.Equals(right);
    public static bool operator !=(Cursor left, Cursor right) => !left.Equals(right);
    public override string ToString() => $"{Kind} {Spelling} at {Location}";
}

/// <summary>A libclang type.</summary>
internal readonly unsafe struct ClangType
{
    readonly CXType _value;

    public ClangType(CXType value, TranslationUnit unit)
    {
        _value = value;
        Unit = unit;
    }

    public TranslationUnit Unit { get; }
    public CXTypeKind Kind => _value.Kind;
    public string Spelling => LibClang.ToManaged(NativeMethods.GetTypeSpelling(_value));
    public ClangType Canonical => new(NativeMethods.GetCanonicalType(_value), Unit);
    public ClangType Pointee => new(NativeMethods.GetPointeeType(_value), Unit);
    public ClangType ArrayElement => new(NativeMethods.GetArrayElementType(_value), Unit);
    public long ArraySize => NativeMethods.GetArraySize(_value);
    public ClangType Element => new(NativeMethods.GetElementType(_value), Unit);
    public long ElementCount => NativeMethods.GetNumElements(_value);
    public ClangType Named => new(NativeMethods.TypeGetNamedType(_value), Unit);
    public ClangType Modified => new(NativeMethods.TypeGetModifiedType(_value), Unit);
    public ClangType AtomicValue => new(NativeMethods.TypeGetValueType(_value), Unit);
    public Cursor Declaration => new(NativeMethods.GetTypeDeclaration(_value), Unit);

    /// <summary><c>sizeof</c> in bytes, or a negative CXTypeLayoutError.</summary>
    public long SizeOf => NativeMethods.TypeGetSizeOf(_value);

    /// <summary><c>_Alignof</c> in bytes, or a negative CXTypeLayoutError.</summary>
    public long AlignOf => NativeMethods.TypeGetAlignOf(_value);

    /// <summary>The record's fields (including the unnamed fields of C11 anonymous members), in declaration order.</summary>
    public List<Cursor> Fields()
    {
        var list = new List<CXCursor>();
        var handle = GCHandle.Alloc(list);
        try
        {
            _ = NativeMethods.TypeVisitFields(_value, &CollectField, GCHandle.ToIntPtr(handle));
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
