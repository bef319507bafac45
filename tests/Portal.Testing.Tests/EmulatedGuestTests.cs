using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Channels;
using Portal.Diagnostics;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Protocol;
using Portal.Testing.Programs;

namespace Portal.Testing.Tests;

/// <summary>Behaviour specific to the emulated guest, and what only it can provoke (timeouts, hostile verdicts).</summary>
[TestClass]
public sealed class EmulatedGuestTests
{
    public TestContext TestContext { get; set; } = null!;

    private static GuestCommand Ioctls(params string[] pairs) => new([PortalSelfTest.Name, "ioctl", .. pairs]);

    [TestMethod]
    public async Task Each_vcpu_holds_its_own_syscall()
    {
        await using var guest = new EmulatedGuest(GuestAbi.MipsEl, new EmulatedGuestOptions { CpuCount = 2 });
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        Assert.AreEqual(2, session.Guest.CpuSlots);
        var secondArrived = new TaskCompletionSource();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7001))
            .RegisterAsync(async _ => await secondArrived.Task.WaitAsync(TimeSpan.FromSeconds(5)));   // held until the other vCPU's event
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(0x7002))
            .RegisterAsync(_ => { secondArrived.TrySetResult(); return ValueTask.CompletedTask; });
        var first = guest.RunAsync(Ioctls("0x7001", "0"), TestContext.CancellationToken);
        var second = guest.RunAsync(Ioctls("0x7002", "0"), TestContext.CancellationToken);
        await Task.WhenAll(first, second);
        Assert.IsTrue(secondArrived.Task.IsCompletedSuccessfully);
        Assert.AreEqual(0, guest.Statistics.HostTimeouts);
    }

    [TestMethod]
    public async Task Unknown_programs_and_crashes_behave_like_a_shell()
    {
        await using var guest = new EmulatedGuest(GuestAbi.ArmEl);
        var missing = await guest.RunAsync(GuestCommand.Of("no-such-program"), TestContext.CancellationToken);
        Assert.AreEqual(127, missing.ExitCode);
        StringAssert.Contains(missing.Output, "not found");
        guest.AddProgram("crasher", context =>
        {
            context.Memory.Read(0, 4);
            return ValueTask.FromResult(0);
        });
        var crash = await guest.RunAsync(GuestCommand.Of("crasher"), TestContext.CancellationToken);
        Assert.AreEqual(139, crash.ExitCode);
        StringAssert.Contains(crash.Output, "Segmentation fault");
    }

    [TestMethod]
    public async Task Plugin_authors_can_run_their_own_csharp_guest_programs()
    {
        await using var guest = new EmulatedGuest(GuestAbi.Mips);
        await using var session = await PortalSession.AttachAsync(guest.Connection);
        await session.OnSyscall("getpid", SyscallPhase.Return).WhereComm("my-daemon").RegisterAsync(context =>
        {
            context.Retval = 4242;
            return ValueTask.CompletedTask;
        });
        var (process, exitCode) = await guest.RunAsync(async context =>
        {
            context.PrintLine($"pid={await context.GetPidAsync()}");
            return 3;
        }, ["/usr/sbin/my-daemon"], TestContext.CancellationToken);
        Assert.AreEqual(3, exitCode);
        Assert.AreEqual("my-daemon", process.Comm);
        Assert.AreEqual("pid=4242\n", process.Output);
    }

    [TestMethod]
    public async Task Stale_verdicts_are_ignored_and_bad_ones_rejected_whole()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        await RegisterRawHookAsync(guest, syscall: 16 /* ioctl */, command: 0x7001);
        var answers = new Queue<Func<ulong, byte[][]>>(
        [
            id => [Verdict(id + 1000, flags: 2, retval: 5), Verdict(id, flags: 2, retval: 6)],   // stale, then the real one
            id => [Verdict(id, flags: 0x80, retval: 5)],                                          // unknown flag bit
            id => [Verdict(id, flags: 2, retval: 5, writeCount: 1, entryLength: 5000)],          // write entry beyond the verdict
            id => [Verdict(id, flags: 2, retval: 5, op: (ulong)PortalOp.Ping), Verdict(id, flags: 2, retval: 8)], // a request, served
            id => [Verdict(id, flags: 2, retval: 7)],
        ]);
        using var sink = new HandWrittenVerdicts(guest.Connection) { Next = id => answers.Dequeue()(id) };

        var run = await guest.RunAsync(Ioctls("0x7001", "1", "0x7001", "2", "0x7001", "3", "0x7001", "4", "0x7001", "5"), TestContext.CancellationToken);

        StringAssert.Contains(run.Output, "arg=0x1 rc=6 errno=0", "a stale verdict is ignored; the guest waits for the right one");
        StringAssert.Contains(run.Output, "arg=0x2 rc=-1 errno=25", "a rejected verdict leaves the syscall untouched");
        StringAssert.Contains(run.Output, "arg=0x3 rc=-1 errno=25");
        StringAssert.Contains(run.Output, "arg=0x4 rc=8 errno=0", "a request posted instead of a verdict is served");
        StringAssert.Contains(run.Output, "arg=0x5 rc=7 errno=0");
        Assert.AreEqual(1, guest.Statistics.StaleVerdicts);
        Assert.AreEqual(2, guest.Statistics.BadVerdicts);
        Assert.AreEqual(3, guest.Statistics.VerdictsApplied);
        Assert.AreEqual(0, guest.Statistics.HostTimeouts);
    }

    [TestMethod]
    public async Task A_sink_that_returns_without_a_verdict_is_a_loud_error()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        await RegisterRawHookAsync(guest, syscall: 16, command: 0x7001);
        using var sink = new HandWrittenVerdicts(guest.Connection) { Forget = true };
        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(async () =>
            await guest.RunAsync(Ioctls("0x7001", "0"), TestContext.CancellationToken));
        StringAssert.Contains(error.Message, "without handing slot 1 back");
    }

    /// <summary>HOOK_REGISTER written byte by byte: ioctl enter with arg1 == command.</summary>
    private static async Task RegisterRawHookAsync(EmulatedGuest guest, int syscall, ulong command)
    {
        var control = guest.Connection.Control;
        void Write()
        {
            var region = control.Region;
            region.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(region, (ulong)PortalOp.HookRegister);
            BinaryPrimitives.WriteUInt64LittleEndian(region[16..], 64 + 24);
            var data = region[24..];
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)syscall);
            BinaryPrimitives.WriteUInt32LittleEndian(data[4..], 1);      // enter
            BinaryPrimitives.WriteUInt32LittleEndian(data[12..], 1);     // one filter
            BinaryPrimitives.WriteUInt32LittleEndian(data[64..], 1);     // on argument 1
            BinaryPrimitives.WriteUInt32LittleEndian(data[68..], 1);     // EQ
            BinaryPrimitives.WriteUInt64LittleEndian(data[72..], command);
        }
        Write();
        await control.ExchangeAsync();
        Assert.AreEqual((ulong)PortalResponse.ExtOk, BinaryPrimitives.ReadUInt64LittleEndian(control.Region));
    }

    private static byte[] Verdict(ulong eventId, uint flags, long retval, uint writeCount = 0, uint entryLength = 0, ulong op = (ulong)PortalOp.Verdict)
    {
        var region = new byte[RegionLayout.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(region, op);
        BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(8), eventId);
        BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(16), 72 + (writeCount > 0 ? 16UL : 0));
        var data = region.AsSpan(24);
        BinaryPrimitives.WriteUInt32LittleEndian(data, flags);
        BinaryPrimitives.WriteInt64LittleEndian(data[8..], retval);
        BinaryPrimitives.WriteUInt32LittleEndian(data[64..], writeCount);
        if (writeCount > 0)
            BinaryPrimitives.WriteUInt32LittleEndian(data[80..], entryLength);
        return region;
    }

    /// <summary>A raw sink that answers every event with crafted regions (or forgets to answer).</summary>
    private sealed class HandWrittenVerdicts : IGuestEventSink, IDisposable
    {
        private readonly IDisposable _attachment;

        public HandWrittenVerdicts(IGuestConnection connection) => _attachment = connection.Attach(this);

        public Func<ulong, byte[][]>? Next { get; init; }

        public bool Forget { get; init; }

        public ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            if (Forget)
                return ValueTask.CompletedTask;
            var eventId = BinaryPrimitives.ReadUInt64LittleEndian(channel.Region[8..]);
            foreach (var region in Next!(eventId))
            {
                region.CopyTo(channel.Region);
                channel.ReleaseToGuest();
            }
            return ValueTask.CompletedTask;
        }

        public void Dispose() => _attachment.Dispose();
    }
}
