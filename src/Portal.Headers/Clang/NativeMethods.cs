using System.Runtime.InteropServices;

namespace Portal.Headers.Clang;

// The libclang C API (clang-c/Index.h, LLVM 14), only what portal-headers uses.
// Structs mirror the C layouts exactly; they are passed by value as the C API does.

[StructLayout(LayoutKind.Sequential)]
internal struct CXString
{
    public nint Data;
    public uint PrivateFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXCursor
{
    public CXCursorKind Kind;
    public int XData;
    public nint Data0;
    public nint Data1;
    public nint Data2;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXType
{
    public CXTypeKind Kind;
    public nint Data0;
    public nint Data1;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXSourceLocation
{
    public nint PtrData0;
    public nint PtrData1;
    public uint IntData;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXSourceRange
{
    public nint PtrData0;
    public nint PtrData1;
    public uint BeginIntData;
    public uint EndIntData;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXToken
{
    public uint IntData0;
    public uint IntData1;
    public uint IntData2;
    public uint IntData3;
    public nint PtrData;
}

internal enum CXCursorKind
{
    StructDecl = 2,
    UnionDecl = 3,
    EnumDecl = 5,
    FieldDecl = 6,
    EnumConstantDecl = 7,
    FunctionDecl = 8,
    VarDecl = 9,
    TypedefDecl = 20,
    TypeRef = 43,
    IntegerLiteral = 106,
    TranslationUnit = 350,
    PackedAttr = 408,
    AlignedAttr = 441,
    MacroDefinition = 501,
    MacroExpansion = 502,
    InclusionDirective = 503,
}

internal enum CXTypeKind
{
    Invalid = 0,
    Unexposed = 1,
    Void = 2,
    Bool = 3,
    Char_U = 4,
    UChar = 5,
    Char16 = 6,
    Char32 = 7,
    UShort = 8,
    UInt = 9,
    ULong = 10,
    ULongLong = 11,
    UInt128 = 12,
    Char_S = 13,
    SChar = 14,
    WChar = 15,
    Short = 16,
    Int = 17,
    Long = 18,
    LongLong = 19,
    Int128 = 20,
    Float = 21,
    Double = 22,
    LongDouble = 23,
    NullPtr = 24,
    Float128 = 30,
    Half = 31,
    Float16 = 32,
    BFloat16 = 39,
    Ibm128 = 40,
    Complex = 100,
    Pointer = 101,
    Record = 105,
    Enum = 106,
    Typedef = 107,
    FunctionNoProto = 110,
    FunctionProto = 111,
    ConstantArray = 112,
    Vector = 113,
    IncompleteArray = 114,
    VariableArray = 115,
    Elaborated = 119,
    Attributed = 163,
    ExtVector = 176,
    Atomic = 177,
}

internal enum CXDiagnosticSeverity
{
    Ignored = 0,
    Note = 1,
    Warning = 2,
    Error = 3,
    Fatal = 4,
}

internal enum CXTokenKind
{
    Punctuation = 0,
    Keyword = 1,
    Identifier = 2,
    Literal = 3,
    Comment = 4,
}

internal enum CXEvalResultKind
{
    Int = 1,
    Float = 2,
    ObjCStrLiteral = 3,
    StrLiteral = 4,
    CFStr = 5,
    Other = 6,
    UnExposed = 0,
}

internal enum CXChildVisitResult
{
    Break = 0,
    Continue = 1,
    Recurse = 2,
}

[Flags]
internal enum CXTranslationUnitFlags
{
    None = 0,
    DetailedPreprocessingRecord = 0x01,
    Incomplete = 0x02,
    SkipFunctionBodies = 0x40,
    KeepGoing = 0x200,
}

internal enum CXErrorCode
{
    Success = 0,
    Failure = 1,
    Crashed = 2,
    InvalidArguments = 3,
    ASTReadError = 4,
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXUnsavedFile
{
    public nint Filename;
    public nint Contents;
    public nuint Length;
}

internal static unsafe partial class NativeMethods
{
    internal const string LibraryName = "libclang";

    [LibraryImport(LibraryName, EntryPoint = "clang_createIndex")]
    internal static partial nint CreateIndex(int excludeDeclarationsFromPch, int displayDiagnostics);

    [LibraryImport(LibraryName, EntryPoint = "clang_disposeIndex")]
    internal static partial void DisposeIndex(nint index);

    [LibraryImport(LibraryName, EntryPoint = "clang_parseTranslationUnit2")]
    internal static partial CXErrorCode ParseTranslationUnit2(nint index, byte* sourceFilename, byte** commandLineArgs, int numCommandLineArgs,
        CXUnsavedFile* unsavedFiles, uint numUnsavedFiles, CXTranslationUnitFlags options, nint* translationUnit);

    [LibraryImport(LibraryName, EntryPoint = "clang_disposeTranslationUnit")]
    internal static partial void DisposeTranslationUnit(nint translationUnit);

    [LibraryImport(LibraryName, EntryPoint = "clang_getTranslationUnitCursor")]
    internal static partial CXCursor GetTranslationUnitCursor(nint translationUnit);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCString")]
    internal static partial byte* GetCString(CXString value);

    [LibraryImport(LibraryName, EntryPoint = "clang_disposeString")]
    internal static partial void DisposeString(CXString value);

    // Diagnostics
    [LibraryImport(LibraryName, EntryPoint = "clang_getNumDiagnostics")]
    internal static partial uint GetNumDiagnostics(nint translationUnit);

    [LibraryImport(LibraryName, EntryPoint = "clang_getDiagnostic")]
    internal static partial nint GetDiagnostic(nint translationUnit, uint index);

    [LibraryImport(LibraryName, EntryPoint = "clang_disposeDiagnostic")]
    internal static partial void DisposeDiagnostic(nint diagnostic);

    [LibraryImport(LibraryName, EntryPoint = "clang_getDiagnosticSeverity")]
    internal static partial CXDiagnosticSeverity GetDiagnosticSeverity(nint diagnostic);

    [LibraryImport(LibraryName, EntryPoint = "clang_getDiagnosticLocation")]
    internal static partial CXSourceLocation GetDiagnosticLocation(nint diagnostic);

    [LibraryImport(LibraryName, EntryPoint = "clang_getDiagnosticSpelling")]
    internal static partial CXString GetDiagnosticSpelling(nint diagnostic);

    // Locations
    [LibraryImport(LibraryName, EntryPoint = "clang_getSpellingLocation")]
    internal static partial void GetSpellingLocation(CXSourceLocation location, nint* file, uint* line, uint* column, uint* offset);

    [LibraryImport(LibraryName, EntryPoint = "clang_getExpansionLocation")]
    internal static partial void GetExpansionLocation(CXSourceLocation location, nint* file, uint* line, uint* column, uint* offset);

    [LibraryImport(LibraryName, EntryPoint = "clang_getFileName")]
    internal static partial CXString GetFileName(nint file);

    [LibraryImport(LibraryName, EntryPoint = "clang_getRangeStart")]
    internal static partial CXSourceLocation GetRangeStart(CXSourceRange range);

    [LibraryImport(LibraryName, EntryPoint = "clang_getRangeEnd")]
    internal static partial CXSourceLocation GetRangeEnd(CXSourceRange range);

    // Cursors
    [LibraryImport(LibraryName, EntryPoint = "clang_visitChildren")]
    internal static partial uint VisitChildren(CXCursor parent, delegate* unmanaged<CXCursor, CXCursor, nint, CXChildVisitResult> visitor, nint clientData);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCursorKind")]
    internal static partial CXCursorKind GetCursorKind(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCursorSpelling")]
    internal static partial CXString GetCursorSpelling(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCursorType")]
    internal static partial CXType GetCursorType(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCursorLocation")]
    internal static partial CXSourceLocation GetCursorLocation(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCursorExtent")]
    internal static partial CXSourceRange GetCursorExtent(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCursorDefinition")]
    internal static partial CXCursor GetCursorDefinition(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_isCursorDefinition")]
    internal static partial uint IsCursorDefinition(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCanonicalCursor")]
    internal static partial CXCursor GetCanonicalCursor(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCursorLexicalParent")]
    internal static partial CXCursor GetCursorLexicalParent(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_equalCursors")]
    internal static partial uint EqualCursors(CXCursor a, CXCursor b);

    [LibraryImport(LibraryName, EntryPoint = "clang_hashCursor")]
    internal static partial uint HashCursor(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_isNull")]
    internal static partial int CursorIsNull(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_isAnonymous")]
    internal static partial uint CursorIsAnonymous(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_isAnonymousRecordDecl")]
    internal static partial uint CursorIsAnonymousRecordDecl(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_isBitField")]
    internal static partial uint CursorIsBitField(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getFieldDeclBitWidth")]
    internal static partial int GetFieldDeclBitWidth(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_getOffsetOfField")]
    internal static partial long CursorGetOffsetOfField(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getEnumDeclIntegerType")]
    internal static partial CXType GetEnumDeclIntegerType(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getEnumConstantDeclValue")]
    internal static partial long GetEnumConstantDeclValue(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_getTypedefDeclUnderlyingType")]
    internal static partial CXType GetTypedefDeclUnderlyingType(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_isMacroFunctionLike")]
    internal static partial uint CursorIsMacroFunctionLike(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_isMacroBuiltin")]
    internal static partial uint CursorIsMacroBuiltin(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_Cursor_Evaluate")]
    internal static partial nint CursorEvaluate(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_EvalResult_getKind")]
    internal static partial CXEvalResultKind EvalResultGetKind(nint result);

    [LibraryImport(LibraryName, EntryPoint = "clang_EvalResult_getAsLongLong")]
    internal static partial long EvalResultGetAsLongLong(nint result);

    [LibraryImport(LibraryName, EntryPoint = "clang_EvalResult_isUnsignedInt")]
    internal static partial uint EvalResultIsUnsignedInt(nint result);

    [LibraryImport(LibraryName, EntryPoint = "clang_EvalResult_getAsUnsigned")]
    internal static partial ulong EvalResultGetAsUnsigned(nint result);

    [LibraryImport(LibraryName, EntryPoint = "clang_EvalResult_dispose")]
    internal static partial void EvalResultDispose(nint result);

    // Types
    [LibraryImport(LibraryName, EntryPoint = "clang_getTypeSpelling")]
    internal static partial CXString GetTypeSpelling(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_getCanonicalType")]
    internal static partial CXType GetCanonicalType(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_getPointeeType")]
    internal static partial CXType GetPointeeType(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_getArrayElementType")]
    internal static partial CXType GetArrayElementType(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_getArraySize")]
    internal static partial long GetArraySize(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_getElementType")]
    internal static partial CXType GetElementType(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_getNumElements")]
    internal static partial long GetNumElements(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_Type_getNamedType")]
    internal static partial CXType TypeGetNamedType(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_Type_getModifiedType")]
    internal static partial CXType TypeGetModifiedType(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_Type_getValueType")]
    internal static partial CXType TypeGetValueType(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_getTypeDeclaration")]
    internal static partial CXCursor GetTypeDeclaration(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_Type_getSizeOf")]
    internal static partial long TypeGetSizeOf(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_Type_getAlignOf")]
    internal static partial long TypeGetAlignOf(CXType type);

    [LibraryImport(LibraryName, EntryPoint = "clang_Type_visitFields")]
    internal static partial uint TypeVisitFields(CXType type, delegate* unmanaged<CXCursor, nint, int> visitor, nint clientData);

    // Tokens
    [LibraryImport(LibraryName, EntryPoint = "clang_tokenize")]
    internal static partial void Tokenize(nint translationUnit, CXSourceRange range, CXToken** tokens, uint* numTokens);

    [LibraryImport(LibraryName, EntryPoint = "clang_disposeTokens")]
    internal static partial void DisposeTokens(nint translationUnit, CXToken* tokens, uint numTokens);

    [LibraryImport(LibraryName, EntryPoint = "clang_getTokenKind")]
    internal static partial CXTokenKind GetTokenKind(CXToken token);

    [LibraryImport(LibraryName, EntryPoint = "clang_getTokenSpelling")]
    internal static partial CXString GetTokenSpelling(nint translationUnit, CXToken token);

    [LibraryImport(LibraryName, EntryPoint = "clang_getTokenExtent")]
    internal static partial CXSourceRange GetTokenExtent(nint translationUnit, CXToken token);
}
