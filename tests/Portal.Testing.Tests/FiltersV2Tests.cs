using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Channels;
using Portal.Protocol;
using Portal.Testing.Processes;
using Portal.Testing.Programs;

namespace Portal.Testing.Tests;

/// <summary>
/// Filters v2 (docs/protocol.md §4.3, feature bit 3) on the emulated guest, with descriptors encoded byte
/// by byte: what HOOK_REGISTER accepts and refuses (as guest/module/portal_hooks.c does), and what the
/// set, OUT_SRANGE and memory filters match when emulated processes issue syscalls.
/// </summary>
[TestClass]
public sealed class FiltersV2Tests
{
    private const uint Enter = 1, Return = 2;
    private const uint Eq = 1, SRange = 4, InSet = 7, OutSRange = 8, MemEq = 9, MemContains = 10;
    private const uint RetvalFlag = 4, DataFlag = 8;
    private const ulong Deref = 1UL << 48, StopAtNul = 1UL << 49;

    public TestContext TestContext { get; set; } = null!;

    // ---- what the guest advertises -------------------------------------------------------------------

    [TestMethod]
    public async Task Guest_info_advertises_filters_v2_and_stats_carry_filter_faults()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        var control = guest.Connection.Control;
        control.Region.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(control.Region, (ulong)PortalOp.GuestInfo);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual((ulong)PortalResponse.ExtOk, BinaryPrimitives.ReadUInt64LittleEndian(control.Region));
        var features = (GuestFeatures)BinaryPrimitives.ReadUInt32LittleEndian(control.Region[(24 + 28)..]);
        Assert.IsTrue(features.HasFlag(GuestFeatures.FiltersV2), $"features {features}");

        control.Region.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(control.Region, (ulong)PortalOp.Stats);
        await control.ExchangeAsync(TestContext.CancellationToken);
        Assert.AreEqual((ulong)PortalResponse.ExtOk, BinaryPrimitives.ReadUInt64LittleEndian(control.Region));
        Assert.AreEqual(12UL * 8, BinaryPrimitives.ReadUInt64LittleEndian(control.Region[16..]), "twelve counters, filter_faults last");
    }

    // ---- descriptors ---------------------------------------------------------------------------------

    [TestMethod]
    public async Task A_well_formed_v2_descriptor_is_accepted()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        var data = new byte[256];
        Encoding.ASCII.GetBytes("eth0\0").CopyTo(data, 0);
        for (var i = 0; i < 31; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8 + 8 * i), (ulong)i);
        var descriptor = Descriptor(16, Return,
            [
                new Filter(1, InSet, 8, 31),                                      // the set fills the area to its last byte
                new Filter(2, OutSRange, unchecked((ulong)-4095), unchecked((ulong)-1)),
                new Filter(2, MemEq, Offsets(0), Mem(0, 5)),
                new Filter(2, MemContains, Offsets(-8, 16), Mem(0, 4, window: 256, deref: true, stopAtNul: true)),
                new Filter(3, OutSRange, 7, 7),                                   // a == b is a range of one
            ],
            data, retval: new Filter(0, InSet, 8, 1));
        Assert.IsGreaterThan(0L, await RegisterAsync(guest, descriptor), "accepted: the id");
        Assert.IsGreaterThan(0L, await RegisterAsync(guest, Descriptor(16, Enter, [new Filter(1, OutSRange, 0, 0)])),
            "OUT_SRANGE needs no data area");
    }

    private static readonly Dictionary<string, byte[]> Malformed = MalformedDescriptors().ToDictionary(d => d.Name, d => d.Descriptor);

    public static IEnumerable<object[]> MalformedNames => Malformed.Keys.Select(name => new object[] { name });

    private static IEnumerable<(string Name, byte[] Descriptor)> MalformedDescriptors()
    {
        var data = new byte[16];
        Filter set = new(1, InSet, 0, 2);
        yield return ("data_size 0", Descriptor(16, Enter, [set], new byte[16], dataSizeField: 0));
        yield return ("data_size 257", Descriptor(16, Enter, [set], new byte[257]));
        yield return ("reserved nonzero", Descriptor(16, Enter, [set], data, reserved: 1));
        yield return ("size one short of the data", Descriptor(16, Enter, [set], data, sizeDelta: -1));
        yield return ("data flag without the data header", Descriptor(16, Enter, [new Filter(1, Eq, 1, 0)], extraFlags: DataFlag));
        yield return ("unknown flag bit 4", Descriptor(16, Enter, [new Filter(1, Eq, 1, 0)], data, extraFlags: 16));
        yield return ("IN_SET without a data area", Descriptor(16, Enter, [set]));
        yield return ("IN_SET count 0", Descriptor(16, Enter, [set with { B = 0 }], data));
        yield return ("IN_SET count 33", Descriptor(16, Enter, [set with { B = 33 }], new byte[256]));
        yield return ("IN_SET past the data area", Descriptor(16, Enter, [set with { A = 8 }], data));
        yield return ("IN_SET at a huge offset", Descriptor(16, Enter, [set with { A = ulong.MaxValue - 7, B = 1 }], data));
        yield return ("OUT_SRANGE a > b (signed)", Descriptor(16, Enter, [new Filter(1, OutSRange, 5, unchecked((ulong)-5))]));
        yield return ("MEM_EQ as the retval filter", Descriptor(16, Return, [], data, retval: new Filter(0, MemEq, 0, Mem(0, 4))));
        yield return ("MEM_CONTAINS as the retval filter", Descriptor(16, Return, [], data, retval: new Filter(0, MemContains, 0, Mem(0, 4, window: 8))));
        yield return ("MEM_EQ with unknown bit 50", Descriptor(16, Enter, [new Filter(2, MemEq, 0, Mem(0, 4) | (1UL << 50))], data));
        yield return ("MEM_CONTAINS with bit 63", Descriptor(16, Enter, [new Filter(2, MemContains, 0, Mem(0, 4, window: 8) | (1UL << 63))], data));
        yield return ("MEM_EQ with a window", Descriptor(16, Enter, [new Filter(2, MemEq, 0, Mem(0, 4, window: 8))], data));
        yield return ("MEM_EQ with stop-at-NUL", Descriptor(16, Enter, [new Filter(2, MemEq, 0, Mem(0, 4, stopAtNul: true))], data));
        yield return ("MEM_EQ length 0", Descriptor(16, Enter, [new Filter(2, MemEq, 0, Mem(0, 0))], data));
        yield return ("MEM_EQ length 65", Descriptor(16, Enter, [new Filter(2, MemEq, 0, Mem(0, 65))], new byte[256]));
        yield return ("MEM_EQ pattern past the data area", Descriptor(16, Enter, [new Filter(2, MemEq, 0, Mem(12, 5))], data));
        yield return ("MEM_CONTAINS window below the length", Descriptor(16, Enter, [new Filter(2, MemContains, 0, Mem(0, 8, window: 7))], data));
        yield return ("MEM_CONTAINS window 257", Descriptor(16, Enter, [new Filter(2, MemContains, 0, Mem(0, 8, window: 257))], data));
        yield return ("MEM_CONTAINS without a data area", Descriptor(16, Enter, [new Filter(2, MemContains, 0, Mem(0, 1, window: 8))]));
        yield return ("unknown kind 14", Descriptor(16, Enter, [new Filter(0, 14, 1, 0)], data));
    }

    [TestMethod]
    [DynamicData(nameof(MalformedNames))]
    public async Task A_malformed_v2_descriptor_is_refused_with_EINVAL(string name)
    {
        await using var guest = new EmulatedGuest(GuestAbi.Mips);
        Assert.AreEqual(-(long)GuestAbi.Mips.ToNativeErrno(GuestErrno.EINVAL), await RegisterAsync(guest, Malformed[name]), name);
    }

    [TestMethod]
    public async Task The_data_area_ends_where_data_size_says_whatever_size_adds()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        var data = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8), 0x7001);
        Assert.IsGreaterThan(0L, await RegisterAsync(guest, Descriptor(16, Enter, [new Filter(1, InSet, 8, 1)], data, sizeDelta: 40)),
            "bytes after the data area are ignored");
        Assert.AreEqual(-22L, await RegisterAsync(guest, Descriptor(16, Enter, [new Filter(1, InSet, 8, 2)], data, sizeDelta: 40)),
            "they are not part of it: a set reaching into them does not fit");
    }

    // ---- matching ------------------------------------------------------------------------------------

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task In_set_matches_the_values_of_the_set_only(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var data = new byte[8 + 3 * 8];
        Encoding.ASCII.GetBytes("padding!").CopyTo(data, 0);                    // the set starts at offset 8
        ulong[] values = [0x7001, 0x7003, abi.TruncateToRegister(unchecked((ulong)-2))];
        for (var i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8 + 8 * i), values[i]);
        var ioctl = abi.Syscalls.GetNumber("ioctl");
        var id = await RegisterAsync(guest, Descriptor(ioctl, Enter, [new Filter(1, InSet, 8, 3)], data));

        await RunAsync(guest, async context =>
        {
            foreach (var command in new ulong[] { 0x7001, 0x7002, 0x7003, 0x7004, context.Register(-2), context.Register(-3) })
                await context.IoctlAsync(99, command, 0);
        });

        CollectionAssert.AreEqual(new[] { 0x7001UL, 0x7003UL, abi.TruncateToRegister(unchecked((ulong)-2)) },
            events.For(id).Select(e => e.Args[1]).ToArray());
        Assert.AreEqual(3, guest.Statistics.FilteredOut);
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task Out_srange_matches_outside_the_signed_range(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var ioctl = abi.Syscalls.GetNumber("ioctl");
        var onArg = await RegisterAsync(guest, Descriptor(ioctl, Enter,
            [new Filter(2, OutSRange, unchecked((ulong)-4095), unchecked((ulong)-1))]));
        var succeeded = await RegisterAsync(guest, Descriptor(abi.Syscalls.GetNumber("getpid"), Return, [],
            retval: new Filter(0, OutSRange, unchecked((ulong)-4095), unchecked((ulong)-1))));
        var failed = await RegisterAsync(guest, Descriptor(ioctl, Return, [],
            retval: new Filter(0, OutSRange, unchecked((ulong)-4095), unchecked((ulong)-1))));

        await RunAsync(guest, async context =>
        {
            foreach (var argument in new long[] { 0, 5, -1, -4095, -4096, long.MaxValue })
                await context.IoctlAsync(99, 0x7001, context.Register(argument));   // EBADF: -9, inside the range
            await context.GetPidAsync();
        });

        // s is sign-extended from the register width: long.MaxValue truncated to 32 bits is -1, inside the range.
        long[] outside = abi.PointerSize == 4 ? [0, 5, -4096] : [0, 5, -4096, long.MaxValue];
        CollectionAssert.AreEqual(outside.Select(v => abi.TruncateToRegister((ulong)v)).ToArray(),
            events.For(onArg).Select(e => e.Args[2]).ToArray());
        Assert.HasCount(1, events.For(succeeded), "getpid succeeded");
        Assert.IsEmpty(events.For(failed), "ioctl failed every time");
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task Mem_eq_with_the_nul_is_string_equality_without_it_a_prefix(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var ioctl = abi.Syscalls.GetNumber("ioctl");
        var data = Encoding.ASCII.GetBytes("eth0\0");
        var equal = await RegisterAsync(guest, Descriptor(ioctl, Enter, [new Filter(2, MemEq, 0, Mem(0, 5))], data));
        var prefix = await RegisterAsync(guest, Descriptor(ioctl, Enter, [new Filter(2, MemEq, 0, Mem(0, 4))], data));

        await RunAsync(guest, async context =>
        {
            var page = context.Memory.Map(4096, PageProtection.ReadWrite);
            context.Memory.WriteCString(page, "eth0");
            context.Memory.WriteCString(page + 16, "eth01");
            context.Memory.WriteCString(page + 32, "eth");
            await context.IoctlAsync(99, 0x7001, page);
            await context.IoctlAsync(99, 0x7002, page + 16);
            await context.IoctlAsync(99, 0x7003, page + 32);
        });

        CollectionAssert.AreEqual(new[] { 0x7001UL }, events.For(equal).Select(e => e.Args[1]).ToArray());
        CollectionAssert.AreEqual(new[] { 0x7001UL, 0x7002UL }, events.For(prefix).Select(e => e.Args[1]).ToArray());
        Assert.AreEqual(0, guest.Statistics.FilterFaults);
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task Mem_contains_searches_the_window_and_with_stop_at_nul_only_the_string(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var ioctl = abi.Syscalls.GetNumber("ioctl");
        var data = Encoding.ASCII.GetBytes("worldsecret");          // "world" at 0, "secret" at 5
        var hooks = new Dictionary<string, long>
        {
            ["world"] = await RegisterAsync(guest, Descriptor(ioctl, Enter, [new Filter(2, MemContains, 0, Mem(0, 5, window: 32))], data)),
            ["world, string"] = await RegisterAsync(guest, Descriptor(ioctl, Enter,
                [new Filter(2, MemContains, 0, Mem(0, 5, window: 32, stopAtNul: true))], data)),
            ["secret"] = await RegisterAsync(guest, Descriptor(ioctl, Enter, [new Filter(2, MemContains, 0, Mem(5, 6, window: 32))], data)),
            ["secret, string"] = await RegisterAsync(guest, Descriptor(ioctl, Enter,
                [new Filter(2, MemContains, 0, Mem(5, 6, window: 32, stopAtNul: true))], data)),
            ["secret, short window"] = await RegisterAsync(guest, Descriptor(ioctl, Enter,
                [new Filter(2, MemContains, 0, Mem(5, 6, window: 17))], data)),
        };

        ulong endOfMapping = 0;
        await RunAsync(guest, async context =>
        {
            var page = context.Memory.Map(4096, PageProtection.ReadWrite);
            context.Memory.WriteCString(page, "hello world");
            context.Memory.WriteCString(page + 12, "secret");               // after the NUL, inside the window
            await context.IoctlAsync(99, 0x7001, page);
            // A short string at the very end of a mapping (an unmapped guard page follows): only a read
            // that stops at the NUL can serve a window reaching past it.
            endOfMapping = page + 4096 - 12;
            context.Memory.WriteCString(endOfMapping, "big world!");
            await context.IoctlAsync(99, 0x7002, endOfMapping);
        });

        ulong[] Commands(string hook) => [.. events.For(hooks[hook]).Select(e => e.Args[1])];
        CollectionAssert.AreEqual(new[] { 0x7001UL }, Commands("world"), "the window past the end of the mapping faults");
        CollectionAssert.AreEqual(new[] { 0x7001UL, 0x7002UL }, Commands("world, string"));
        CollectionAssert.AreEqual(new[] { 0x7001UL }, Commands("secret"), "a pattern after the NUL is in the window");
        CollectionAssert.AreEqual(Array.Empty<ulong>(), Commands("secret, string"), "but not in the string");
        CollectionAssert.AreEqual(Array.Empty<ulong>(), Commands("secret, short window"), "\"secret\" ends at byte 18");
        Assert.AreEqual(3, guest.Statistics.FilterFaults, "the three windows without stop-at-NUL that ran off the mapping");
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task A_memory_filter_reads_through_a_pointer_with_ptr_offset_and_a_negative_offset(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var ioctl = abi.Syscalls.GetNumber("ioctl");
        var data = Encoding.ASCII.GetBytes("wlan0\0");
        var fieldAt = 2 * abi.PointerSize;          // struct { long a; long b; char *name; }: the pointer is the third field
        var through = await RegisterAsync(guest, Descriptor(ioctl, Enter,
            [new Filter(2, MemEq, Offsets(-8, fieldAt), Mem(0, 6, deref: true))], data));
        var wrongField = await RegisterAsync(guest, Descriptor(ioctl, Enter,
            [new Filter(2, MemEq, Offsets(-8, fieldAt - abi.PointerSize), Mem(0, 6, deref: true))], data));
        var noNegativeOffset = await RegisterAsync(guest, Descriptor(ioctl, Enter,
            [new Filter(2, MemEq, Offsets(0, fieldAt), Mem(0, 6, deref: true))], data));
        var notThrough = await RegisterAsync(guest, Descriptor(ioctl, Enter,
            [new Filter(2, MemContains, Offsets(0, fieldAt), Mem(0, 5, window: 64))], data));

        await RunAsync(guest, async context =>
        {
            var page = context.Memory.Map(4096, PageProtection.ReadWrite);
            var name = page + 1024;
            context.Memory.WriteCString(name, "wlan0");
            context.Memory.WritePointer(page + (ulong)fieldAt, name + 8);           // points 8 bytes past the name
            context.Memory.WritePointer(page + (ulong)(fieldAt - abi.PointerSize), page + 2048);   // a pointer to zeroes
            await context.IoctlAsync(99, 0x7001, page);
            context.Memory.WriteCString(name, "wlan1");
            await context.IoctlAsync(99, 0x7002, page);
        });

        CollectionAssert.AreEqual(new[] { 0x7001UL }, events.For(through).Select(e => e.Args[1]).ToArray(),
            "the pointer, in the guest's byte order, minus 8");
        Assert.IsEmpty(events.For(wrongField));
        Assert.IsEmpty(events.For(noNegativeOffset));
        Assert.IsEmpty(events.For(notThrough), "without bit 48 the struct itself is searched");
        Assert.AreEqual(0, guest.Statistics.FilterFaults);
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task Unreadable_memory_does_not_match_and_counts_a_filter_fault(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var ioctl = abi.Syscalls.GetNumber("ioctl");
        var data = Encoding.ASCII.GetBytes("eth0");
        // Register filters run first: a call they refuse reads no memory.
        var id = await RegisterAsync(guest, Descriptor(ioctl, Enter,
            [new Filter(2, MemEq, 0, Mem(0, 4)), new Filter(1, Eq, 0x7001, 0)], data));

        ulong unmapped = 0;
        await RunAsync(guest, async context =>
        {
            var page = context.Memory.Map(4096, PageProtection.ReadWrite);
            context.Memory.WriteCString(page, "eth0");
            unmapped = page + 4096;                                         // the guard page after the mapping
            await context.IoctlAsync(99, 0x7002, unmapped);                 // refused by the EQ filter: no read
            Assert.AreEqual(0, guest.Statistics.FilterFaults, "register filters first");
            await context.IoctlAsync(99, 0x7001, unmapped);
            Assert.AreEqual(1, guest.Statistics.FilterFaults);
            await context.IoctlAsync(99, 0x7001, page);
        });

        CollectionAssert.AreEqual(new[] { 0x7001UL }, events.For(id).Select(e => e.Args[1]).ToArray());
        Assert.AreEqual(unmapped - 4096, events.For(id)[0].Args[2]);
        Assert.AreEqual(1, guest.Statistics.FilterFaults);
        Assert.AreEqual(2, guest.Statistics.FilteredOut);
    }

    [TestMethod]
    public async Task A_retval_filter_that_refuses_comes_before_any_memory_read()
    {
        var abi = GuestAbi.ArmEl;
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var id = await RegisterAsync(guest, Descriptor(abi.Syscalls.GetNumber("ioctl"), Return,
            [new Filter(2, MemEq, 0, Mem(0, 1))], "x"u8.ToArray(), retval: new Filter(0, SRange, 0, long.MaxValue)));

        await RunAsync(guest, async context => await context.IoctlAsync(99, 0x7001, 0));   // EBADF; argument 2 unmapped

        Assert.IsEmpty(events.For(id));
        Assert.AreEqual(0, guest.Statistics.FilterFaults, "the return value already refused the call");
        Assert.AreEqual(1, guest.Statistics.FilteredOut);
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task A_pointer_to_unmapped_memory_is_a_fault_too(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var ioctl = abi.Syscalls.GetNumber("ioctl");
        var id = await RegisterAsync(guest, Descriptor(ioctl, Enter,
            [new Filter(2, MemContains, 0, Mem(0, 1, window: 16, deref: true, stopAtNul: true))], "x"u8.ToArray()));

        await RunAsync(guest, async context =>
        {
            var page = context.Memory.Map(4096, PageProtection.ReadWrite);
            context.Memory.WritePointer(page, page + 4096);
            await context.IoctlAsync(99, 0x7001, page);                     // the pointee is unmapped
            await context.IoctlAsync(99, 0x7002, 0);                        // the pointer itself is
        });

        Assert.IsEmpty(events.For(id));
        Assert.AreEqual(2, guest.Statistics.FilterFaults);
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("mips")]
    [DataRow("armel")]
    public async Task Memory_filter_addresses_wrap_at_the_register_width(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        using var events = new EventRecorder(guest.Connection);
        var ioctl = abi.Syscalls.GetNumber("ioctl");

        await RunAsync(guest, async context =>
        {
            var page = context.Memory.Map(4096, PageProtection.ReadWrite);
            context.Memory.WriteCString(page, "eth0");
            // x = 0xffffff00 (the register's value), offset = page + 0x100: on a 32-bit guest the sum
            // wraps to page; on a 64-bit one it is above 4 GiB and unmapped.
            var id = await RegisterAsync(guest, Descriptor(ioctl, Enter,
                [new Filter(2, MemEq, Offsets(unchecked((int)(uint)(page + 0x100))), Mem(0, 5))], "eth0\0"u8.ToArray()));
            await context.IoctlAsync(99, 0x7001, 0xffff_ff00);
            if (abi.PointerSize == 4)
                Assert.HasCount(1, events.For(id));
            else
                Assert.IsEmpty(events.For(id));
        });
        Assert.AreEqual(abi.PointerSize == 4 ? 0 : 1, guest.Statistics.FilterFaults);
    }

    // ---- helpers -------------------------------------------------------------------------------------

    /// <summary>One filter entry (24 bytes).</summary>
    public readonly record struct Filter(uint Arg, uint Kind, ulong A, ulong B);

    /// <summary>A memory filter's <c>b</c>: pattern offset and length, window, bit 48, bit 49.</summary>
    private static ulong Mem(int patternOffset, int length, int window = 0, bool deref = false, bool stopAtNul = false) =>
        (ulong)(ushort)patternOffset | ((ulong)(ushort)length << 16) | ((ulong)(ushort)window << 32)
        | (deref ? Deref : 0) | (stopAtNul ? StopAtNul : 0);

    /// <summary>A memory filter's <c>a</c>: offset (s32, low half), ptr_offset (s32, high half).</summary>
    private static ulong Offsets(int offset, int pointerOffset = 0) => (uint)offset | ((ulong)(uint)pointerOffset << 32);

    /// <summary>
    /// A hook descriptor (docs/protocol.md §4.3), with a data area when <paramref name="data"/> is given;
    /// the other parameters break it on purpose.
    /// </summary>
    private static byte[] Descriptor(int nr, uint phase, Filter[] filters, byte[]? data = null, Filter? retval = null,
        uint extraFlags = 0, uint? dataSizeField = null, uint reserved = 0, int sizeDelta = 0)
    {
        var dataAt = 64 + 24 * filters.Length;
        var size = dataAt + (data is null ? 0 : 8 + data.Length);
        var bytes = new byte[Math.Max(size, size + sizeDelta)];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)nr);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), phase);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (retval is null ? 0 : RetvalFlag) | (data is null ? 0 : DataFlag) | extraFlags);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), (uint)filters.Length);
        if (retval is { } r)
            WriteFilter(bytes.AsSpan(40), r);
        for (var i = 0; i < filters.Length; i++)
            WriteFilter(bytes.AsSpan(64 + 24 * i), filters[i]);
        if (data is not null)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(dataAt), dataSizeField ?? (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(dataAt + 4), reserved);
            data.CopyTo(bytes, dataAt + 8);
        }
        return bytes[..(size + sizeDelta)];
    }

    private static void WriteFilter(Span<byte> entry, Filter filter)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(entry, filter.Arg);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], filter.Kind);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], filter.A);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[16..], filter.B);
    }

    /// <summary>HOOK_REGISTER on the control slot: the hook id, or −errno.</summary>
    private async Task<long> RegisterAsync(EmulatedGuest guest, byte[] descriptor)
    {
        var control = guest.Connection.Control;
        control.Region.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(control.Region, (ulong)PortalOp.HookRegister);
        BinaryPrimitives.WriteUInt64LittleEndian(control.Region[16..], (ulong)descriptor.Length);
        descriptor.CopyTo(control.Region[24..]);
        await control.ExchangeAsync(TestContext.CancellationToken);
        var response = BinaryPrimitives.ReadUInt64LittleEndian(control.Region);
        var addr = (long)BinaryPrimitives.ReadUInt64LittleEndian(control.Region[8..]);
        Assert.IsTrue(response is (ulong)PortalResponse.ExtOk or (ulong)PortalResponse.ExtFail, $"response 0x{response:x}");
        return response == (ulong)PortalResponse.ExtOk ? addr : -addr;
    }

    private async Task RunAsync(EmulatedGuest guest, Func<GuestProgramContext, Task> body)
    {
        var (_, exitCode) = await guest.RunAsync(async context =>
        {
            await body(context);
            return 0;
        }, ["/usr/bin/filters"], TestContext.CancellationToken);
        Assert.AreEqual(0, exitCode);
    }

    /// <summary>A raw host: records every event and answers it with a verdict that changes nothing.</summary>
    private sealed class EventRecorder : IGuestEventSink, IDisposable
    {
        private readonly IDisposable _attachment;
        private readonly ConcurrentQueue<(uint HookId, ulong[] Args)> _events = new();

        public EventRecorder(IGuestConnection connection) => _attachment = connection.Attach(this);

        public List<(uint HookId, ulong[] Args)> For(long hookId) => [.. _events.Where(e => e.HookId == hookId)];

        public ValueTask OnEventAsync(IGuestChannel channel, CancellationToken cancellationToken)
        {
            var region = channel.Region;
            var eventId = BinaryPrimitives.ReadUInt64LittleEndian(region[8..]);
            var record = region[24..];
            var args = new ulong[6];
            for (var i = 0; i < 6; i++)
                args[i] = BinaryPrimitives.ReadUInt64LittleEndian(record[(16 + 8 * i)..]);
            _events.Enqueue((BinaryPrimitives.ReadUInt32LittleEndian(record), args));
            region.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(region, (ulong)PortalOp.Verdict);
            BinaryPrimitives.WriteUInt64LittleEndian(region[8..], eventId);
            BinaryPrimitives.WriteUInt64LittleEndian(region[16..], 72);
            channel.ReleaseToGuest();
            return ValueTask.CompletedTask;
        }

        public void Dispose() => _attachment.Dispose();
    }
}
