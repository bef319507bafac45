using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Conformance.Raeth;
using Portal.Conformance.SelfTest;
using Portal.Hypersyscalls;
using Portal.Memory;
using Portal.Testing.Programs;
using Portal.Typed;
using RaethH = Portal.Conformance.Raeth.Raeth;

namespace Portal.Conformance;

/// <summary>
/// Batching (docs/performance.md, round-trip budget): operations started together cost one exchange,
/// pointers are chased inside the guest, writes ride on the next exchange or on the verdict, and
/// every operation still gets its own result. Exchange counts are part of the contract.
/// </summary>
public abstract partial class ConformanceSuite
{
    // ---- the round-trip budget --------------------------------------------------------------------

    /// <summary>
    /// The seed's RAEthPlugin with typed proxies: the guest reads the ifreq, follows ifr_data and reads
    /// the esw_reg in one exchange; the register value rides on the verdict.
    /// </summary>
    public sealed class TypedRaethPlugin(uint macAd0Value)
    {
        public List<uint> Registers { get; } = [];

        public List<long> Exchanges { get; } = [];

        [Hypersyscall("ioctl", SyscallPhase.Return)]
        [Arg(1, Is = RaethH.RAETH_ESW_REG_READ)]
        public async ValueTask HandleRaethIoctl(SyscallContext syscall)
        {
            var ifr = syscall.Memory.At<Ifreq>(syscall.Args[2]);
            var (request, register) = await ifr.LoadAsync(p => p.IfrData.Deref<EswReg>());
            Exchanges.Add(syscall.Exchanges);
            if (request.IfrName != "eth0")
                return;
            Registers.Add(register.Off);
            register.Val = (int)register.Off switch
            {
                RaethH.REG_ESW_WT_MAC_AD0 => macAd0Value,
                RaethH.REG_ESW_WT_MAC_ATC => 0x8234u,
                RaethH.REG_ESW_TABLE_STATUS0 => 0x73u,
                _ => 0x10173u,
            };                                                          // staged: rides on the verdict
            syscall.Retval = 0;
        }
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Typed_raeth_handler_costs_one_exchange_and_its_write_rides_on_the_verdict()
    {
        await using var session = await AttachAsync();
        var plugin = new TypedRaethPlugin(macAd0Value: 0x2);
        await session.LoadPluginAsync(plugin);
        var run = await RunAsync(Mtk7530Switch.Name, "table_del");
        Assert.AreEqual("done.\n", run.Output, "the switch tool saw the value written on the verdict");
        CollectionAssert.AreEqual(new[] { Mtk7530Switch.RegEswWtMacAd0 }, plugin.Registers);
        CollectionAssert.AreEqual(new[] { 1L }, plugin.Exchanges, "ifreq + *ifr_data in one exchange; nothing after it");
        Assert.AreEqual(1, session.Statistics.ForHandler("TypedRaethPlugin.HandleRaethIoctl").Exchanges);
    }

    /// <summary>The seed's ioctl_interaction_test, batched: reads started together, writes staged and read back locally.</summary>
    public sealed class BatchedIoctlInteractionPlugin
    {
        public List<string> Log { get; } = [];

        public long Exchanges { get; private set; }

        [Hypersyscall("ioctl", SyscallPhase.Return, Comm = IoctlInteraction.Name)]
        [Arg(1, Is = (long)IoctlInteraction.SiocDevPrivate)]
        public async ValueTask SyscallTest(SyscallContext context)
        {
            var memory = context.Memory;
            var arg = context.Args[2];
            var name = memory.ReadStrAsync(arg);
            var data = memory.ReadIntAsync(arg + IoctlInteraction.IfNameSize);
            Log.Add($"Interface: {await name}");                       // exchange 1: both reads
            Log.Add($"Data: 0x{await data:x}");
            using (memory.BeginBatch())
            {
                await memory.WriteStrAsync(arg, "test");                // staged
                var readBack = await memory.ReadStrAsync(arg);         // answered from the staged bytes
                if (readBack != "test")
                    throw new InvalidOperationException($"Expected test, got {readBack}, r/w failed");
                await memory.WriteIntAsync(arg + IoctlInteraction.IfNameSize, 0x12345678);
                var value = await memory.ReadIntAsync(arg + IoctlInteraction.IfNameSize);
                if (value != 0x12345678)
                    throw new InvalidOperationException($"Expected 0x12345678, got 0x{value:x}, r/w failed");
            }
            var fdName = memory.ReadFdNameAsync((int)context.Args[0]);
            var arguments = memory.GetProcArgsAsync();
            var environment = memory.GetProcEnvAsync();
            var pid = memory.GetProcPidAsync();
            Log.Add($"FD: {await fdName}");                             // exchange 2: the writes, then all four
            Log.Add($"Args: {string.Join(' ', await arguments)}");
            Log.Add($"Env: {(await environment).GetValueOrDefault(EnvironmentName)}");
            Log.Add($"Pid: {await pid == context.Pid}");
            context.Retval = 0;
            Exchanges = context.Exchanges;
        }
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Batched_ioctl_interaction_costs_two_exchanges()
    {
        await using var session = await AttachAsync();
        var plugin = new BatchedIoctlInteractionPlugin();
        await session.LoadPluginAsync(plugin);
        var run = await RunAsync(IoctlInteraction.Name);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        StringAssert.Contains(run.Output, "rc=0 errno=0");
        StringAssert.Contains(run.Output, "after name=test data=0x12345678", "the staged writes reached the guest");
        CollectionAssert.AreEqual(new[] { "Interface: eth0", "Data: 0x1337" }, plugin.Log.Take(2).ToArray());
        StringAssert.StartsWith(plugin.Log[2], "FD: socket:[");
        CollectionAssert.AreEqual(new[] { $"Args: {IoctlInteraction.Name}", $"Env: {EnvironmentValue}", "Pid: True" }, plugin.Log.Skip(3).ToArray());
        Assert.AreEqual(2, plugin.Exchanges, "the budget is 3; reads, then writes + fd + args + env + pid");
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task A_record_with_five_fields_loads_in_one_exchange_where_the_seed_spends_five()
    {
        var (_, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;
            var before = context.Exchanges;
            var head = await memory.At<SelftestHead>(desc.Address).LoadAsync();
            var typed = context.Exchanges - before;

            before = context.Exchanges;
            var fields = await GuestMemory.WhenAll(Enumerable.Range(0, 5).Select(i => memory.ReadLongAsync(desc.Address + 8 * (ulong)i)));
            var together = context.Exchanges - before;

            before = context.Exchanges;
            var seedStyle = new List<ulong>();
            for (var i = 0; i < 5; i++)
                seedStyle.Add(await memory.ReadLongAsync(desc.Address + 8 * (ulong)i));
            var oneByOne = context.Exchanges - before;
            return (head, fields, seedStyle, typed, together, oneByOne, desc);
        });
        ulong[] expected = [PortalSelfTest.Magic, seen.desc.Buf, seen.desc.BufSize, seen.desc.ReadOnly, seen.desc.Unmapped];
        CollectionAssert.AreEqual(expected, new[] { seen.head.Magic, seen.head.Buf, seen.head.BufSize, seen.head.Ro, seen.head.Unmapped });
        CollectionAssert.AreEqual(expected, seen.fields);
        CollectionAssert.AreEqual(expected, seen.seedStyle);
        Assert.AreEqual(1, seen.typed, "LoadAsync: the record in one read");
        Assert.AreEqual(1, seen.together, "five reads started together: one BATCH");
        Assert.AreEqual(5, seen.oneByOne, "awaited one by one, as the seed does: five");
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task A_pointer_chase_and_load_is_one_exchange()
    {
        var (_, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;
            var before = context.Exchanges;
            // ptr_at holds a native pointer to buf: the guest reads it and follows it.
            var bytes = await memory.Address(desc.PtrAt).Deref().Offset(100).ReadBytesAsync(64);
            var untyped = context.Exchanges - before;

            before = context.Exchanges;
            var text = await memory.At<SelftestDesc>(desc.Address).LoadAsync();
            var viaPointer = await memory.Address(text.Str).ReadStrAsync();
            var twoSteps = context.Exchanges - before;
            return (bytes, untyped, viaPointer, twoSteps);
        });
        CollectionAssert.AreEqual(SelfTestPattern.Bytes(100, 64), seen.bytes);
        Assert.AreEqual(1, seen.untyped, "pointer read and chased read in one BATCH");
        Assert.AreEqual("portal-selftest", seen.viaPointer);
        Assert.AreEqual(2, seen.twoSteps, "a pointer first read to the host costs a second exchange");
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Typed_pointer_members_are_followed_inside_the_guest()
    {
        await using var session = await AttachAsync();
        var seen = new List<(uint Off, uint OffField, long Exchanges, long FieldExchanges)>();
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereComm(Mtk7530Switch.Name).WhereArg(1, ArgFilter.Equal(Mtk7530Switch.RaethEswRegRead))
            .RegisterAsync(async syscall =>
            {
                var register = syscall.Memory.At<Ifreq>(syscall.Args[2]).IfrData.Deref<EswReg>();
                var before = syscall.Exchanges;
                var loaded = await register.LoadAsync();
                var load = syscall.Exchanges - before;
                before = syscall.Exchanges;
                var off = await register.Off.ReadAsync();
                var field = syscall.Exchanges - before;
                await register.Val.WriteAsync(0x2u);                  // ifr->ifr_data->val, chased in the guest
                syscall.SkipSyscall = true;
                syscall.Retval = 0;
                seen.Add((loaded.Off, off, load, field));
            });
        var run = await RunAsync(Mtk7530Switch.Name, "table_del");
        Assert.AreEqual("done.\n", run.Output, "the chased write landed in the program's esw_reg");
        Assert.HasCount(1, seen);
        Assert.AreEqual(Mtk7530Switch.RegEswWtMacAd0, seen[0].Off);
        Assert.AreEqual(Mtk7530Switch.RegEswWtMacAd0, seen[0].OffField);
        Assert.AreEqual(1, seen[0].Exchanges, "*ifr->ifr_data: one exchange");
        Assert.AreEqual(1, seen[0].FieldExchanges, "ifr->ifr_data->off: one exchange");
    }

    // ---- semantics --------------------------------------------------------------------------------

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Each_operation_of_a_batch_gets_its_own_result()
    {
        var (_, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;
            var before = context.Exchanges;
            var good = memory.ReadBytesAsync(desc.Buf + 8, 32);
            var unmapped = memory.ReadIntAsync(desc.Unmapped);
            var text = memory.ReadStrAsync(desc.Str);
            var partial = memory.ReadBytesAsync(desc.Unmapped - 24, 64);
            var pid = memory.GetProcPidAsync();
            var badFd = memory.ReadFdNameAsync(999);
            var results = (
                Good: await good,
                Unmapped: await CaptureAsync(async () => await unmapped),
                Text: await text,
                Partial: await CaptureAsync(async () => await partial),
                Pid: await pid,
                BadFd: await CaptureAsync(async () => await badFd));
            return (results, spent: context.Exchanges - before, desc);
        });
        var (results, spent, desc) = seen;
        Assert.AreEqual(1, spent, "six operations, one exchange");
        CollectionAssert.AreEqual(SelfTestPattern.Bytes(8, 32), results.Good);
        var fault = Assert.IsInstanceOfType<GuestFaultException>(results.Unmapped);
        Assert.AreEqual(GuestErrno.EFAULT, fault.Errno);
        Assert.AreEqual(desc.Unmapped, fault.Address);
        Assert.AreEqual("portal-selftest", results.Text);
        var partialRead = Assert.IsInstanceOfType<GuestPartialReadException>(results.Partial);
        CollectionAssert.AreEqual(SelfTestPattern.Bytes(PortalSelfTest.BufferSize - 24, 24), partialRead.DataRead.ToArray());
        Assert.AreEqual(desc.Pid, results.Pid);
        Assert.AreEqual(GuestErrno.EBADF, Assert.IsInstanceOfType<GuestOperationException>(results.BadFd).Errno);
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Reads_see_the_writes_staged_before_them()
    {
        var (output, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;
            var before = context.Exchanges;
            byte[] covered, straddling;
            uint field;
            using (memory.BeginBatch())
            {
                await memory.WriteBytesAsync(desc.Buf, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 });
                await memory.WriteIntAsync(desc.Buf + 8, 0xdeadbeefu);
                covered = await memory.ReadBytesAsync(desc.Buf + 2, 10);         // inside the staged bytes: no exchange
                var local = context.Exchanges - before;
                Assert.AreEqual(0, local, "fully covered by staged writes: answered on the host");
                straddling = await memory.ReadBytesAsync(desc.Buf + 4, 16);      // half staged: the writes go first, same exchange
            }
            var head = await memory.At<SelftestHead>(desc.Address).LoadAsync();
            head.Ro = desc.Buf;                                                   // a setter stages too
            field = (uint)await memory.ReadLongAsync(desc.Address + 24);
            return (covered, straddling, field, spent: context.Exchanges - before, desc);
        });
        var expectedBuffer = InitialBuffer();
        new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }.CopyTo(expectedBuffer, 0);
        Abi.WriteUInt32(expectedBuffer.AsSpan(8), 0xdeadbeef);
        CollectionAssert.AreEqual(expectedBuffer[2..12], seen.covered);
        CollectionAssert.AreEqual(expectedBuffer[4..20], seen.straddling);
        Assert.AreEqual((uint)seen.desc.Buf, seen.field, "the record's staged change is visible to a later read");
        Assert.AreEqual(2, seen.spent, "the straddling read, the record load (the field read is answered locally)");
        Assert.AreEqual(SelfTestPattern.Crc32(expectedBuffer), output.BufCrc, "the staged writes reached the guest");
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Staged_writes_ride_on_the_verdict_and_their_faults_are_reported()
    {
        var (output, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;
            var before = context.Exchanges;
            using (var batch = memory.BeginBatch())
            {
                await memory.WriteBytesAsync(desc.ReadOnly, new byte[] { 9, 9 });   // faults, but only when sent
                await memory.WriteStrAsync(desc.Str, "staged");
                var fault = await CaptureAsync(async () => await batch.CommitAsync());
                var committed = context.Exchanges - before;
                await memory.WriteStrAsync(desc.Str, "on the verdict");           // nothing after this: rides on the verdict
                return (fault, committed, spent: context.Exchanges - before);
            }
        });
        var fault = Assert.IsInstanceOfType<GuestFaultException>(seen.fault);
        Assert.AreEqual(GuestErrno.EFAULT, fault.Errno);
        Assert.AreEqual(1, seen.committed, "both staged writes in one exchange");
        Assert.AreEqual(1, seen.spent, "the last write cost no exchange");
        Assert.AreEqual("on the verdict", output.Str);
        Assert.AreEqual(SelfTestPattern.Crc32(SelfTestPattern.Bytes(0, 4096)), output.RoCrc, "the read-only page is unchanged");
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task A_staged_write_fault_nobody_observed_is_logged()
    {
        await WithSelfTestAsync(async (context, desc) =>
        {
            using (context.Memory.BeginBatch())
                await context.Memory.WriteBytesAsync(desc.Unmapped, new byte[] { 1 });
            await context.Memory.ReadIntAsync(desc.Int32At);                        // the write rides on this exchange, and faults
            return 0;
        });
        Assert.IsTrue(Logs.Entries.Any(e => e.Message.Contains("staged write failed", StringComparison.Ordinal) && e.Exception is GuestFaultException),
            string.Join("\n", Logs.Entries.Select(e => e.Message)));
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Batches_that_do_not_fit_one_exchange_are_split()
    {
        var (_, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;

            // 200 eight-byte reads: 24 bytes each way per entry, so 169 fit one exchange.
            var before = context.Exchanges;
            var values = await GuestMemory.WhenAll(Enumerable.Range(0, 200).Select(i => memory.ReadLongAsync(desc.Buf + 8 * (ulong)i)));
            var small = context.Exchanges - before;

            // Three reads of 3000 bytes: no two fit together.
            before = context.Exchanges;
            var large = await GuestMemory.WhenAll(Enumerable.Range(0, 3).Select(i => memory.ReadBytesAsync(desc.Buf + 3000 * (ulong)i, 3000)));
            var medium = context.Exchanges - before;

            // 16 KiB and a chased read: the chase goes with the last piece, in the guest.
            before = context.Exchanges;
            var whole = memory.ReadBytesAsync(desc.Buf, PortalSelfTest.BufferSize);
            var chased = memory.Address(desc.PtrAt).Deref().ReadBytesAsync(16);
            var bytes = (await whole, await chased);
            var big = context.Exchanges - before;
            return (values, small, large, medium, bytes, big);
        });
        var buffer = InitialBuffer();
        CollectionAssert.AreEqual(Enumerable.Range(0, 200).Select(i => Abi.ReadUInt64(buffer.AsSpan(8 * i))).ToArray(), seen.values);
        Assert.AreEqual(2, seen.small);
        for (var i = 0; i < 3; i++)
            CollectionAssert.AreEqual(buffer[(3000 * i)..(3000 * (i + 1))], seen.large[i]);
        Assert.AreEqual(3, seen.medium);
        CollectionAssert.AreEqual(buffer, seen.bytes.Item1);
        CollectionAssert.AreEqual(buffer[..16], seen.bytes.Item2);
        Assert.AreEqual(ChunksOf(PortalSelfTest.BufferSize), seen.big, "four whole regions and a remainder that carries the chase");
    }

    /// <summary>docs/typed-proxies.md, snapshots: a loaded record is one instant of guest memory; load again to see changes.</summary>
    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task A_loaded_record_is_a_snapshot_and_reloading_refreshes_it()
    {
        var (_, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;
            var pointer = memory.At<SelftestHead>(desc.Address);
            var first = await pointer.LoadAsync();
            await memory.WriteLongAsync(desc.Address + 16, 4242UL);                 // the guest's memory changes...
            var stale = first.BufSize;                                              // ...the snapshot does not
            var second = await pointer.LoadAsync();

            // An indirect pointer is read again on each use: re-point ptr_at's pointer and load again.
            var target = memory.Address(desc.PtrAt).Deref();
            var before = await target.ReadStrAsync(maxLength: 8 * 1024);
            await memory.WritePtrAsync(desc.PtrAt, desc.Str);
            var after = await target.ReadStrAsync();
            await memory.WritePtrAsync(desc.PtrAt, desc.Buf);
            await memory.WriteLongAsync(desc.Address + 16, desc.BufSize);
            return (stale, fresh: second.BufSize, desc.BufSize, before, after);
        });
        Assert.AreEqual(seen.BufSize, seen.stale);
        Assert.AreEqual(4242UL, seen.fresh);
        Assert.AreEqual("portal-selftest", seen.after);
        Assert.AreNotEqual(seen.after, seen.before);
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task A_record_outlives_its_handler_as_a_snapshot_but_cannot_be_changed()
    {
        var (_, head) = await WithSelfTestAsync(async (context, desc) => await context.Memory.At<SelftestHead>(desc.Address).LoadAsync());
        Assert.AreEqual(PortalSelfTest.Magic, head.Magic, "the snapshot stays readable");
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => head.Magic = 1);
        StringAssert.Contains(error.Message, "has returned");
    }

    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Reads_a_handler_never_awaits_are_not_sent()
    {
        long spent = -1;
        await WithSelfTestAsync(async (context, desc) =>
        {
            var before = context.Exchanges;
#pragma warning disable CA2012 // the point: a read started and never awaited
            _ = context.Memory.ReadBytesAsync(desc.Buf, 4000);
#pragma warning restore CA2012
            spent = context.Exchanges - before;
            await Task.CompletedTask;
            return 0;
        });
        Assert.AreEqual(0, spent);
        Assert.IsFalse(Logs.Entries.Any(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning), string.Join("\n", Logs.Entries.Select(e => e.Message)));
    }

    /// <summary>A string read through a pointer member, e.g. a <c>char *</c> in a record, resolved in the guest.</summary>
    [TestMethod, TestCategory("Conformance"), TestCategory("Batching")]
    public async Task Untyped_pointers_can_be_chased_to_strings()
    {
        var (_, seen) = await WithSelfTestAsync(async (context, desc) =>
        {
            var memory = context.Memory;
            await memory.WritePtrAsync(desc.Buf + 64, desc.Str);                      // a char * in the buffer
            var before = context.Exchanges;
            var text = await memory.Address(desc.Buf + 64).Deref().ReadStrAsync();
            return (text, spent: context.Exchanges - before);
        });
        Assert.AreEqual("portal-selftest", seen.text);
        Assert.AreEqual(1, seen.spent);
    }
}
