using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>The memory API against guests that break the protocol in specific ways.</summary>
[TestClass]
public sealed class LyingGuestTests
{
    [TestMethod]
    public async Task A_read_answered_with_the_wrong_size_is_a_protocol_error_not_data()
    {
        var (memory, _) = Answer.Memory(GuestAbi.X86_64, r => Answer.Header(r, (ulong)PortalResponse.ReadOk, 0, 2));
        var error = await Assert.ThrowsExactlyAsync<PortalProtocolException>(async () => await memory.ReadIntAsync(0x1000));
        StringAssert.Contains(error.Message, "size 2 but 4");
    }

    [TestMethod]
    public async Task A_string_that_never_ends_costs_a_bounded_number_of_exchanges()
    {
        var (memory, channel) = Answer.Memory(GuestAbi.X86_64, r =>
        {
            var window = (int)Answer.Size(r);
            Answer.Data(r)[..window].Fill((byte)'a');
            Answer.Header(r, (ulong)PortalResponse.ReadOk, Answer.Addr(r), (ulong)window);
        });
        var error = await Assert.ThrowsExactlyAsync<GuestOperationException>(async () => await memory.ReadStrAsync(0x1000, maxLength: 10_000));
        Assert.AreEqual(GuestErrno.ENAMETOOLONG, error.Errno);
        Assert.AreEqual(3, channel.Exchanges, "10,001 bytes scanned: 4072 + 4072 + 1857");
    }

    [TestMethod]
    public async Task An_argument_block_that_changes_length_while_read_is_a_protocol_error()
    {
        var total = 5000UL;
        var (memory, _) = Answer.Memory(GuestAbi.X86_64, r =>
        {
            var offset = Answer.Addr(r);
            var count = Math.Min(4072UL, total - offset);
            Answer.Header(r, (ulong)PortalResponse.ReadOk, total, count);
            total += 100;
        });
        var error = await Assert.ThrowsExactlyAsync<PortalProtocolException>(async () => await memory.GetProcArgsAsync());
        // The second chunk asks for exactly what remained of 5000 bytes; the guest's new total shows.
        StringAssert.Contains(error.Message, "of 5100");
    }

    [TestMethod]
    public async Task Argument_blocks_are_split_at_nuls_and_read_in_chunks()
    {
        var block = System.Text.Encoding.ASCII.GetBytes(string.Join('\0', Enumerable.Range(0, 700).Select(i => $"arg{i}")) + "\0");
        var (memory, channel) = Answer.Memory(GuestAbi.X86_64, r =>
        {
            var offset = (int)Answer.Addr(r);
            var count = Math.Min(4072, block.Length - offset);
            block.AsSpan(offset, count).CopyTo(Answer.Data(r));
            Answer.Header(r, (ulong)PortalResponse.ReadOk, (ulong)block.Length, (ulong)count);
        });
        var args = await memory.GetProcArgsAsync();
        Assert.HasCount(700, args);
        Assert.AreEqual("arg699", args[^1]);
        Assert.AreEqual((block.Length + 4071) / 4072, channel.Exchanges);
    }

    [TestMethod]
    public async Task Addresses_beyond_a_32_bit_guest_are_refused_without_an_exchange()
    {
        var (memory, channel) = Answer.Memory(GuestAbi.MipsEl, _ => Assert.Fail("nothing may reach the guest"));
        var error = await Assert.ThrowsExactlyAsync<GuestFaultException>(async () => await memory.ReadBytesAsync(0xffff_fff0, 32));
        Assert.AreEqual(GuestErrno.EFAULT, error.Errno);
        await Assert.ThrowsExactlyAsync<GuestFaultException>(async () => await memory.WriteIntAsync(0x1_0000_0000, 1));
        await Assert.ThrowsExactlyAsync<ArgumentOutOfRangeException>(async () => await memory.WritePtrAsync(0x1000, 0x1_0000_0000));
        Assert.AreEqual(0, channel.Exchanges);
    }

    [TestMethod]
    public async Task Strings_with_a_nul_are_refused_rather_than_cut()
    {
        var (memory, channel) = Answer.Memory(GuestAbi.X86_64, _ => Assert.Fail("nothing may reach the guest"));
        await Assert.ThrowsExactlyAsync<ArgumentException>(async () => await memory.WriteStrAsync(0x1000, "a\0b"));
        Assert.AreEqual(0, channel.Exchanges);
    }

    [TestMethod]
    public async Task Zero_length_transfers_cost_nothing()
    {
        var (memory, channel) = Answer.Memory(GuestAbi.X86_64, _ => Assert.Fail("nothing may reach the guest"));
        Assert.IsEmpty(await memory.ReadBytesAsync(0x1000, 0));
        await memory.WriteBytesAsync(0x1000, ReadOnlyMemory<byte>.Empty);
        Assert.AreEqual(0, channel.Exchanges);
    }
}
