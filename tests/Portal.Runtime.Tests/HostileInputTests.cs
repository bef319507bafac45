using System.Buffers.Binary;
using Microsoft.VisualStudio.TestTools.UnitTesting;
using Portal.Abi;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>
/// The host treats the guest as hostile. Random region states (biased towards edge values, and
/// towards well-formed records with one corrupted byte so that deep validation is reached) go
/// through every decoder: the only acceptable failure is a <see cref="PortalProtocolException"/>;
/// any other exception (an out-of-range read throws IndexOutOfRange/ArgumentOutOfRange) fails the
/// test with the region in hex, for reproduction. Seeds are fixed, so failures reproduce.
/// </summary>
[TestClass]
public sealed class HostileInputTests
{
    private const int RegionStates = 100_000;

    private static readonly ulong[] Responses =
        [.. Enum.GetValues<PortalResponse>().Select(r => (ulong)r), .. Enum.GetValues<PortalOp>().Select(o => (ulong)o), 0xf000_00ffUL, ulong.MaxValue];

    private delegate void Decoder(byte[] region, int requested, Random random);

    private static readonly (string Name, Decoder Decode)[] Decoders =
    [
        ("Read", (r, n, _) => CheckTransfer(ResponseReader.ReadResult(r, n), n, exact: true)),
        ("Write", (r, n, _) => CheckTransfer(ResponseReader.WriteResult(r, n), n, exact: true)),
        ("FdName", (r, n, _) => CheckTransfer(ResponseReader.FdNameResult(r, Math.Max(1, n)), Math.Max(1, n), exact: false)),
        ("ReadStr", (r, n, _) =>
        {
            var window = Math.Max(1, n);
            var chunk = ResponseReader.StrResult(r, window);
            Require(chunk.Count >= 0 && chunk.Count <= window && (!chunk.Terminated || chunk.Count < window), chunk.ToString());
            Require(!Answer.Data(r)[..chunk.Count].Contains((byte)0), "a NUL inside an accepted string");
        }),
        ("Block", (r, n, random) =>
        {
            var offset = (long)random.Next(0, 20_000);
            var chunk = ResponseReader.BlockResult(r, PortalOp.ReadProcArgs, offset, Math.Max(1, n));
            if (chunk.Status == TransferStatus.Complete)
                Require(chunk.Count == Math.Min(Math.Max(1, n), chunk.Total - offset) && chunk.Total <= ResponseReader.MaxBlockLength, chunk.ToString());
            else
                Require(chunk.Count < Math.Max(1, n) && chunk.Errno is > 0 and <= RegionLayout.MaxErrno, chunk.ToString());
        }),
        ("Pid", (r, _, _) =>
        {
            var ids = ResponseReader.PidResult(r);
            Require(!ids.Ok || (ids.Pid > 0 && ids.Tid > 0), ids.ToString());
        }),
        ("Ext", (r, _, _) => Require(ResponseReader.ExtResult(r, PortalOp.Ping).DataLength is >= 0 and <= RegionLayout.DataCapacity, "ext length")),
        ("GuestInfo", (r, _, _) => Require(GuestInfo.Decode(r).CpuSlots > 0, "cpu slots")),
        ("Stats", (r, _, _) => Require(GuestStatistics.Decode(r) is not null, "stats")),
        ("Event", (r, _, random) =>
        {
            var abi = GuestAbi.All[random.Next(GuestAbi.All.Count)];
            var record = SyscallEventRecord.Decode(r, abi);
            Require(record.Pid > 0 && record.Comm.Length <= 16 && record.Phase is Hypersyscalls.SyscallPhase.Enter or Hypersyscalls.SyscallPhase.Return, "event");
        }),
    ];

    [TestMethod]
    public void Random_region_states_never_crash_or_read_out_of_range()
    {
        var random = new Random(20261124);
        var accepted = new int[Decoders.Length];
        var rejected = new int[Decoders.Length];
        for (var i = 0; i < RegionStates; i++)
        {
            var requested = PickRequested(random);
            var region = RandomRegion(random, requested);
            for (var d = 0; d < Decoders.Length; d++)
            {
                var snapshot = (byte[])region.Clone();
                try
                {
                    Decoders[d].Decode(snapshot, requested, random);
                    accepted[d]++;
                }
                catch (PortalProtocolException)
                {
                    rejected[d]++;
                }
                catch (Exception e)
                {
                    Assert.Fail($"{Decoders[d].Name} decoder crashed on state #{i} (requested {requested}) with {e.GetType().Name}: {e.Message}\n" +
                                $"header: {Convert.ToHexString(region, 0, 24)}\ndata[0..128]: {Convert.ToHexString(region, 24, 128)}");
                }
            }
        }
        for (var d = 0; d < Decoders.Length; d++)
        {
            // Both outcomes must occur, or the generator is not exercising the decoder.
            Assert.IsGreaterThan(0, accepted[d], $"{Decoders[d].Name}: no state was ever accepted");
            Assert.IsGreaterThan(0, rejected[d], $"{Decoders[d].Name}: no state was ever rejected");
        }
    }

    [TestMethod]
    public async Task A_guest_answering_at_random_never_crashes_the_memory_api()
    {
        var random = new Random(7);
        var unexpected = new List<string>();
        for (var i = 0; i < 10_000; i++)
        {
            var abi = GuestAbi.All[random.Next(GuestAbi.All.Count)];
            var (memory, channel) = Answer.Memory(abi, region =>
                RandomRegion(random, (int)Math.Min(Answer.Size(region), 4072)).CopyTo(region, 0));
            var operation = random.Next(9);
            try
            {
                switch (operation)
                {
                    case 0: await memory.ReadBytesAsync(0x1000, random.Next(0, 10_000)); break;
                    case 1: await memory.ReadStrAsync(0x1000, maxLength: random.Next(1, 20_000)); break;
                    case 2: await memory.ReadIntAsync(0x1000); break;
                    case 3: await memory.ReadPtrAsync(0x1000); break;
                    case 4: await memory.WriteBytesAsync(0x1000, new byte[random.Next(0, 10_000)]); break;
                    case 5: await memory.GetProcArgsAsync(); break;
                    case 6: await memory.GetProcEnvAsync(); break;
                    case 7: await memory.GetProcPidAsync(); break;
                    default: await memory.ReadFdNameAsync(random.Next(-5, 100)); break;
                }
            }
            catch (Exception e) when (e is PortalProtocolException or GuestOperationException)
            {
            }
            catch (Exception e)
            {
                unexpected.Add($"#{i} op {operation}: {e.GetType().Name}: {e.Message}");
            }
            Assert.IsLessThanOrEqualTo(20_000, channel.Exchanges, $"operation {operation} looped");
        }
        Assert.IsEmpty(unexpected, string.Join("\n", unexpected.Take(10)));
    }

    private static int PickRequested(Random random) => random.Next(8) switch
    {
        0 => 0,
        1 => 1,
        2 => 4,
        3 => 8,
        4 => 4071,
        5 => 4072,
        _ => random.Next(1, 4073),
    };

    private static byte[] RandomRegion(Random random, int requested)
    {
        var region = new byte[RegionLayout.Size];
        var op = random.Next(10) < 8 ? Responses[random.Next(Responses.Length)] : (ulong)random.NextInt64();
        Answer.Header(region, op, EdgeValue(random, requested), EdgeValue(random, requested));
        var data = Answer.Data(region);
        switch (random.Next(4))
        {
            case 0: break;                                   // zeros
            case 1: random.NextBytes(data); break;
            case 2: WellFormedInfo(random, region); break;   // reach the deep checks, then corrupt a byte
            default: WellFormedEvent(random, region); break;
        }
        if (random.Next(2) == 0)
            region[random.Next(24, 24 + 128)] ^= (byte)random.Next(1, 256);
        return region;
    }

    private static ulong EdgeValue(Random random, int requested) => random.Next(12) switch
    {
        0 => 0,
        1 => 1,
        2 => 14,
        3 => 4095,
        4 => 4096,
        5 => (ulong)requested,
        6 => (ulong)Math.Max(0, requested - 1),
        7 => (ulong)requested + 1,
        8 => 4072,
        9 => ulong.MaxValue,
        10 => (ulong)random.Next(0, 100_000),
        _ => (ulong)random.NextInt64(),
    };

    private static void WellFormedInfo(Random random, byte[] region)
    {
        var abi = GuestAbi.All[random.Next(GuestAbi.All.Count)];
        var header = region.AsSpan(0, 24).ToArray();
        Answer.GuestInfo(region, abi);
        if (random.Next(2) == 0)
            header.CopyTo(region, 0);
        else if (random.Next(2) == 0)
            BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(16), (ulong)(72 + random.Next(0, 64)));
    }

    private static void WellFormedEvent(Random random, byte[] region)
    {
        var data = Answer.Data(region);
        BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)random.Next(1, 10));
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], (uint)random.Next(1, 3));
        BinaryPrimitives.WriteUInt64LittleEndian(data[8..], (ulong)random.Next(0, 500));
        for (var i = 0; i < 6; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(data[(16 + 8 * i)..], random.Next(2) == 0 ? (ulong)random.Next() : (ulong)random.NextInt64());
        BinaryPrimitives.WriteUInt32LittleEndian(data[72..], (uint)random.Next(0, 1000));
        BinaryPrimitives.WriteUInt32LittleEndian(data[76..], (uint)random.Next(0, 1000));
        random.NextBytes(data.Slice(80, 16));
        if (random.Next(3) > 0)
            Answer.Header(region, (ulong)PortalResponse.Event, (ulong)random.Next(), 96);
    }

    private static void CheckTransfer(TransferResult result, int requested, bool exact)
    {
        Require(result.Count >= 0 && result.Count <= requested, result.ToString());
        Require(result.Status == TransferStatus.Complete ? result.Errno == 0 && (!exact || result.Count == requested)
            : result.Errno is > 0 and <= RegionLayout.MaxErrno, result.ToString());
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
            throw new InvalidOperationException($"An accepted answer broke an invariant: {what}");
    }
}
