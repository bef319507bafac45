using Microsoft.Extensions.Logging;
using Portal.Hypersyscalls;

namespace Portal.Samples.IoctlInteraction;

/// <summary>
/// The same test written for batching: operations are started first and awaited later, so the ones
/// started together travel in one exchange; the writes are staged in a batch scope, the read-backs are
/// answered from the staged bytes, and the staged writes ride on the next exchange. Two exchanges
/// where <see cref="IoctlInteractionPlugin"/> spends ten.
/// </summary>
public sealed class BatchedIoctlInteractionPlugin(ILogger logger)
{
    [Hypersyscall("ioctl", SyscallPhase.Return, Name = "BatchedIoctlInteraction")]
    [Arg(1, Is = IoctlInteractionPlugin.SiocDevPrivate)]
    public async ValueTask SyscallTest(SyscallContext syscall)
    {
        var portal = syscall.Memory;
        var arg = syscall.Args[2];

        // Exchange 1: both reads (nothing is sent until the first await).
        var interfaceName = portal.ReadStrAsync(arg);
        var data = portal.ReadIntAsync(arg + IoctlInteractionPlugin.IfNameSize);
        InteractionLog.Interface(logger, await interfaceName);
        InteractionLog.Data(logger, await data);

        using (portal.BeginBatch())
        {
            const string ToWrite = "test";
            await portal.WriteStrAsync(arg, ToWrite);                  // staged, no exchange
            var readBack = await portal.ReadStrAsync(arg);             // read-your-writes: from the staged bytes
            if (readBack != ToWrite)
                throw new InvalidOperationException($"Expected {ToWrite}, got {readBack}, r/w failed");

            const uint ToWriteInt = 0x12345678;
            await portal.WriteIntAsync(arg + IoctlInteractionPlugin.IfNameSize, ToWriteInt);
            var dataBack = await portal.ReadIntAsync(arg + IoctlInteractionPlugin.IfNameSize);
            if (dataBack != ToWriteInt)
                throw new InvalidOperationException($"Expected 0x{ToWriteInt:x}, got 0x{dataBack:x}, r/w failed");
        }

        // Exchange 2: the staged writes, then the fd name, arguments, environment and pid.
        var fdName = portal.ReadFdNameAsync((int)syscall.Args[0]);
        var arguments = portal.GetProcArgsAsync();
        var environment = portal.GetProcEnvAsync();
        var pid = portal.GetProcPidAsync();
        InteractionLog.Fd(logger, await fdName);
        InteractionLog.Args(logger, string.Join(' ', await arguments));
        InteractionLog.Env(logger, string.Join(' ', (await environment).Select(e => $"{e.Key}={e.Value}")));
        InteractionLog.Pid(logger, await pid);

        syscall.Retval = 0;
    }
}
