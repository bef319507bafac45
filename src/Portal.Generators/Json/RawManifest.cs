using System.Collections.Generic;

namespace Portal.Generators.Json;

/// <summary>One ABI's view of a header, as the manifest describes it (docs/layout-manifest.md).</summary>
internal sealed class AbiManifest
{
    public string Abi = "";
    public int PointerSize;
    public bool BigEndian;
    public List<RawRecord> Records = [];
    public List<RawEnum> Enums = [];
    public List<RawConstant> Constants = [];
    public List<RawAlias> Aliases = [];
}

internal sealed class RawRecord
{
    public string Name = "";
    public bool IsUnion;
    public int Size;
    public int Align;
    public bool Incomplete;
    public List<RawField> Fields = [];
}

internal sealed class RawField
{
    public string Name = "";
    public int Offset;
    public int Size;
    public RawType Type = new();
    public int? BitOffset;
    public int? BitWidth;
    public List<RawField>? Fields;
}

/// <summary>A type's <c>kind</c> in the manifest (docs/layout-manifest.md, "type"); <see cref="ManifestReader"/> is the one place that reads the strings.</summary>
internal enum ManifestTypeKind
{
    /// <summary>A kind this reader does not know (from a newer writer): members of it are skipped with PTL0003, as <see cref="Void"/> ones are.</summary>
    Unknown,
    Void,
    Bool,
    Char,
    Int,
    Float,
    Pointer,
    Array,
    Record,
    Enum,
    Function,
}

internal sealed class RawType
{
    public ManifestTypeKind Kind;
    /// <summary>The kind as the manifest spells it, for messages only (an <see cref="ManifestTypeKind.Unknown"/> kind keeps its text).</summary>
    public string KindName = "";
    public string Spelling = "";
    public int? Size;
    public bool? Signed;
    public RawType? Element;
    public int? Length;
    public RawType? Pointee;
    public string? Record;
    public string? Enum;
}

internal sealed class RawEnum
{
    public string Name = "";
    public int Size;
    public bool Signed;
    public List<(string Name, long Value)> Values = [];
}

internal sealed class RawConstant
{
    public string Name = "";
    public long Value;
    public bool Unsigned;
    public string Expression = "";
}

internal sealed class RawAlias
{
    public string Name = "";
    public string Record = "";
    public string Path = "";
}
