using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Channels;
using Portal.Guests;
using Portal.Protocol;

namespace Portal.Qemu.Tests;

/// <summary>
/// The kernel module must never crash the guest on any host request. Random requests (biased to
/// edge values: sizes around 4072, kernel and wrapping addresses, garbage descriptors) go to the
/// control slot and to a held vCPU slot; afterwards the guest must still answer and its kernel log
/// must be clean. Seeds are fixed, so a failure reproduces.
/// </summary>
[TestClass, TestCategory("RealGuest")]
public sealed class HostileHostTests
{
    private const ulong OpVerdict = 0x103;   // not answered by design: never sent as an exchange here
    private static readonly ulong[] Addresses =
        [0, 1, 0xfff, 0x1000, 0x7fff_ffff_f000, 0x8000_0000_0000, 0xffff_8880_0000_0000, 0xffff_ffff_8100_0000, 0xffff_ffff_ffff_f000, ulong.MaxValue];
    private static readonly ulong[] Sizes = [0, 1, 8, 4071, 4072, 4073, 8192, 1UL << 32, 1UL << 63, ulong.MaxValue];

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Random_requests_on_the_control_slot_and_a_held_slot_do_not_hurt_the_guest()
    {
        await using var guest = await QemuGuest.StartAsync(cancellationToken: TestContext.CancellationToken);
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
        var random = new Random(424242);

        // Control slot: nothing is held, so process-bound ops must fail (ESRCH) and extensions be validated.
        var control = guest.Connection.Control;
        for (var i = 0; i < 20_000; i++)
        {
            RandomRequest(control.Region, random, held: false);
            await control.ExchangeAsync(TestContext.CancellationToken);
            Assert.IsGreaterThanOrEqualTo(0xf000_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(control.Region), "every request gets a response code");
        }

        // A held slot: the guest serves requests in the caller's context. Writes only go where they
        // must fail (kernel, unmapped, wrapping addresses), so the test program itself stays intact.
        using (var sink = new HostileSink(guest.Connection, random))
        {
            var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "ioctl", "0x7001", "0", "0x7002", "0", "0x7003", "0"),
                TestContext.CancellationToken);
            Assert.AreEqual(0, run.ExitCode, run.Output);
            Assert.IsEmpty(sink.Failures, string.Join("\n", sink.Failures));
            Assert.AreEqual(3, sink.Events, "three held syscalls, each fuzzed then released");
            StringAssert.Contains(run.Output, "ioctl cmd=0x7003 arg=0x0 rc=-1 errno=25", "malformed verdicts leave the syscall untouched");
        }

        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        await session.PingAsync(TestContext.CancellationToken);
        var statistics = await session.GetGuestStatisticsAsync(TestContext.CancellationToken);
        Assert.IsGreaterThanOrEqualTo(3, statistics.BadVerdicts);
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    /// <summary>A random request; on a held slot (<paramref name="held"/>) no writes and no hook removal, which would end the test's own hook.</summary>
    private static void RandomRequest(Span<byte> region, Random random, bool held)
    {
        ulong op;
        do
        {
            op = random.Next(10) switch
            {
                < 7 => (ulong)random.Next(0, 11),                      // seed ops and neighbours
                7 or 8 => 0x100 + (ulong)random.Next(0, 10),           // extensions and neighbours
                _ => (ulong)random.NextInt64(),
            };
        }
        while (op == OpVerdict || (held && op is (ulong)PortalOp.Write or (ulong)PortalOp.HookUnregister or (ulong)PortalOp.HookReset));
        var address = random.Next(3) == 0 ? (ulong)random.NextInt64() : Addresses[random.Next(Addresses.Length)];
        var size = random.Next(3) == 0 ? (ulong)random.Next(0, 5000) : Sizes[random.Next(Sizes.Length)];
        BinaryPrimitives.WriteUInt64LittleEndian(region, op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], address);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], size);
        random.NextBytes(region[24..]);
        if (op == (ulong)PortalOp.HookRegister && random.Next(2) == 0)
        {
            // a plausible descriptor with garbage filters, so validation goes deeper than the header
            BinaryPrimitives.WriteUInt32LittleEndian(region[24..], (uint)random.Next(0, 500));
            BinaryPrimitives.WriteUInt32LittleEndian(region[28..], (uint)random.Next(0, 4));
            BinaryPrimitives.WriteUInt32LittleEndian(region[32..], (uint)random.Next(0, 9));
            BinaryPrimitives.WriteUInt32LittleEndian(region[36..], (uint)random.Next(0, 10));
        }
    }

    /// <summary>Holds each matching syscall, fires random requests at it, then answers with a malformed verdict.</summary>
    private sealed class HostileSink : IGuestEventSink, IDisposable
    {
        private readonly Random _random;
        private readonly IDisposable _attachment;
        private readonly IGuestChannel _control;

        public HostileSink(IGuestConnection connection, Random random)
        {
            _random = random;
            _control = connection.Control;
            // Drop whatever the control-slot fuzz registered, then install ioctl (16 on x86_64) enter,
            // arg1 in 0x7001..0x7003, written by hand like any other request.
            BinaryPrimitives.WriteUInt64LittleEndian(_control.Region, (ulong)PortalOp.HookReset);
            _control.ExchangeAsync().AsTask().GetAwaiter().GetResult();
            var region = _control.Region;
            region.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(region, (ulong)PortalOp.HookRegister);
            BinaryPrimitives.WriteUInt64LittleEndian(region[16..], 64 + 24);
            BinaryPrimitives.WriteUInt32LittleEndian(region[24..], 16);
            BinaryPrimitives.WriteUInt32LittleEndian(region[28..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(region[36..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(region[(24 + 64)..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(region[(24 + 68)..], 3);
            BinaryPrimitives.WriteUInt64LittleEndian(region[(24 + 72)..], 0x7001);
            BinaryPrimitives.WriteUInt64LittleEndian(region[(24 + 80)..], 0x7003);
            _control.ExchangeAsync().AsTask().GetAwaiter().GetResult();
            Assert.AreEqual((ulong)PortalResponse.ExtOk, BinaryPrimitives.ReadUInt64LittleEndian(_control.Region), "hook installed");
            _attachment = connection.Attach(this);
        }

        public int Events { get; private set; }

        public List<string> Failures { get; } = [];

        public async ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            var eventId = BinaryPrimitives.ReadUInt64LittleEndian(channel.Region[8..]);
            Events++;
            for (var i = 0; i < 3_000; i++)
            {
                RandomRequest(channel.Region, _random, held: true);
                var request = channel.Region[..24].ToArray();
                try
                {
                    await channel.ExchangeAsync(cancellationToken);
                }
                catch (Exception e)
                {
                    Failures.Add($"request #{i} {Convert.ToHexString(request)}: {e.Message}");
                    throw;
                }
            }
            // A verdict that must be rejected whole: unknown flag bits with a skip.
            var region = channel.Region;
            region[..(24 + 72)].Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(region, OpVerdict);
            BinaryPrimitives.WriteUInt64LittleEndian(region[8..], eventId);
            BinaryPrimitives.WriteUInt64LittleEndian(region[16..], 72);
            BinaryPrimitives.WriteUInt32LittleEndian(region[24..], 0x2 | 0x40);
            channel.ReleaseToGuest();
        }

        public void Dispose()
        {
            _attachment.Dispose();
            BinaryPrimitives.WriteUInt64LittleEndian(_control.Region, (ulong)PortalOp.HookReset);
            _control.ExchangeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
