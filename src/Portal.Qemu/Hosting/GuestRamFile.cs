using Portal.Qemu.Machines;
using Portal.Qemu.Transport;

namespace Portal.Qemu.Hosting;

/// <summary>
/// The file in /dev/shm that backs the guest's RAM: QEMU creates it (<c>memory-backend-file,share=on</c>),
/// the host maps the window from it, then unlinks it. Both keep their mappings, and nothing is left in
/// /dev/shm whatever happens next.
/// </summary>
internal sealed class GuestRamFile
{
    private GuestRamFile(string path) => Path = path;

    /// <summary>The file's path, named after this process (the tests look for leftovers by it).</summary>
    public string Path { get; }

    /// <summary>A new, not yet existing, RAM file for a guest of this process.</summary>
    public static GuestRamFile ForNewGuest() => new($"/dev/shm/portal-{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>
    /// Maps the window (at <see cref="GuestMachine.WindowOffset"/> in the file, which starts at the machine's
    /// RamBase) once QEMU has created all <paramref name="memoryMiB"/> MiB of it, then unlinks the file.
    /// </summary>
    /// <exception cref="InvalidOperationException">QEMU exited first.</exception>
    public async Task<SharedWindow> MapWindowAsync(int memoryMiB, Func<bool> qemuAlive, CancellationToken cancellationToken)
    {
        var size = (long)memoryMiB << 20;
        while (!(File.Exists(Path) && new FileInfo(Path).Length >= size))
        {
            if (!qemuAlive())
                throw new InvalidOperationException("QEMU exited before creating the guest RAM.");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        var window = SharedWindow.Map(Path, GuestMachine.WindowOffset, QemuGuest.WindowSize);
        File.Delete(Path);
        return window;
    }

    /// <summary>Unlinks the file if it is still there (a boot that failed before mapping the window).</summary>
    public void DeleteQuietly()
    {
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }
}
