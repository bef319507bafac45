using Portal.Abi;

namespace Portal.Hypersyscalls;

/// <summary>
/// Finds filters of one hook that can never all hold (ANDed), so the hook would silently never fire:
/// e.g. two <c>[Arg(1, Is = …)]</c> with different values. Reports only what it can prove: equalities
/// and sets against every other filter on the argument, empty range intersections, a bit both
/// required and forbidden, two memory equalities on overlapping bytes that differ, and a scope that
/// keeps and excludes one subtree or whose process sets have no pid in common outside the excluded subtrees.
/// </summary>
internal static class FilterContradictions
{
    public static IEnumerable<string> Find(HookSpec spec, GuestAbi abi)
    {
        foreach (var group in spec.ArgFilters.GroupBy(f => f.Index))
        {
            var filters = group.Select(f => AsGuestSees(f.Filter, abi)).ToList();
            if (Contradiction(filters, abi) is { } why)
                yield return $"the filters on argument {group.Key} ({string.Join(" and ", group.Select(f => f.Filter))}) can never all hold: {why}";
        }
        foreach (var group in spec.MemoryFilters.GroupBy(f => (f.Index, f.Filter.PointerOffset)))
        {
            var equalities = group.Where(f => f.Filter.Kind == MemoryFilterKind.Equal).Select(f => f.Filter).ToList();
            for (var i = 0; i < equalities.Count; i++)
                for (var j = i + 1; j < equalities.Count; j++)
                    if (Disagree(equalities[i], equalities[j]))
                        yield return $"the memory filters {equalities[i].Describe(group.Key.Index)} and {equalities[j].Describe(group.Key.Index)} want different bytes at the same place";
        }
        if (spec.Scope is { } scope && EmptyScope(scope) is { } empty)
            yield return $"the scope ({scope}) holds no process: {empty}";
    }

    /// <summary>
    /// Why no process can be in the scope, when that follows from the pids alone (the process tree is
    /// the guest's): a subtree both kept and excluded, or process sets that leave no pid outside the
    /// excluded subtrees (an excluded subtree holds its root).
    /// </summary>
    private static string? EmptyScope(GuestScope scope)
    {
        var excluded = scope.Filters.Where(f => f.Kind == ScopeFilterKind.NotSubtree).Select(f => f.Root).ToHashSet();
        if (scope.Filters.FirstOrDefault(f => f.Kind == ScopeFilterKind.Subtree && excluded.Contains(f.Root)) is { } both)
            return $"it keeps and excludes the subtree of {both.Root}";
        var sets = scope.Filters.Where(f => f.Kind == ScopeFilterKind.Processes).ToList();
        if (sets.Count == 0)
            return null;
        var candidates = sets.Skip(1).Aggregate(sets[0].Pids.ToHashSet(), (common, set) => { common.IntersectWith(set.Pids); return common; });
        candidates.ExceptWith(excluded);
        return candidates.Count == 0
            ? sets.Count == 1 ? "every pid of its set is excluded" : "no pid is in every set and outside the excluded subtrees"
            : null;
    }

    /// <summary>The filter with its operands as the guest compares them (register width).</summary>
    private static ArgFilter AsGuestSees(ArgFilter filter, GuestAbi abi) =>
        new ArgFilter(filter.Kind, HookSpec.ToRegister(filter.A, filter.Kind, abi) ?? filter.A, HookSpec.ToRegister(filter.B, filter.Kind, abi) ?? filter.B)
        {
            Values = [.. filter.Values.Select(v => HookSpec.ToRegister(v, filter.Kind, abi) ?? v)],
        };

    private static string? Contradiction(List<ArgFilter> filters, GuestAbi abi)
    {
        // A value that passes must be one of an equality's or a set's values: try each.
        if (filters.FirstOrDefault(f => f.Kind is ArgFilterKind.Equal or ArgFilterKind.OneOf) is { Kind: not 0 } pinned)
        {
            var candidates = pinned.Kind == ArgFilterKind.Equal ? [pinned.A] : pinned.Values.ToArray();
            return candidates.Any(v => filters.All(f => f.Matches(v, abi.SignExtendRegister(v)))) ? null : "no value passes them all";
        }
        var unsigned = filters.Where(f => f.Kind == ArgFilterKind.Range).ToList();
        if (unsigned.Count > 0 && unsigned.Max(f => f.A) > unsigned.Min(f => f.B))
            return "the ranges do not overlap";
        var signed = filters.Where(f => f.Kind == ArgFilterKind.SignedRange).ToList();
        if (signed.Count > 0 && signed.Max(f => (long)f.A) > signed.Min(f => (long)f.B))
            return "the signed ranges do not overlap";
        var required = filters.Where(f => f.Kind == ArgFilterKind.MaskSet).Aggregate(0UL, (m, f) => m | f.A);
        var forbidden = filters.Where(f => f.Kind == ArgFilterKind.MaskClear).Aggregate(0UL, (m, f) => m | f.A);
        if ((required & forbidden) != 0)
            return $"bits 0x{required & forbidden:x} are both required and forbidden";
        return null;
    }

    private static bool Disagree(MemoryFilter first, MemoryFilter second)
    {
        var start = Math.Max(first.Offset, second.Offset);
        var end = Math.Min(first.Offset + first.Pattern.Length, second.Offset + second.Pattern.Length);
        for (var at = start; at < end; at++)
            if (first.Pattern[at - first.Offset] != second.Pattern[at - second.Offset])
                return true;
        return false;
    }
}
