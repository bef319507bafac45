using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Conformance;
using Portal.Guests;
using Portal.Hypersyscalls;

namespace Portal.Qemu.Tests;

/// <summary>
/// The conformance suite on a real guest: Debian's kernel for the architecture under QEMU with portal.ko,
/// one boot per class. Each test leaves the guest kernel without an oops, warning or lockup.
/// </summary>
public abstract partial class QemuConformance : ConformanceSuite
{
    protected static Task BootAsync(Type suite, GuestAbi abi, CancellationToken cancellationToken) =>
        ClassGuests.BootAsync(suite, new QemuGuestOptions { Abi = abi }, cancellationToken);

    protected static Task ShutDownAsync(Type suite) => ClassGuests.ShutDownAsync(suite);

    private QemuGuest RealGuest => ClassGuests.Of(GetType());

    protected override IGuest Guest => RealGuest;

    /// <summary>
    /// All six arguments on the architecture's real entry path: process_vm_readv(self, local[5], N,
    /// remote[1], 1, 0) (portal-selftest pvr), whose 4th to 6th arguments each change the result when
    /// rewritten. On MIPS o32 the 5th and 6th travel on the user stack and the 4th is overwritten by the
    /// error flag at exit; on ARM the 1st is overwritten by the return value. A skipped call gets no
    /// return event on any architecture.
    /// </summary>
    [TestMethod, TestCategory("Conformance")]
    public async Task Every_argument_is_read_and_rewritten_on_the_real_entry_path_and_a_skip_has_no_return()
    {
        await using var session = await AttachAsync();
        var entered = new System.Collections.Concurrent.ConcurrentDictionary<ulong, ulong[]>();
        var returned = new System.Collections.Concurrent.ConcurrentDictionary<ulong, (ulong[] Args, long Retval)>();
        await session.OnSyscall("process_vm_readv", SyscallPhase.Enter).WhereComm(Portal.Testing.Programs.PortalSelfTest.Name)
            .RegisterAsync(context =>
            {
                var n = context.Args[2];
                entered[n] = Enumerable.Range(0, context.Args.Count).Select(i => context.Args[i]).ToArray();
                switch (n)
                {
                    case 1: context.Args[5] = 1; break;         // flags: EINVAL
                    case 2: context.Args[4] = 0; break;         // no remote iovec: 0 bytes
                    case 3: context.Args[3] = 0; break;         // remote iovec at NULL: EFAULT
                    case 5: context.SkipSyscall = true; context.Retval = 77; break;
                }
                return ValueTask.CompletedTask;
            });
        await session.OnSyscall("process_vm_readv", SyscallPhase.Return).WhereComm(Portal.Testing.Programs.PortalSelfTest.Name)
            .RegisterAsync(context =>
            {
                returned[context.Args[2]] = (Enumerable.Range(0, context.Args.Count).Select(i => context.Args[i]).ToArray(), context.OriginalRetval);
                return ValueTask.CompletedTask;
            });

        var run = await RunAsync(Portal.Testing.Programs.PortalSelfTest.Name, "pvr", "1", "2", "3", "4", "5");

        var lines = run.Output.Split('\n').Where(line => line.StartsWith("pvr ", StringComparison.Ordinal)).ToArray();
        Assert.HasCount(5, lines, run.Output);
        string Field(int n, string name) => lines[n - 1].Split(' ').Single(f => f.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
        ulong Hex(string value) => Convert.ToUInt64(value, 16);
        var pid = ulong.Parse(Field(1, "pid"), System.Globalization.CultureInfo.InvariantCulture);
        var local = Hex(Field(1, "local"));
        var remote = Hex(Field(1, "remote"));

        StringAssert.Contains(lines[0], $"rc=-1 errno={Native(GuestErrno.EINVAL)}", "the 6th argument rewritten");
        StringAssert.Contains(lines[1], "rc=0 errno=0", "the 5th argument rewritten");
        StringAssert.Contains(lines[2], $"rc=-1 errno={Native(GuestErrno.EFAULT)}", "the 4th argument rewritten");
        StringAssert.Contains(lines[3], "rc=8 errno=0", "an untouched call");
        StringAssert.Contains(lines[4], "rc=77 errno=0", "a skipped call");
        for (ulong n = 1; n <= 5; n++)
            CollectionAssert.AreEqual(new[] { pid, local, n, remote, 1UL, 0UL }, entered[n], $"arguments at entry of call {n}");
        CollectionAssert.AreEqual(new[] { pid, local, 4UL, remote, 1UL, 0UL }, returned[4].Args, "arguments at return (untouched call)");
        Assert.AreEqual(8L, returned[4].Retval);
        CollectionAssert.AreEqual(new[] { pid, local, 1UL, remote, 1UL, 1UL }, returned[1].Args, "arguments at return are the rewritten ones");
        Assert.AreEqual(-Native(GuestErrno.EINVAL), returned[1].Retval);
        Assert.IsFalse(returned.ContainsKey(5), "a skipped call has no return event");
        var accounting = await session.GetSyscallAccountingAsync();
        Assert.AreEqual(0, accounting.Unhandled, accounting.ToString());
    }

    [TestCleanup]
    public async Task KernelStaysHealthyAsync() => await KernelLog.AssertCleanAsync(RealGuest, TestContext.CancellationToken);
}

[TestClass, TestCategory("RealGuest")]
public sealed class QemuX86_64Conformance : QemuConformance
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QemuX86_64Conformance), GuestAbi.X86_64, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QemuX86_64Conformance));

    /// <summary>x86_64 only: the other architectures' unprobeable code is refused on the host (Thumb, microMIPS, alignment).</summary>
    [TestMethod, TestCategory("Conformance")]
    public Task An_instruction_the_kernel_cannot_step_is_refused_while_the_binary_is_mapped() => AssertAnUnsteppableInstructionIsRefusedAsync();
}

/// <summary>The Archer C20's architecture: Debian's 4kc-malta kernel on QEMU's Malta board.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class QemuMipsElConformance : QemuConformance
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QemuMipsElConformance), GuestAbi.MipsEl, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QemuMipsElConformance));
}

/// <summary>Debian's arm64 kernel on QEMU's virt board.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class QemuAArch64Conformance : QemuConformance
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QemuAArch64Conformance), GuestAbi.AArch64, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QemuAArch64Conformance));
}

/// <summary>armel programs on Debian's armmp (32-bit ARM) kernel on QEMU's virt board.</summary>
[TestClass, TestCategory("RealGuest")]
public sealed class QemuArmElConformance : QemuConformance
{
    [ClassInitialize]
    public static Task BootAsync(TestContext context) => BootAsync(typeof(QemuArmElConformance), GuestAbi.ArmEl, context.CancellationToken);

    [ClassCleanup]
    public static Task ShutDownAsync() => ShutDownAsync(typeof(QemuArmElConformance));
}
