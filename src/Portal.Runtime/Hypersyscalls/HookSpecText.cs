using System.Globalization;
using System.Text;

namespace Portal.Hypersyscalls;

/// <summary>
/// Says what a hook selects in one line, filters included, for logs and the <c>portal</c> command line:
/// "ioctl Return where arg1 == 0x89f1 and comm is 'mtk7530_switch'". Kept apart from <see cref="HookSpec"/>
/// so the filters' own wording stays in <see cref="ArgFilter.ToString"/>.
/// </summary>
public static class HookSpecText
{
    /// <summary>The syscall and phase, then each filter the guest evaluates ("every call" when there is none).</summary>
    public static string Describe(HookSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var filters = new List<string>();
        foreach (var (index, filter) in spec.ArgFilters)
            filters.Add(string.Create(CultureInfo.InvariantCulture, $"arg{index} {filter}"));
        if (spec.RetvalFilter is { } retval)
            filters.Add($"retval {retval}");
        if (spec.Comm is not null)
            filters.Add($"comm is '{spec.Comm}'");
        if (spec.Pid is { } pid)
            filters.Add(string.Create(CultureInfo.InvariantCulture, $"pid is {pid}"));
        var text = new StringBuilder($"{spec.Syscall} {spec.Phase}");
        text.Append(filters.Count == 0 ? ", every call" : " where " + string.Join(" and ", filters));
        return text.ToString();
    }
}
