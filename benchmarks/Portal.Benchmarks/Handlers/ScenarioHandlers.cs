using Microsoft.Extensions.Logging.Abstractions;
using Portal.Benchmarks.Bench;
using Portal.Benchmarks.Raeth;
using Portal.Hypersyscalls;
using Portal.Samples.IoctlInteraction;
using Portal.Typed;

namespace Portal.Benchmarks.Handlers;

/// <summary>
/// The benchmarked handlers, each scenario written twice: seed-style (every operation awaited before
/// the next, exactly what a Penguin plugin costs) and batched. Each checks what it read, so a fast
/// wrong answer cannot pass for a fast handler.
/// </summary>
internal static class ScenarioHandlers
{
    private static readonly IoctlInteractionPlugin SeedIoctlInteraction = new(NullLogger.Instance);
    private static readonly BatchedIoctlInteractionPlugin BatchedIoctlInteraction = new(NullLogger.Instance);

    public static Func<SyscallContext, ValueTask> For(HandlerScenario scenario, HandlerStyle style) => (scenario, style) switch
    {
        (HandlerScenario.Empty, _) => static _ => ValueTask.CompletedTask,
        (HandlerScenario.Raeth, HandlerStyle.SeedStyle) => RaethSeedStyleAsync,
        (HandlerScenario.Raeth, _) => RaethBatchedAsync,
        (HandlerScenario.IoctlInteraction, HandlerStyle.SeedStyle) => SeedIoctlInteraction.SyscallTest,
        (HandlerScenario.IoctlInteraction, _) => BatchedIoctlInteraction.SyscallTest,
        (HandlerScenario.Record, HandlerStyle.SeedStyle) => RecordSeedStyleAsync,
        (HandlerScenario.Record, _) => RecordBatchedAsync,
        (HandlerScenario.Chase, HandlerStyle.SeedStyle) => ChaseSeedStyleAsync,
        (HandlerScenario.Chase, _) => ChaseBatchedAsync,
        (HandlerScenario.Bulk, HandlerStyle.SeedStyle) => BulkSeedStyleAsync,
        (HandlerScenario.Bulk, _) => BulkBatchedAsync,
        _ => throw new ArgumentOutOfRangeException(nameof(scenario), scenario, null),
    };

    private static uint RegisterValue(uint offset) => offset switch
    {
        Raeth.Raeth.REG_ESW_WT_MAC_AD0 => 0x2u,
        Raeth.Raeth.REG_ESW_WT_MAC_ATC => 0x8234u,
        Raeth.Raeth.REG_ESW_TABLE_STATUS0 => 0x73u,
        _ => 0x10173u,
    };

    /// <summary>The seed's RAEthPlugin, call for call: four exchanges.</summary>
    private static async ValueTask RaethSeedStyleAsync(SyscallContext syscall)
    {
        var arg = syscall.Args[2];
        if (await syscall.Memory.ReadStrAsync(arg) != "eth0")
            throw new InvalidOperationException("ifr_name is not eth0");
        var eswReg = await syscall.Memory.ReadPtrAsync(arg + 16);          // ifr.ifr_data
        var offset = await syscall.Memory.ReadIntAsync(eswReg);            // esw_reg.off
        await syscall.Memory.WriteIntAsync(eswReg + 4, RegisterValue(offset));
    }

    /// <summary>Typed: ifr and *ifr_data in one exchange, val staged onto the verdict.</summary>
    private static async ValueTask RaethBatchedAsync(SyscallContext syscall)
    {
        var (ifr, reg) = await syscall.Memory.At<Ifreq>(syscall.Args[2]).LoadAsync(p => p.IfrData.Deref<EswReg>());
        if (ifr.IfrName != "eth0")
            throw new InvalidOperationException("ifr_name is not eth0");
        reg.Val = RegisterValue(reg.Off);
    }

    /// <summary>One read per member, at hand-computed offsets, as the seed does it: five exchanges.</summary>
    private static async ValueTask RecordSeedStyleAsync(SyscallContext syscall)
    {
        var memory = syscall.Memory;
        var arg = syscall.Args[2];
        var id = await memory.ReadIntAsync(arg);
        var flags = BitConverter.ToUInt16(await memory.ReadBytesAsync(arg + 4, 2));
        var port = BitConverter.ToUInt16(await memory.ReadBytesAsync(arg + 6, 2));
        var counter = await memory.ReadLongAsync(arg + 8);
        var status = (int)await memory.ReadIntAsync(arg + 16);
        CheckRecord(id, flags, port, counter, status);
    }

    private static async ValueTask RecordBatchedAsync(SyscallContext syscall)
    {
        var record = await syscall.Memory.At<BenchRecord>(syscall.Args[2]).LoadAsync();
        CheckRecord(record.Id, record.Flags, record.Port, record.Counter, record.Status);
    }

    /// <summary>Read the pointer, then the record it points to: two exchanges.</summary>
    private static async ValueTask ChaseSeedStyleAsync(SyscallContext syscall)
    {
        var memory = syscall.Memory;
        // chase.target follows a u32, aligned to the pointer size (as a seed-style plugin hard-codes it per ABI)
        var record = await memory.ReadPtrAsync(syscall.Args[2] + (ulong)syscall.Abi.PointerSize);
        var bytes = await memory.ReadBytesAsync(record, 24);
        CheckRecord(BitConverter.ToUInt32(bytes, 0), BitConverter.ToUInt16(bytes, 4), BitConverter.ToUInt16(bytes, 6),
            BitConverter.ToUInt64(bytes, 8), BitConverter.ToInt32(bytes, 16));
    }

    /// <summary>The chase record and the record it points to in one exchange: the guest follows the pointer.</summary>
    private static async ValueTask ChaseBatchedAsync(SyscallContext syscall)
    {
        var (chase, record) = await syscall.Memory.At<BenchChase>(syscall.Args[2]).LoadAsync(p => p.Target.Deref<BenchRecord>());
        if (chase.Kind != 1)
            throw new InvalidOperationException($"chase.kind is {chase.Kind}");
        CheckRecord(record.Id, record.Flags, record.Port, record.Counter, record.Status);
    }

    /// <summary>64 KiB in 4072-byte reads, one after the other: seventeen exchanges.</summary>
    private static async ValueTask BulkSeedStyleAsync(SyscallContext syscall)
    {
        var buffer = new byte[PortalBench.BENCH_BULK_SIZE];
        for (var offset = 0; offset < buffer.Length; offset += 4072)
        {
            var chunk = await syscall.Memory.ReadBytesAsync(syscall.Args[2] + (ulong)offset, Math.Min(4072, buffer.Length - offset));
            chunk.CopyTo(buffer, offset);
        }
        CheckBulk(buffer);
    }

    private static async ValueTask BulkBatchedAsync(SyscallContext syscall) =>
        CheckBulk(await syscall.Memory.ReadBytesAsync(syscall.Args[2], PortalBench.BENCH_BULK_SIZE));

    private static void CheckRecord(uint id, ushort flags, ushort port, ulong counter, int status)
    {
        if ((id, flags, port, counter, status) != (7u, (ushort)0x8001, (ushort)8080, 0x1122334455667788ul, -2))
            throw new InvalidOperationException($"wrong record: {id} {flags:x} {port} {counter:x} {status}");
    }

    private static void CheckBulk(byte[] buffer)
    {
        for (var i = 0; i < buffer.Length; i += 4093)
        {
            if (buffer[i] != (byte)i)
                throw new InvalidOperationException($"wrong byte at {i}: {buffer[i]}");
        }
    }
}
