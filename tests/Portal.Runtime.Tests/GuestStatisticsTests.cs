using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>STATS (docs/protocol.md §4.5): a host accepts more counters than it knows, and a guest that predates events_over_budget or skips_failed.</summary>
[TestClass]
public sealed class GuestStatisticsTests
{
    [TestMethod]
    [DataRow(9, 0L, 0L, 0L)]
    [DataRow(10, 110L, 0L, 0L)]
    [DataRow(11, 110L, 121L, 0L)]
    [DataRow(12, 110L, 121L, 132L)]
    [DataRow(13, 110L, 121L, 132L)]
    public void Decodes_the_counters_it_knows_and_reads_zero_for_those_not_sent(int count, long overBudget, long skipsFailed, long filterFaults)
    {
        var statistics = GuestStatistics.Decode(Stats(count));
        Assert.AreEqual(new GuestStatistics(11, 22, 33, 44, 55, 66, 77, 88, 99, overBudget, skipsFailed, filterFaults), statistics);
    }

    [TestMethod]
    [DataRow(8 * 8)]
    [DataRow(9 * 8 + 4)]
    public void Fewer_than_nine_counters_or_a_partial_one_is_a_protocol_error(int size)
    {
        var region = Stats(10);
        BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(16), (ulong)size);
        Assert.ThrowsExactly<PortalProtocolException>(() => GuestStatistics.Decode(region));
    }

    /// <summary>EXT_OK with <paramref name="count"/> counters 11, 22, 33, ...</summary>
    private static byte[] Stats(int count)
    {
        var region = new byte[4096];
        BinaryPrimitives.WriteUInt64LittleEndian(region, 0xf000_0101);
        BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(16), (ulong)(8 * count));
        for (var i = 0; i < count; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(24 + 8 * i), (ulong)(11 * (i + 1)));
        return region;
    }
}
