using Microsoft.Extensions.Logging;
using Portal.Hypersyscalls;
using Portal.Samples.TpLink.Headers;
using Portal.Typed;

namespace Portal.Samples.TpLink;

/// <summary>
/// The seed's RAEthPlugin on typed structs: when the Ralink driver's register read
/// (<c>ioctl(fd, RAETH_ESW_REG_READ, &amp;ifr)</c>) returns, answer it as the switch would. One
/// exchange (the ifreq and the esw_reg its ifr_data points to); the value rides on the verdict.
/// </summary>
public sealed partial class RaethPlugin(ILogger logger)
{
    [Hypersyscall("ioctl", SyscallPhase.Return, Name = "RAEth")]
    [Arg(1, Is = Raeth.RAETH_ESW_REG_READ)]
    public async ValueTask OnRegisterRead(SyscallContext syscall)
    {
        var (ifr, reg) = await syscall.Memory.At<Ifreq>(syscall.Args[2]).LoadAsync(p => p.IfrData.Deref<EswReg>());
        if (ifr.IfrName != "eth0")
            return;
        reg.Val = RegisterValue(reg.Off);                  // staged: written with the verdict
        LogRead(logger, reg.Off, reg.Val);
        syscall.Retval = 0;
    }

    /// <summary>What the MT7530 answers: "MAC written" for the address table, idle for the rest.</summary>
    public static uint RegisterValue(uint register) => (int)register switch
    {
        Raeth.REG_ESW_WT_MAC_AD0 => 0x2,
        Raeth.REG_ESW_WT_MAC_ATC => 0x8234,
        Raeth.REG_ESW_TABLE_STATUS0 => 0x73,
        _ => 0x10173,
    };

    [LoggerMessage(1, LogLevel.Information, "read register 0x{Register:x} -> 0x{Value:x}")]
    private static partial void LogRead(ILogger logger, uint register, uint value);
}
