using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using System.Globalization;
using Portal.Qemu.Firmware;
using Portal.Qemu.Hosting;
using Portal.Qemu.Machines;

namespace Portal.Qemu.Image;

/// <summary>
/// Builds the guest from the sources shipped with this library (guest/): portal.ko against the guest
/// kernel's headers, the static test programs, vmlinux extracted from the bzImage, and the
/// initramfs. Results are cached by a hash of everything that goes in, so a second boot builds nothing.
/// </summary>
internal static partial class GuestImageBuilder
{
    /// <summary>Bumped when the build recipe changes, so old cache entries are not reused.</summary>
    private const string RecipeVersion = "3";       // 2: virtio-serial modules for the agent; 3: per-architecture guests

    /// <summary>
    /// Where Portal's own files go in the guest: the test guest's busybox initramfs (its /init), or out of
    /// a firmware's way under /.portal (<c>rdinit=/.portal/init</c>), the firmware being the rest of the tree.
    /// </summary>
    private sealed record Layout(string InitSource, string Init, string Busybox, string Modules, string Programs, string Scripts, string[] Directories)
    {
        public static readonly Layout TestGuest = new("init", "/init", "/bin/busybox", "/lib/modules", "/usr/bin", "/lib/portal",
            ["/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/dev", "/proc", "/sys", "/tmp", "/run", "/lib", "/lib/portal", "/lib/modules", "/lib/modules/virtio"]);

        public static readonly Layout Firmware = new("firmware-init", FirmwareInit, "/.portal/bin/busybox", "/.portal/modules", "/.portal/bin", "/.portal",
            ["/dev", "/.portal", "/.portal/bin", "/.portal/modules", "/.portal/modules/virtio"]);
    }

    /// <summary>The firmware pre-init's path in the guest (the kernel's <c>rdinit=</c>).</summary>
    public const string FirmwareInit = "/.portal/init";

    /// <summary>
    /// Bound on the compressed initramfs: QEMU loads it into the RAM between the window and 256 MiB
    /// (about 63 MiB on Malta; the others place it similarly), where it must fit whole.
    /// </summary>
    public const long MaxInitramfsBytes = 56L << 20;

    public static async Task<GuestImage> BuildAsync(GuestMachine machine, GuestPrerequisites.GuestKernel kernel, IReadOnlyList<GuestFile> files,
        FirmwareRootfs? firmware, string cacheRoot, ILogger logger, CancellationToken cancellationToken)
    {
        var sources = LocateSources();
        var busybox = kernel.Busybox;
        var agentModules = AgentModules(kernel.Version, kernel.ModulesRoot);
        var baseKey = Hash(hash =>
        {
            hash.Add(RecipeVersion);
            hash.Add(machine.Abi.Name);
            hash.Add(kernel.Version);
            hash.Add(kernel.CrossCompile);
            var image = new FileInfo(kernel.Image);
            hash.Add($"{image.Length}:{image.LastWriteTimeUtc.Ticks}");
            foreach (var module in agentModules)
                hash.AddFile(module);
            hash.AddFile(busybox);
            foreach (var file in Directory.GetFiles(sources, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                hash.Add(Path.GetRelativePath(sources, file));
                hash.AddFile(file);
            }
        });
        var baseDirectory = Path.Combine(cacheRoot, $"guest-{kernel.Version}-{baseKey}");
        var fromCache = File.Exists(Path.Combine(baseDirectory, "complete"));
        if (!fromCache)
        {
            await BuildBaseAsync(machine, kernel, sources, baseDirectory, logger, cancellationToken).ConfigureAwait(false);
            PruneCache(cacheRoot, keep: baseDirectory, logger);
        }
        Directory.SetLastWriteTimeUtc(baseDirectory, DateTime.UtcNow);     // most recently used, for pruning

        var imageKey = Hash(hash =>
        {
            hash.Add(baseKey);
            foreach (var file in files.OrderBy(f => f.GuestPath, StringComparer.Ordinal))
            {
                hash.Add(file.GuestPath);
                hash.AddFile(file.HostPath);
            }
            hash.Add(firmware?.ContentHash ?? "");
        });
        var initramfs = Path.Combine(baseDirectory, $"initramfs-{imageKey}.cpio.gz");
        if (!File.Exists(initramfs))
        {
            fromCache = false;
            WriteInitramfs(sources, baseDirectory, busybox, agentModules, files, firmware, initramfs);
            PruneInitramfses(baseDirectory, keep: initramfs);
        }
        File.SetLastWriteTimeUtc(initramfs, DateTime.UtcNow);
        var vmlinux = Path.Combine(baseDirectory, "vmlinux");
        return new GuestImage(File.Exists(vmlinux) ? vmlinux : kernel.Image, initramfs, kernel.Version, fromCache);
    }

    /// <summary>Guests kept in the cache besides the one in use (about 70 MiB each).</summary>
    private const int CachedGuests = 3;

    /// <summary>Removes all but the most recently used cached guests (another process may use one: it keeps its open files).</summary>
    private static void PruneCache(string cacheRoot, string keep, ILogger logger)
    {
        var stale = new DirectoryInfo(cacheRoot).GetDirectories("guest-*")
            .Where(d => d.FullName != keep && !d.Name.Contains(".building-", StringComparison.Ordinal))
            .OrderByDescending(d => d.LastWriteTimeUtc)
            .Skip(CachedGuests - 1);
        foreach (var directory in stale)
        {
            try
            {
                directory.Delete(recursive: true);
                Log.Pruned(logger, directory.FullName);
            }
            catch (IOException)
            {
                // in use or already gone: try again next time
            }
        }
    }

    /// <summary>The guest sources next to this assembly (copied there by the build).</summary>
    private static string LocateSources()
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "guest");
        return File.Exists(Path.Combine(directory, "init"))
            ? directory
            : throw new GuestBuildException($"The guest sources are missing from {directory}; rebuild Portal.Qemu.");
    }

    /// <summary>Module, programs and vmlinux, built in a scratch directory and moved into the cache in one step.</summary>
    private static async Task BuildBaseAsync(GuestMachine machine, GuestPrerequisites.GuestKernel kernel, string sources, string destination,
        ILogger logger, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        Log.Building(logger, kernel.Version, destination);
        var scratch = destination + ".building-" + Environment.ProcessId;
        if (Directory.Exists(scratch))
            Directory.Delete(scratch, recursive: true);
        CopyDirectory(sources, Path.Combine(scratch, "src"));
        try
        {
            // A foreign guest's module and programs are cross-built: ARCH and CROSS_COMPILE for kbuild, CC for the programs.
            List<string> module = ["-s", "-C", Path.Combine(scratch, "src", "module"), $"KDIR={kernel.BuildDirectory}", $"OUT={Path.Combine(scratch, "module")}"];
            List<string> programs = ["-s", "-C", Path.Combine(scratch, "src", "programs"), $"OUT={Path.Combine(scratch, "bin")}"];
            if (kernel.CrossCompile.Length > 0)
            {
                module.AddRange([$"ARCH={kernel.Arch}", $"CROSS_COMPILE={kernel.CrossCompile}"]);
                programs.Add($"CC={kernel.CrossCompile}gcc");
            }
            await RunAsync("make", module, $"building portal.ko for {machine.Abi.Name}", cancellationToken).ConfigureAwait(false);
            await RunAsync("make", programs, $"building the {machine.Abi.Name} guest programs", cancellationToken).ConfigureAwait(false);
            if (machine.BootsVmlinux)
                await ExtractVmlinuxAsync(kernel.Image, Path.Combine(scratch, "vmlinux"), logger, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(scratch, "complete"), kernel.Version, cancellationToken).ConfigureAwait(false);
            if (Directory.Exists(destination))
                Directory.Delete(destination, recursive: true);
            Directory.Move(scratch, destination);
        }
        catch
        {
            if (Directory.Exists(scratch))
                Directory.Delete(scratch, recursive: true);
            throw;
        }
        Log.Built(logger, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>
    /// The bzImage payload is XZ; QEMU boots the uncompressed ELF directly (PVH), which saves about
    /// 3 s of decompression under TCG. When extraction fails the bzImage is booted instead.
    /// </summary>
    private static async Task ExtractVmlinuxAsync(string bzImage, string vmlinux, ILogger logger, CancellationToken cancellationToken)
    {
        var image = await File.ReadAllBytesAsync(bzImage, cancellationToken).ConfigureAwait(false);
        var offset = image.AsSpan().IndexOf((ReadOnlySpan<byte>)[0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0]);
        if (offset < 0)
        {
            Log.NoVmlinux(logger, bzImage);
            return;
        }
        var start = new ProcessStartInfo("xz", ["-dcq"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var xz = Process.Start(start)!;
        var output = File.Create(vmlinux);
        await using (output.ConfigureAwait(false))
        {
            var copy = xz.StandardOutput.BaseStream.CopyToAsync(output, cancellationToken);
            try
            {
                await xz.StandardInput.BaseStream.WriteAsync(image.AsMemory(offset), cancellationToken).ConfigureAwait(false);
                xz.StandardInput.Close();
            }
            catch (IOException)
            {
                // xz stops reading at the end of its stream; the rest of the bzImage is not XZ.
            }
            await copy.ConfigureAwait(false);
            await xz.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        var magic = new byte[4];
        await using (var check = File.OpenRead(vmlinux))
            await check.ReadExactlyAsync(magic, cancellationToken).ConfigureAwait(false);
        if (!magic.AsSpan().SequenceEqual((ReadOnlySpan<byte>)[0x7f, (byte)'E', (byte)'L', (byte)'F']))
        {
            File.Delete(vmlinux);
            Log.NoVmlinux(logger, bzImage);
        }
    }

    /// <summary>Firmware initramfses kept per cached guest besides the one in use (each the size of a firmware).</summary>
    private const int CachedInitramfses = 4;

    private static void PruneInitramfses(string baseDirectory, string keep)
    {
        var stale = new DirectoryInfo(baseDirectory).GetFiles("initramfs-*.cpio.gz")
            .Where(f => f.FullName != keep)
            .OrderByDescending(f => f.LastWriteTimeUtc)
            .Skip(CachedInitramfses - 1);
        foreach (var file in stale)
        {
            try
            {
                file.Delete();
            }
            catch (IOException)
            {
                // in use by a booting guest: next time
            }
        }
    }

    private static void WriteInitramfs(string sources, string baseDirectory, string busybox, IReadOnlyList<string> agentModules,
        IReadOnlyList<GuestFile> files, FirmwareRootfs? firmware, string destination)
    {
        var layout = firmware is null ? Layout.TestGuest : Layout.Firmware;
        var scratch = destination + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var file = File.Create(scratch))
            using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            {
                var cpio = new CpioWriter(gzip);
                if (firmware is not null)
                    FirmwareCpio.Add(cpio, firmware);       // first: Portal's files and the user's extra files come after it
                WritePortalFiles(cpio, layout, sources, baseDirectory, busybox, agentModules, files);
                cpio.Finish();
            }
            var size = new FileInfo(scratch).Length;
            if (firmware is not null && size > MaxInitramfsBytes)
                throw new FirmwareRootfsException(string.Create(CultureInfo.InvariantCulture,
                    $"The {firmware.Source} makes a {size / (1024.0 * 1024):F1} MiB initramfs; the guest's RAM holds at most {MaxInitramfsBytes >> 20} MiB of it."));
            File.Move(scratch, destination, overwrite: true);
        }
        finally
        {
            if (File.Exists(scratch))
                File.Delete(scratch);
        }
    }

    private static void WritePortalFiles(CpioWriter cpio, Layout layout, string sources, string baseDirectory, string busybox,
        IReadOnlyList<string> agentModules, IReadOnlyList<GuestFile> files)
    {
        var virtio = layout.Modules + "/virtio";
        foreach (var directory in layout.Directories)
            cpio.AddDirectory(directory);
        cpio.AddCharacterDevice("/dev/console", 5, 1);
        cpio.AddFile(layout.Busybox, File.ReadAllBytes(busybox), 0x1ed);
        cpio.AddFile(layout.Init, File.ReadAllBytes(Path.Combine(sources, layout.InitSource)), 0x1ed);
        cpio.AddFile($"{layout.Scripts}/load-modules.sh", File.ReadAllBytes(Path.Combine(sources, "load-modules.sh")), 0x1a4);
        cpio.AddFile($"{layout.Modules}/portal.ko", File.ReadAllBytes(Path.Combine(baseDirectory, "module", "portal.ko")), 0x1a4);
        foreach (var module in agentModules)
            cpio.AddFile($"{virtio}/{Path.GetFileName(module)}", WithoutSignature(File.ReadAllBytes(module)), 0x1a4);
        cpio.AddFile($"{virtio}/load-order",
            Encoding.ASCII.GetBytes(string.Concat(agentModules.Select(module => Path.GetFileName(module) + "\n"))), 0x1a4);
        // Every program guest/programs/Makefile builds (its PROGRAMS is the one list of them): nothing else is in bin/.
        foreach (var program in Directory.GetFiles(Path.Combine(baseDirectory, "bin")).Order(StringComparer.Ordinal))
            cpio.AddFile($"{layout.Programs}/{Path.GetFileName(program)}", File.ReadAllBytes(program), 0x1ed);
        var added = new HashSet<string>(StringComparer.Ordinal);
        foreach (var extra in files)
        {
            if (!File.Exists(extra.HostPath))
                throw new FileNotFoundException($"File to copy into the guest not found: {extra.HostPath}", extra.HostPath);
            var parent = Path.GetDirectoryName(extra.GuestPath)!.Replace('\\', '/');
            foreach (var directory in Ancestors(parent).Where(added.Add))
                cpio.AddDirectory(directory);
            cpio.AddFile(extra.GuestPath, File.ReadAllBytes(extra.HostPath), 0x1ed);
        }
    }

    /// <summary>The drivers of the agent's channel: the virtio-serial port (virtio_console) on a virtio PCI device.</summary>
    private static readonly string[] AgentDrivers = ["virtio_pci", "virtio_console"];

    /// <summary>
    /// The agent channel's modules from the guest kernel's module tree, dependencies first (from
    /// modules.dep, as modprobe orders them; the busybox guest has no modprobe). Drivers built into the
    /// kernel (modules.builtin) need nothing.
    /// </summary>
    /// <exception cref="GuestPrerequisiteException">The kernel has neither the module nor the driver built in.</exception>
    internal static IReadOnlyList<string> AgentModules(string kernelVersion, string modulesRoot = "/lib/modules")
    {
        var tree = Path.Combine(modulesRoot, kernelVersion);
        var dependencies = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        var depFile = Path.Combine(tree, "modules.dep");
        if (File.Exists(depFile))
        {
            foreach (var line in File.ReadLines(depFile))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                    continue;
                var module = line[..colon];
                dependencies[module] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                byName.TryAdd(ModuleName(module), module);
            }
        }
        var builtin = File.Exists(Path.Combine(tree, "modules.builtin"))
            ? File.ReadLines(Path.Combine(tree, "modules.builtin")).Select(ModuleName).ToHashSet(StringComparer.Ordinal)
            : [];
        var ordered = new List<string>();
        void Add(string module)
        {
            if (ordered.Contains(module))
                return;
            foreach (var dependency in dependencies.GetValueOrDefault(module, []))
                Add(dependency);
            ordered.Add(module);
        }
        foreach (var driver in AgentDrivers)
        {
            if (byName.TryGetValue(driver, out var module))
                Add(module);
            else if (!builtin.Contains(driver))
                throw new GuestPrerequisiteException(
                    $"The guest kernel {kernelVersion} has no {driver} module in {tree} (modules.dep): the guest agent's virtio-serial channel needs it. " +
                    $"Reinstall the kernel package, or install it with: sudo {GuestPrerequisiteException.SetupScript}");
        }
        var files = ordered.Select(module => Path.Combine(tree, module)).ToList();
        var unusable = files.FirstOrDefault(file => !file.EndsWith(".ko", StringComparison.Ordinal) || !File.Exists(file));
        return unusable is null
            ? files
            : throw new GuestPrerequisiteException($"The guest kernel module {unusable} is missing or compressed; the guest's busybox insmod needs a plain .ko.");
    }

    /// <summary>
    /// A module without its appended signature. The kernel verifies a signature that is there (RSA, in
    /// software under TCG: 10–90 ms a module) only to decide whether to taint, and portal.ko taints it anyway.
    /// </summary>
    internal static byte[] WithoutSignature(byte[] module)
    {
        // The tail is: signature, struct module_signature (12 bytes, sig_len big-endian in the last 4), the marker.
        ReadOnlySpan<byte> marker = "~Module signature appended~\n"u8;
        const int InfoSize = 12;
        if (module.Length < marker.Length + InfoSize || !module.AsSpan(module.Length - marker.Length).SequenceEqual(marker))
            return module;
        var info = module.AsSpan(module.Length - marker.Length - InfoSize, InfoSize);
        var signatureLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(info[8..]);
        var keep = module.Length - marker.Length - InfoSize - (long)signatureLength;
        return keep > 0 ? module[..(int)keep] : module;
    }

    /// <summary>"kernel/drivers/virtio/virtio_pci.ko" → "virtio_pci" (modules.dep and modules.builtin spell names with '_').</summary>
    private static string ModuleName(string path)
    {
        var name = Path.GetFileName(path);
        var dot = name.IndexOf(".ko", StringComparison.Ordinal);
        return (dot < 0 ? name : name[..dot]).Replace('-', '_');
    }

    /// <summary>"/a/b/c" → "/a", "/a/b", "/a/b/c" (entries for directories that already exist are harmless).</summary>
    private static IEnumerable<string> Ancestors(string directory)
    {
        var path = "";
        foreach (var part in directory.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            path += "/" + part;
            yield return path;
        }
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, string what, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new GuestBuildException($"Could not start {program} for {what}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var text = (await output.ConfigureAwait(false)) + (await errors.ConfigureAwait(false));
            var tail = string.Join('\n', text.Split('\n').TakeLast(30));
            throw new GuestBuildException($"{what} failed ({program} {string.Join(' ', arguments)} exited with {process.ExitCode}):\n{tail}");
        }
    }

    private static void CopyDirectory(string source, string destination)
    {
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static string Hash(Action<HashBuilder> add)
    {
        using var builder = new HashBuilder();
        add(builder);
        return builder.Finish();
    }

    private sealed class HashBuilder : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public void Add(string text)
        {
            _hash.AppendData(Encoding.UTF8.GetBytes(text));
            _hash.AppendData([0]);
        }

        public void AddFile(string path)
        {
            using var stream = File.OpenRead(path);
            _hash.AppendData(SHA256.HashData(stream));
        }

        public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset())[..16];

        public void Dispose() => _hash.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Building portal.ko and the guest programs for kernel {Version} into {Directory} (once per kernel and per change to them)")]
        public static partial void Building(ILogger logger, string version, string directory);

        [LoggerMessage(2, LogLevel.Information, "Guest built in {Seconds:F1} s")]
        public static partial void Built(ILogger logger, double seconds);

        [LoggerMessage(3, LogLevel.Warning, "Could not extract vmlinux from {Image}; booting the compressed image (slower)")]
        public static partial void NoVmlinux(ILogger logger, string image);

        [LoggerMessage(4, LogLevel.Debug, "Removed the cached guest {Directory}")]
        public static partial void Pruned(ILogger logger, string directory);
    }
}
