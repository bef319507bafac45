using System.CommandLine;
using Portal.Cli.Running;
using Portal.Cli.Terminal;
using Portal.Qemu;
using Portal.Qemu.Hosting;
using Portal.Qemu.Image;

namespace Portal.Cli.Commands;

/// <summary>
/// <c>portal guest build [--abi A] [--kernel-version V] [--file host:/guest/path]… [--out dir] [-v]</c>: builds the
/// guest image (portal.ko, the guest programs, the initramfs) into the cache, as booting does, and prints where the
/// kernel and the initramfs are (copied into <c>--out</c> when given), as KEY=value lines on stdout (the format of
/// the guest kits' kit.env). Exits 0; <see cref="ExitCodes.Usage"/> when <c>--out</c> cannot be written;
/// <see cref="ExitCodes.Unavailable"/> when a prerequisite is missing; <see cref="ExitCodes.GuestFailure"/> when the build fails.
/// </summary>
internal static class GuestBuildCommand
{
    public static Command Create(CliConsole console)
    {
        var image = new GuestImageOptions();
        var output = new Option<string>("--out")
        {
            Description = "Copy the kernel and the initramfs into this directory (made if needed) instead of pointing into the cache.",
            HelpName = "dir",
        };
        var build = new Command("build", "Build the guest image (cached, as booting does) and print the paths of its kernel and initramfs.");
        foreach (var option in image.All.Append(output))
            build.Options.Add(option);
        build.SetAction(async (parse, cancellationToken) =>
        {
            GuestImageOptions.Choice choice;
            try
            {
                choice = image.Read(parse);
            }
            catch (ArgumentException e)
            {
                console.Fail(e.Message);
                return ExitCodes.Usage;
            }
            return await BuildAsync(console, choice, parse.GetValue(output), parse.GetValue(image.Verbose), cancellationToken).ConfigureAwait(false);
        });
        return build;
    }

    private static async Task<int> BuildAsync(CliConsole console, GuestImageOptions.Choice choice, string? outputDirectory, bool verbose,
        CancellationToken cancellationToken)
    {
        using var loggerFactory = GuestSteps.CreateLoggerFactory(console, verbose);
        var options = new QemuGuestOptions { Abi = choice.Abi, KernelVersion = choice.KernelVersion, Files = choice.Files, LoggerFactory = loggerFactory };
        GuestImage image;
        try
        {
            image = await console.StepAsync($"Building the {choice.Abi.Name} guest image (portal.ko, the guest programs, the initramfs)",
                () => QemuGuest.PrepareImageAsync(options, cancellationToken)).ConfigureAwait(false);
        }
        catch (GuestPrerequisiteException e)
        {
            console.Fail($"{e.Message} (or run: sudo portal setup)");
            return ExitCodes.Unavailable;
        }
        catch (Exception e) when (e is GuestBuildException or FileNotFoundException)
        {
            console.Fail(e.Message);
            return ExitCodes.GuestFailure;
        }
        console.Say($"ok    {choice.Abi.Name} guest image for kernel {image.KernelVersion}{(image.FromCache ? " (cached)" : " (built)")}");
        var (kernel, initramfs) = (image.Kernel, image.Initramfs);
        if (outputDirectory is not null)
        {
            try
            {
                Directory.CreateDirectory(outputDirectory);
                kernel = CopyInto(outputDirectory, kernel, Path.GetFileName(kernel));
                initramfs = CopyInto(outputDirectory, initramfs, "initramfs.cpio.gz");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                console.Fail($"--out {outputDirectory}: cannot write there: {e.Message}");
                return ExitCodes.Usage;
            }
        }
        console.Out.WriteLine($"KERNEL_VERSION={image.KernelVersion}");
        console.Out.WriteLine($"KERNEL={kernel}");
        console.Out.WriteLine($"INITRAMFS={initramfs}");
        return ExitCodes.Success;
    }

    private static string CopyInto(string directory, string file, string name)
    {
        var copy = Path.GetFullPath(Path.Combine(directory, name));
        File.Copy(file, copy, overwrite: true);
        return copy;
    }
}
