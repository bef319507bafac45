using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Qemu.Tests;

/// <summary>
/// Guest output on the real guest (issue 11, finding 8): streamed fast, intact, with bounded host memory,
/// and a consumer that stops reading holds back its own command only. One boot for the class.
/// </summary>
[TestClass, TestCategory("RealGuest"), TestCategory("Reliability")]
public sealed class GuestOutputTests
{
    private static QemuGuest? s_guest;

    public TestContext TestContext { get; set; } = null!;

    [ClassInitialize]
    public static async Task BootAsync(TestContext context) =>
        s_guest = await QemuGuest.StartAsync(cancellationToken: context.CancellationToken);

    [ClassCleanup]
    public static async Task ShutDownAsync()
    {
        if (s_guest is not null)
            await s_guest.DisposeAsync();
    }

    private static QemuGuest Guest => s_guest!;

    [TestMethod]
    public async Task Twenty_four_MiB_of_output_arrive_intact_and_fast()
    {
        // Random bytes as base64 text (the output callback takes text), checksummed in the guest.
        var made = await Guest.RunShellAsync(
            "head -c 18874368 /dev/urandom | base64 > /tmp/blob && md5sum /tmp/blob && wc -c < /tmp/blob", cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual(0, made.ExitCode, made.Output);
        var guestMd5 = made.Output.Split(' ', 2)[0];
        var guestBytes = long.Parse(made.Lines[^1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsGreaterThanOrEqualTo(24L << 20, guestBytes);

        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        long received = 0;
        // Generous: at the asserted 5 MB/s the transfer takes 5 s; before the fix (≈ 0.15 MB/s) it took minutes.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(120));
        var clock = Stopwatch.StartNew();
        try
        {
            var result = await Guest.RunShellAsync("cat /tmp/blob", chunk =>
            {
                var bytes = Encoding.UTF8.GetBytes(chunk);
                md5.AppendData(bytes);
                received += bytes.Length;
            }, limit.Token);
            Assert.AreEqual(0, result.ExitCode);
        }
        catch (OperationCanceledException) when (!TestContext.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"only {received:N0} of {guestBytes:N0} bytes arrived in {clock.Elapsed.TotalSeconds:F0} s");
        }
        clock.Stop();
        var rate = received / clock.Elapsed.TotalSeconds / 1e6;
        TestContext.WriteLine($"{received:N0} bytes in {clock.Elapsed.TotalSeconds:F2} s = {rate:F1} MB/s");
        Assert.AreEqual(guestBytes, received, "byte count");
        Assert.AreEqual(guestMd5, Convert.ToHexStringLower(md5.GetHashAndReset()), "the guest's md5sum of the file");
        // The floor is half the promised 10 MB/s so that a loaded 2-core CI machine does not make it flaky.
        Assert.IsGreaterThanOrEqualTo(5.0, rate, $"{rate:F2} MB/s");
        await Guest.RunShellAsync("rm /tmp/blob", cancellationToken: TestContext.CancellationToken);
    }

    [TestMethod]
    public async Task Multibyte_text_crosses_frames_intact_and_a_streamed_run_keeps_only_its_end()
    {
        // 11 bytes a line with 2-, 3- and 4-byte characters: frames split characters everywhere.
        const string Line = "aé€𝄞\n";
        const int Lines = 100_000;
        var streamed = new StringBuilder();
        var result = await Guest.RunShellAsync($"yes 'aé€𝄞' | head -n {Lines}", chunk => streamed.Append(chunk), TestContext.CancellationToken);
        Assert.AreEqual(0, result.ExitCode);
        var expected = string.Concat(Enumerable.Repeat(Line, Lines));
        Assert.AreEqual(expected.Length, streamed.Length);
        Assert.AreEqual(expected, streamed.ToString(), "the callback saw every character");

        // With a callback, Output keeps only the end (bounded memory), cut at a character boundary.
        Assert.IsTrue(result.OutputTruncated);
        Assert.IsLessThanOrEqualTo(QemuGuest.StreamedOutputTail, Encoding.UTF8.GetByteCount(result.Output));
        Assert.IsGreaterThan(QemuGuest.StreamedOutputTail - 4, Encoding.UTF8.GetByteCount(result.Output));
        StringAssert.EndsWith(expected, result.Output);
        Assert.AreNotEqual('\uFFFD', result.Output[0]);

        // Without a callback, Output is everything, as before.
        var whole = await Guest.RunShellAsync($"yes 'aé€𝄞' | head -n {Lines}", cancellationToken: TestContext.CancellationToken);
        Assert.IsFalse(whole.OutputTruncated);
        Assert.AreEqual(expected, whole.Output);
    }

    [TestMethod]
    public async Task A_consumer_that_stops_reading_stalls_its_command_and_nothing_else()
    {
        using var gate = new ManualResetEventSlim();
        using var firstChunk = new SemaphoreSlim(0);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        var endless = Guest.RunShellAsync("exec dd if=/dev/zero bs=65536 2>/dev/null", _ =>
        {
            firstChunk.Release();
            gate.Wait();        // a consumer that never returns (a stopped pipe, a stuck UI)
        }, cancel.Token);
        try
        {
            Assert.IsTrue(await firstChunk.WaitAsync(TimeSpan.FromSeconds(30), TestContext.CancellationToken), "the first output arrived");
            await Task.Delay(1000, TestContext.CancellationToken);

            // Another command runs meanwhile, and sees dd blocked: it wrote at most the host's window plus the buffers on the way.
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(30));
            var probe = await Guest.RunShellAsync("p=$(pidof dd); grep ^wchar /proc/$p/io; sleep 1; grep ^wchar /proc/$p/io", cancellationToken: limit.Token);
            Assert.AreEqual(0, probe.ExitCode, probe.Output);
            var written = probe.Lines.Select(line => long.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            TestContext.WriteLine($"dd wrote {written[0]:N0} then {written[1]:N0} bytes");
            Assert.AreEqual(written[0], written[1], "dd is blocked, not producing into a growing buffer");
            Assert.IsLessThanOrEqualTo(8L << 20, written[1]);
        }
        finally
        {
            await cancel.CancelAsync();
            gate.Set();
        }
        await Assert.ThrowsAsync<OperationCanceledException>(async () => await endless);
        var gone = await Guest.RunShellAsync("sleep 0.5; pidof dd", cancellationToken: TestContext.CancellationToken);
        Assert.AreEqual(1, gone.ExitCode, $"dd was killed: {gone.Output}");
    }
}
