using Microsoft.Extensions.Logging;

namespace Portal.Samples.IoctlInteraction;

/// <summary>What both versions of the handler log: the seed plugin's lines.</summary>
internal static partial class InteractionLog
{
    [LoggerMessage(1, LogLevel.Information, "Interface: {Name}")]
    public static partial void Interface(ILogger logger, string name);

    [LoggerMessage(2, LogLevel.Information, "Data: 0x{Data:x}")]
    public static partial void Data(ILogger logger, uint data);

    [LoggerMessage(3, LogLevel.Information, "FD: {Name}")]
    public static partial void Fd(ILogger logger, string name);

    [LoggerMessage(4, LogLevel.Information, "Found process: {Args}")]
    public static partial void Args(ILogger logger, string args);

    [LoggerMessage(5, LogLevel.Information, "Found env: {Env}")]
    public static partial void Env(ILogger logger, string env);

    [LoggerMessage(6, LogLevel.Information, "Found pid: {Pid}")]
    public static partial void Pid(ILogger logger, int pid);
}
