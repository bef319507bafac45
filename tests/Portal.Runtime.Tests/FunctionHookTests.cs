using System.Buffers.Binary;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Channels;
using Portal.FunctionHooks;
using Portal.Hypersyscalls;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>Function hooks on the host: the descriptor with its target, events of phases 3 and 4, and what is refused before anything is sent (docs/protocol.md §4.6).</summary>
[TestClass]
public sealed class FunctionHookTests
{
    public TestContext TestContext { get; set; } = null!;

    private static HookSpec Function(SyscallPhase phase, ulong offset, params (int, ArgFilter)[] filters) =>
        new("", phase, filters, Comm: "httpd", Pid: null, RetvalFilter: null) { Function = new FunctionTarget("/usr/sbin/httpd", offset) };

    [TestMethod]
    public void The_target_follows_the_filters_and_the_data_area_padded_to_8()
    {
        var spec = Function(SyscallPhase.Return, 0x1234, (0, ArgFilter.OneOf(1, 2, 3)));
        var region = new byte[RegionLayout.Size];
        HookDescriptor.WriteRequest(region, spec, GuestAbi.MipsEl);
        var d = Answer.Data(region);
        Assert.AreEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(d), "nr is 0");
        Assert.AreEqual(4u, BinaryPrimitives.ReadUInt32LittleEndian(d[4..]), "function return");
        Assert.AreEqual(0x1u | 0x8u | 0x10u, BinaryPrimitives.ReadUInt32LittleEndian(d[8..]), "comm, data area, target");
        const int DataAt = 64 + 24;
        Assert.AreEqual(24u, BinaryPrimitives.ReadUInt32LittleEndian(d[DataAt..]), "three le64 values");
        const int TargetAt = DataAt + 8 + 24;       // already a multiple of 8
        Assert.AreEqual(0x1234UL, BinaryPrimitives.ReadUInt64LittleEndian(d[TargetAt..]));
        Assert.AreEqual((uint)"/usr/sbin/httpd".Length, BinaryPrimitives.ReadUInt32LittleEndian(d[(TargetAt + 8)..]));
        Assert.AreEqual("/usr/sbin/httpd", Encoding.ASCII.GetString(d.Slice(TargetAt + 16, 15)));
        Assert.AreEqual((ulong)(TargetAt + 16 + 15), Answer.Size(region), "size is exactly up to the path's end");

        HookDescriptor.WriteRequest(region, Function(SyscallPhase.Enter, 0x40), GuestAbi.X86_64);
        d = Answer.Data(region);
        Assert.AreEqual(3u, BinaryPrimitives.ReadUInt32LittleEndian(d[4..]), "function entry");
        Assert.AreEqual(0x40UL, BinaryPrimitives.ReadUInt64LittleEndian(d[64..]), "no filters, no data area: the target at 64");
    }

    [TestMethod]
    public void A_spec_describes_its_function_and_checks_what_the_architecture_needs()
    {
        Assert.AreEqual("function 0x1234 in /usr/sbin/httpd return where comm is 'httpd'", Function(SyscallPhase.Return, 0x1234).ToString());
        var named = new HookSpec("", SyscallPhase.Enter, [], null, null, null) { Function = new FunctionTarget("/usr/sbin/httpd", "nvram_get") };
        Assert.AreEqual("function nvram_get in /usr/sbin/httpd entry, every call", named.ToString());
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Function(SyscallPhase.Enter, 0x1002).Validate(GuestAbi.ArmEl)).Message,
            "not 4-byte aligned");
        Function(SyscallPhase.Enter, 0x1002).Validate(GuestAbi.X86_64);
        var relative = new HookSpec("", SyscallPhase.Enter, [], null, null, null) { Function = new FunctionTarget("httpd", 0x40) };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => relative.Validate(GuestAbi.X86_64)).Message, "must be absolute");
    }

    [TestMethod]
    public async Task A_guest_without_function_hooks_is_not_asked()
    {
        var sent = new List<PortalOp>();
        var cooperative = Answer.CooperativeControl(GuestAbi.X86_64);
        var connection = new ScriptedConnection(region =>
        {
            sent.Add((PortalOp)Answer.Op(region));
            if ((PortalOp)Answer.Op(region) == PortalOp.GuestInfo)
                Answer.GuestInfo(region, GuestAbi.X86_64, features: GuestFeatures.Query);
            else
                cooperative(region);
        });
        await using var session = await PortalSession.AttachAsync(connection);
        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(async () =>
            await session.OnFunction("/usr/sbin/httpd", 0x40, SyscallPhase.Enter).RegisterAsync(_ => ValueTask.CompletedTask));
        StringAssert.Contains(error.Message, "no function hooks");
        Assert.IsFalse(sent.Contains(PortalOp.HookRegister));
    }

    [TestMethod]
    public async Task A_function_hook_by_offset_is_registered_on_the_control_slot()
    {
        byte[]? descriptor = null;
        var cooperative = Answer.CooperativeControl(GuestAbi.MipsEl);
        var connection = new ScriptedConnection(region =>
        {
            if ((PortalOp)Answer.Op(region) == PortalOp.GuestInfo)
                Answer.GuestInfo(region, GuestAbi.MipsEl, features: GuestFeatures.FunctionHooks | GuestFeatures.Query);
            else
            {
                if ((PortalOp)Answer.Op(region) == PortalOp.HookRegister)
                    descriptor = Answer.Data(region)[..(int)Answer.Size(region)].ToArray();
                cooperative(region);
            }
        });
        await using var session = await PortalSession.AttachAsync(connection);
        var hook = await session.OnFunction("/usr/sbin/httpd", 0x400, SyscallPhase.Return).RegisterAsync(_ => ValueTask.CompletedTask);
        Assert.IsNotNull(descriptor);
        Assert.AreEqual(4u, BinaryPrimitives.ReadUInt32LittleEndian(descriptor.AsSpan(4)));
        Assert.AreEqual(0x400UL, BinaryPrimitives.ReadUInt64LittleEndian(descriptor.AsSpan(64)));
        Assert.AreEqual("0x400 in /usr/sbin/httpd", hook.Spec.Function!.ToString());
    }

    [TestMethod]
    public void Function_events_decode_with_their_address_and_refuse_a_scratch_area()
    {
        var region = new byte[RegionLayout.Size];
        var d = Answer.Data(region);
        BinaryPrimitives.WriteUInt32LittleEndian(d, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 4);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], 0x0040_06d0);
        BinaryPrimitives.WriteInt64LittleEndian(d[64..], -5);
        BinaryPrimitives.WriteUInt32LittleEndian(d[72..], 9);
        BinaryPrimitives.WriteUInt32LittleEndian(d[76..], 9);
        Answer.Header(region, (ulong)PortalResponse.Event, 1, 112);
        var record = SyscallEventRecord.Decode(region, GuestAbi.MipsEl);
        Assert.IsTrue(record.IsFunction);
        Assert.AreEqual(SyscallPhase.Return, record.Phase);
        Assert.AreEqual(0x0040_06d0L, record.Number);
        Assert.AreEqual(-5L, record.Retval);

        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 3);
        BinaryPrimitives.WriteUInt64LittleEndian(d[96..], 0x7fff_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(d[104..], 64);
        StringAssert.Contains(Assert.ThrowsExactly<PortalProtocolException>(() => SyscallEventRecord.Decode(region, GuestAbi.MipsEl)).Message,
            "function event offers a scratch area");
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 5);
        StringAssert.Contains(Assert.ThrowsExactly<PortalProtocolException>(() => SyscallEventRecord.Decode(region, GuestAbi.MipsEl)).Message,
            "phase 5");
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 3);
        BinaryPrimitives.WriteUInt64LittleEndian(d[96..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(d[104..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], 0x1_0000_0000);
        StringAssert.Contains(Assert.ThrowsExactly<PortalProtocolException>(() => SyscallEventRecord.Decode(region, GuestAbi.MipsEl)).Message,
            "wider than a mipsel register");
    }

    /// <summary>
    /// On mipsel the fifth and sixth arguments are on the stack: the guest writes them there, and one it
    /// cannot write is a failed write of the handler's verdict, though the verdict has no write entry
    /// (§4.6). Before this was counted, the report was dismissed as impossible and nothing was counted.
    /// </summary>
    [TestMethod]
    public async Task A_stack_argument_the_guest_could_not_write_is_counted_against_the_handler()
    {
        var cooperative = Answer.CooperativeControl(GuestAbi.MipsEl);
        var connection = new ScriptedConnection(region =>
        {
            if ((PortalOp)Answer.Op(region) == PortalOp.GuestInfo)
                Answer.GuestInfo(region, GuestAbi.MipsEl, features: GuestFeatures.FunctionHooks | GuestFeatures.VerdictReports);
            else
                cooperative(region);
        });
        await using var session = await PortalSession.AttachAsync(connection);
        var replaced = await session.OnFunction("/usr/sbin/httpd", 0x400, SyscallPhase.Enter).RegisterAsync(context =>
        {
            context.Args[4] = 7;
            return ValueTask.CompletedTask;
        }, "Replaces");
        var untouched = await session.OnFunction("/usr/sbin/httpd", 0x800, SyscallPhase.Enter).RegisterAsync(_ => ValueTask.CompletedTask, "Untouched");
        var slot = new ScriptedChannel(_ => Assert.Fail("no exchange expected"));

        WriteFunctionEntry(slot.Buffer, eventId: 1, replaced.Id, address: 0x0040_0400);
        await connection.Sink!.OnEventAsync(slot, TestContext.CancellationToken);
        var verdict = Answer.Data(slot.Buffer);
        Assert.AreEqual((uint)VerdictFlags.SetArgs, BinaryPrimitives.ReadUInt32LittleEndian(verdict), "the verdict replaces arguments");
        Assert.AreEqual(1u << 4, BinaryPrimitives.ReadUInt32LittleEndian(verdict[4..]), "the fifth");
        Assert.AreEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(verdict[64..]), "and carries no write entry");
        connection.Sink.OnVerdictReport(slot, new VerdictReport(1, VerdictOutcome.Applied, WriteFailures: 5, FailedMask: 0, FirstFailedWritten: 0));
        Assert.AreEqual(1, replaced.Statistics.FailedVerdictWrites, "one argument was set: a guest claiming five failures is clamped to it");
        Assert.AreEqual(1, session.Statistics.VerdictsWithFailedWrites);

        // A verdict that replaced nothing cannot have failed: the claim is the guest's noise, not the handler's failure.
        WriteFunctionEntry(slot.Buffer, eventId: 2, untouched.Id, address: 0x0040_0800);
        await connection.Sink.OnEventAsync(slot, TestContext.CancellationToken);
        connection.Sink.OnVerdictReport(slot, new VerdictReport(2, VerdictOutcome.Applied, WriteFailures: 1, FailedMask: 0, FirstFailedWritten: 0));
        Assert.AreEqual(0, untouched.Statistics.FailedVerdictWrites);
        Assert.AreEqual(1, session.Statistics.VerdictsWithFailedWrites);
    }

    private static void WriteFunctionEntry(byte[] region, ulong eventId, uint hookId, ulong address)
    {
        var d = Answer.Data(region);
        d[..112].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, hookId);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], 3);                // function entry
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[72..], 100);
        BinaryPrimitives.WriteUInt32LittleEndian(d[76..], 100);
        Answer.Header(region, (ulong)PortalResponse.Event, eventId, 112);
    }
}
