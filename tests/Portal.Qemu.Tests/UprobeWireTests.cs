using System.Buffers.Binary;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Channels;
using Portal.Guests;
using Portal.Protocol;

namespace Portal.Qemu.Tests;

/// <summary>
/// portal.ko's function hooks (protocol.md §4.6) at the wire level, written by hand like any other
/// request, independent of the host's API for them: descriptor validation, EPERM on a held slot,
/// the events' fields at entry and return (stack arguments on armel and mipsel), SET_ARGS at entry
/// (a register and a stack argument), SET_RETVAL on return, filters, HOOK_UNREGISTER from a held
/// slot and HOOK_RESET, and a clean kernel log. The target is <c>portal_probe_target</c> in the
/// guest's own <c>portal-selftest</c>, its file offset read from the binary the image was built with.
/// </summary>
[TestClass, TestCategory("RealGuest")]
public sealed class UprobeWireTests
{
    private const string Program = "/usr/bin/portal-selftest", Symbol = "portal_probe_target";
    private const uint PhaseEntry = 3, PhaseReturn = 4, FlagRetvalFilter = 0x4, FlagTarget = 0x10;
    private const ulong FeatureUprobes = 0x40;
    private const int Eperm = 1, Enoent = 2, Eisdir = 21, Einval = 22;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("x86_64"), DataRow("mipsel"), DataRow("armel"), DataRow("aarch64")]
    public async Task Uprobe_function_hooks_on_the_wire(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        var token = TestContext.CancellationToken;
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi }, token);
        var binary = Path.Combine(Path.GetDirectoryName(guest.Image.Initramfs)!, "bin", "portal-selftest");
        var (address, offset) = ElfSymbol(binary, Symbol);
        var control = guest.Connection.Control;

        // GUEST_INFO: feature bit 6
        Request(control.Region, (ulong)PortalOp.GuestInfo, 0, 0);
        await control.ExchangeAsync(token);
        Assert.AreNotEqual(0UL, BinaryPrimitives.ReadUInt32LittleEndian(control.Region[(24 + 28)..]) & FeatureUprobes, "feature bit 6");

        // malformed descriptors and unusable targets
        var size = FileSize(binary);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, Program), Einval, "no target flag", token, flagsOverride: 0);
        await ExpectFailAsync(control, Descriptor(1, 0, offset, Program), Einval, "target on a syscall phase", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 16, offset, Program), Einval, "nr != 0", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, "usr/bin/portal-selftest"), Einval, "relative path", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, "/usr/bin/\0portal"), Einval, "NUL in the path", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, "/nonexistent"), Enoent, "missing file", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, "/usr/bin"), Eisdir, "a directory", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, (ulong)size, Program), Einval, "offset at the end of the file", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, ulong.MaxValue, Program), Einval, "offset far beyond", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, Program, reserved: 1), Einval, "reserved", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, Program, extra: 8), Einval, "bytes after the path", token);
        await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset, Program, retvalFilter: true), Einval, "retval filter on entry", token);
        if (abi.PointerSize == 4 || abi == GuestAbi.AArch64)
            await ExpectFailAsync(control, Descriptor(PhaseEntry, 0, offset + 2, Program), Einval, "misaligned", token);

        // entry and return hooks; the entry hook filters on the 5th argument (on the stack on 32-bit guests)
        var entry = await RegisterAsync(control, Descriptor(PhaseEntry, 0, offset, Program, argFilter: (4, 5)), token);
        var ret = await RegisterAsync(control, Descriptor(PhaseReturn, 0, offset, Program, retvalFilter: true), token);

        using var sink = new Sink(guest.Connection);
        var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "func", "1", "2", "3", "4", "5", "6"), token);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        Assert.IsEmpty(sink.Failures, string.Join("\n", sink.Failures));
        StringAssert.Contains(run.Output, "func rc=4242", "SET_ARGS at entry (10 for a, 100 for f) then SET_RETVAL on return");
        Assert.HasCount(2, sink.Events, string.Join("\n", sink.Events));
        var (e, r) = (sink.Events[0], sink.Events[1]);
        Assert.AreEqual((entry, PhaseEntry, address), (e.Hook, e.Phase, e.Nr), "entry: hook, phase, the probed address");
        CollectionAssert.AreEqual(new ulong[] { 1, 2, 3, 4, 5, 6 }, e.Args, "the six arguments by the calling convention");
        Assert.AreEqual(0L, e.Retval);
        Assert.AreEqual((0UL, 0U), (e.Scratch, e.ScratchSize), "no scratch on function events");
        Assert.AreEqual("portal-selftest", e.Comm);
        Assert.AreEqual(e.Pid, e.ProcPid, "process-bound requests run in the probed process");
        Assert.AreEqual((ret, PhaseReturn, address), (r.Hook, r.Phase, r.Nr), "return: hook, phase, the function's address");
        Assert.AreEqual(664L, r.Retval, "10 + 2*2 + 3*3 + 4*4 + 5*5 + 6*100");
        // the return event carries the call's arguments, saved at its entry (before or after the entry
        // hook's SET_ARGS: the kernel runs the newest consumer first)
        CollectionAssert.AreEqual(new ulong[] { 2, 3, 4, 5 }, r.Args[1..5], "the arguments at return are the call's");
        CollectionAssert.Contains(new ulong[] { 1, 10 }, r.Args[0]);
        CollectionAssert.Contains(new ulong[] { 6, 100 }, r.Args[5]);
        Assert.AreEqual(e.Pid, r.Pid);
        Assert.IsTrue(sink.Reports.All(report => report.IsClean), string.Join("\n", sink.Reports));

        // the entry filter (5th argument == 5) refuses; the return hook's retval filter (>= 0) passes
        sink.Events.Clear();
        run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "func", "1", "2", "3", "4", "7", "6"), token);
        StringAssert.Contains(run.Output, "func rc=4242");
        Assert.HasCount(1, sink.Events, "only the return hook");
        Assert.AreEqual(PhaseReturn, sink.Events[0].Phase);
        Assert.AreEqual(101L, sink.Events[0].Retval);
        CollectionAssert.AreEqual(new ulong[] { 1, 2, 3, 4, 7, 6 }, sink.Events[0].Args, "the call's arguments, not the registers at return");

        // a held slot: registering a function hook is refused (EPERM), unregistering one works (the entry hook)
        sink.Events.Clear();
        sink.OnHeld = async channel =>
        {
            sink.OnHeld = null;     // the entry event only
            await ExpectFailAsync(channel, Descriptor(PhaseEntry, 0, offset, Program), Eperm, "register on a vCPU slot", token);
            Request(channel.Region, (ulong)PortalOp.HookUnregister, entry, 0);
            await channel.ExchangeAsync(token);
            Assert.AreEqual((ulong)PortalResponse.ExtOk, Op(channel.Region), "unregistered on the held slot");
        };
        run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "func", "1", "2", "3", "4", "5", "6"), token);
        Assert.IsEmpty(sink.Failures, string.Join("\n", sink.Failures));
        StringAssert.Contains(run.Output, "func rc=4242");
        sink.OnHeld = null;
        sink.Events.Clear();
        run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "func", "1", "2", "3", "4", "5", "6"), token);
        StringAssert.Contains(run.Output, "func rc=4242", "the return hook still answers");
        Assert.HasCount(1, sink.Events, "the entry hook is gone");

        // HOOK_RESET: nothing fires, the function runs untouched
        Request(control.Region, (ulong)PortalOp.HookReset, 0, 0);
        await control.ExchangeAsync(token);
        Assert.AreEqual(1UL, Addr(control.Region), "the return hook was left");
        sink.Events.Clear();
        run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "func", "1", "2", "3", "4", "5", "6"), token);
        StringAssert.Contains(run.Output, "func rc=91");
        Assert.IsEmpty(sink.Events);

        // registered again after the reset: breakpoints come back, many calls in a row
        await RegisterAsync(control, Descriptor(PhaseReturn, 0, offset, Program), token);
        for (var i = 0; i < 20; i++)
        {
            run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "func", $"{i}", "0", "0", "0", "0", "0"), token);
            StringAssert.Contains(run.Output, "func rc=4242");
        }
        Assert.IsEmpty(sink.Failures, string.Join("\n", sink.Failures));
        await KernelLog.AssertCleanAsync(guest, token);
    }

    /// <summary>
    /// The hard parts of a uprobe's lifetime: an event the host leaves unanswered (abandoned after the
    /// timeout, the function runs untouched); two vCPUs hitting the function in a loop while the host
    /// registers and unregisters hooks on it (the handlers race with the removal of their uprobe); and
    /// unloading portal.ko with hooks registered while the function is being hit.
    /// </summary>
    [TestMethod]
    [DataRow("x86_64"), DataRow("aarch64")]
    public async Task Uprobe_hooks_survive_abandonment_churn_on_two_vcpus_and_unload(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        var token = TestContext.CancellationToken;
        await using var guest = await QemuGuest.StartAsync(new QemuGuestOptions { Abi = abi, Cpus = 2 }, token);
        var binary = Path.Combine(Path.GetDirectoryName(guest.Image.Initramfs)!, "bin", "portal-selftest");
        var (_, offset) = ElfSymbol(binary, Symbol);
        var control = guest.Connection.Control;
        using var sink = new Sink(guest.Connection);

        // abandonment: the host sits on the entry event past the guest's timeout
        var hook = await RegisterAsync(control, Descriptor(PhaseEntry, 0, offset, Program), token);
        var timeoutsBefore = await StatAsync(control, 2, token);
        sink.OnHeld = async _ => await Task.Delay(TimeSpan.FromSeconds(3), token);
        var run = await guest.RunAsync(GuestCommand.Of("portal-selftest", "func", "1", "2", "3", "4", "5", "6"), token);
        sink.OnHeld = null;
        StringAssert.Contains(run.Output, "func rc=91", "an abandoned event leaves the function alone");
        Assert.AreEqual(timeoutsBefore + 1, await StatAsync(control, 2, token), "host_timeouts");
        Request(control.Region, (ulong)PortalOp.HookUnregister, hook, 0);
        await control.ExchangeAsync(token);
        Assert.AreEqual((ulong)PortalResponse.ExtOk, Op(control.Region));

        // churn: both vCPUs call the function in a loop while hooks come and go
        var loop = guest.RunShellAsync(
            "for j in 1 2; do (i=0; while [ $i -lt 150 ]; do portal-selftest func 1 2 3 4 5 6; i=$((i+1)); done) & done; wait",
            cancellationToken: token);
        var registered = 0;
        while (!loop.IsCompleted)
        {
            var entry = await RegisterAsync(control, Descriptor(PhaseEntry, 0, offset, Program), token);
            var ret = await RegisterAsync(control, Descriptor(PhaseReturn, 0, offset, Program), token);
            registered += 2;
            await Task.Delay(20, token);
            Request(control.Region, (ulong)PortalOp.HookUnregister, registered % 4 == 0 ? entry : ret, 0);
            await control.ExchangeAsync(token);
            Request(control.Region, (ulong)PortalOp.HookReset, 0, 0);
            await control.ExchangeAsync(token);
        }
        run = await loop;
        Assert.AreEqual(0, run.ExitCode, run.Output);
        var results = run.Lines.Where(line => line.StartsWith("func rc=", StringComparison.Ordinal)).ToList();
        Assert.HasCount(300, results, run.Output);
        CollectionAssert.IsSubsetOf(results.Distinct().ToList(), new[] { "func rc=91", "func rc=664", "func rc=4242" }, run.Output);
        Assert.IsEmpty(sink.Failures, string.Join("\n", sink.Failures));
        TestContext.WriteLine($"{registered} hooks registered, {sink.Events.Count} events, results: " +
            string.Join(", ", results.GroupBy(r => r).Select(g => $"{g.Key} x{g.Count()}")));
        await KernelLog.AssertCleanAsync(guest, token);

        // unload with hooks registered while both vCPUs hit the function
        await RegisterAsync(control, Descriptor(PhaseEntry, 0, offset, Program), token);
        await RegisterAsync(control, Descriptor(PhaseReturn, 0, offset, Program), token);
        run = await guest.RunShellAsync(
            "for j in 1 2; do (while [ ! -e /tmp/stop ]; do portal-selftest func 1 2 3 4 5 6 >/dev/null; done) & done; " +
            "sleep 2; rmmod portal; echo rmmod=$?; sleep 1; touch /tmp/stop; wait; portal-selftest func 1 2 3 4 5 6",
            cancellationToken: token);
        StringAssert.Contains(run.Output, "rmmod=0", run.Output);
        StringAssert.Contains(run.Output, "func rc=91", "no breakpoint left behind");
        var log = await KernelLog.AssertCleanAsync(guest, token);
        StringAssert.Contains(log, "portal: unloaded");
    }

    private static async Task<long> StatAsync(IGuestChannel control, int index, CancellationToken token)
    {
        Request(control.Region, (ulong)PortalOp.Stats, 0, 0);
        await control.ExchangeAsync(token);
        return BinaryPrimitives.ReadInt64LittleEndian(control.Region[(24 + 8 * index)..]);
    }

    private sealed record Event(uint Hook, uint Phase, ulong Nr, ulong[] Args, long Retval, uint Pid, string Comm, ulong Scratch, uint ScratchSize, ulong ProcPid);

    /// <summary>Answers entry with SET_ARGS (a = 10, f = 100) and return with SET_RETVAL 4242.</summary>
    private sealed class Sink : IGuestEventSink, IDisposable
    {
        private readonly IDisposable _attachment;

        public Sink(IGuestConnection connection) => _attachment = connection.Attach(this);

        public List<Event> Events { get; } = [];

        public List<string> Failures { get; } = [];

        public List<VerdictReport> Reports { get; } = [];

        public Func<IGuestChannel, Task>? OnHeld { get; set; }

        public async ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            var region = channel.Region;
            var eventId = Addr(region);
            var phase = BinaryPrimitives.ReadUInt32LittleEndian(region[(24 + 4)..]);
            try
            {
                var d = region[24..];
                var args = new ulong[6];
                for (var i = 0; i < args.Length; i++)
                    args[i] = BinaryPrimitives.ReadUInt64LittleEndian(d[(16 + 8 * i)..]);
                var comm = Encoding.ASCII.GetString(d.Slice(80, 16)).TrimEnd('\0');
                var ev = new Event(BinaryPrimitives.ReadUInt32LittleEndian(d), BinaryPrimitives.ReadUInt32LittleEndian(d[4..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(d[8..]), args, BinaryPrimitives.ReadInt64LittleEndian(d[64..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(d[72..]), comm, BinaryPrimitives.ReadUInt64LittleEndian(d[96..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(d[104..]), 0);
                Request(channel.Region, (ulong)PortalOp.ReadProcPid, 0, 0);
                await channel.ExchangeAsync(cancellationToken);
                ev = ev with { ProcPid = Addr(channel.Region) };
                lock (Events)
                    Events.Add(ev);
                if (OnHeld is { } held)
                    await held(channel);
            }
            catch (Exception e)
            {
                Failures.Add(e.ToString());
            }
            region = channel.Region;
            region[..(24 + 72)].Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(region, (ulong)PortalOp.Verdict);
            BinaryPrimitives.WriteUInt64LittleEndian(region[8..], eventId);
            BinaryPrimitives.WriteUInt64LittleEndian(region[16..], 72);
            if (phase == PhaseEntry)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(region[24..], 0x4);         // SET_ARGS
                BinaryPrimitives.WriteUInt32LittleEndian(region[28..], 0x1 | 0x20);  // a and f
                BinaryPrimitives.WriteUInt64LittleEndian(region[(24 + 16)..], 10);
                BinaryPrimitives.WriteUInt64LittleEndian(region[(24 + 16 + 40)..], 100);
            }
            else if (phase == PhaseReturn)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(region[24..], 0x1);         // SET_RETVAL
                BinaryPrimitives.WriteInt64LittleEndian(region[32..], 4242);
            }
            channel.ReleaseToGuest();
        }

        public void OnVerdictReport(IGuestChannel channel, VerdictReport report)
        {
            lock (Reports)
                Reports.Add(report);
        }

        public void Dispose() => _attachment.Dispose();
    }

    private static ulong Op(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region);

    private static ulong Addr(ReadOnlySpan<byte> region) => BinaryPrimitives.ReadUInt64LittleEndian(region[8..]);

    private static void Request(Span<byte> region, ulong op, ulong address, ulong size)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(region, op);
        BinaryPrimitives.WriteUInt64LittleEndian(region[8..], address);
        BinaryPrimitives.WriteUInt64LittleEndian(region[16..], size);
    }

    /// <summary>A function hook descriptor (§4.3, §4.6): optional retval filter (SRANGE 0..max) and one EQ argument filter.</summary>
    private static byte[] Descriptor(uint phase, uint nr, ulong offset, string path, uint reserved = 0, int extra = 0,
        bool retvalFilter = false, (int Arg, ulong Value)? argFilter = null, uint? flagsOverride = null)
    {
        var pathBytes = Encoding.UTF8.GetBytes(path);
        var filters = argFilter is null ? 0 : 1;
        var t = 64 + 24 * filters;
        var d = new byte[t + 16 + pathBytes.Length + extra];
        BinaryPrimitives.WriteUInt32LittleEndian(d, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), phase);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(8), flagsOverride ?? (FlagTarget | (retvalFilter ? FlagRetvalFilter : 0)));
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(12), (uint)filters);
        if (retvalFilter)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(40 + 4), 4);    // SRANGE
            BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(40 + 8), 0);
            BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(40 + 16), long.MaxValue);
        }
        if (argFilter is { } f)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(64), (uint)f.Arg);
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(64 + 4), 1);    // EQ
            BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(64 + 8), f.Value);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(t), offset);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(t + 8), (uint)pathBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(t + 12), reserved);
        pathBytes.CopyTo(d.AsSpan(t + 16));
        return d;
    }

    private static async Task<ulong> RegisterAsync(IGuestChannel channel, byte[] descriptor, CancellationToken token)
    {
        Request(channel.Region, (ulong)PortalOp.HookRegister, 0, (ulong)descriptor.Length);
        descriptor.CopyTo(channel.Region[24..]);
        await channel.ExchangeAsync(token);
        Assert.AreEqual((ulong)PortalResponse.ExtOk, Op(channel.Region), $"registered (errno {Addr(channel.Region)})");
        return Addr(channel.Region);
    }

    private static async Task ExpectFailAsync(IGuestChannel channel, byte[] descriptor, int errno, string what, CancellationToken token,
        uint? flagsOverride = null)
    {
        if (flagsOverride is { } flags)
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor.AsSpan(8), flags);
        Request(channel.Region, (ulong)PortalOp.HookRegister, 0, (ulong)descriptor.Length);
        descriptor.CopyTo(channel.Region[24..]);
        await channel.ExchangeAsync(token);
        Assert.AreEqual(((ulong)PortalResponse.ExtFail, (ulong)errno), (Op(channel.Region), Addr(channel.Region)), what);
    }

    private static long FileSize(string path) => new FileInfo(path).Length;

    /// <summary>A symbol's address and file offset in a little-endian ELF executable (.symtab, PT_LOAD).</summary>
    private static (ulong Address, ulong Offset) ElfSymbol(string path, string name)
    {
        var f = File.ReadAllBytes(path);
        var is64 = f[4] == 2;
        ulong U(int at, int width) => width switch
        {
            8 => BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(at)),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(at)),
            _ => BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(at)),
        };
        var w = is64 ? 8 : 4;
        var phoff = (int)U(is64 ? 0x20 : 0x1c, w);
        var shoff = (int)U(is64 ? 0x28 : 0x20, w);
        var phentsize = (int)U(is64 ? 0x36 : 0x2a, 2);
        var phnum = (int)U(is64 ? 0x38 : 0x2c, 2);
        var shentsize = (int)U(is64 ? 0x3a : 0x2e, 2);
        var shnum = (int)U(is64 ? 0x3c : 0x30, 2);
        for (var i = 0; i < shnum; i++)
        {
            var sh = shoff + i * shentsize;
            if (U(sh + 4, 4) != 2)      // SHT_SYMTAB
                continue;
            var symOff = (int)U(sh + (is64 ? 0x18 : 0x10), w);
            var symSize = (int)U(sh + (is64 ? 0x20 : 0x14), w);
            var link = (int)U(sh + (is64 ? 0x28 : 0x18), 4);
            var strOff = (int)U(shoff + link * shentsize + (is64 ? 0x18 : 0x10), w);
            var entSize = is64 ? 24 : 16;
            for (var s = symOff; s < symOff + symSize; s += entSize)
            {
                var nameAt = strOff + (int)U(s, 4);
                var end = Array.IndexOf(f, (byte)0, nameAt);
                if (Encoding.ASCII.GetString(f, nameAt, end - nameAt) != name)
                    continue;
                var value = U(s + (is64 ? 8 : 4), w) & ~1UL;
                for (var p = 0; p < phnum; p++)
                {
                    var ph = phoff + p * phentsize;
                    if (U(ph, 4) != 1)  // PT_LOAD
                        continue;
                    var pOffset = U(ph + (is64 ? 8 : 4), w);
                    var vaddr = U(ph + (is64 ? 0x10 : 8), w);
                    var filesz = U(ph + (is64 ? 0x20 : 0x10), w);
                    if (value >= vaddr && value < vaddr + filesz)
                        return (value, value - vaddr + pOffset);
                }
            }
        }
        throw new InvalidOperationException($"{name} not found in {path}");
    }
}
