using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Testing.Programs;

namespace Portal.Conformance;

/// <summary>
/// The conformance suite: what every Portal guest must do, tested through the public API only, with
/// the guest programs of docs/guest-programs.md. A guest runs it by deriving a [TestClass] that
/// supplies <see cref="Guest"/> (created once per class). Every test is tagged "Conformance".
/// </summary>
public abstract partial class ConformanceSuite
{
    /// <summary>The command's environment gets this variable, so the environment can be checked.</summary>
    protected const string EnvironmentName = "PORTAL_TEST";

    /// <summary>Its value.</summary>
    protected const string EnvironmentValue = "conformance";

    /// <summary>The guest under test (one per derived class).</summary>
    protected abstract IGuest Guest { get; }

    /// <summary>Set by MSTest.</summary>
    public TestContext TestContext { get; set; } = null!;

    /// <summary>The guest's ABI.</summary>
    protected GuestAbi Abi => Guest.Abi;

    /// <summary>Everything the sessions of the current test logged.</summary>
    protected CapturingLoggerProvider Logs { get; } = new();

    /// <summary>The guest's native number of an errno (what the guest programs print).</summary>
    protected int Native(GuestErrno errno) => Abi.ToNativeErrno(errno);

    /// <summary>A session on the guest, logging into <see cref="Logs"/>.</summary>
    protected async Task<PortalSession> AttachAsync()
    {
        var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
        return await PortalSession.AttachAsync(Guest.Connection, new PortalSessionOptions { LoggerFactory = loggerFactory, ExpectedAbi = Abi },
            TestContext.CancellationToken);
    }

    /// <summary>Runs a guest command with the suite's environment variable set.</summary>
    protected Task<GuestCommandResult> RunAsync(params string[] arguments) =>
        Guest.RunAsync(new GuestCommand(arguments) { Environment = new Dictionary<string, string> { [EnvironmentName] = EnvironmentValue } },
            TestContext.CancellationToken);

    /// <summary>
    /// Runs <c>portal-selftest desc</c> with <paramref name="body"/> as the handler of its ioctl
    /// (enter phase). Exceptions in the handler are rethrown here, so assertions may live in it.
    /// Returns what the program printed afterwards and what the body returned.
    /// </summary>
    protected async Task<(SelfTestOutput Output, T Result)> WithSelfTestAsync<T>(Func<SyscallContext, SelfTestDescriptor, ValueTask<T>> body)
    {
        await using var session = await AttachAsync();
        T result = default!;
        Exception? failure = null;
        var calls = 0;
        await session.OnSyscall("ioctl", SyscallPhase.Enter)
            .WhereArg(1, ArgFilter.Equal(PortalSelfTest.DescCommand))
            .WhereComm(PortalSelfTest.Name)
            .RegisterAsync(async context =>
            {
                calls++;
                try
                {
                    result = await body(context, await SelfTestDescriptor.ReadAsync(context));
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }, "selftest");
        var run = await RunAsync(PortalSelfTest.Name, "desc");
        if (failure is not null)
            ExceptionDispatchInfo.Capture(failure).Throw();
        Assert.AreEqual(0, run.ExitCode, run.Output);
        Assert.AreEqual(1, calls, $"the desc ioctl should reach the handler once; output:\n{run.Output}");
        return (SelfTestOutput.Parse(run.Output), result);
    }

    /// <summary>Runs an async action and returns what it threw (or null).</summary>
    protected static async Task<Exception?> CaptureAsync(Func<Task> action)
    {
        try
        {
            await action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>The pattern-filled buffer as the program created it.</summary>
    protected static byte[] InitialBuffer() => SelfTestPattern.Bytes(0, PortalSelfTest.BufferSize);

    /// <summary>Number of exchanges a transfer of <paramref name="bytes"/> needs.</summary>
    protected static long ChunksOf(int bytes) => (bytes + 4071) / 4072;
}
