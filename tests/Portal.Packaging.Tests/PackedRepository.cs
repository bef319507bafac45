using System.IO.Compression;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Packaging.Tests;

/// <summary>
/// The repository's packages as a user gets them (docs/packaging.md): <c>dotnet pack</c> of the solution into a feed
/// folder, in a temporary directory outside the repository that also holds the fresh projects a test makes against
/// that feed. Disposing deletes the directory.
/// </summary>
/// <remarks>
/// Nothing stale can satisfy a fresh project: the packages get a version made for this run, and the projects restore
/// into a packages folder of their own (so the user's global NuGet cache is not touched either).
/// </remarks>
internal sealed class PackedRepository : IDisposable
{
    private PackedRepository(string work) => Work = work;

    /// <summary>The temporary directory everything lives in.</summary>
    public string Work { get; }

    /// <summary>The folder the packages are packed into: the fresh projects' package source.</summary>
    public string Feed => Path.Combine(Work, "feed");

    /// <summary>Where the fresh projects restore to (NUGET_PACKAGES): this run's, not the machine's.</summary>
    public string Packages => Path.Combine(Work, "packages");

    /// <summary>The version every package got: the repository's, with a prerelease suffix unique to this run.</summary>
    public string Version { get; private set; } = "";

    /// <summary>The repository this test was built from.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The configuration this test was built in: the one whose build output it packs.</summary>
    private static string Configuration => typeof(PackedRepository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "PortalConfiguration").Value!;

    /// <summary>
    /// Packs the solution as docs/packaging.md says, but from this configuration's build output (built before the
    /// test: see the csproj), and with the nuspec files written here rather than into the projects' obj/.
    /// </summary>
    public static async Task<PackedRepository> PackAsync(DotnetCli dotnet)
    {
        // Prerelease labels are letters, digits and dots.
        var suffix = $"test{DateTime.UtcNow:yyyyMMddHHmmss}{Guid.NewGuid():N}"[..28];
        var work = Directory.CreateTempSubdirectory("portal-package-").FullName;
        var packed = new PackedRepository(work);
        try
        {
            var pack = await dotnet.RunAsync(RepositoryRoot, null, "pack", Path.Combine(RepositoryRoot, "Portal.sln"), "-c", Configuration, "--no-build",
                "-o", packed.Feed, $"-p:VersionSuffix={suffix}", $"-p:NuspecOutputPath={Path.Combine(work, "nuspec")}/");
            Assert.AreEqual(0, pack.ExitCode, DotnetCli.Tail(pack.Output));
            packed.Version = packed.PackageAt("Portal").Version;
            StringAssert.EndsWith(packed.Version, "-" + suffix);
            return packed;
        }
        catch
        {
            packed.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A folder for a fresh project, under <see cref="Work"/>: MSBuild's search upwards stops there, and NuGet finds
    /// the feed through its nuget.config.
    /// </summary>
    public async Task<string> CreateProjectFolderAsync(string name, DotnetCli dotnet, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Work, name);
        Directory.CreateDirectory(folder);
        // The empty Directory.* files stop MSBuild's search upwards, so nothing from an enclosing folder (like the
        // repository's central package versions) applies.
        foreach (var file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
            await File.WriteAllTextAsync(Path.Combine(folder, file), "<Project />", cancellationToken).ConfigureAwait(false);
        // The machine's NuGet configuration still applies (its sources, for Microsoft.Extensions.Logging.Abstractions):
        // the local feed is added to them, not put in their place. The global packages folder is a fallback, read-only:
        // packages the machine already has are not fetched again, and this run's Portal version cannot be in it.
        await File.WriteAllTextAsync(Path.Combine(folder, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="portal-packaging-test" value="{Feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine" value="{await dotnet.GlobalPackagesFolderAsync().ConfigureAwait(false)}" />
              </fallbackPackageFolders>
            </configuration>
            """, cancellationToken).ConfigureAwait(false);
        return folder;
    }

    /// <summary>Installs the portal tool from the feed as a user installs it (into a tool folder of this run); returns its path.</summary>
    public async Task<string> InstallPortalToolAsync(DotnetCli dotnet, string directory)
    {
        var tools = Path.Combine(Work, "tools");
        var install = await dotnet.RunAsync(directory, Packages, "tool", "install", "--tool-path", tools, "--add-source", Feed, "--version", Version, "Portal.Cli")
            .ConfigureAwait(false);
        Assert.AreEqual(0, install.ExitCode, install.Output);
        return Path.Combine(tools, "portal");
    }

    /// <summary>The one package with this id in the feed (its file name is id.version.nupkg; Portal.Testing's also starts with "Portal.").</summary>
    public Package PackageAt(string id)
    {
        var matches = PackagesInFeed().Where(p => p.Id == id).ToList();
        Assert.HasCount(1, matches, $"one {id} package in {Feed}: {string.Join(", ", Directory.GetFiles(Feed).Select(Path.GetFileName))}");
        return matches[0];
    }

    /// <summary>Every package in the feed.</summary>
    public IReadOnlyList<Package> PackagesInFeed() => [.. Directory.GetFiles(Feed, "*.nupkg").Select(ReadPackage)];

    public void Dispose() => Directory.Delete(Work, recursive: true);

    /// <summary>A nupkg is a zip with the nuspec at its root: id, version, dependencies, and the list of files.</summary>
    private static Package ReadPackage(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var nuspecEntry = zip.Entries.Single(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = nuspecEntry.Open();
        var metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Value(string name) => metadata.Elements().Single(e => e.Name.LocalName == name).Value;
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
        var packageTypes = metadata.Descendants().Where(e => e.Name.LocalName == "packageType").Select(e => e.Attribute("name")!.Value).ToList();
        return new Package(path, Value("id"), Value("version"), dependencies, packageTypes, zip.Entries.Select(e => e.FullName).ToList());
    }

    private static string FindRepositoryRoot([CallerFilePath] string file = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, "../.."));
}

/// <summary>A package in the feed: its file, what its nuspec says, and the files it holds.</summary>
internal sealed record Package(string Path, string Id, string Version, IReadOnlyDictionary<string, string> Dependencies, IReadOnlyList<string> PackageTypes,
    IReadOnlyList<string> Entries);
