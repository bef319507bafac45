using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Generators.Tests.Sample;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Testing;
using Portal.Testing.Processes;
using Portal.Testing.Programs;
using Portal.Typed;

namespace Portal.Generators.Tests;

/// <summary>
/// Generated proxies against the emulated guest: a C# guest program lays out a <c>struct sample_req</c>
/// with the emulated process's own byte-order helpers (not the generated code), passes it to an ioctl,
/// and the handler works through <see cref="GuestPtr{T}"/>.
/// </summary>
[TestClass]
public sealed class GuestPtrTests
{
    private const ulong Command = 0x7001;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>name "eth0" at 0, u.value at 16 (long), next at 24 (pointer) → a point {7, -9}.</summary>
    private static async ValueTask<int> RequestProgram(GuestProgramContext context)
    {
        var memory = context.Memory;
        var abi = context.Abi;
        var req = (ulong)await context.MmapAsync(4096, PageProtection.ReadWrite);
        var point = req + 2048;
        memory.WriteCString(req, "eth0");
        if (abi.PointerSize == 8)
            memory.WriteUInt64(req + 16, 0x1122334455667788);
        else
            memory.WriteUInt32(req + 16, 0x11223344);
        memory.WritePointer(req + 24, point);
        memory.WriteUInt32(point, 7);
        memory.WriteUInt32(point + 4, unchecked((uint)-9));
        var fd = (int)await context.OpenAsync("/dev/null");
        await context.IoctlAsync(fd, Command, req);
        context.PrintLine($"name={memory.ReadCString(req, 16)}");
        context.PrintLine($"value=0x{(abi.PointerSize == 8 ? memory.ReadUInt64(req + 16) : memory.ReadUInt32(req + 16)):x}");
        context.PrintLine($"x={(int)memory.ReadUInt32(point)}");
        return 0;
    }

    [TestMethod]
    [DataRow("x86_64"), DataRow("mips")]
    public async Task A_record_loads_in_one_exchange_and_stores_its_changes_in_one(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        guest.AddProgram("request", RequestProgram);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        (string Name, long Value, int X, int Y, long LoadExchanges, long ChaseExchanges, long StoreExchanges, long FieldExchanges)? seen = null;
        Exception? failure = null;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(Command)).RegisterAsync(async context =>
        {
            try
            {
                var pointer = context.Memory.At<SampleReq>(context.Args[2]);
                var before = context.Exchanges;
                var req = await pointer.LoadAsync();
                var load = context.Exchanges - before;

                before = context.Exchanges;
                var point = await req.Next.LoadAsync();          // a second record, through a pointer member
                var chase = context.Exchanges - before;

                req.Name = "test";
                req.SampleValue = 0x55;
                before = context.Exchanges;
                await req.StoreAsync();                          // name and value are adjacent: one write
                var store = context.Exchanges - before;

                before = context.Exchanges;
                var next = await pointer.Next.ReadAsync();       // a member pointer: only that member
                var pointPointer = next.As<Point>();
                await pointPointer.X.WriteAsync(100);
                var field = context.Exchanges - before;

                seen = (req.Name, req.SampleValue, point.X, point.Y, load, chase, store, field);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });

        var run = await guest.RunAsync(GuestCommand.Of("request"), TestContext.CancellationToken);

        if (failure is not null)
            throw new AssertFailedException($"handler failed: {failure}");
        Assert.IsNotNull(seen, run.Output);
        Assert.AreEqual(7, seen.Value.X);
        Assert.AreEqual(-9, seen.Value.Y);
        Assert.AreEqual(1, seen.Value.LoadExchanges, "the whole record in one exchange");
        Assert.AreEqual(1, seen.Value.ChaseExchanges);
        Assert.AreEqual(1, seen.Value.StoreExchanges, "adjacent changes coalesce into one write");
        Assert.AreEqual(2, seen.Value.FieldExchanges, "one read of next, one write of next->x");
        Assert.AreEqual("test", seen.Value.Name, "read-your-writes inside the snapshot");
        StringAssert.Contains(run.Output, "name=test");
        StringAssert.Contains(run.Output, "value=0x55");
        StringAssert.Contains(run.Output, "x=100");
    }

    [TestMethod]
    public async Task Loading_what_the_guest_cannot_read_is_a_fault()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        Exception? error = null;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(Command)).RegisterAsync(async context =>
        {
            try
            {
                await context.Memory.At<SampleReq>(0).LoadAsync();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        await guest.RunAsync(GuestCommand.Of(PortalSelfTest.Name, "ioctl", "0x7001", "0"), TestContext.CancellationToken);
        Assert.IsInstanceOfType<Memory.GuestFaultException>(error);
    }
}
