using System.Collections.Concurrent;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Hypersyscalls;
using Portal.Testing.Programs;

namespace Portal.Qemu.Tests;

/// <summary>
/// Scope filters (docs/filters.md, "Scope") where only a real guest goes: around Portal's own agent, which
/// runs every command as its child, and on function hooks (docs/protocol.md §4.6), which the guest
/// filters with the same code as syscall hooks.
/// </summary>
public abstract partial class QemuConformance
{
    [TestMethod, TestCategory("Conformance"), TestCategory("Scope")]
    public async Task The_agents_subtree_holds_the_commands_and_a_function_hook_honours_a_scope()
    {
        var agent = await RealGuest.GetAgentPidAsync(TestContext.CancellationToken);
        await using var session = await AttachAsync();
        var inAgent = new ConcurrentQueue<int>();
        var outsideAgent = new ConcurrentQueue<int>();
        // registered outside any handler: a function hook is placed by the guest's control thread
        await session.OnFunction(SelfTestBinary, ProbeTarget, SyscallPhase.Enter).WhereComm(PortalSelfTest.Name)
            .WithinScope(GuestScope.Subtree(agent))
            .RegisterAsync(context => { inAgent.Enqueue(context.Pid); return ValueTask.CompletedTask; });
        await session.OnFunction(SelfTestBinary, ProbeTarget, SyscallPhase.Enter).WhereComm(PortalSelfTest.Name)
            .WithinScope(GuestScope.Subtree(1).Excluding(agent))
            .RegisterAsync(context => { outsideAgent.Enqueue(context.Pid); return ValueTask.CompletedTask; });

        var run = await FuncAsync(1, 2, 3, 4, 5, 6);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        Assert.HasCount(1, inAgent, "a command is a descendant of the agent");
        Assert.AreNotEqual(agent, inAgent.Single());
        Assert.IsEmpty(outsideAgent, "the firmware's scope leaves the agent's commands out");
    }
}
