using System.Buffers.Binary;
using System.Runtime.ExceptionServices;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Channels;
using Portal.Guests;
using Portal.Qemu.Transport;

namespace Portal.Qemu.Tests;

/// <summary>
/// Issue 11, finding 5 (guest half): the guest reports the outcome of every verdict it accepts,
/// each write entry's included, in the slot's verdict report (docs/protocol.md §4.2, §5.1). Verdicts
/// are encoded and reports decoded byte by byte here, independently of the runtime, against
/// <c>portal-selftest desc</c> held at its ioctl (docs/guest-programs.md: a read-write string, a
/// read-only page, a buffer followed by an unmapped page).
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed class VerdictReportWireTests
{
    private const ulong OpRead = 1, OpGuestInfo = 0x100, OpHookRegister = 0x101, OpVerdict = 0x103, OpPing = 0x105, OpStats = 0x106,
        OpHookReset = 0x107;
    private const ulong ReadOk = 0xf000_0001, ExtOk = 0xf000_0101;
    private const uint Skip = 0x2;
    private const uint Applied = 0, Rejected = 1;
    private const int IoctlNr = 16;   // x86_64
    private const ulong Kernel = 0xffff_ffff_8100_0000;

    // The verdict report in the slot's control area (§5.1).
    private const int ReportEvent = 256, ReportStatus = 264, ReportFailures = 268, ReportMask = 272, ReportWritten = 280, ReportEnd = 320;

    // Self-test area descriptor (docs/guest-programs.md).
    private const int DescSize = 96;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Every_accepted_verdict_is_reported_with_each_failed_write()
    {
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { HostTimeout = TimeSpan.FromSeconds(10), HoldBudget = TimeSpan.FromSeconds(10) }, TestContext.CancellationToken);
        var control = guest.Connection.Control;
        Header(control.Region, OpGuestInfo, 0, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region));
        Assert.AreEqual(0x4u, BinaryPrimitives.ReadUInt32LittleEndian(control.Region[(24 + 28)..]) & 0x4u, "features bit 2: verdict report");
        var baseline = await guest.RunAsync(GuestCommand.Of("portal-selftest", "desc", "0x7400"), TestContext.CancellationToken);
        var before = await StatsAsync(control);

        // Every write lands.
        var (run, report) = await VerdictAsync(guest, 0x74a1, d => new(0, [new(d.Str, "reported!\0"u8.ToArray()), new(d.Int32At, [0x88, 0x77, 0x66, 0x55])]));
        Assert.AreEqual(new Report(report.Event, Applied, 0, 0, 0), report);
        StringAssert.Contains(run.Output, "str=reported!\n");
        StringAssert.Contains(run.Output, "int32=0x55667788\n");

        // The second of three fails (unmapped): the others still land.
        (run, report) = await VerdictAsync(guest, 0x74a2, d => new(0,
            [new(d.Str, "first\0"u8.ToArray()), new(d.Unmapped, new byte[8]), new(d.Int64At, new byte[8])]));
        Assert.AreEqual(new Report(report.Event, Applied, 1, 0b10, 0), report);
        StringAssert.Contains(run.Output, "str=first\n");
        StringAssert.Contains(run.Output, "int64=0x0000000000000000\n");

        // A kernel address and the read-only page fail, on a verdict that also skips the syscall.
        (run, report) = await VerdictAsync(guest, 0x74a3, d => new(Skip,
            [new(Kernel, [1]), new(d.Ro, [1, 2, 3, 4]), new(d.Str, "third\0"u8.ToArray())], Retval: 42));
        Assert.AreEqual(new Report(report.Event, Applied, 2, 0b11, 0), report);
        StringAssert.Contains(run.Output, "rc=42 errno=0\n", "the skip applied");
        StringAssert.Contains(run.Output, "str=third\n");
        Assert.AreEqual(Line(baseline, "ro_crc="), Line(run, "ro_crc="));

        // Partly mapped: 4 bytes land (the same bytes as before), then the fault; first_written is the first failure's.
        (run, report) = await VerdictAsync(guest, 0x74a4, d => new(0,
            [new(d.Str, "fourth\0"u8.ToArray()), new(d.Unmapped - 4, [.. Pattern(16384 - 4, 4), 9, 9, 9, 9]), new(Kernel, new byte[16])]));
        Assert.AreEqual(new Report(report.Event, Applied, 2, 0b110, 4), report);
        Assert.AreEqual(Line(baseline, "buf_crc="), Line(run, "buf_crc="));

        // 70 entries: the mask has bits for the first 64; write_failures counts them all.
        int[] failing = [3, 63, 64, 69];
        (run, report) = await VerdictAsync(guest, 0x74a5, d => new(0,
            [.. Enumerable.Range(0, 70).Select(i => failing.Contains(i) ? new Write(Kernel, new byte[8]) : new Write(d.Str + 32, new byte[8]))]));
        Assert.AreEqual(new Report(report.Event, Applied, 4, (1UL << 3) | (1UL << 63), 0), report);

        // Malformed verdicts are rejected whole and reported as such: nothing written.
        (run, report) = await VerdictAsync(guest, 0x74a6, d => new(0x40, [new(d.Str, "XXXX"u8.ToArray())]));
        Assert.AreEqual(new Report(report.Event, Rejected, 0, 0, 0), report, "unknown flag bit");
        StringAssert.Contains(run.Output, "str=portal-selftest\n");
        (run, report) = await VerdictAsync(guest, 0x74a7, d => new(0, [new(d.Str, "XXXX"u8.ToArray())], WriteCount: 2));
        Assert.AreEqual(new Report(report.Event, Rejected, 0, 0, 0), report, "a write entry past size");
        StringAssert.Contains(run.Output, "str=portal-selftest\n");
        (run, report) = await VerdictAsync(guest, 0x74a8, d => new(0, [], Size: 71));
        Assert.AreEqual(new Report(report.Event, Rejected, 0, 0, 0), report, "size below 72");

        var after = await StatsAsync(control);
        Assert.AreEqual(12, after.Length, "STATS has 12 counters (docs/protocol.md §4.5)");
        Assert.AreEqual(8UL, after[0] - before[0], "events_sent");
        Assert.AreEqual(5UL, after[1] - before[1], "verdicts_applied");
        Assert.AreEqual(3UL, after[4] - before[4], "bad_verdicts");
        Assert.AreEqual(1UL + 2 + 2 + 4, after[5] - before[5], "verdict_write_faults: one per failed entry");
        Assert.AreEqual(0UL, after[10] - before[10], "skips_failed: no verdict asked to skip");
        Assert.AreEqual(0UL, after[11] - before[11], "filter_faults: no memory filter");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Stale_verdicts_abandoned_events_and_the_control_slot_get_no_report()
    {
        // A verdict gets no answer: posted as an exchange, it fails after ExchangeTimeout, well before the guest gives up.
        await using var guest = await QemuGuest.StartAsync(
            new QemuGuestOptions { HostTimeout = TimeSpan.FromSeconds(3), ExchangeTimeout = TimeSpan.FromSeconds(1) }, TestContext.CancellationToken);
        var control = (WindowChannel)guest.Connection.Control;
        var before = await StatsAsync(control);

        Header(control.Region, OpVerdict, 1, 72);
        control.Region[24..(24 + 72)].Clear();
        await Assert.ThrowsExactlyAsync<GuestTimeoutException>(async () => await control.ExchangeAsync(TestContext.CancellationToken));
        Assert.IsTrue(control.ControlArea[ReportEvent..ReportEnd].IndexOfAnyExcept((byte)0) < 0, "the control slot never reports");
        Header(control.Region, OpPing, 0x77, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region), "the control slot still serves");

        var (_, first) = await VerdictAsync(guest, 0x74b1, d => new(0, [new(Kernel, [1])]));
        Assert.AreEqual(new Report(first.Event, Applied, 1, 1, 0), first);

        // A stale verdict (another event's id) changes nothing; the right one is reported.
        var (run, report) = await HoldAsync(guest, 0x74b2, async (channel, d, eventId) =>
        {
            Encode(channel.Region, eventId + 1000, new Verdict(Skip, [new(d.Str, "stale\0"u8.ToArray())], Retval: 1));
            await Assert.ThrowsExactlyAsync<GuestTimeoutException>(async () => await channel.ExchangeAsync(TestContext.CancellationToken));
            Assert.AreEqual(first, ReadReport(channel.ControlArea), "a stale verdict is not reported");
            Encode(channel.Region, eventId, new Verdict(0, []));
            channel.ReleaseToGuest();
        });
        Assert.AreEqual(new Report(first.Event + 1, Applied, 0, 0, 0), report);
        StringAssert.Contains(run.Output, "rc=-1 errno=25\n", "the stale skip did not apply");
        StringAssert.Contains(run.Output, "str=portal-selftest\n", "nor its write");

        // An event the guest gave up on: no report; the late verdict is never applied.
        (run, var abandoned) = await HoldAsync(guest, 0x74b3, async (channel, d, eventId) =>
        {
            for (var waited = 0; channel.AbandonedEvent != eventId; waited += 10)
            {
                Assert.IsLessThan(10_000, waited, "the guest gives up after 3 s");
                await Task.Delay(10, TestContext.CancellationToken);
            }
            Encode(channel.Region, eventId, new Verdict(Skip, [new(d.Str, "late\0"u8.ToArray())], Retval: 1));
            channel.ReleaseToGuest();       // acknowledges instead of posting
        });
        Assert.AreEqual(report, abandoned, "still the previous verdict's report");
        StringAssert.Contains(run.Output, "rc=-1 errno=25\n");
        StringAssert.Contains(run.Output, "str=portal-selftest\n");

        var after = await StatsAsync(control);
        Assert.AreEqual(2UL, after[3] - before[3], "stale_verdicts: the control slot's and the held slot's");
        Assert.AreEqual(1UL, after[2] - before[2], "host_timeouts");
        await KernelLog.AssertCleanAsync(guest, TestContext.CancellationToken);
    }

    // ---------------------------------------------------------------- verdicts and reports

    private sealed record Write(ulong Address, byte[] Data);

    /// <summary>A verdict (§4.2); <paramref name="WriteCount"/> and <paramref name="Size"/> override the encoded ones.</summary>
    private sealed record Verdict(uint Flags, Write[] Writes, long Retval = 0, uint? WriteCount = null, ulong? Size = null);

    private sealed record Report(ulong Event, uint Status, uint Failures, ulong Mask, uint FirstWritten);

    private static void Encode(Span<byte> region, ulong eventId, Verdict verdict)
    {
        region.Clear();
        var data = region[24..];
        BinaryPrimitives.WriteUInt32LittleEndian(data, verdict.Flags);
        BinaryPrimitives.WriteInt64LittleEndian(data[8..], verdict.Retval);
        BinaryPrimitives.WriteUInt32LittleEndian(data[64..], verdict.WriteCount ?? (uint)verdict.Writes.Length);
        var off = 72;
        foreach (var write in verdict.Writes)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data[off..], write.Address);
            BinaryPrimitives.WriteUInt32LittleEndian(data[(off + 8)..], (uint)write.Data.Length);
            write.Data.CopyTo(data[(off + 16)..]);
            off += 16 + ((write.Data.Length + 7) & ~7);
        }
        Header(region, OpVerdict, eventId, verdict.Size ?? (ulong)off);
    }

    /// <summary>Decodes the report; its reserved bytes must be zero.</summary>
    private static Report ReadReport(ReadOnlySpan<byte> area)
    {
        Assert.IsTrue(area[(ReportWritten + 4)..ReportEnd].IndexOfAnyExcept((byte)0) < 0, "reserved bytes are 0");
        return new Report(
            BinaryPrimitives.ReadUInt64LittleEndian(area[ReportEvent..]),
            BinaryPrimitives.ReadUInt32LittleEndian(area[ReportStatus..]),
            BinaryPrimitives.ReadUInt32LittleEndian(area[ReportFailures..]),
            BinaryPrimitives.ReadUInt64LittleEndian(area[ReportMask..]),
            BinaryPrimitives.ReadUInt32LittleEndian(area[ReportWritten..]));
    }

    /// <summary>Holds <c>portal-selftest desc CMD</c>, answers with <paramref name="verdict"/>, and returns the report once the command has ended.</summary>
    private async Task<(GuestCommandResult Run, Report Report)> VerdictAsync(QemuGuest guest, uint cmd, Func<Desc, Verdict> verdict)
    {
        ulong held = 0;
        var (run, report) = await HoldAsync(guest, cmd, (channel, d, eventId) =>
        {
            held = eventId;
            Encode(channel.Region, eventId, verdict(d));
            channel.ReleaseToGuest();
            return Task.CompletedTask;
        });
        Assert.AreEqual(held, report.Event, "the report describes the verdict just given");
        return (run, report);
    }

    /// <summary>
    /// Runs <c>portal-selftest desc CMD</c> with its ioctl held (a hook registered by hand), hands the
    /// held slot to <paramref name="handler"/>, which must release it, and reads the slot's report after
    /// the command has ended (the guest has finished with the verdict by then).
    /// </summary>
    private async Task<(GuestCommandResult Run, Report Report)> HoldAsync(QemuGuest guest, uint cmd, Func<WindowChannel, Desc, ulong, Task> handler)
    {
        var control = guest.Connection.Control;
        RegisterIoctlHook(control.Region, cmd);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region), "hook installed");
        var sink = new HoldingSink(handler);
        GuestCommandResult run;
        using (guest.Connection.Attach(sink))
            run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "desc", $"0x{cmd:x}"), TestContext.CancellationToken);
        Header(control.Region, OpHookReset, 0, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        sink.Error?.Throw();
        Assert.AreEqual(0, run.ExitCode, run.Output);
        Assert.IsNotNull(sink.Channel, run.Output);
        return (run, ReadReport(sink.Channel.ControlArea));
    }

    private static void RegisterIoctlHook(Span<byte> region, uint cmd)
    {
        region[..(24 + 88)].Clear();
        Header(region, OpHookRegister, 0, 64 + 24);
        var d = region[24..];
        BinaryPrimitives.WriteUInt32LittleEndian(d, IoctlNr);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 1);          // enter
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], 1);         // one argument filter
        BinaryPrimitives.WriteUInt32LittleEndian(d[64..], 1);         // arg 1
        BinaryPrimitives.WriteUInt32LittleEndian(d[68..], 1);         // EQ
        BinaryPrimitives.WriteUInt64LittleEndian(d[72..], cmd);
    }

    private async Task<ulong[]> StatsAsync(IGuestChannel control)
    {
        Header(control.Region, OpStats, 0, 0);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual(ExtOk, Op(control.Region));
        var size = (int)BinaryPrimitives.ReadUInt64LittleEndian(control.Region[16..]);
        return [.. Enumerable.Range(0, size / 8).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(control.Region[(24 + 8 * i)..]))];
    }

    private sealed class HoldingSink(Func<WindowChannel, Desc, ulong, Task> handler) : IGuestEventSink
    {
        public WindowChannel? Channel { get; private set; }

        public ExceptionDispatchInfo? Error { get; private set; }

        public async ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            var slot = (WindowChannel)channel;
            Channel = slot;
            var eventId = BinaryPrimitives.ReadUInt64LittleEndian(channel.Region[8..]);
            try
            {
                // argument 2 of ioctl(fd, cmd, &desc), then the area with a single READ
                var address = BinaryPrimitives.ReadUInt64LittleEndian(channel.Region[(24 + 16 + 16)..]);
                Header(channel.Region, OpRead, address, DescSize);
                await channel.ExchangeAsync(cancellationToken);
                Assert.AreEqual(ReadOk, Op(channel.Region), "the self-test area");
                var desc = new Desc(channel.Region.Slice(24, DescSize).ToArray());
                Assert.AreEqual(0x504c5445535431UL, BinaryPrimitives.ReadUInt64LittleEndian(desc.Bytes), "magic");
                await handler(slot, desc, eventId);
            }
            catch (Exception e)
            {
                Error ??= ExceptionDispatchInfo.Capture(e);
                if (slot.HostOwned)
                {
                    Encode(channel.Region, eventId, new Verdict(0, []));
                    channel.ReleaseToGuest();
                }
            }
        }
    }

    /// <summary>The self-test area, as read from the held process.</summary>
    private sealed record Desc(byte[] Bytes)
    {
        private ulong Field(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(offset));

        public ulong Ro => Field(24);
        public ulong Unmapped => Field(32);
        public ulong Str => Field(40);
        public ulong Int32At => Field(56);
        public ulong Int64At => Field(64);
    }

    private static void Header(Span<byte> region, ulong op, ulong addr, ulong size)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(region, op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], addr);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], size);
    }

    private static ulong Op(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region);

    private static string Line(GuestCommandResult run, string prefix) =>
        run.Lines.Single(l => l.StartsWith(prefix, StringComparison.Ordinal));

    private static byte[] Pattern(int start, int count) =>
        [.. Enumerable.Range(start, count).Select(i => (byte)(((uint)i * 2654435761u) >> 24))];
}
