using Microsoft.Extensions.Logging;
using Portal.Hypersyscalls;
using PortalPlugin1.Headers;

namespace PortalPlugin1;

/// <summary>
/// Answers the device's query ioctl (headers/device.h) in place of a driver the guest does not have: without it the
/// kernel fails the call with ENODEV. <c>portal run</c> makes one instance per run with this constructor; on a guest
/// with several vCPUs the handler can run on several at once, so state kept in fields needs a lock.
/// </summary>
public sealed partial class DevicePlugin(ILogger logger)
{
    /// <summary>The status the stand-in device reports.</summary>
    public const int ReportedStatus = 0x2a;

    /// <summary>Runs when the query ioctl returns; the <c>Arg</c> filter runs in the guest, so no other ioctl reaches the host.</summary>
    [Hypersyscall("ioctl", SyscallPhase.Return)]
    [Arg(1, Is = Device.DEVICE_IOCTL_QUERY)]
    public async ValueTask OnQuery(SyscallContext syscall)
    {
        // The struct the caller passed, with this guest's layout: one exchange with the guest.
        var query = await syscall.Memory.At<DeviceQuery>(syscall.Args[2]).LoadAsync();
        LogQuery(logger, query.Ifname, query.Status, ReportedStatus);
        query.Status = ReportedStatus;      // staged: written by the guest with the verdict, no exchange of its own
        syscall.Retval = 0;                 // the call succeeds instead of failing with ENODEV
    }

    [LoggerMessage(LogLevel.Information, "query on {Interface}: status 0x{Status:x} -> 0x{Reported:x}")]
    private static partial void LogQuery(ILogger logger, string @interface, int status, int reported);
}
