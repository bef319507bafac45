using Portal.Abi;

namespace Portal.Typed;

/// <summary>
/// A C struct or union as generated from a layout manifest: a snapshot of its bytes with typed
/// properties. Implemented by generated code; <typeparamref name="TSelf"/> is the generated type.
/// </summary>
public interface IGuestRecord<TSelf> where TSelf : struct, IGuestRecord<TSelf>
{
    /// <summary>The C name (e.g. "struct ifreq").</summary>
    static abstract string CName { get; }

    /// <summary><c>sizeof</c> on an ABI.</summary>
    /// <exception cref="GuestLayoutException">The manifest has no layout for that ABI.</exception>
    static abstract int SizeOf(GuestAbi abi);

    /// <summary>Wraps bytes laid out for <see cref="RecordView.Abi"/>.</summary>
    static abstract TSelf Bind(RecordView view);

    /// <summary>The bytes this snapshot decodes.</summary>
    RecordView View { get; }
}

/// <summary>Operations on any generated record.</summary>
public static class GuestRecord
{
    /// <summary>A zero-filled record for <paramref name="abi"/>, not tied to guest memory (build one, then write it).</summary>
    public static T Create<T>(GuestAbi abi) where T : struct, IGuestRecord<T> => T.Bind(RecordView.Detached(T.SizeOf(abi), abi));

    /// <summary>
    /// The same bytes as another record type, as C's <c>(struct sockaddr_in *)&amp;sa</c>: no copy and no
    /// exchange; the result is a view on the snapshot, so its setters stage writes at the same guest
    /// addresses. Generated records call this from their <c>Cast&lt;TOther&gt;()</c>:
    /// <c>var sin = ifr.IfrAddr.Cast&lt;SockaddrIn&gt;();</c>
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// <typeparamref name="TOther"/> is larger than the bytes the snapshot holds from this record on (a 16-byte
    /// <c>sockaddr</c> loaded alone cannot be a 28-byte <c>sockaddr_in6</c>: cast the pointer and load that instead).
    /// </exception>
    public static TOther Cast<T, TOther>(T record) where T : struct, IGuestRecord<T> where TOther : struct, IGuestRecord<TOther>
    {
        var view = record.View;
        var needed = TOther.SizeOf(view.Abi);
        var available = view.Buffer.Length - view.Start;
        if (needed > available)
        {
            throw new InvalidOperationException(
                $"{TOther.CName} is {needed} bytes on {view.Abi.Name}, but the snapshot holds only {available} from this {T.CName} on; "
                + $"cast the pointer and load that (ptr.Cast<{typeof(TOther).Name}>().LoadAsync()).");
        }
        return TOther.Bind(view);
    }

    /// <summary>True when setters changed the snapshot since it was loaded or stored (the bytes are already staged for the guest).</summary>
    public static bool HasChanges<T>(this T record) where T : struct, IGuestRecord<T> => !record.View.Changes.IsEmpty;

    /// <summary>
    /// Makes sure the setters' changes have reached the guest: they were staged as they were made
    /// (merged into one write per contiguous run) and would ride on the handler's next exchange or on
    /// the verdict anyway; this sends them now, with everything else queued (one exchange), and
    /// reports a fault. Nothing is sent when nothing is queued.
    /// </summary>
    /// <exception cref="InvalidOperationException">The record was not loaded from a guest.</exception>
    /// <exception cref="Memory.GuestFaultException">A staged write faulted.</exception>
    public static async ValueTask StoreAsync<T>(this T record, CancellationToken cancellationToken = default) where T : struct, IGuestRecord<T>
    {
        var view = record.View;
        var memory = view.Memory ?? throw new InvalidOperationException($"This {T.CName} was not loaded from a guest; use GuestPtr<T>.StoreAsync to place it.");
        await memory.FlushAsync(cancellationToken).ConfigureAwait(false);
        view.Changes.Clear();
    }
}
