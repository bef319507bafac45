using System.Collections.Concurrent;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.FunctionHooks;
using Portal.Hypersyscalls;
using Portal.Memory;
using Portal.Testing.Programs;

namespace Portal.Qemu.Tests;

/// <summary>
/// Function hooks (uprobes, docs/protocol.md §4.6) on every real guest: <c>portal-selftest func A B C D E F</c>
/// calls <c>portal_probe_target(a, b, c, d, e, f)</c>, which returns a + 2b + 3c + 4d + 5e + 6f, and prints
/// <c>func rc=&lt;rc&gt;</c> (docs/guest-programs.md). The host finds the function in the guest's own binary.
/// </summary>
public abstract partial class QemuConformance
{
    private const string SelfTestBinary = "/usr/bin/portal-selftest";
    private const string ProbeTarget = "portal_probe_target";

    private static long ProbeTargetResult(params long[] a) => a[0] + 2 * a[1] + 3 * a[2] + 4 * a[3] + 5 * a[4] + 6 * a[5];

    private Task<Portal.Guests.GuestCommandResult> FuncAsync(params long[] arguments) =>
        RunAsync([PortalSelfTest.Name, "func", .. arguments.Select(a => a.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

    [TestMethod, TestCategory("Conformance")]
    public async Task A_function_hook_sees_and_replaces_the_arguments_by_the_calling_convention_and_changes_the_return_value()
    {
        await using var session = await AttachAsync();
        var entries = new ConcurrentQueue<(ulong[] Args, ulong Address, int Pid)>();
        var returns = new ConcurrentQueue<long>();
        await session.OnFunction(SelfTestBinary, ProbeTarget, SyscallPhase.Enter).WhereComm(PortalSelfTest.Name)
            .RegisterAsync(context =>
            {
                entries.Enqueue(([.. Enumerable.Range(0, 6).Select(i => context.Args[i])], context.FunctionAddress, context.Pid));
                context.Args[0] = 10;       // a register on every architecture
                context.Args[5] = 100;      // on the stack on mipsel and armel
                return ValueTask.CompletedTask;
            });
        await session.OnFunction(SelfTestBinary, ProbeTarget, SyscallPhase.Return).WhereComm(PortalSelfTest.Name)
            .RegisterAsync(context =>
            {
                returns.Enqueue(context.Retval);
                context.Retval = 4242;
                return ValueTask.CompletedTask;
            });

        var run = await FuncAsync(1, 2, 3, 4, 5, 6);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        StringAssert.Contains(run.Output, "func rc=4242", "the return hook replaced the function's result");
        Assert.AreEqual(1, entries.Count, "one call, one entry event");
        var (args, address, pid) = entries.Single();
        CollectionAssert.AreEqual(new ulong[] { 1, 2, 3, 4, 5, 6 }, args, "all six arguments, the fifth and sixth from the stack on mipsel and armel");
        Assert.AreNotEqual(0UL, address);
        Assert.AreEqual(ProbeTargetResult(10, 2, 3, 4, 5, 100), returns.Single(), "what the function returned, with the arguments the entry hook replaced");
        Assert.IsTrue(pid > 0);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_function_hook_filter_on_an_argument_is_evaluated_in_the_guest()
    {
        await using var session = await AttachAsync();
        var seen = new ConcurrentQueue<ulong>();
        await session.OnFunction(SelfTestBinary, ProbeTarget, SyscallPhase.Return).WhereComm(PortalSelfTest.Name)
            .WhereArg(0, ArgFilter.Equal(7))
            .RegisterAsync(context =>
            {
                seen.Enqueue(context.Args[0]);
                context.Retval = -5;
                return ValueTask.CompletedTask;
            });
        var other = await FuncAsync(8, 1, 1, 1, 1, 1);
        var chosen = await FuncAsync(7, 1, 1, 1, 1, 1);
        StringAssert.Contains(other.Output, $"func rc={ProbeTargetResult(8, 1, 1, 1, 1, 1)}", "not chosen: untouched");
        StringAssert.Contains(chosen.Output, "func rc=-5");
        CollectionAssert.AreEqual(new ulong[] { 7 }, seen.ToArray(), "the call with 8 never left the guest");
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task An_unregistered_function_hook_stops_and_the_program_runs_as_before()
    {
        await using var session = await AttachAsync();
        var calls = 0;
        var hook = await session.OnFunction(SelfTestBinary, ProbeTarget, SyscallPhase.Return).WhereComm(PortalSelfTest.Name)
            .RegisterAsync(context =>
            {
                Interlocked.Increment(ref calls);
                context.Retval = 1;
                return ValueTask.CompletedTask;
            });
        StringAssert.Contains((await FuncAsync(1, 1, 1, 1, 1, 1)).Output, "func rc=1");
        await hook.UnregisterAsync();
        var after = await FuncAsync(1, 1, 1, 1, 1, 1);
        StringAssert.Contains(after.Output, $"func rc={ProbeTargetResult(1, 1, 1, 1, 1, 1)}");
        Assert.AreEqual(1, calls);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Function_hooks_that_cannot_work_are_refused_with_the_reason()
    {
        await using var session = await AttachAsync();
        Task Register(HookBuilder builder) => builder.RegisterAsync(_ => ValueTask.CompletedTask).AsTask();

        var missing = await CaptureAsync(() => Register(session.OnFunction("/usr/bin/no-such-program", ProbeTarget, SyscallPhase.Enter)));
        Assert.AreEqual(GuestErrno.ENOENT, (missing as GuestOperationException)?.Errno, $"got {missing}");
        var unknown = await CaptureAsync(() => Register(session.OnFunction(SelfTestBinary, "no_such_function", SyscallPhase.Enter)));
        StringAssert.Contains((unknown as ArgumentException)?.Message ?? $"{unknown}", "defines no symbol no_such_function");
        var beyond = await CaptureAsync(() => Register(session.OnFunction(SelfTestBinary, 0x7fff_fff0UL, SyscallPhase.Enter)));
        Assert.AreEqual(GuestErrno.EINVAL, (beyond as GuestOperationException)?.Errno, $"an offset beyond the file: {beyond}");
        Assert.AreEqual(0, session.Hooks.Count, "nothing stayed registered");
        StringAssert.Contains((await FuncAsync(1, 1, 1, 1, 1, 1)).Output, $"func rc={ProbeTargetResult(1, 1, 1, 1, 1, 1)}");
    }

    /// <summary>
    /// An instruction the kernel cannot single-step (x86_64's hlt, portal-selftest's portal_probe_refused,
    /// built on x86_64 only): the kernel examines it where the file is mapped, so with a process holding
    /// the binary mapped the registration fails with EOPNOTSUPP, and nothing stays registered
    /// (docs/function-hooks.md). The x86_64 class runs it.
    /// </summary>
    protected async Task AssertAnUnsteppableInstructionIsRefusedAsync()
    {
        await using var session = await AttachAsync();
        var held = await HoldAsync(session);
        try
        {
            var refused = await CaptureAsync(() => session.OnFunction(SelfTestBinary, "portal_probe_refused", SyscallPhase.Enter)
                .RegisterAsync(_ => ValueTask.CompletedTask).AsTask());
            Assert.AreEqual(GuestErrno.EOPNOTSUPP, (refused as GuestOperationException)?.Errno, $"got {refused}");
            Assert.AreEqual(0, session.Hooks.Count, "nothing stayed registered");
        }
        finally
        {
            await ReleaseAsync(session, held);
        }
    }
}
