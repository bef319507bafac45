using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Hypersyscalls;

namespace Portal.Runtime.Tests;

/// <summary>How [ArgConst] finds a generated constant by name, for the guest's ABI (docs/filters.md).</summary>
[TestClass]
public sealed class GeneratedConstantsTests
{
    /// <summary>The shapes the generator emits for constants, plus what it never emits.</summary>
    private static class Header
    {
        public const int SIOCGIFFLAGS = 0x8913;
        public const uint BIG = 0x8024_7009;
        public const short NEGATIVE = -2;
        public static long Property => 42;
        public static uint RTC_RD_TIME(GuestAbi abi) => abi.Id == GuestAbiId.MipsEl ? 0x4024_7009u : 0x8024_7009u;   // unsigned: as generated
        public const string NAME = "eth0";
    }

    [TestMethod]
    public void Constants_fields_properties_and_per_abi_methods_resolve()
    {
        Assert.AreEqual(0x8913UL, Value(nameof(Header.SIOCGIFFLAGS), GuestAbi.X86_64));
        Assert.AreEqual(0x8024_7009UL, Value(nameof(Header.BIG), GuestAbi.X86_64));
        Assert.AreEqual(unchecked((ulong)-2L), Value(nameof(Header.NEGATIVE), GuestAbi.X86_64), "negative values are two's complement, as ArgFilter.Equal(long)");
        Assert.AreEqual(42UL, Value(nameof(Header.Property), GuestAbi.X86_64));
        Assert.AreEqual(0x4024_7009UL, Value(nameof(Header.RTC_RD_TIME), GuestAbi.MipsEl));
        Assert.AreEqual(0x8024_7009UL, Value(nameof(Header.RTC_RD_TIME), GuestAbi.X86_64), "an unsigned constant is zero-extended, as the register holds it");
    }

    [TestMethod]
    public void A_wrong_name_or_type_is_a_clear_error()
    {
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Value("SIOCGIFFLAG", GuestAbi.X86_64)).Message, "Header has no constant SIOCGIFFLAG");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => Value(nameof(Header.NAME), GuestAbi.X86_64)).Message, "not an integer");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => GeneratedConstants.OffsetOf(typeof(Header), "x", GuestAbi.X86_64)).Message,
            "not a record generated from a header");
    }

    [TestMethod]
    public void ArgConst_makes_an_equality_or_a_set_for_the_guest_abi()
    {
        var one = new ArgConstAttribute(1, typeof(Header), nameof(Header.RTC_RD_TIME)).Filter();
        Assert.AreEqual(ArgFilter.Equal(0x4024_7009UL), one.Value!(GuestAbi.MipsEl));
        var set = new ArgConstAttribute(1, typeof(Header), nameof(Header.SIOCGIFFLAGS), nameof(Header.RTC_RD_TIME)).Filter().Value!(GuestAbi.MipsEl);
        Assert.AreEqual(ArgFilterKind.OneOf, set.Kind);
        CollectionAssert.AreEqual(new[] { 0x8913UL, 0x4024_7009UL }, set.Values.ToArray());
        var spec = new HookSpec("ioctl", SyscallPhase.Enter, [], null, null, null) { AbiDependentFilters = [one] };
        StringAssert.Contains(spec.ToString(), "arg1 == Header.RTC_RD_TIME");
        var typo = new HookSpec("ioctl", SyscallPhase.Enter, [], null, null, null)
        {
            AbiDependentFilters = [new ArgConstAttribute(1, typeof(Header), "RTC_RD_TIM").Filter()],
        };
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => typo.ForAbi(GuestAbi.X86_64)).Message, "Header has no constant RTC_RD_TIM");
    }

    private static ulong Value(string name, GuestAbi abi) => GeneratedConstants.Value(typeof(Header), name, abi);
}
