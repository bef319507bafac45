using Microsoft.Extensions.Logging;
using Portal.Hypersyscalls;

namespace Portal.Samples.IoctlInteraction;

/// <summary>
/// The seed's ioctl_interaction_test, one Portal operation per call exactly as the Python plugin
/// does it: read the interface name and the int after it, write both and read them back, then the
/// fd name, arguments, environment and pid; finally make the ioctl succeed.
/// </summary>
public sealed class IoctlInteractionPlugin(ILogger logger)
{
    /// <summary>SIOCDEVPRIVATE.</summary>
    public const long SiocDevPrivate = 0x89f0;

    /// <summary>IFNAMSIZ: the int sits right after the interface name.</summary>
    public const int IfNameSize = 16;

    [Hypersyscall("ioctl", SyscallPhase.Return, Name = "IoctlInteraction")]
    [Arg(1, Is = SiocDevPrivate)]
    public async ValueTask SyscallTest(SyscallContext syscall)
    {
        var portal = syscall.Memory;
        var arg = syscall.Args[2];

        var interfaceName = await portal.ReadStrAsync(arg);
        InteractionLog.Interface(logger, interfaceName);
        var data = await portal.ReadIntAsync(arg + IfNameSize);
        InteractionLog.Data(logger, data);

        const string ToWrite = "test";
        await portal.WriteStrAsync(arg, ToWrite);
        interfaceName = await portal.ReadStrAsync(arg);
        if (interfaceName != ToWrite)
            throw new InvalidOperationException($"Expected {ToWrite}, got {interfaceName}, r/w failed");

        const uint ToWriteInt = 0x12345678;
        await portal.WriteIntAsync(arg + IfNameSize, ToWriteInt);
        data = await portal.ReadIntAsync(arg + IfNameSize);
        if (data != ToWriteInt)
            throw new InvalidOperationException($"Expected 0x{ToWriteInt:x}, got 0x{data:x}, r/w failed");

        InteractionLog.Fd(logger, await portal.ReadFdNameAsync((int)syscall.Args[0]));
        InteractionLog.Args(logger, string.Join(' ', await portal.GetProcArgsAsync()));
        InteractionLog.Env(logger, string.Join(' ', (await portal.GetProcEnvAsync()).Select(e => $"{e.Key}={e.Value}")));
        InteractionLog.Pid(logger, await portal.GetProcPidAsync());

        syscall.Retval = 0;
    }
}
