using Microsoft.Extensions.Logging;
using Portal.FunctionHooks;
using Portal.Hypersyscalls;

namespace Portal.Cli.Tests;

// Plugin classes that portal run loads from this test assembly (--plugin Portal.Cli.Tests.dll#Name).

/// <summary>Counts ioctls as they enter and leaves them alone.</summary>
public sealed partial class CountIoctls(ILogger logger)
{
    [Hypersyscall("ioctl", SyscallPhase.Enter, Name = "count-ioctls")]
    public ValueTask OnIoctl(SyscallContext syscall)
    {
        LogRequest(logger, syscall.Args[1]);
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(1, LogLevel.Information, "ioctl request 0x{Request:x}")]
    private static partial void LogRequest(ILogger logger, ulong request);
}

/// <summary>A plugin portal cannot construct: its only constructor wants a number.</summary>
public sealed class NeedsANumber(int number)
{
    public int Number { get; } = number;

    [Hypersyscall("ioctl", SyscallPhase.Enter)]
    public static ValueTask OnIoctl(SyscallContext syscall) => ValueTask.CompletedTask;
}

/// <summary>A plugin whose constructor fails.</summary>
public sealed class FailsToStart
{
    public FailsToStart() => throw new InvalidOperationException("no licence file");

    [Hypersyscall("ioctl", SyscallPhase.Enter)]
    public static ValueTask OnIoctl(SyscallContext syscall) => ValueTask.CompletedTask;
}

/// <summary>A plugin the session refuses: its handler has the wrong signature.</summary>
public sealed class WrongSignature
{
    [Hypersyscall("ioctl", SyscallPhase.Enter)]
    public static void OnIoctl(SyscallContext syscall)
    {
    }
}

/// <summary>A plugin for a syscall the guest's ABI does not have.</summary>
public sealed class UnknownSyscall
{
    [Hypersyscall("no_such_syscall", SyscallPhase.Enter)]
    public static ValueTask OnIt(SyscallContext syscall) => ValueTask.CompletedTask;
}

/// <summary>A plugin whose static constructor fails (portal must name the inner exception, not TypeInitializationException).</summary>
public sealed class BrokenStatics
{
#pragma warning disable CA1065, CA1810 // a static constructor that throws is the point of this plugin
    static BrokenStatics() => throw new InvalidOperationException("no configuration file");
#pragma warning restore CA1065, CA1810

    [Hypersyscall("ioctl", SyscallPhase.Enter)]
    public static ValueTask OnIoctl(SyscallContext syscall) => ValueTask.CompletedTask;
}

/// <summary>Settings whose static constructor fails, used by <see cref="UsesBrokenSettings"/>.</summary>
public static class BrokenSettings
{
#pragma warning disable CA1065, CA1810 // a static constructor that throws is the point
    static BrokenSettings() => throw new InvalidOperationException("no settings");
#pragma warning restore CA1065, CA1810

    public static int Value { get; set; }
}

/// <summary>A plugin whose constructor touches a class whose static constructor fails.</summary>
public sealed class UsesBrokenSettings
{
    public UsesBrokenSettings() => Setting = BrokenSettings.Value;

    public int Setting { get; }

    [Hypersyscall("ioctl", SyscallPhase.Enter)]
    public static ValueTask OnIoctl(SyscallContext syscall) => ValueTask.CompletedTask;
}

/// <summary>Throws on ioctl 0x7003: each such syscall goes unhandled.</summary>
public sealed class ThrowsOnIoctl
{
    [Hypersyscall("ioctl", SyscallPhase.Enter, Name = "throws")]
    [Arg(1, Is = 0x7003)]
    public static ValueTask OnIoctl(SyscallContext syscall) => throw new InvalidOperationException("the handler failed");
}

/// <summary>Never answers ioctl 0x7004 (until its token is cancelled, when the guest gives up).</summary>
public sealed class HangsOnIoctl
{
    [Hypersyscall("ioctl", SyscallPhase.Enter, Name = "hangs")]
    [Arg(1, Is = 0x7004)]
    public static async ValueTask OnIoctl(SyscallContext syscall) => await Task.Delay(Timeout.Infinite, syscall.CancellationToken);
}

/// <summary>Answers portal-load's ioctl 0x7001 as it expects (skip, return the call's index + 1): a sequence-checked load.</summary>
public sealed class AnswersLoad
{
    [Hypersyscall("ioctl", SyscallPhase.Enter, Name = "answers")]
    [Arg(1, Is = 0x7001)]
    public static ValueTask OnIoctl(SyscallContext syscall)
    {
        syscall.SkipSyscall = true;
        syscall.Retval = (long)(syscall.Args[2] & 0xff_ffff) + 1;
        return ValueTask.CompletedTask;
    }
}

/// <summary>Throws on the Ralink driver's register read (ioctl 0x89F1), before RAEth answers its return: that call's enter goes unhandled.</summary>
public sealed class ThrowsOnRegisterRead
{
    [Hypersyscall("ioctl", SyscallPhase.Enter, Name = "throws-on-register-read")]
    [Arg(1, Is = 0x89F1)]
    public static ValueTask OnIoctl(SyscallContext syscall) => throw new InvalidOperationException("the handler failed");
}

/// <summary>
/// The RAEth answer given by a function hook on the mipsel demo firmware's C library instead of a syscall
/// hook: when libc's ioctl returns from the switch tool's register read, write the register's value through
/// its ifreq (ifr_data at 16 points to esw_reg { u32 off; u32 val; }) and make the call return 0.
/// </summary>
public sealed class LibcIoctlAnswer
{
    [Uprobe("/lib/mipsel-linux-gnu/libc.so.6", "ioctl", Return = true, Comm = "mtk7530_switch", Name = "libc-ioctl")]
    [Arg(1, Is = 0x89F1)]
    public static async ValueTask OnIoctlReturn(SyscallContext call)
    {
        var register = await call.Memory.ReadPtrAsync(call.Args[2] + 16);
        using (call.Memory.BeginBatch())
            await call.Memory.WriteIntAsync(register + 4, 0x2u);     // staged: it rides on the verdict, as RAEth's does
        call.Retval = 0;
    }
}
