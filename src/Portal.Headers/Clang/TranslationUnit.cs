using System.Runtime.InteropServices;
using System.Text;

namespace Portal.Headers.Clang;

/// <summary>A parsed translation unit and the index that owns it; disposing frees both.</summary>
internal sealed unsafe class TranslationUnit : IDisposable
{
    nint _index;
    nint _unit;

    TranslationUnit(nint index, nint unit)
    {
        _index = index;
        _unit = unit;
    }

    internal nint Handle => _unit != 0 ? _unit : throw new ObjectDisposedException(nameof(TranslationUnit));

    /// <summary>
    /// Parses <paramref name="path"/> with the given clang command line. <paramref name="unsaved"/> supplies in-memory
    /// files (path → contents). Diagnostics do not throw: read them with <see cref="Diagnostics"/>.
    /// </summary>
    public static TranslationUnit Parse(string path, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? unsaved = null)
    {
        LibClang.EnsureLoaded();
        var allocations = new List<nint>();
        nint Utf8(string s)
        {
            var p = Marshal.StringToCoTaskMemUTF8(s);
            allocations.Add(p);
            return p;
        }
        var index = NativeMethods.CreateIndex(0, 0);
        try
        {
            var argv = new byte*[arguments.Count];
            for (var i = 0; i < arguments.Count; i++)
                argv[i] = (byte*)Utf8(arguments[i]);
            var files = new CXUnsavedFile[unsaved?.Count ?? 0];
            var n = 0;
            foreach (var (name, contents) in unsaved ?? new Dictionary<string, string>())
            {
                files[n++] = new CXUnsavedFile
                {
                    Filename = Utf8(name),
                    Contents = Utf8(contents),
                    Length = (nuint)Encoding.UTF8.GetByteCount(contents),
                };
            }
            nint unit = 0;
            CXErrorCode error;
            fixed (byte** args = argv)
            fixed (CXUnsavedFile* unsavedFiles = files)
            {
                error = NativeMethods.ParseTranslationUnit2(index, (byte*)Utf8(path), args, argv.Length, unsavedFiles, (uint)files.Length,
                    CXTranslationUnitFlags.DetailedPreprocessingRecord | CXTranslationUnitFlags.SkipFunctionBodies | CXTranslationUnitFlags.KeepGoing,
                    &unit);
            }
            if (error == CXErrorCode.Crashed)
                throw new ClangCrashedException(path);
            if (error != CXErrorCode.Success || unit == 0)
                throw new HeaderToolException($"libclang could not parse {path} ({error})");
            var result = new TranslationUnit(index, unit);
            index = 0;
            return result;
        }
        finally
        {
            if (index != 0)
                NativeMethods.DisposeIndex(index);
            foreach (var p in allocations)
                Marshal.FreeCoTaskMem(p);
        }
    }

    public Cursor Root => new(NativeMethods.GetTranslationUnitCursor(Handle), this);

    /// <summary>Every diagnostic of the translation unit, in clang's order.</summary>
    public IReadOnlyList<ClangDiagnostic> Diagnostics()
    {
        var count = NativeMethods.GetNumDiagnostics(Handle);
        var list = new List<ClangDiagnostic>((int)count);
        for (uint i = 0; i < count; i++)
        {
            var d = NativeMethods.GetDiagnostic(Handle, i);
            try
            {
                var location = SourcePosition.Of(NativeMethods.GetDiagnosticLocation(d), expansion: true);
                list.Add(new ClangDiagnostic(NativeMethods.GetDiagnosticSeverity(d), location,
                    LibClang.ToManaged(NativeMethods.GetDiagnosticSpelling(d))));
            }
            finally
            {
                NativeMethods.DisposeDiagnostic(d);
            }
        }
        return list;
    }

    /// <summary>
    /// The error and fatal diagnostics whose location <paramref name="include"/> accepts (all when null): the first
    /// <paramref name="max"/> in full and how many there are. Only those kept have their message fetched, so a
    /// binary file's tens of thousands of errors cost a count, not a list.
    /// </summary>
    public (IReadOnlyList<ClangDiagnostic> First, int Count) Errors(int max, Func<SourcePosition, bool>? include = null)
    {
        var count = NativeMethods.GetNumDiagnostics(Handle);
        var first = new List<ClangDiagnostic>();
        var total = 0;
        for (uint i = 0; i < count; i++)
        {
            var d = NativeMethods.GetDiagnostic(Handle, i);
            try
            {
                var severity = NativeMethods.GetDiagnosticSeverity(d);
                if (severity < CXDiagnosticSeverity.Error)
                    continue;
                var location = SourcePosition.Of(NativeMethods.GetDiagnosticLocation(d), expansion: true);
                if (include is not null && !include(location))
                    continue;
                total++;
                if (first.Count < max)
                    first.Add(new ClangDiagnostic(severity, location, LibClang.ToManaged(NativeMethods.GetDiagnosticSpelling(d))));
            }
            finally
            {
                NativeMethods.DisposeDiagnostic(d);
            }
        }
        return (first, total);
    }

    /// <summary>The tokens of a source range (for macro definitions: the name and the body).</summary>
    public IReadOnlyList<Token> Tokenize(CXSourceRange range)
    {
        CXToken* tokens = null;
        uint count = 0;
        NativeMethods.Tokenize(Handle, range, &tokens, &count);
        try
        {
            var list = new List<Token>((int)count);
            for (var i = 0; i < count; i++)
            {
                var extent = NativeMethods.GetTokenExtent(Handle, tokens[i]);
                list.Add(new Token(NativeMethods.GetTokenKind(tokens[i]),
                    LibClang.ToManaged(NativeMethods.GetTokenSpelling(Handle, tokens[i])),
                    SourcePosition.Of(NativeMethods.GetRangeStart(extent), expansion: false),
                    SourcePosition.Of(NativeMethods.GetRangeEnd(extent), expansion: false)));
            }
            return list;
        }
        finally
        {
            if (tokens is not null)
                NativeMethods.DisposeTokens(Handle, tokens, count);
        }
    }

    public void Dispose()
    {
        if (_unit != 0)
        {
            NativeMethods.DisposeTranslationUnit(_unit);
            _unit = 0;
        }
        if (_index != 0)
        {
            NativeMethods.DisposeIndex(_index);
            _index = 0;
        }
    }
}

/// <summary>A position in a source file (file is empty for built-in and command-line locations).</summary>
internal readonly record struct SourcePosition(string File, uint Line, uint Column, uint Offset)
{
    public static unsafe SourcePosition Of(CXSourceLocation location, bool expansion)
    {
        nint file;
        uint line, column, offset;
        if (expansion)
            NativeMethods.GetExpansionLocation(location, &file, &line, &column, &offset);
        else
            NativeMethods.GetSpellingLocation(location, &file, &line, &column, &offset);
        var name = file == 0 ? "" : LibClang.ToManaged(NativeMethods.GetFileName(file));
        return new SourcePosition(name, line, column, offset);
    }

    public override string ToString() => $"{File}:{Line}:{Column}";
}

internal readonly record struct ClangDiagnostic(CXDiagnosticSeverity Severity, SourcePosition Location, string Message)
{
    public bool IsError => Severity >= CXDiagnosticSeverity.Error;
}

internal readonly record struct Token(CXTokenKind Kind, string Spelling, SourcePosition Start, SourcePosition End);

/// <summary>
/// libclang's crash recovery caught a crash while parsing: usually an allocation that failed at the
/// worker's memory limit (LLVM prints "out of memory" on stderr before aborting).
/// </summary>
internal sealed class ClangCrashedException(string path) : HeaderToolException($"libclang crashed parsing {path}");
