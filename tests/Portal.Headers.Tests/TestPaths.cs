namespace Portal.Headers.Tests;

/// <summary>Where the test inputs live: the sources (found from the test binary's directory), not copies.</summary>
internal static class TestPaths
{
    static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "samples", "Raeth", "headers", "raeth.h"))
                && Directory.Exists(Path.Combine(dir.FullName, "tests", "Portal.Headers.Tests")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"repository root not found above {AppContext.BaseDirectory}");
    });

    public static string RepositoryRoot => Root.Value;
    public static string TestProject => Path.Combine(RepositoryRoot, "tests", "Portal.Headers.Tests");
    public static string Torture => Path.Combine(TestProject, "headers", "torture.h");
    public static string Raeth => Path.Combine(RepositoryRoot, "samples", "Raeth", "headers", "raeth.h");
    public static string TruthDirectory => Path.Combine(TestProject, "truth");

    /// <summary>The built CLI (copied next to the tests by the project reference).</summary>
    public static string Tool => Path.Combine(AppContext.BaseDirectory, "portal-headers.dll");

    public static IReadOnlyList<string> Abis => HeaderAbi.Names;

    /// <summary>A fresh scratch directory (deleted by the caller's <c>using</c>).</summary>
    public static ScratchDirectory Scratch() => new();
}

internal sealed class ScratchDirectory : IDisposable
{
    public ScratchDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "portal-headers-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string contents)
    {
        var path = File(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, contents);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
