namespace Portal.Channels;

/// <summary>
/// The guest did not answer in time, or gave up waiting for the host on the event the slot held (the
/// syscall then continued unmodified). Whatever the handler was doing on that event is lost.
/// </summary>
public sealed class GuestTimeoutException : PortalException
{
    /// <summary>Creates the exception.</summary>
    public GuestTimeoutException(string message) : base(message) { }

    /// <summary>Creates the exception, saying whether the guest gave up on the held event.</summary>
    public GuestTimeoutException(string message, bool guestGaveUp) : base(message) => GuestGaveUp = guestGaveUp;

    /// <summary>
    /// True when the guest gave up on the event the slot held (its bound expired) or the event has
    /// otherwise ended; false when the guest did not answer a request in time.
    /// </summary>
    public bool GuestGaveUp { get; }
}
