using System.Globalization;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Testing.Programs;

namespace Portal.Testing.Tests;

/// <summary>
/// The emulated guest's process tree (parents, exec, orphans) and what the scope filters make of it,
/// where the conformance suite cannot go: the 64-generation bound and a process whose parent exited.
/// And the emulated <c>sh -c</c>.
/// </summary>
[TestClass]
public sealed class ProcessTreeTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// <c>descend N</c>: a chain of N processes below this one, each the child of the one before; the last
    /// issues ioctl(99, 0x7001, N): its generation below the first.
    /// </summary>
    private static async ValueTask<int> DescendAsync(GuestProgramContext context)
    {
        var left = int.Parse(context.Arguments[1], CultureInfo.InvariantCulture);
        var generation = int.Parse(context.Arguments[2], CultureInfo.InvariantCulture);
        if (left == 0)
        {
            await context.IoctlAsync(99, 0x7001, (ulong)generation);
            return 0;
        }
        return await context.RunChildAsync(["descend", $"{left - 1}", $"{generation + 1}"]) ?? 127;
    }

    [TestMethod]
    [DataRow("x86_64")]
    [DataRow("armel")]
    public async Task A_subtree_reaches_64_generations_down_and_no_further(string abiName)
    {
        await using var guest = new EmulatedGuest(GuestAbi.Parse(abiName));
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        guest.AddProgram("descend", DescendAsync);
        var inside = new List<ulong>();
        var outside = new List<ulong>();
        var (_, exitCode) = await guest.RunAsync(async context =>
        {
            var root = context.Process.Pid;
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WithinScope(GuestScope.Subtree(root))
                .RegisterAsync(c => { inside.Add(c.Args[2]); return ValueTask.CompletedTask; });
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WithinScope(GuestScope.ExcludingSubtree(root))
                .RegisterAsync(c => { outside.Add(c.Args[2]); return ValueTask.CompletedTask; });
            foreach (var depth in new[] { 0, 1, 63, 64, 65, 70 })
            {
                if (depth == 0)
                    await context.IoctlAsync(99, 0x7001, 0);
                else if (await context.RunChildAsync(["descend", $"{depth - 1}", "1"]) != 0)
                    return 1;
            }
            return 0;
        }, ["/bin/root"], TestContext.CancellationToken);
        Assert.AreEqual(0, exitCode);
        CollectionAssert.AreEqual(new[] { 0UL, 1UL, 63UL, 64UL }, inside);
        CollectionAssert.AreEqual(new[] { 65UL, 70UL }, outside, "deeper than 64 generations is outside, as portal.ko walks");
    }

    [TestMethod]
    public async Task An_orphan_is_reparented_to_init_and_leaves_its_former_ancestors_subtree()
    {
        await using var guest = new EmulatedGuest(GuestAbi.MipsEl);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var parentExited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var parents = new List<long>();
        Task<int?>? orphan = null;
        guest.AddProgram("orphan", async context =>
        {
            parents.Add(await context.SyscallAsync("getppid"));
            await parentExited.Task.WaitAsync(TestContext.CancellationToken);
            parents.Add(await context.SyscallAsync("getppid"));
            await context.IoctlAsync(99, 0x7001, 2);
            return 0;
        });
        var seen = new List<ulong>();
        var (parent, _) = await guest.RunAsync(async context =>
        {
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WithinScope(GuestScope.Subtree(context.Process.Pid))
                .RegisterAsync(c => { seen.Add(c.Args[2]); return ValueTask.CompletedTask; });
            await context.IoctlAsync(99, 0x7001, 1);
            orphan = context.RunChildAsync(["orphan"]).AsTask();    // forked, not waited for
            return 0;
        }, ["/bin/parent"], TestContext.CancellationToken);
        parentExited.SetResult();
        Assert.AreEqual(0, await orphan!);
        CollectionAssert.AreEqual(new long[] { parent.Pid, 1 }, parents, "init adopted it");
        CollectionAssert.AreEqual(new[] { 1UL }, seen, "the orphan's ioctl is outside its former parent's subtree");
    }

    [TestMethod]
    public async Task A_process_set_matches_its_pids_only()
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var seen = new List<int>();
        var pids = new List<int>();
        guest.AddProgram("member", async context =>
        {
            await context.IoctlAsync(99, 0x7001, 0);
            return 0;
        });
        await guest.RunAsync(async context =>
        {
            await session.OnSyscall("ioctl", SyscallPhase.Enter).WithinScope(GuestScope.Processes(context.Process.Pid, context.Process.Pid + 2))
                .RegisterAsync(c => { seen.Add(c.Pid); return ValueTask.CompletedTask; });
            pids.Add(context.Process.Pid);
            await context.IoctlAsync(99, 0x7001, 0);
            for (var i = 0; i < 3; i++)
                await context.RunChildAsync(["member"]);    // pids + 1, + 2, + 3
            return 0;
        }, ["/bin/set"], TestContext.CancellationToken);
        CollectionAssert.AreEqual(new[] { pids[0], pids[0] + 2 }, seen);
    }

    // ---- sh -c ------------------------------------------------------------------------------------------

    [TestMethod]
    public async Task The_shell_runs_each_command_in_a_child_and_execs_the_last()
    {
        await using var guest = new EmulatedGuest(GuestAbi.AArch64);
        guest.AddProgram("whoami", async context =>
        {
            context.PrintLine($"{context.Arguments[1]} pid={context.Process.Pid} ppid={await context.SyscallAsync("getppid")} comm={context.Process.Comm}");
            return context.Arguments.Count > 2 ? int.Parse(context.Arguments[2], CultureInfo.InvariantCulture) : 0;
        });
        var run = await guest.RunAsync(GuestCommand.Of("sh", "-c", "whoami first # a comment\n whoami 'sec ond' ; whoami \"$$\" 3"), TestContext.CancellationToken);
        var lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(3, lines, run.Output);
        var shell = int.Parse(lines[2].Split(' ')[0], CultureInfo.InvariantCulture);
        Assert.AreEqual($"first pid={shell + 1} ppid={shell} comm=whoami", lines[0], "a child of the shell");
        Assert.AreEqual($"sec ond pid={shell + 2} ppid={shell} comm=whoami", lines[1]);
        Assert.AreEqual($"{shell} pid={shell} ppid=1 comm=whoami", lines[2], "the last command replaced the shell: its pid, its parent");
        Assert.AreEqual(3, run.ExitCode, "the last command's status");
    }

    [TestMethod]
    public async Task The_process_list_follows_the_shells_children_and_its_exec()
    {
        await using var guest = new EmulatedGuest(GuestAbi.MipsEl);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        var seen = new List<(int Pid, int ParentPid, string Comm)>();
        guest.AddProgram("lister", async context =>
        {
            // what the host's PROCESSES query says about this process, while it runs
            var me = (await session.Processes.ListAsync(cancellationToken: context.CancellationToken)).Single(p => p.Pid == context.Process.Pid);
            seen.Add((me.Pid, me.ParentPid, me.Comm));
            return 0;
        });
        var run = await guest.RunAsync(GuestCommand.Of("sh", "-c", "lister; lister"), TestContext.CancellationToken);
        Assert.AreEqual(0, run.ExitCode, run.Output);
        Assert.HasCount(2, seen);
        var shell = seen[1].Pid;
        Assert.AreEqual((shell + 1, shell, "lister"), seen[0], "a child of the shell");
        Assert.AreEqual((shell, 1, "lister"), seen[1], "the exec'd last command in the shell's place");
    }

    [TestMethod]
    [DataRow("no-such-program", 127, "sh: no-such-program: not found")]
    [DataRow("portal-selftest getpid | cat", 2, "does not support '|'")]
    [DataRow("echo $HOME", 2, "does not support '$'")]
    [DataRow("echo \"$HOME\"", 2, "does not expand '$'")]
    [DataRow("echo 'open", 2, "unterminated quoted string")]
    public async Task The_shell_refuses_what_it_cannot_run(string script, int exitCode, string message)
    {
        await using var guest = new EmulatedGuest(GuestAbi.X86_64);
        var run = await guest.RunAsync(GuestCommand.Of("sh", "-c", script), TestContext.CancellationToken);
        Assert.AreEqual(exitCode, run.ExitCode, run.Output);
        StringAssert.Contains(run.Output, message);
    }
}
