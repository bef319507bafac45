using System.Globalization;
using Portal.Abi;
using Portal.Testing.Processes;

namespace Portal.Testing.Programs;

/// <summary>
/// <c>ioctl_interaction</c>: the guest side of the seed's ioctl_interaction_test
/// (docs/guest-programs.md): a <c>struct ifreq</c> for "eth0" with 0x1337 at offset 16, passed to
/// <c>ioctl(socket, SIOCDEVPRIVATE, &amp;ifr)</c>, printed before and after.
/// </summary>
public static class IoctlInteraction
{
    /// <summary>The program's name.</summary>
    public const string Name = "ioctl_interaction";

    /// <summary>SIOCDEVPRIVATE.</summary>
    public const ulong SiocDevPrivate = 0x89f0;

    /// <summary>IFNAMSIZ: offset of the ifreq union.</summary>
    public const int IfNameSize = 16;

    /// <summary>The program.</summary>
    public static async ValueTask<int> RunAsync(GuestProgramContext context)
    {
        var sockDgram = context.Abi.Id is GuestAbiId.Mips or GuestAbiId.MipsEl ? 1 : 2;
        var fd = (int)await context.SocketAsync(2 /* AF_INET */, sockDgram, 0).ConfigureAwait(false);
        var ifr = (ulong)await context.MmapAsync((ulong)context.Abi.PageSize, PageProtection.ReadWrite).ConfigureAwait(false);
        context.Memory.WriteCString(ifr, "eth0");
        context.Memory.WriteUInt32(ifr + IfNameSize, 0x1337);
        context.PrintLine(Describe(context, "before", ifr));
        var (rc, errno) = GuestProgramContext.Libc(await context.IoctlAsync(fd, SiocDevPrivate, ifr).ConfigureAwait(false));
        context.PrintLine(string.Create(CultureInfo.InvariantCulture, $"rc={rc} errno={errno}"));
        context.PrintLine(Describe(context, "after", ifr));
        return 0;
    }

    private static string Describe(GuestProgramContext context, string when, ulong ifr)
    {
        var name = context.Memory.Read(ifr, IfNameSize);
        var end = Array.IndexOf(name, (byte)0);
        return string.Create(CultureInfo.InvariantCulture,
            $"{when} name={System.Text.Encoding.UTF8.GetString(name, 0, end < 0 ? IfNameSize : end)} data=0x{context.Memory.ReadUInt32(ifr + IfNameSize):x}");
    }
}
