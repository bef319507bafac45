using Portal.Headers.Clang;

namespace Portal.Headers;

/// <summary>
/// Checks what parsing headers needs on this machine (libclang, its builtin headers, each ABI's
/// sysroot) without parsing anything, so a set-up command can report every missing piece at once.
/// </summary>
public static class HeaderToolchain
{
    /// <summary>One message per missing piece, each naming what to install; empty when everything is there.</summary>
    /// <param name="abis">The ABIs to check (every supported ABI when null).</param>
    public static IReadOnlyList<string> FindProblems(IEnumerable<string>? abis = null)
    {
        var problems = new List<string>();
        if (LibClang.FindLoadProblem() is { } libclang)
            problems.Add(libclang);
        Check(problems, () => LibClang.ResourceDirectory());
        foreach (var name in abis ?? HeaderAbi.Names)
            Check(problems, () => HeaderAbi.Get(name).EnsureInstalled());
        return problems;
    }

    private static void Check(List<string> problems, Action check)
    {
        try
        {
            check();
        }
        catch (HeaderToolException e)
        {
            problems.Add(e.Message);
        }
    }
}
