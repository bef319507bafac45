using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Conformance;
using Portal.Guests;

namespace Portal.Testing.Tests;

// The conformance suite on the emulated guest, once per ABI (32/64-bit, little/big-endian).

[TestClass]
public sealed class EmulatedX86_64Conformance : ConformanceSuite
{
    private static EmulatedGuest? s_guest;

    [ClassInitialize]
    public static void Boot(TestContext context) => s_guest = new EmulatedGuest(GuestAbi.X86_64);

    [ClassCleanup]
    public static async Task ShutDown() => await s_guest!.DisposeAsync();

    protected override IGuest Guest => s_guest!;
}

[TestClass]
public sealed class EmulatedI386Conformance : ConformanceSuite
{
    private static EmulatedGuest? s_guest;

    [ClassInitialize]
    public static void Boot(TestContext context) => s_guest = new EmulatedGuest(GuestAbi.I386);

    [ClassCleanup]
    public static async Task ShutDown() => await s_guest!.DisposeAsync();

    protected override IGuest Guest => s_guest!;
}

[TestClass]
public sealed class EmulatedMipsElConformance : ConformanceSuite
{
    private static EmulatedGuest? s_guest;

    [ClassInitialize]
    public static void Boot(TestContext context) => s_guest = new EmulatedGuest(GuestAbi.MipsEl);

    [ClassCleanup]
    public static async Task ShutDown() => await s_guest!.DisposeAsync();

    protected override IGuest Guest => s_guest!;
}

[TestClass]
public sealed class EmulatedMipsConformance : ConformanceSuite
{
    private static EmulatedGuest? s_guest;

    [ClassInitialize]
    public static void Boot(TestContext context) => s_guest = new EmulatedGuest(GuestAbi.Mips);

    [ClassCleanup]
    public static async Task ShutDown() => await s_guest!.DisposeAsync();

    protected override IGuest Guest => s_guest!;
}

[TestClass]
public sealed class EmulatedArmElConformance : ConformanceSuite
{
    private static EmulatedGuest? s_guest;

    [ClassInitialize]
    public static void Boot(TestContext context) => s_guest = new EmulatedGuest(GuestAbi.ArmEl);

    [ClassCleanup]
    public static async Task ShutDown() => await s_guest!.DisposeAsync();

    protected override IGuest Guest => s_guest!;
}

[TestClass]
public sealed class EmulatedAArch64Conformance : ConformanceSuite
{
    private static EmulatedGuest? s_guest;

    [ClassInitialize]
    public static void Boot(TestContext context) => s_guest = new EmulatedGuest(GuestAbi.AArch64);

    [ClassCleanup]
    public static async Task ShutDown() => await s_guest!.DisposeAsync();

    protected override IGuest Guest => s_guest!;
}
