namespace Portal.Typed;

/// <summary>
/// The byte ranges of a snapshot that setters changed, kept sorted and merged, so that storing
/// writes one contiguous range per run of changes and nothing else.
/// </summary>
public sealed class ChangeSet
{
    private readonly List<(int Start, int End)> _ranges = [];

    /// <summary>True when nothing was changed since the snapshot was loaded or stored.</summary>
    public bool IsEmpty => _ranges.Count == 0;

    /// <summary>The changed ranges as (offset, length), in ascending order, non-overlapping and non-adjacent.</summary>
    public IReadOnlyList<(int Offset, int Length)> Ranges => [.. _ranges.Select(r => (r.Start, r.End - r.Start))];

    /// <summary>Marks <paramref name="length"/> bytes at <paramref name="offset"/> as changed.</summary>
    public void Add(int offset, int length)
    {
        if (length <= 0)
            return;
        var start = offset;
        var end = offset + length;
        // Merge with every range that overlaps or touches [start, end).
        var i = 0;
        while (i < _ranges.Count && _ranges[i].End < start)
            i++;
        while (i < _ranges.Count && _ranges[i].Start <= end)
        {
            start = Math.Min(start, _ranges[i].Start);
            end = Math.Max(end, _ranges[i].End);
            _ranges.RemoveAt(i);
        }
        _ranges.Insert(i, (start, end));
    }

    /// <summary>Forgets every change (after they were written).</summary>
    public void Clear() => _ranges.Clear();
}
