namespace Portal.Headers;

/// <summary>
/// A target ABI: the clang triple and the target's own libc/kernel headers (its sysroot). Only these
/// system directories are searched, never the host's, so a mipsel manifest never sees x86 headers.
/// </summary>
public sealed class HeaderAbi
{
    /// <summary>
    /// Environment variable: the directory holding the cross sysroots (<c>&lt;root&gt;/&lt;triple&gt;/include</c>);
    /// <c>/usr</c> when unset (Debian's <c>libc6-dev-*-cross</c> packages).
    /// </summary>
    public const string CrossRootVariable = "PORTAL_HEADERS_CROSS_ROOT";

    /// <summary>Creates an ABI description.</summary>
    /// <param name="name">The ABI name used on the command line.</param>
    /// <param name="triple">The clang target triple.</param>
    /// <param name="systemIncludeDirectories">The target's system header directories, searched in this order after <c>-I</c> directories.</param>
    /// <param name="package">The Debian package that provides the system headers (for the error message when they are missing).</param>
    public HeaderAbi(string name, string triple, IReadOnlyList<string> systemIncludeDirectories, string package)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(triple);
        ArgumentNullException.ThrowIfNull(systemIncludeDirectories);
        ArgumentException.ThrowIfNullOrEmpty(package);
        Name = name;
        Triple = triple;
        SystemIncludeDirectories = systemIncludeDirectories;
        Package = package;
    }

    /// <summary>The ABI name (<c>mipsel</c>).</summary>
    public string Name { get; }

    /// <summary>The clang target triple (<c>mipsel-linux-gnu</c>).</summary>
    public string Triple { get; }

    /// <summary>The target's system header directories.</summary>
    public IReadOnlyList<string> SystemIncludeDirectories { get; }

    /// <summary>The Debian package that provides <see cref="SystemIncludeDirectories"/>.</summary>
    public string Package { get; }

    /// <summary>
    /// The supported ABI names: Portal.Runtime's <c>GuestAbi.All</c>, the one list of ABIs, in its order. The tables
    /// <c>abi-tables</c> writes are for these ABIs, and Portal.Runtime's tests compare them with GuestAbi's (AbiListTests).
    /// </summary>
    public static IReadOnlyList<string> Names { get; } = ["x86_64", "i386", "mipsel", "mips", "armel", "aarch64"];

    /// <summary>Every supported ABI, with sysroots as configured now (see <see cref="CrossRootVariable"/>).</summary>
    public static IReadOnlyList<HeaderAbi> All => [.. Names.Select(Get)];

    /// <summary>The ABI called <paramref name="name"/>; throws <see cref="HeaderArgumentException"/> listing the ABIs when there is none.</summary>
    public static HeaderAbi Get(string name)
    {
        var root = Environment.GetEnvironmentVariable(CrossRootVariable);
        if (string.IsNullOrEmpty(root))
            root = "/usr";
        HeaderAbi Cross(string triple, string package) => new(name, triple, [Path.Combine(root, triple, "include")], package);
        return name switch
        {
            "x86_64" => new HeaderAbi(name, "x86_64-linux-gnu", ["/usr/include/x86_64-linux-gnu", "/usr/include"], "libc6-dev"),
            "i386" => Cross("i686-linux-gnu", "libc6-dev-i386-cross"),
            "mipsel" => Cross("mipsel-linux-gnu", "libc6-dev-mipsel-cross"),
            "mips" => Cross("mips-linux-gnu", "libc6-dev-mips-cross"),
            "armel" => Cross("arm-linux-gnueabi", "libc6-dev-armel-cross"),
            "aarch64" => Cross("aarch64-linux-gnu", "libc6-dev-arm64-cross"),
            _ => throw new HeaderArgumentException($"unknown ABI '{name}': expected one of {string.Join(", ", Names)}"),
        };
    }

    /// <summary>Throws <see cref="HeaderToolException"/> naming the package to install when a system header directory is missing.</summary>
    public void EnsureInstalled()
    {
        foreach (var directory in SystemIncludeDirectories)
        {
            if (!Directory.Exists(directory))
                throw new HeaderToolException($"ABI {Name} needs {directory}: install {Package} (sudo scripts/setup-headers.sh)");
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
