using System.Net;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Generators.Tests.Net;
using Portal.Guests;
using Portal.Hypersyscalls;
using Portal.Testing;
using Portal.Testing.Processes;
using Portal.Testing.Programs;
using Portal.Typed;

namespace Portal.Generators.Tests;

/// <summary>
/// The socket structs of each target's own libc (Headers/net.h, parsed by libclang at build time for
/// x86_64, mipsel and big-endian mips) and a header struct whose big-endian members come from the
/// NetworkOrder metadata. Expected bytes are written here by hand: glibc puts sin_family at 0, sin_port
/// at 2 and sin_addr at 4 on every ABI; network-order values are big-endian whatever the guest is.
/// </summary>
[TestClass]
public sealed class NetworkTests
{
    private const ulong Command = 0x7002;

    public TestContext TestContext { get; set; } = null!;

    public static IEnumerable<object[]> Abis => [["x86_64"], ["mipsel"], ["mips"]];

    /// <summary>AF_INET (2) as a 16-bit integer in the ABI's own order.</summary>
    private static byte[] FamilyInet(GuestAbi abi) => abi.IsBigEndian ? [0, 2] : [2, 0];

    [TestMethod]
    public void A_network_order_member_decodes_the_same_bytes_to_the_same_value_on_either_byte_order()
    {
        foreach (var abi in new[] { GuestAbi.X86_64, GuestAbi.MipsEl, GuestAbi.Mips })
        {
            var sin = GuestRecord.Create<SockaddrIn>(abi);
            byte[] sinBytes = [.. FamilyInet(abi), 0x1f, 0x90, 192, 0, 2, 1];
            sinBytes.CopyTo(sin.View.Buffer, 0);
            Assert.AreEqual((ushort)8080, sin.SinPort, abi.Name);
            Assert.AreEqual(0xc0000201u, sin.SinAddr.SAddr, abi.Name);
            Assert.AreEqual(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 8080), sin.ToIPEndPoint(), abi.Name);

            // The metadata's members, beside one left in guest order: the same bytes, read both ways.
            var probe = GuestRecord.Create<ProbeHdr>(abi);
            byte[] probeBytes = [0x1f, 0x90, 0x1f, 0x90, 10, 0, 0, 1];
            probeBytes.CopyTo(probe.View.Buffer, 0);
            Assert.AreEqual((ushort)0x1f90, probe.Port, abi.Name);
            Assert.AreEqual(0x0a000001u, probe.Addr, abi.Name);
            Assert.AreEqual(abi.IsBigEndian ? (ushort)0x1f90 : (ushort)0x901f, probe.Flags, $"{abi.Name}: a guest-order member does differ");
        }
    }

    [TestMethod]
    public void Writes_produce_network_order_bytes_on_every_abi()
    {
        foreach (var abi in new[] { GuestAbi.X86_64, GuestAbi.Mips })
        {
            var sin = GuestRecord.Create<SockaddrIn>(abi);
            sin.SinPort = 8080;
            var address = sin.SinAddr;
            address.SAddr = 0x7f000001;
            CollectionAssert.AreEqual(new byte[] { 0x1f, 0x90, 127, 0, 0, 1 }, sin.View.Buffer[2..8], abi.Name);

            var other = GuestRecord.Create<SockaddrIn>(abi);
            other.SetIPEndPoint(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 53));
            byte[] expected = [.. FamilyInet(abi), 0, 53, 10, 1, 2, 3];
            CollectionAssert.AreEqual(expected, other.View.Buffer[..8], abi.Name);
            CollectionAssert.AreEqual(new[] { (0, 8) }, other.View.Changes.Ranges.ToArray(), "family, port and address are staged");

            var probe = GuestRecord.Create<ProbeHdr>(abi);
            probe.Addr = 0xc0a80001;
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => probe.View.WriteUnsignedNetworkOrder(0, 2, 0x1_0000));
            CollectionAssert.AreEqual(new byte[] { 192, 168, 0, 1 }, probe.View.Buffer[4..8], abi.Name);
        }
    }

    [TestMethod]
    public void Endpoints_check_the_family_and_the_address_kind()
    {
        var sin = GuestRecord.Create<SockaddrIn>(GuestAbi.Mips);
        var wrongFamily = Assert.ThrowsExactly<InvalidDataException>(() => sin.ToIPEndPoint());       // family 0: not an address yet
        StringAssert.Contains(wrongFamily.Message, "family 0, not AF_INET (2)");
        var v6 = Assert.ThrowsExactly<ArgumentException>(() => sin.SetIPEndPoint(new IPEndPoint(IPAddress.IPv6Loopback, 1)));
        StringAssert.Contains(v6.Message, "InterNetworkV6");

        foreach (var abi in new[] { GuestAbi.X86_64, GuestAbi.Mips })
        {
            var sin6 = GuestRecord.Create<SockaddrIn6>(abi);
            var endPoint = new IPEndPoint(IPAddress.Parse("fe80::1%3"), 443);
            sin6.SetIPEndPoint(endPoint);
            var bytes = sin6.View.Buffer;
            // glibc: sin6_family 0, sin6_port 2, sin6_flowinfo 4, sin6_addr 8, sin6_scope_id 24 on every ABI.
            CollectionAssert.AreEqual(abi.IsBigEndian ? new byte[] { 0, 10 } : [10, 0], bytes[..2], abi.Name);
            CollectionAssert.AreEqual(new byte[] { 0x01, 0xbb }, bytes[2..4], abi.Name);
            CollectionAssert.AreEqual(IPAddress.Parse("fe80::1").GetAddressBytes(), bytes[8..24], abi.Name);
            Assert.AreEqual(3u, abi.ReadUInt32(bytes.AsSpan(24)), $"{abi.Name}: the scope id is in the guest's order");
            Assert.AreEqual(endPoint, sin6.ToIPEndPoint(), abi.Name);
            Assert.AreEqual(IPAddress.Parse("fe80::1"), sin6.Sin6Addr.ToIPAddress());
        }
    }

    [TestMethod]
    public void The_bytes_view_of_a_char_array_returns_the_raw_bytes_including_NULs()
    {
        var sa = GuestRecord.Create<Sockaddr>(GuestAbi.Mips);
        byte[] mac = [0x00, 0x11, 0x22, 0x00, 0x44, 0x55];
        mac.CopyTo(sa.View.Buffer, 2);                                   // sa_data at 2, as SIOCGIFHWADDR fills it
        Assert.AreEqual("", sa.SaData, "as a string it ends at the first NUL");
        byte[] expected = [.. mac, 0, 0, 0, 0, 0, 0, 0, 0];
        CollectionAssert.AreEqual(expected, sa.SaDataBytes.ToArray());

        sa.SaDataBytes = [0xaa, 0, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcc];
        CollectionAssert.AreEqual(new byte[] { 0xaa, 0, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcc }, sa.View.Buffer[2..16]);
        CollectionAssert.AreEqual(new[] { (2, 14) }, sa.View.Changes.Ranges.ToArray(), "staged like any setter");
        var wrongLength = Assert.ThrowsExactly<ArgumentException>(() => sa.SaDataBytes = mac);
        StringAssert.Contains(wrongLength.Message, "sa_data holds 14 bytes; got 6");
    }

    [TestMethod]
    public void A_snapshot_cast_is_a_view_on_the_same_bytes_and_refuses_a_larger_record()
    {
        foreach (var abi in new[] { GuestAbi.X86_64, GuestAbi.Mips })
        {
            var ifr = GuestRecord.Create<Ifreq>(abi);
            var sin = ifr.IfrAddr.Cast<SockaddrIn>();                   // (struct sockaddr_in *)&ifr.ifr_addr
            sin.SetIPEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 0));
            var offset = 16;                                             // ifr_addr follows the 16-byte ifr_name on both ABIs
            byte[] expected = [.. FamilyInet(abi), 0, 0, 192, 0, 2, 7];
            CollectionAssert.AreEqual(expected, ifr.View.Buffer[offset..(offset + 8)], abi.Name);
            Assert.AreEqual(ifr.IfrAddr.SaFamily, sin.SinFamily);
            Assert.AreEqual(ifr.View.Address + 16, sin.View.Address, "the cast is at the same guest address");
        }

        var lone = GuestRecord.Create<Sockaddr>(GuestAbi.X86_64);
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => lone.Cast<SockaddrIn6>());
        StringAssert.Contains(error.Message, "struct sockaddr_in6 is 28 bytes on x86_64, but the snapshot holds only 16");
    }

    /// <summary>A sockaddr_in (192.0.2.1:8080) and a probe_hdr laid out byte by byte, passed to an ioctl; prints them afterwards.</summary>
    private static async ValueTask<int> AddressProgram(GuestProgramContext context)
    {
        var memory = context.Memory;
        var sin = (ulong)await context.MmapAsync(4096, PageProtection.ReadWrite);
        var probe = sin + 64;
        memory.Write(sin, [.. FamilyInet(context.Abi), 0x1f, 0x90, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        memory.Write(probe, [0x00, 0x35, 0x00, 0x00, 10, 0, 0, 1]);
        var fd = (int)await context.OpenAsync("/dev/null");
        await context.IoctlAsync(fd, Command, sin);
        context.PrintLine($"sin={Convert.ToHexString(memory.Read(sin, 8))}");
        context.PrintLine($"probe={Convert.ToHexString(memory.Read(probe, 8))}");
        return 0;
    }

    [TestMethod]
    [DynamicData(nameof(Abis))]
    public async Task A_handler_reads_batched_members_and_stages_values_in_network_order(string abiName)
    {
        var abi = GuestAbi.Parse(abiName);
        await using var guest = new EmulatedGuest(abi);
        guest.AddProgram("address", AddressProgram);
        await using var session = await PortalSession.AttachAsync(guest.Connection, cancellationToken: TestContext.CancellationToken);
        (ushort Port, uint Address, IPEndPoint EndPoint, ushort ProbePort, long ReadExchanges)? seen = null;
        Exception? failure = null;
        await session.OnSyscall("ioctl", SyscallPhase.Enter).WhereArg(1, ArgFilter.Equal(Command)).RegisterAsync(async context =>
        {
            try
            {
                var pointer = context.Memory.At<SockaddrIn>(context.Args[2]);
                var probePointer = pointer.AsAddress().Offset(64).As<ProbeHdr>();
                var before = context.Exchanges;
                // Started together, sent together: two member pointers and a whole record in one exchange.
                var port = pointer.SinPort.ReadAsync();
                var address = pointer.SinAddr.SAddr.ReadAsync();
                var probePort = probePointer.Port.ReadAsync();
                var sin = await pointer.LoadAsync();
                seen = (await port, await address, sin.ToIPEndPoint(), await probePort, context.Exchanges - before);

                sin.SetIPEndPoint(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 53));      // staged: rides on the verdict
                using (context.Memory.BeginBatch())
                {
                    await probePointer.Port.WriteAsync(0xabcd);                          // staged too
                    await probePointer.Addr.WriteAsync(0xc0a80001);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });

        var run = await guest.RunAsync(GuestCommand.Of("address"), TestContext.CancellationToken);

        if (failure is not null)
            throw new AssertFailedException($"handler failed: {failure}");
        Assert.IsNotNull(seen, run.Output);
        Assert.AreEqual((ushort)8080, seen.Value.Port);
        Assert.AreEqual(0xc0000201u, seen.Value.Address);
        Assert.AreEqual(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 8080), seen.Value.EndPoint);
        Assert.AreEqual((ushort)53, seen.Value.ProbePort);
        Assert.AreEqual(1, seen.Value.ReadExchanges);
        var family = Convert.ToHexString(FamilyInet(abi));
        StringAssert.Contains(run.Output, $"sin={family}00350A010203");
        StringAssert.Contains(run.Output, "probe=ABCD0000C0A80001");
    }
}
