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
