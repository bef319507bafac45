using System.Diagnostics;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Qemu.Hosting;

namespace Portal.Qemu.Tests;

/// <summary>Builds a test-only kernel module from GuestModules/&lt;name&gt; against the guest kernel's headers.</summary>
internal static class GuestModules
{
    /// <summary>Builds <c>name.ko</c> in a scratch directory (under the test run's directory) and returns its path.</summary>
    public static async Task<string> BuildAsync(string name, string scratchRoot, CancellationToken cancellationToken)
    {
        var kernel = GuestPrerequisites.Check();
        var source = Path.Combine(AppContext.BaseDirectory, "GuestModules", name);
        var build = Path.Combine(scratchRoot, $"module-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(build);
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(build, Path.GetFileName(file)));
        using var make = Process.Start(new ProcessStartInfo("make", ["-s", "-C", kernel.BuildDirectory, $"M={build}", "modules"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = make.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = make.StandardError.ReadToEndAsync(cancellationToken);
        await make.WaitForExitAsync(cancellationToken);
        var module = Path.Combine(build, name + ".ko");
        Assert.IsTrue(make.ExitCode == 0 && File.Exists(module), $"building {name}.ko failed:\n{await output}\n{await errors}");
        return module;
    }
}
