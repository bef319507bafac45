using Portal.Channels;

namespace Portal.Qemu.Transport;

/// <summary>The connection of a guest booted without portal.ko (<see cref="QemuGuestOptions.LoadPortalModule"/> off): every use says so.</summary>
internal sealed class UnavailableConnection : IGuestConnection
{
    private const string Message = "This guest was started with LoadPortalModule = false: portal.ko is not loaded.";

    public IGuestChannel Control => throw new InvalidOperationException(Message);

    public IDisposable Attach(IGuestEventSink sink) => throw new InvalidOperationException(Message);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
