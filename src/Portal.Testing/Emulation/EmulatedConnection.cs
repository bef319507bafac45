using Portal.Channels;
using Portal.Testing.Processes;

namespace Portal.Testing.Emulation;

/// <summary>The host side of the emulated guest's regions.</summary>
internal sealed class EmulatedConnection(EmulatedKernel kernel) : IGuestConnection
{
    private IGuestEventSink? _sink;

    public IGuestChannel Control => kernel.ControlSlot;

    public IGuestEventSink? Sink => Volatile.Read(ref _sink);

    public IDisposable Attach(IGuestEventSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (Interlocked.CompareExchange(ref _sink, sink, null) is not null)
            throw new InvalidOperationException("Another Portal session is attached to this guest; dispose it first.");
        return new Detach(this, sink);
    }

    public ValueTask DisposeAsync()
    {
        Volatile.Write(ref _sink, null);
        return ValueTask.CompletedTask;
    }

    private sealed class Detach(EmulatedConnection connection, IGuestEventSink sink) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref connection._sink, null, sink);
    }
}
