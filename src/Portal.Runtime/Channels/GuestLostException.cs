namespace Portal.Channels;

/// <summary>
/// The guest is gone or no longer answers: its kernel panicked, it powered off or halted, QEMU exited,
/// or it stopped responding. Every exchange from then on fails at once with this exception instead of
/// waiting out a timeout. <see cref="Exception.Message"/> says what happened (with the panic text when
/// the guest console had one).
/// </summary>
public sealed class GuestLostException : PortalException
{
    /// <summary>Creates the exception.</summary>
    public GuestLostException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner cause.</summary>
    public GuestLostException(string message, Exception innerException) : base(message, innerException) { }
}
