namespace Portal.Channels;

/// <summary>
/// The guest did not answer in time, or gave up waiting for the host on the event the slot held (the
/// syscall then continued unmodified). Whatever the handler was doing on that event is lost.
/// </summary>
public sealed class GuestTimeoutException : PortalException
{
    /// <summary>Creates the exception.</summary>
    public GuestTimeoutException(string message) : base(message) { }
}
