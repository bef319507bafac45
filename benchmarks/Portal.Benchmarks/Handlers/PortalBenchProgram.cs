using System.Globalization;
using Portal.Benchmarks.Bench;
using Portal.Benchmarks.Raeth;
using Portal.Testing.Processes;
using Portal.Testing.Programs;
using Portal.Typed;

namespace Portal.Benchmarks.Handlers;

/// <summary>
/// The emulated twin of <c>portal-bench handler SCENARIO</c> (guest/programs/portal-bench.c): the
/// scenario's ioctl again and again, with its data reset before every call, for as long as a handler
/// answers 0. The records are laid out by the proxies generated from portal-bench.h.
/// </summary>
internal static class PortalBenchProgram
{
    public const string Name = "portal-bench";

    public static async ValueTask<int> RunAsync(GuestProgramContext context)
    {
        if (context.Arguments is not [_, "handler", var name] || !Enum.TryParse<HandlerScenario>(name.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var scenario))
        {
            context.PrintLine("usage: portal-bench handler SCENARIO (the emulated twin has only the handler mode)");
            return 2;
        }
        var abi = context.Abi;
        var fd = (int)await context.OpenAsync("/dev/null").ConfigureAwait(false);
        var bulk = (ulong)await context.MmapAsync(PortalBench.BENCH_BULK_SIZE, PageProtection.ReadWrite).ConfigureAwait(false);
        var page = (ulong)await context.MmapAsync((ulong)abi.PageSize, PageProtection.ReadWrite).ConfigureAwait(false);
        var (ifr, reg, record, chase) = (page, page + 64, page + 128, page + 192);
        var pattern = new byte[PortalBench.BENCH_BULK_SIZE];
        for (var i = 0; i < pattern.Length; i++)
            pattern[i] = (byte)i;

        var recordBytes = GuestRecord.Create<BenchRecord>(abi);
        recordBytes.Id = 7;
        recordBytes.Flags = 0x8001;
        recordBytes.Port = 8080;
        recordBytes.Counter = 0x1122334455667788;
        recordBytes.Status = -2;
        var chaseBytes = GuestRecord.Create<BenchChase>(abi);
        chaseBytes.Kind = 1;
        chaseBytes.View.WriteAddress(BenchChase.LayoutFor(abi).M_Target, record);

        var (command, argument) = scenario switch
        {
            HandlerScenario.Raeth => ((ulong)Raeth.Raeth.RAETH_ESW_REG_READ, ifr),
            HandlerScenario.IoctlInteraction => (0x89F0ul /* SIOCDEVPRIVATE */, ifr),
            HandlerScenario.Chase => ((ulong)PortalBench.BENCH_HANDLER_CMD, chase),
            HandlerScenario.Bulk => ((ulong)PortalBench.BENCH_HANDLER_CMD, bulk),
            _ => ((ulong)PortalBench.BENCH_HANDLER_CMD, record),
        };
        var calls = 0L;
        long rc;
        while (true)
        {
            var memory = context.Memory;
            memory.Write(ifr, new byte[40]);
            memory.WriteCString(ifr, "eth0");
            if (scenario == HandlerScenario.Raeth)
            {
                memory.WriteUInt32(reg, Raeth.Raeth.REG_ESW_TABLE_STATUS0);
                memory.WriteUInt32(reg + 4, 0);
                memory.WritePointer(ifr + 16, reg);
            }
            else if (scenario == HandlerScenario.IoctlInteraction)
            {
                memory.WriteUInt32(ifr + 16, 0x1337);
            }
            memory.Write(record, recordBytes.View.Bytes(0, BenchRecord.SizeOf(abi)));
            memory.Write(chase, chaseBytes.View.Bytes(0, BenchChase.SizeOf(abi)));
            if (scenario == HandlerScenario.Bulk)
                memory.Write(bulk, pattern);

            rc = await context.IoctlAsync(fd, command, argument).ConfigureAwait(false);
            if (rc != 0)
                break;
            calls++;
        }
        if (rc == PortalBench.BENCH_STOP)
        {
            context.PrintLine(string.Create(CultureInfo.InvariantCulture, $"calls={calls} stopped"));
            return 0;
        }
        context.PrintLine(string.Create(CultureInfo.InvariantCulture, $"calls={calls} rc={rc}: no handler answered"));
        return 1;
    }
}
