namespace Portal.Protocol;

/// <summary>
/// The guest wrote something the protocol does not allow (an unexpected response code, a size out of
/// range, a record that lies about its length). The host never turns such input into data.
/// </summary>
public sealed class PortalProtocolException : PortalException
{
    /// <summary>Creates the exception.</summary>
    public PortalProtocolException(string message) : base(message) { }
}
