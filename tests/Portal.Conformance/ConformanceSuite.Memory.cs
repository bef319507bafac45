using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Memory;
using Portal.Testing.Programs;

namespace Portal.Conformance;

/// <summary>The memory and process API against the self-test area.</summary>
public abstract partial class ConformanceSuite
{
    [TestMethod, TestCategory("Conformance")]
    [DataRow(1), DataRow(16), DataRow(4071), DataRow(4072), DataRow(4073), DataRow(10_000), DataRow(16_384)]
    public async Task ReadBytes_returns_guest_bytes_in_as_many_exchanges_as_4072_byte_chunks(int count)
    {
        var (_, (bytes, spent)) = await WithSelfTestAsync(async (context, desc) =>
        {
            var before = context.Exchanges;
            var read = await context.Memory.ReadBytesAsync(desc.Buf, count);
            return (read, context.Exchanges - before);
        });
        CollectionAssert.AreEqual(SelfTestPattern.Bytes(0, count), bytes);
        Assert.AreEqual(ChunksOf(count), spent);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task ReadBytes_at_an_unaligned_offset_returns_the_bytes_there()
    {
        var (_, bytes) = await WithSelfTestAsync(async (context, desc) => await context.Memory.ReadBytesAsync(desc.Buf + 1001, 5003));
        CollectionAssert.AreEqual(SelfTestPattern.Bytes(1001, 5003), bytes);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Integers_and_pointers_are_read_in_the_guest_byte_order_one_exchange_each()
    {
        var (_, values) = await WithSelfTestAsync(async (context, desc) =>
        {
            var before = context.Exchanges;
            var int32 = await context.Memory.ReadIntAsync(desc.Int32At);
            var int64 = await context.Memory.ReadLongAsync(desc.Int64At);
            var pointer = await context.Memory.ReadPtrAsync(desc.PtrAt);
            return (int32, int64, pointer, desc.Buf, spent: context.Exchanges - before);
        });
        Assert.AreEqual(0x11223344u, values.int32);
        Assert.AreEqual(0x1122334455667788UL, values.int64);
        Assert.AreEqual(values.Buf, values.pointer);
        Assert.AreEqual(3, values.spent);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task ReadStr_reads_short_and_multi_chunk_strings()
    {
        var (_, values) = await WithSelfTestAsync(async (context, desc) =>
        {
            var before = context.Exchanges;
            var shortString = await context.Memory.ReadStrAsync(desc.Str);
            var shortSpent = context.Exchanges - before;
            before = context.Exchanges;
            var longString = await context.Memory.ReadStrAsync(desc.LongStr, maxLength: PortalSelfTest.LongStringLength);
            var longSpent = context.Exchanges - before;
            var tail = await context.Memory.ReadStrAsync(desc.LongStr + 8990);
            return (shortString, shortSpent, longString, longSpent, tail);
        });
        Assert.AreEqual("portal-selftest", values.shortString);
        Assert.AreEqual(1, values.shortSpent);
        var expected = new string([.. Enumerable.Range(0, PortalSelfTest.LongStringLength).Select(i => (char)('a' + i % 26))]);
        Assert.AreEqual(expected, values.longString);
        Assert.AreEqual(3, values.longSpent, "9001 bytes are scanned in windows of 4072, 4072 and 857");
        Assert.AreEqual(expected[8990..], values.tail);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task ReadStr_longer_than_maxLength_is_an_error_not_a_truncation()
    {
        var (_, error) = await WithSelfTestAsync(async (context, desc) =>
            await CaptureAsync(async () => await context.Memory.ReadStrAsync(desc.LongStr, maxLength: PortalSelfTest.LongStringLength - 1)));
        var failure = error as GuestOperationException;
        Assert.IsNotNull(failure, $"expected a GuestOperationException, got {error}");
        Assert.AreEqual(GuestErrno.ENAMETOOLONG, failure.Errno);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Writes_land_in_guest_memory_and_read_back()
    {
        var replacement = SelfTestPattern.Bytes(50_000, 10_000);
        var (output, readBack) = await WithSelfTestAsync(async (context, desc) =>
        {
            await context.Memory.WriteStrAsync(desc.Str, "written-by-host");
            await context.Memory.WriteIntAsync(desc.Int32At, 0xcafebabe);
            await context.Memory.WriteLongAsync(desc.Int64At, 0x0102030405060708UL);
            await context.Memory.WritePtrAsync(desc.PtrAt, 0x1234);
            await context.Memory.WriteBytesAsync(desc.Buf + 100, replacement);
            return (await context.Memory.ReadStrAsync(desc.Str), await context.Memory.ReadIntAsync(desc.Int32At),
                await context.Memory.ReadBytesAsync(desc.Buf + 100, replacement.Length));
        });
        Assert.AreEqual("written-by-host", readBack.Item1);
        Assert.AreEqual(0xcafebabeu, readBack.Item2);
        CollectionAssert.AreEqual(replacement, readBack.Item3);

        Assert.AreEqual("written-by-host", output.Str);
        Assert.AreEqual(0xcafebabeu, output.Int32);
        Assert.AreEqual(0x0102030405060708UL, output.Int64);
        Assert.AreEqual(0x1234UL, output.Ptr);
        var expectedBuffer = InitialBuffer();
        replacement.CopyTo(expectedBuffer, 100);
        Assert.AreEqual(SelfTestPattern.Crc32(expectedBuffer), output.BufCrc);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Reading_an_unmapped_address_is_EFAULT_with_the_address()
    {
        var (_, error) = await WithSelfTestAsync(async (context, desc) =>
            (await CaptureAsync(async () => await context.Memory.ReadBytesAsync(desc.Unmapped, 16)), desc.Unmapped));
        var fault = error.Item1 as GuestFaultException;
        Assert.IsNotNull(fault, $"expected a GuestFaultException, got {error.Item1}");
        Assert.IsNotInstanceOfType<GuestPartialReadException>(fault);
        Assert.AreEqual(GuestErrno.EFAULT, fault.Errno);
        Assert.AreEqual(error.Unmapped, fault.Address);
        Assert.AreEqual(0, fault.BytesTransferred);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Reading_address_zero_is_an_error_not_empty()
    {
        var (_, errors) = await WithSelfTestAsync(async (context, _) =>
            (await CaptureAsync(async () => await context.Memory.ReadIntAsync(0)),
             await CaptureAsync(async () => await context.Memory.ReadStrAsync(0))));
        Assert.AreEqual(GuestErrno.EFAULT, (errors.Item1 as GuestFaultException)?.Errno, $"ReadInt(0): {errors.Item1}");
        Assert.AreEqual(GuestErrno.EFAULT, (errors.Item2 as GuestFaultException)?.Errno, $"ReadStr(0): {errors.Item2}");
    }

    [TestMethod, TestCategory("Conformance")]
    [DataRow(200, 100), DataRow(10_000, 5_000)]
    public async Task A_read_running_into_an_unmapped_page_is_partial_and_says_how_much(int count, int readable)
    {
        var (_, error) = await WithSelfTestAsync(async (context, desc) =>
            await CaptureAsync(async () => await context.Memory.ReadBytesAsync(desc.Unmapped - (ulong)readable, count)));
        var partial = error as GuestPartialReadException;
        Assert.IsNotNull(partial, $"expected a GuestPartialReadException, got {error}");
        Assert.AreEqual(readable, partial.BytesTransferred);
        Assert.AreEqual(count, partial.Requested);
        Assert.AreEqual(GuestErrno.EFAULT, partial.Errno);
        CollectionAssert.AreEqual(SelfTestPattern.Bytes(PortalSelfTest.BufferSize - readable, readable), partial.DataRead.ToArray());
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_string_running_into_an_unmapped_page_is_a_partial_read()
    {
        var letters = Encoding.ASCII.GetBytes(new string('x', 64));
        var (_, error) = await WithSelfTestAsync(async (context, desc) =>
        {
            await context.Memory.WriteBytesAsync(desc.Unmapped - 64, letters);
            return await CaptureAsync(async () => await context.Memory.ReadStrAsync(desc.Unmapped - 64));
        });
        var partial = error as GuestPartialReadException;
        Assert.IsNotNull(partial, $"expected a GuestPartialReadException, got {error}");
        CollectionAssert.AreEqual(letters, partial.DataRead.ToArray());
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Writing_a_read_only_page_is_EFAULT_and_changes_nothing()
    {
        var (output, error) = await WithSelfTestAsync(async (context, desc) =>
            await CaptureAsync(async () => await context.Memory.WriteIntAsync(desc.ReadOnly, 0xdeadbeef)));
        Assert.AreEqual(GuestErrno.EFAULT, (error as GuestFaultException)?.Errno, $"got {error}");
        Assert.AreEqual(SelfTestPattern.Crc32(SelfTestPattern.Bytes(0, 4096)), output.RoCrc);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task A_write_running_into_an_unmapped_page_says_how_much_landed()
    {
        var (output, error) = await WithSelfTestAsync(async (context, desc) =>
            await CaptureAsync(async () => await context.Memory.WriteBytesAsync(desc.Unmapped - 8, Enumerable.Repeat((byte)0xaa, 16).ToArray())));
        var fault = error as GuestFaultException;
        Assert.IsNotNull(fault, $"expected a GuestFaultException, got {error}");
        Assert.AreEqual(8, fault.BytesTransferred);
        var expected = InitialBuffer();
        expected.AsSpan(PortalSelfTest.BufferSize - 8).Fill(0xaa);
        Assert.AreEqual(SelfTestPattern.Crc32(expected), output.BufCrc);
    }

    [TestMethod, TestCategory("Conformance")]
    public async Task Process_information_describes_the_caller()
    {
        var (_, values) = await WithSelfTestAsync(async (context, desc) => (
            pid: await context.Memory.GetProcPidAsync(), desc.Pid, eventPid: context.Pid,
            args: await context.Memory.GetProcArgsAsync(),
            env: await context.Memory.GetProcEnvAsync(),
            fd: await context.Memory.ReadFdNameAsync(desc.Fd),
            badFd: await CaptureAsync(async () => await context.Memory.ReadFdNameAsync(9999))));
        Assert.AreEqual(values.Pid, values.pid);
        Assert.AreEqual(values.Pid, values.eventPid);
        CollectionAssert.AreEqual(new[] { PortalSelfTest.Name, "desc" }, values.args.ToArray());
        Assert.AreEqual(EnvironmentValue, values.env.GetValueOrDefault(EnvironmentName), string.Join(", ", values.env));
        Assert.AreEqual("/dev/null", values.fd);
        Assert.AreEqual(GuestErrno.EBADF, (values.badFd as GuestOperationException)?.Errno, $"got {values.badFd}");
    }
}
