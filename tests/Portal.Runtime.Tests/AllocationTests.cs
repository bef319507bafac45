using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>DESIGN.md: no allocation per operation on the hot path.</summary>
[TestClass]
public sealed class AllocationTests
{
    [TestMethod]
    public async Task Scalar_reads_and_writes_allocate_nothing_per_operation()
    {
        var (memory, _) = Answer.Memory(GuestAbi.MipsEl, region =>
        {
            var size = Answer.Size(region);
            Answer.Header(region, Answer.Op(region) == (ulong)PortalOp.Read ? (ulong)PortalResponse.ReadOk : (ulong)PortalResponse.WriteOk,
                Answer.Addr(region), size);
        });
        for (var i = 0; i < 100; i++)        // warm up (tiered JIT, cached tasks)
        {
            await memory.ReadIntAsync(0x1000);
            await memory.WriteIntAsync(0x1000, 1u);
        }
        const int Operations = 10_000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Operations; i++)
        {
            await memory.ReadIntAsync(0x1000);
            await memory.ReadPtrAsync(0x1000);
            await memory.WriteIntAsync(0x1000, (uint)i);
        }
        var perOperation = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)(3 * Operations);
        Assert.IsLessThan(1.0, perOperation, $"{perOperation:F2} bytes allocated per operation");
    }
}
