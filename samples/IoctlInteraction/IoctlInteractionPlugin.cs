using Microsoft.Extensions.Logging;
using Portal.Hypersyscalls;

namespace Portal.Samples.IoctlInteraction;

/// <summary>
/// The seed's ioctl_interaction_test, one Portal operation per call exactly as the Python plugin
/// does it: read the interface name and the int after it, write both and read them back, then the
/// fd name, arguments, environment and pid; finally make the ioctl succeed.
/// </summary>
public sealed partial class IoctlInteractionPlugin(ILogger logger)
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
        LogInterface(logger, interfaceName);
        var data = await portal.ReadIntAsync(arg + IfNameSize);
        LogData(logger, data);

        const string toWrite = "test";
        await portal.WriteStrAsync(arg, toWrite);
        interfaceName = await portal.ReadStrAsync(arg);
        if (interfaceName != toWrite)
            throw new InvalidOperationException($"Expected {toWrite}, got {interfaceName}, r/w failed");

        const uint toWriteInt = 0x12345678;
        await portal.WriteIntAsync(arg + IfNameSize, toWriteInt);
        data = await portal.ReadIntAsync(arg + IfNameSize);
        if (data != toWriteInt)
            throw new InvalidOperationException($"Expected 0x{toWriteInt:x}, got 0x{data:x}, r/w failed");

        LogFd(logger, await portal.ReadFdNameAsync((int)syscall.Args[0]));
        LogArgs(logger, string.Join(' ', await portal.GetProcArgsAsync()));
        LogEnv(logger, string.Join(' ', (await portal.GetProcEnvAsync()).Select(e => $"{e.Key}={e.Value}")));
        LogPid(logger, await portal.GetProcPidAsync());

        syscall.Retval = 0;
    }

    [LoggerMessage(1, LogLevel.Information, "Interface: {Name}")]
    private static partial void LogInterface(ILogger logger, string name);

    [LoggerMessage(2, LogLevel.Information, "Data: 0x{Data:x}")]
    private static partial void LogData(ILogger logger, uint data);

    [LoggerMessage(3, LogLevel.Information, "FD: {Name}")]
    private static partial void LogFd(ILogger logger, string name);

    [LoggerMessage(4, LogLevel.Information, "Found process: {Args}")]
    private static partial void LogArgs(ILogger logger, string args);

    [LoggerMessage(5, LogLevel.Information, "Found env: {Env}")]
    private static partial void LogEnv(ILogger logger, string env);

    [LoggerMessage(6, LogLevel.Information, "Found pid: {Pid}")]
    private static partial void LogPid(ILogger logger, int pid);
}
