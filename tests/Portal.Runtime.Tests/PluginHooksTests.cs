using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.FunctionHooks;
using Portal.Hypersyscalls;

namespace Portal.Runtime.Tests;

/// <summary>PluginHooks.Check: what LoadPluginAsync refuses, refused without a guest; and how a hook is described.</summary>
[TestClass]
public sealed class PluginHooksTests
{
    private sealed class Filtered
    {
        [Hypersyscall("ioctl", SyscallPhase.Return, Name = "RAEth", Comm = "mtk7530_switch")]
        [Arg(1, Is = 0x89F1)]
        [Retval(Min = 0, Max = 4)]
        public static ValueTask OnIoctl(SyscallContext syscall) => ValueTask.CompletedTask;

        [Hypersyscall("getpid", SyscallPhase.Enter)]
        public static Task OnGetpid(SyscallContext syscall) => Task.CompletedTask;
    }

    private sealed class ReturnsVoid
    {
        [Hypersyscall("ioctl", SyscallPhase.Enter)]
        public static void OnIoctl(SyscallContext syscall)
        {
        }
    }

    private sealed class Functions
    {
        [Uprobe("/usr/sbin/httpd", "nvram_get", Comm = "httpd")]
        public static ValueTask OnNvramGet(SyscallContext call) => ValueTask.CompletedTask;

        [Uprobe("/lib/libnvram.so", 0x1002UL, Return = true, Name = "nvram-return")]
        [Arg(0, Is = 0)]
        public static ValueTask OnReturn(SyscallContext call) => ValueTask.CompletedTask;
    }

    private sealed class OnlyOnSomeAbis
    {
        [Hypersyscall("open", SyscallPhase.Enter)]
        public static ValueTask OnOpen(SyscallContext syscall) => ValueTask.CompletedTask;
    }

    [TestMethod]
    public void Each_hook_is_listed_with_its_filters()
    {
        var hooks = PluginHooks.Check(new Filtered(), GuestAbi.MipsEl).Select(h => h.ToString()).Order(StringComparer.Ordinal);
        Assert.AreEqual("""
            Filtered.OnGetpid: getpid Enter, every call
            RAEth: ioctl Return where arg1 == 0x89f1 and retval in [0, 4] (signed) and comm is 'mtk7530_switch'
            """, string.Join('\n', hooks));
    }

    [TestMethod]
    public void Uprobe_methods_are_function_hooks_checked_against_the_abi()
    {
        var hooks = PluginHooks.Check(new Functions(), GuestAbi.X86_64).Select(h => h.ToString()).Order(StringComparer.Ordinal);
        Assert.AreEqual("""
            Functions.OnNvramGet: function nvram_get in /usr/sbin/httpd entry where comm is 'httpd'
            nvram-return: function 0x1002 in /lib/libnvram.so return where arg0 == 0x0
            """, string.Join('\n', hooks));
        var error = Assert.ThrowsExactly<ArgumentException>(() => PluginHooks.Check(new Functions(), GuestAbi.MipsEl));
        StringAssert.Contains(error.Message, "not 4-byte aligned", "an offset a MIPS uprobe cannot take is refused before any guest");
    }

    [TestMethod]
    public void A_wrong_signature_is_refused_without_a_guest()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => PluginHooks.Check(new ReturnsVoid(), abi: null));
        StringAssert.Contains(error.Message, "ReturnsVoid.OnIoctl must return ValueTask or Task");
    }

    [TestMethod]
    public void The_abi_is_checked_only_when_given()
    {
        Assert.HasCount(1, PluginHooks.Check(new OnlyOnSomeAbis(), abi: null));
        Assert.HasCount(1, PluginHooks.Check(new OnlyOnSomeAbis(), GuestAbi.X86_64));
        var error = Assert.ThrowsExactly<ArgumentException>(() => PluginHooks.Check(new OnlyOnSomeAbis(), GuestAbi.AArch64));
        StringAssert.Contains(error.Message, "The aarch64 ABI has no syscall named 'open'");
    }
}
