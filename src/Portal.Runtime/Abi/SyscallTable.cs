using System.Collections.Frozen;

namespace Portal.Abi;

/// <summary>Syscall names and numbers of one ABI (from its <c>asm/unistd.h</c>).</summary>
public sealed class SyscallTable
{
    private readonly GuestAbi _abi;
    private readonly FrozenDictionary<string, int> _byName;
    private readonly FrozenDictionary<int, string> _byNumber;

    internal SyscallTable(GuestAbi abi, (string Name, int Number)[] entries)
    {
        _abi = abi;
        _byName = entries.ToFrozenDictionary(e => e.Name, e => e.Number, StringComparer.Ordinal);
        var byNumber = new Dictionary<int, string>();
        foreach (var (name, number) in entries)
            byNumber.TryAdd(number, name);
        _byNumber = byNumber.ToFrozenDictionary();
    }

    /// <summary>Every syscall name of the ABI.</summary>
    public IEnumerable<string> Names => _byName.Keys;

    /// <summary>The number of a syscall.</summary>
    /// <exception cref="ArgumentException">The ABI has no syscall of that name; the message suggests close names.</exception>
    public int GetNumber(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out var number)
            ? number
            : throw new ArgumentException(DescribeUnknown(name), nameof(name));
    }

    /// <summary>Says that a name is unknown and suggests close names.</summary>
    internal string DescribeUnknown(string name)
    {
        var suggestions = _byName.Keys
            .Select(candidate => (candidate, distance: EditDistance(name, candidate)))
            .Where(c => c.distance <= 2)
            .OrderBy(c => c.distance).ThenBy(c => c.candidate, StringComparer.Ordinal)
            .Take(3).Select(c => c.candidate).ToList();
        // In parentheses: callers end their sentence after it ("... (did you mean ioctl?)."), never after a question mark.
        var hint = suggestions.Count > 0 ? $" (did you mean {string.Join(", ", suggestions)}?)" : "";
        return $"The {_abi.Name} ABI has no syscall named '{name}'{hint}";
    }

    /// <summary>Looks up the number of a syscall.</summary>
    public bool TryGetNumber(string name, out int number) => _byName.TryGetValue(name, out number);

    /// <summary>The name of a syscall number, or null when the ABI has none.</summary>
    public string? GetName(long number) =>
        number is >= int.MinValue and <= int.MaxValue && _byNumber.TryGetValue((int)number, out var name) ? name : null;

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
            previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j] + 1, current[j - 1] + 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
