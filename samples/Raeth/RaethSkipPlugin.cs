using Microsoft.Extensions.Logging;
using Portal.Hypersyscalls;
using Portal.Samples.TpLink.Headers;
using Portal.Typed;

namespace Portal.Samples.TpLink;

/// <summary>
/// The seed's "advanced" variant: catch the register read on syscall <em>enter</em>, for the
/// switch tool only (the guest filters on the process name), skip the ioctl so the driver is never
/// asked, and write the register value directly.
/// </summary>
public sealed partial class RaethSkipPlugin(ILogger logger)
{
    [Hypersyscall("ioctl", SyscallPhase.Enter, Comm = "mtk7530_switch", Name = "RAEthSkip")]
    [Arg(1, Is = Raeth.RAETH_ESW_REG_READ)]
    public async ValueTask OnRegisterRead(SyscallContext syscall)
    {
        var reg = await syscall.Memory.At<Ifreq>(syscall.Args[2]).IfrData.Deref<EswReg>().LoadAsync();
        syscall.SkipSyscall = true;                        // the driver never sees it
        reg.Val = RaethPlugin.RegisterValue(reg.Off);      // staged: written with the verdict
        LogSkipped(logger, reg.Off, reg.Val);
        syscall.Retval = 0;
    }

    [LoggerMessage(1, LogLevel.Information, "skipped the ioctl, register 0x{Register:x} := 0x{Value:x}")]
    private static partial void LogSkipped(ILogger logger, uint register, uint value);
}
