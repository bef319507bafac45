using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Diagnostics;
using Portal.Testing.Programs;

namespace Portal.Conformance;

/// <summary>Nothing fails silently: what the guest could not do with a verdict reaches the host, named and counted.</summary>
public abstract partial class ConformanceSuite
{
    [TestMethod, TestCategory("Conformance"), TestCategory("Reliability")]
    public async Task Writes_that_fail_on_the_verdict_are_logged_and_counted_against_their_handler()
    {
        HandlerStatistics? statistics = null;
        ulong unmapped = 0, readOnly = 0;
        var (output, _) = await WithSelfTestAsync(async (context, desc) =>
        {
            statistics = context.Hook.Statistics;
            (unmapped, readOnly) = (desc.Unmapped, desc.ReadOnly);
            using (context.Memory.BeginBatch())
            {
                await context.Memory.WriteBytesAsync(desc.Unmapped, new byte[] { 1, 2, 3 });       // faults in the guest
                await context.Memory.WriteStrAsync(desc.Str, "still applied");                     // independent of the others
                await context.Memory.WriteBytesAsync(desc.ReadOnly, new byte[] { 9, 9 });         // faults too
            }
            return 0;       // never flushed: the three ride on the verdict
        });

        Assert.AreEqual("still applied", output.Str, "a failing write does not stop the others");
        Assert.AreEqual(SelfTestPattern.Crc32(SelfTestPattern.Bytes(0, 4096)), output.RoCrc, "the read-only page is unchanged");
        Assert.AreEqual(2, statistics!.FailedVerdictWrites, "both failures are counted against the handler");
        Assert.AreEqual(1, statistics.Exchanges, "only the descriptor was read: the writes rode on the verdict");
        var messages = Logs.Entries.Select(e => e.Message).ToList();
        CollectionAssert.Contains(messages,
            $"Handler selftest, event {EventIdOf(messages)}: the guest could not apply a write that rode on the verdict: 3 bytes at 0x{unmapped:x} (EFAULT: unmapped, read-only or not user memory).",
            string.Join("\n", messages));
        Assert.IsTrue(messages.Any(m => m.Contains($"2 bytes at 0x{readOnly:x}", StringComparison.Ordinal)), string.Join("\n", messages));
    }

    /// <summary>The event id in the first verdict-write message (the guest numbers events itself).</summary>
    private static string EventIdOf(IEnumerable<string> messages) =>
        messages.First(m => m.StartsWith("Handler selftest, event ", StringComparison.Ordinal)).Split(' ')[3].TrimEnd(':');
}
