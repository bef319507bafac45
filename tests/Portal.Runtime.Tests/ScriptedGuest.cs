using System.Buffers.Binary;
using Portal.Abi;
using Portal.Channels;
using Portal.Diagnostics;
using Portal.Memory;
using Portal.Protocol;

namespace Portal.Runtime.Tests;

/// <summary>A region whose "guest" is a test function: it can answer anything, including lies.</summary>
internal sealed class ScriptedChannel(Action<byte[]> respond, int slot = 1) : IGuestChannel
{
    public byte[] Buffer { get; } = new byte[RegionLayout.Size];

    public int Exchanges { get; private set; }

    public int Releases { get; private set; }

    public int Slot => slot;

    public Span<byte> Region => Buffer;

    /// <summary>Answer on another thread after the exchange has returned, as a slow guest does.</summary>
    public bool AnswerLate { get; init; }

    public ValueTask ExchangeAsync(CancellationToken cancellationToken = default)
    {
        Exchanges++;
        if (AnswerLate)
            return new ValueTask(Task.Run(() => respond(Buffer), cancellationToken));
        respond(Buffer);
        return ValueTask.CompletedTask;
    }

    public void ReleaseToGuest() => Releases++;
}

/// <summary>A connection whose control slot is scripted and whose events the test injects.</summary>
internal sealed class ScriptedConnection(Action<byte[]> control) : IGuestConnection
{
    public ScriptedChannel ControlChannel { get; } = new(control, slot: 0);

    public IGuestChannel Control => ControlChannel;

    public IGuestEventSink? Sink { get; private set; }

    public IDisposable Attach(IGuestEventSink sink)
    {
        Sink = sink;
        return new Detacher(this);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Detacher(ScriptedConnection connection) : IDisposable
    {
        public void Dispose() => connection.Sink = null;
    }
}

/// <summary>Helpers to write guest answers into a region.</summary>
internal static class Answer
{
    public static void Header(byte[] region, ulong op, ulong addr, ulong size)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(region, op);
        BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(8), addr);
        BinaryPrimitives.WriteUInt64LittleEndian(region.AsSpan(16), size);
    }

    public static ulong Op(byte[] region) => BinaryPrimitives.ReadUInt64LittleEndian(region);

    public static ulong Addr(byte[] region) => BinaryPrimitives.ReadUInt64LittleEndian(region.AsSpan(8));

    public static ulong Size(byte[] region) => BinaryPrimitives.ReadUInt64LittleEndian(region.AsSpan(16));

    public static Span<byte> Data(byte[] region) => region.AsSpan(24);

    /// <summary>A well-formed GUEST_INFO answer.</summary>
    public static void GuestInfo(byte[] region, GuestAbi abi, uint version = 1, GuestFeatures features = GuestFeatures.None)
    {
        var data = Data(region);
        data[..96].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(data, version);
        BinaryPrimitives.WriteUInt32LittleEndian(data[4..], (uint)abi.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(data[8..], (uint)abi.PointerSize);
        BinaryPrimitives.WriteUInt32LittleEndian(data[12..], abi.IsBigEndian ? 1u : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(data[16..], 4096);
        BinaryPrimitives.WriteUInt32LittleEndian(data[20..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(data[24..], 64);
        BinaryPrimitives.WriteUInt32LittleEndian(data[28..], (uint)features);
        "6.1.0-scripted"u8.CopyTo(data[32..]);
        Header(region, (ulong)PortalResponse.ExtOk, 0, 96);
    }

    /// <summary>A control-slot guest that accepts everything (hook ids count up from 1).</summary>
    public static Action<byte[]> CooperativeControl(GuestAbi abi, GuestFeatures features = GuestFeatures.None)
    {
        ulong nextHook = 1;
        return region =>
        {
            switch ((PortalOp)Op(region))
            {
                case PortalOp.GuestInfo: GuestInfo(region, abi, features: features); break;
                case PortalOp.HookRegister: Header(region, (ulong)PortalResponse.ExtOk, nextHook++, 0); break;
                case PortalOp.Stats: Data(region)[..80].Clear(); Header(region, (ulong)PortalResponse.ExtOk, 0, 80); break;
                default: Header(region, (ulong)PortalResponse.ExtOk, Addr(region), 0); break;
            }
        };
    }

    /// <summary>A memory API whose every exchange is answered by <paramref name="guest"/>.</summary>
    public static (GuestMemory Memory, ScriptedChannel Channel) Memory(GuestAbi abi, Action<byte[]> guest)
    {
        var channel = new ScriptedChannel(guest);
        return (new GuestMemory(new SlotLease(channel, new PortalStatistics(), handler: null), abi), channel);
    }
}
