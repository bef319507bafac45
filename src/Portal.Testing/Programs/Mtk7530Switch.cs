using Portal.Abi;
using Portal.Testing.Processes;

namespace Portal.Testing.Programs;

/// <summary>
/// <c>mtk7530_switch</c>: the C# twin of guest/programs/mtk7530_switch.c (docs/guest-programs.md),
/// modelled on the TP-Link MT7530 switch tool: <c>table_del</c> polls REG_ESW_WT_MAC_AD0 through
/// <c>ioctl(fd, RAETH_ESW_REG_READ, &amp;ifr)</c> with <c>ifr.ifr_data = &amp;reg</c>, up to 20 times, for bit 0x2.
/// </summary>
public static class Mtk7530Switch
{
    /// <summary>The program's name.</summary>
    public const string Name = "mtk7530_switch";

    /// <summary>RAETH_ESW_REG_READ.</summary>
    public const ulong RaethEswRegRead = 0x89f1;

    /// <summary>REG_ESW_WT_MAC_AD0.</summary>
    public const uint RegEswWtMacAd0 = 0x34;

    /// <summary>The program.</summary>
    public static async ValueTask<int> RunAsync(GuestProgramContext context)
    {
        var sockDgram = context.Abi.Id is GuestAbiId.Mips or GuestAbiId.MipsEl ? 1 : 2;
        var fd = (int)await context.SocketAsync(2 /* AF_INET */, sockDgram, 0).ConfigureAwait(false);
        if (context.Arguments.Count < 2 || context.Arguments[1] != "table_del")
        {
            context.PrintLine("Usage:");
            context.PrintLine($" {context.Arguments[0]} table_del - delete the MAC table entry (waits for the switch)");
            return 0;
        }
        // struct ifreq and esw_reg on the program's "stack" (one page).
        var page = (ulong)await context.MmapAsync((ulong)context.Abi.PageSize, PageProtection.ReadWrite).ConfigureAwait(false);
        var (ifr, reg) = (page, page + 256);
        for (var i = 0; i < 20; i++)
        {
            context.Memory.Write(ifr, new byte[context.Abi.PointerSize == 8 ? 40 : 32]);   // memset(&ifr, 0, sizeof(ifr))
            context.Memory.WriteUInt32(reg, RegEswWtMacAd0);                                 // reg.off
            context.Memory.WriteUInt32(reg + 4, 0);                                          // reg.val
            context.Memory.WriteCString(ifr, "eth0");
            context.Memory.WritePointer(ifr + 16, reg);                                      // ifr.ifr_data = &reg
            var (rc, errno) = GuestProgramContext.Libc(await context.IoctlAsync(fd, RaethEswRegRead, ifr).ConfigureAwait(false));
            if (rc == -1)
            {
                context.PrintLine($"ioctl: {ErrnoText(context.Abi, errno)}");               // perror("ioctl"); exit(0)
                return 0;
            }
            if ((context.Memory.ReadUInt32(reg + 4) & 0x2) != 0)
            {
                context.PrintLine("done.");
                return 0;
            }
            await context.SyscallAsync("nanosleep").ConfigureAwait(false);                  // usleep(1000)
        }
        context.PrintLine("timeout.");
        return 0;
    }

    /// <summary>What glibc's strerror says for the errors this program can see.</summary>
    private static string ErrnoText(GuestAbi abi, int errno) => abi.ToErrno(errno) switch
    {
        GuestErrno.ENODEV => "No such device",
        GuestErrno.EFAULT => "Bad address",
        GuestErrno.EPERM => "Operation not permitted",
        GuestErrno.ENOTTY => "Inappropriate ioctl for device",
        var other => other.ToString(),
    };
}
