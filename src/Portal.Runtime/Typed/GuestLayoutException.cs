namespace Portal.Typed;

/// <summary>A generated proxy was used on an ABI whose layout it does not have, or a member the ABI lacks.</summary>
public sealed class GuestLayoutException(string message) : PortalException(message);
