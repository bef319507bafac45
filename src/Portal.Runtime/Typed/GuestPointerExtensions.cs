namespace Portal.Typed;

/// <summary>Following pointer members without reading them first: the guest reads the pointer in the same exchange.</summary>
public static class GuestPointerExtensions
{
    /// <summary>
    /// The record a pointer member points to, as an indirect pointer: <c>ifr.IfrData.Deref&lt;EswReg&gt;()</c>
    /// is <c>(struct esw_reg *)ifr-&gt;ifr_data</c>. Loading it, or reading one of its members, is one
    /// exchange: the guest reads <c>ifr_data</c> and follows it there.
    /// </summary>
    public static GuestPtr<T> Deref<T>(this GuestFieldPtr<GuestAddress> pointerMember) where T : struct, IGuestRecord<T> =>
        new(pointerMember.Location.Deref(), pointerMember.Memory);

    /// <summary>What an untyped pointer member (<c>char *</c>, <c>void *</c>) points to, as an indirect address (e.g. to read a string in one exchange).</summary>
    public static GuestAddress Deref(this GuestFieldPtr<GuestAddress> pointerMember) =>
        new(pointerMember.Location.Deref(), pointerMember.Memory);
}
