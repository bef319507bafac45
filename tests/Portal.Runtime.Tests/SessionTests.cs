using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Diagnostics;
using Portal.Hypersyscalls;
using Portal.Protocol;
using Portal.Tests.Shared;

namespace Portal.Runtime.Tests;

/// <summary>The session against a scripted guest: attach checks and the "always answer" rule for events.</summary>
[TestClass]
public sealed class SessionTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Attach_refuses_a_guest_of_another_protocol_version()
    {
        var connection = new ScriptedConnection(r => Answer.GuestInfo(r, GuestAbi.X86_64, version: 9));
        var error = await Assert.ThrowsExactlyAsync<PortalProtocolException>(async () => await PortalSession.AttachAsync(connection));
        StringAssert.Contains(error.Message, "protocol version 9");
        Assert.IsNull(connection.Sink, "nothing is attached after a failed attach");
    }

    [TestMethod]
    public async Task Attach_refuses_an_unexpected_abi()
    {
        var connection = new ScriptedConnection(Answer.CooperativeControl(GuestAbi.MipsEl));
        var error = await Assert.ThrowsExactlyAsync<InvalidOperationException>(async () =>
            await PortalSession.AttachAsync(connection, new PortalSessionOptions { ExpectedAbi = GuestAbi.X86_64 }));
        StringAssert.Contains(error.Message, "mipsel");
    }

    [TestMethod]
    public async Task Attach_resets_leftover_hooks_and_dispose_removes_ours()
    {
        var ops = new List<PortalOp>();
        var cooperative = Answer.CooperativeControl(GuestAbi.X86_64);
        var connection = new ScriptedConnection(r => { ops.Add((PortalOp)Answer.Op(r)); cooperative(r); });
        var session = await PortalSession.AttachAsync(connection);
        Assert.IsNotNull(connection.Sink);
        await session.DisposeAsync();
        CollectionAssert.AreEqual(new[] { PortalOp.GuestInfo, PortalOp.HookReset, PortalOp.Stats, PortalOp.HookReset }, ops);
        Assert.IsNull(connection.Sink);
    }

    [TestMethod]
    public async Task Malformed_events_and_events_for_unknown_hooks_still_get_an_untouched_verdict()
    {
        var connection = new ScriptedConnection(Answer.CooperativeControl(GuestAbi.X86_64));
        await using var session = await PortalSession.AttachAsync(connection);
        var slot = new ScriptedChannel(_ => Assert.Fail("no exchange expected"));

        Answer.Header(slot.Buffer, 0xdead, 5, 96);                        // not an event at all
        await connection.Sink!.OnEventAsync(slot, TestContext.CancellationToken);
        AssertUntouchedVerdict(slot, eventId: 5, releases: 1);

        WriteEvent(slot.Buffer, eventId: 6, hookId: 42, number: 16);      // no hook 42
        await connection.Sink!.OnEventAsync(slot, TestContext.CancellationToken);
        AssertUntouchedVerdict(slot, eventId: 6, releases: 2);
    }

    [TestMethod]
    public async Task Events_answered_without_a_handler_are_instants_on_their_slots_track_saying_why()
    {
        var directory = Directory.CreateTempSubdirectory("portal-trace-");
        var path = Path.Combine(directory.FullName, "trace.json");
        using (var trace = ChromeTraceWriter.Create(path))
        {
            var connection = new ScriptedConnection(Answer.CooperativeControl(GuestAbi.X86_64));
            await using var session = await PortalSession.AttachAsync(connection, new PortalSessionOptions { Tracer = trace });
            var slot = new ScriptedChannel(_ => Assert.Fail("no exchange expected"), slot: 3);
            Answer.Header(slot.Buffer, 0xdead, 5, 96);                        // not an event at all
            await connection.Sink!.OnEventAsync(slot, TestContext.CancellationToken);
            WriteEvent(slot.Buffer, eventId: 6, hookId: 42, number: 16);      // no hook 42
            await connection.Sink!.OnEventAsync(slot, TestContext.CancellationToken);
        }

        var instants = ChromeTrace.Load(path).Where(e => e.Phase == "i").ToList();
        Assert.HasCount(2, instants);
        Assert.IsTrue(instants.All(e => e.Tid == 3 && e.Category == "event"), "on the track of the slot that held them");
        Assert.AreEqual("event (no handler)", instants[0].Name);
        Assert.AreEqual("5", instants[0].Arg("event_id"));
        StringAssert.StartsWith(instants[0].Arg("reason"), "malformed: Expected an Event on a held slot, found 0xdead");
        Assert.AreEqual("ioctl enter (no handler)", instants[1].Name);
        Assert.AreEqual("6", instants[1].Arg("event_id"));
        Assert.AreEqual("no hook has id 42", instants[1].Arg("reason"));
        Assert.AreEqual("100", instants[1].Arg("pid"));
        Assert.IsLessThanOrEqualTo(instants[1].Start, instants[0].Start, "in the order they came");
        directory.Delete(recursive: true);
    }

    [TestMethod]
    public async Task An_event_whose_syscall_differs_from_its_hook_is_not_given_to_the_handler()
    {
        var connection = new ScriptedConnection(Answer.CooperativeControl(GuestAbi.X86_64));
        await using var session = await PortalSession.AttachAsync(connection);
        var calls = 0;
        var hook = await session.OnSyscall("ioctl", SyscallPhase.Enter).RegisterAsync(_ => { calls++; return ValueTask.CompletedTask; });
        var slot = new ScriptedChannel(_ => Assert.Fail("no exchange expected"));
        WriteEvent(slot.Buffer, eventId: 1, hookId: hook.Id, number: 39);  // getpid, not ioctl
        await connection.Sink!.OnEventAsync(slot, TestContext.CancellationToken);
        Assert.AreEqual(0, calls);
        AssertUntouchedVerdict(slot, eventId: 1, releases: 1);
    }

    [TestMethod]
    public async Task A_staged_write_rides_on_the_verdict_even_when_the_last_exchange_completes_asynchronously()
    {
        // The guest answers the read late (a slow exchange completes on another thread): the handler then
        // resumes inside the planner's run loop, stages a write and returns. The write must still ride on
        // the verdict (issue 14: 0-6 extra exchanges per 2,000 calls on the real guest).
        var cooperative = Answer.CooperativeControl(GuestAbi.X86_64);
        var connection = new ScriptedConnection(region =>
        {
            var guestInfo = Answer.Op(region) == (ulong)PortalOp.GuestInfo;
            cooperative(region);
            if (guestInfo)
                BinaryPrimitives.WriteUInt32LittleEndian(Answer.Data(region)[28..], (uint)GuestFeatures.VerdictWrites);
        });
        await using var session = await PortalSession.AttachAsync(connection);
        var hook = await session.OnSyscall("ioctl", SyscallPhase.Enter).RegisterAsync(async context =>
        {
            var value = await context.Memory.ReadIntAsync(0x1000);
            using (context.Memory.BeginBatch())
                await context.Memory.WriteIntAsync(0x2000, value + 1);
            context.SkipSyscall = true;
        });
        var slot = new ScriptedChannel(region =>
        {
            Assert.AreEqual((ulong)PortalOp.Read, Answer.Op(region), "only the read is an exchange");
            BinaryPrimitives.WriteUInt32LittleEndian(Answer.Data(region), 41);
            Answer.Header(region, (ulong)PortalResponse.ReadOk, 0x1000, 4);
        }) { AnswerLate = true };
        WriteEvent(slot.Buffer, eventId: 1, hookId: hook.Id, number: 16);
        await connection.Sink!.OnEventAsync(slot, TestContext.CancellationToken);

        Assert.AreEqual(1, slot.Exchanges);
        Assert.AreEqual(1, slot.Releases);
        Assert.AreEqual((ulong)PortalOp.Verdict, Answer.Op(slot.Buffer));
        Assert.AreEqual(1u, BinaryPrimitives.ReadUInt32LittleEndian(Answer.Data(slot.Buffer)[64..]), "the write is on the verdict");
        Assert.AreEqual(0x2000UL, BinaryPrimitives.ReadUInt64LittleEndian(Answer.Data(slot.Buffer)[72..]));
        Assert.AreEqual(42u, BinaryPrimitives.ReadUInt32LittleEndian(Answer.Data(slot.Buffer)[(72 + 16)..]));
        Assert.AreEqual(1, hook.Statistics.Exchanges);
    }

    private static void WriteEvent(byte[] region, ulong eventId, uint hookId, long number)
    {
        var data = Answer.Data(region);
        data.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(data, hookId);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], 1);
        BinaryPrimitives.WriteInt64LittleEndian(data[8..], number);
        BinaryPrimitives.WriteUInt32LittleEndian(data[72..], 100);
        BinaryPrimitives.WriteUInt32LittleEndian(data[76..], 100);
        Answer.Header(region, (ulong)PortalResponse.Event, eventId, 96);
    }

    private static void AssertUntouchedVerdict(ScriptedChannel slot, ulong eventId, int releases)
    {
        Assert.AreEqual(releases, slot.Releases);
        Assert.AreEqual((ulong)PortalOp.Verdict, Answer.Op(slot.Buffer));
        Assert.AreEqual(eventId, Answer.Addr(slot.Buffer));
        Assert.AreEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(Answer.Data(slot.Buffer)), "no flags: the syscall is left untouched");
        Assert.AreEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(Answer.Data(slot.Buffer)[64..]), "no writes");
    }
}
