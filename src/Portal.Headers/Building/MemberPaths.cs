using Portal.Headers.Clang;

namespace Portal.Headers.Building;

/// <summary>Finds the record a member path (<c>ifr_ifru.ifru_data</c>, from <c>#define ifr_data ifr_ifru.ifru_data</c>) starts at.</summary>
internal sealed class MemberPaths
{
    // The records a path may start at, in the order tried: the listed ones first, each group in declaration order.
    readonly List<RecordDeclaration> _candidates;

    /// <summary>Takes which records are listed now: resolve before listing the records found.</summary>
    public MemberPaths(DeclarationIndex declarations, ListedDeclarations listed)
        => _candidates = [.. declarations.Records.Where(r => r.Name is not null && r.Definition is not null)
            .OrderBy(r => listed.IsListed(r) ? 0 : 1).ThenBy(r => r.Order)];

    /// <summary>The first record where the whole path resolves; null if none.</summary>
    public RecordDeclaration? Resolve(IReadOnlyList<string> path) => _candidates.FirstOrDefault(r => Resolves(r.Definition!.Value.Type, path, 0));

    static bool Resolves(ClangType recordType, IReadOnlyList<string> path, int index)
    {
        foreach (var field in recordType.Fields())
        {
            var name = field.Spelling;
            var type = field.Type.Desugared();
            while (type.Kind == CXTypeKind.Typedef)
                type = type.Declaration.TypedefUnderlyingType.Desugared();
            if (name.Length == 0)
            {
                // C11 anonymous member: its fields are the record's own.
                if (type.Kind == CXTypeKind.Record && Resolves(type, path, index))
                    return true;
                continue;
            }
            if (name != path[index])
                continue;
            if (index == path.Count - 1)
                return true;
            return type.Kind == CXTypeKind.Record && Resolves(type, path, index + 1);
        }
        return false;
    }
}
