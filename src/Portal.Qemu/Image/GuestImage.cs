namespace Portal.Qemu.Image;

/// <summary>A file to place in the guest: host path and where it goes in the guest.</summary>
/// <param name="HostPath">The file on the host.</param>
/// <param name="GuestPath">Absolute path in the guest (e.g. /usr/bin/tool); made executable.</param>
public sealed record GuestFile(string HostPath, string GuestPath)
{
    /// <summary>Parses "host:guest".</summary>
    /// <exception cref="FormatException">Not of the form host:guest with an absolute guest path.</exception>
    public static GuestFile Parse(string mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        var colon = mapping.LastIndexOf(':');
        if (colon <= 0 || colon == mapping.Length - 1 || mapping[colon + 1] != '/')
            throw new FormatException($"'{mapping}' is not host-path:/guest/path.");
        return new GuestFile(mapping[..colon], mapping[(colon + 1)..]);
    }
}

/// <summary>What QEMU boots: a kernel and an initramfs holding busybox, portal.ko, the programs and the user's files.</summary>
/// <param name="Kernel">The uncompressed vmlinux (fast PVH boot), or the bzImage when it could not be extracted.</param>
/// <param name="Initramfs">The gzip-compressed cpio archive.</param>
/// <param name="KernelVersion">The guest kernel's version.</param>
/// <param name="FromCache">True when nothing had to be built.</param>
public sealed record GuestImage(string Kernel, string Initramfs, string KernelVersion, bool FromCache);

/// <summary>Building the guest failed (the compiler's output is in the message).</summary>
public sealed class GuestBuildException(string message) : Exception(message);
