namespace Portal;

/// <summary>Base class of every exception Portal throws about the guest or the protocol.</summary>
public class PortalException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PortalException(string message) : base(message) { }

    /// <summary>Creates the exception with an inner cause.</summary>
    public PortalException(string message, Exception innerException) : base(message, innerException) { }
}
