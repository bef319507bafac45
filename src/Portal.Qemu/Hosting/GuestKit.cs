using Portal.Abi;

namespace Portal.Qemu.Hosting;

/// <summary>
/// A foreign guest's kit, as scripts/setup-guest-kits.sh leaves it in <c>&lt;kits&gt;/&lt;abi&gt;</c>: Debian's
/// kernel, headers and module tree, and a static busybox, unpacked (not installed), described by
/// <c>kit.env</c> (KEY=VALUE lines).
/// </summary>
internal static class GuestKit
{
    private static readonly string[] RequiredKeys = ["KERNEL_VERSION", "KERNEL_IMAGE", "KERNEL_HEADERS", "MODULES_ROOT", "BUSYBOX", "ARCH", "CROSS_COMPILE"];

    /// <summary>The kit's kernel, or null with what is missing added to <paramref name="missing"/>.</summary>
    public static GuestPrerequisites.GuestKernel? Load(GuestAbi abi, string kitDirectory, List<string> missing)
    {
        var file = Path.Combine(kitDirectory, abi.Name, "kit.env");
        if (!File.Exists(file))
        {
            missing.Add($"the {abi.Name} guest kit ({file}: Debian's {abi.Name} kernel, headers and busybox)");
            return null;
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(file).Where(line => line.Length > 0 && line[0] != '#' && line.Contains('=', StringComparison.Ordinal)))
        {
            var pair = line.Split('=', 2);
            values[pair[0]] = pair[1];      // as the shell that sources it: the last assignment wins
        }
        var absent = RequiredKeys.Where(key => !values.ContainsKey(key)).ToList();
        if (absent.Count > 0)
        {
            missing.Add($"a complete {abi.Name} guest kit ({file} lacks {string.Join(", ", absent)})");
            return null;
        }
        var kernel = new GuestPrerequisites.GuestKernel(values["KERNEL_VERSION"], values["KERNEL_IMAGE"], values["KERNEL_HEADERS"])
        {
            ModulesRoot = values["MODULES_ROOT"],
            Busybox = values["BUSYBOX"],
            Arch = values["ARCH"],
            CrossCompile = values["CROSS_COMPILE"],
        };
        foreach (var (what, path) in new[] { ("kernel", kernel.Image), ("busybox", kernel.Busybox), ("headers' Makefile", Path.Combine(kernel.BuildDirectory, "Makefile")),
            ("modules.dep", Path.Combine(kernel.ModulesRoot, kernel.Version, "modules.dep")) })
        {
            if (!File.Exists(path))
                missing.Add($"the {abi.Name} kit's {what} ({path})");
        }
        return kernel;
    }
}
