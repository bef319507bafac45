using Portal.Abi;

namespace Portal.Memory.Batching;

/// <summary>An operation's location and, when it is indirect, the resolver that finds it batch by batch.</summary>
internal struct OperationTarget
{
    private GuestLocation _location;
    private AddressResolver? _resolver;

    public OperationTarget(GuestLocation location, GuestAbi abi)
    {
        _location = location;
        _resolver = location.IsAbsolute ? null : new AddressResolver(location, abi);
    }

    /// <summary>The absolute start address, once known.</summary>
    public readonly ulong? Address => _resolver is null ? _location.Offset : _resolver.Resolved;

    /// <summary>The resolver, when the location is indirect.</summary>
    public readonly AddressResolver? Resolver => _resolver;

    /// <summary>A pointer on the way could not be read.</summary>
    public readonly bool PointerFailed => _resolver?.Failure is not null;

    /// <summary>Plans the address <paramref name="delta"/> bytes past the start.</summary>
    public readonly AddressStep Plan(BatchBuilder batch, long delta, out EntryAddress address)
    {
        if (_resolver is null)
        {
            address = EntryAddress.Absolute(_location.Offset + (ulong)delta);
            return AddressStep.Ready;
        }
        return _resolver.Plan(batch, delta, out address);
    }

    public readonly void Deliver(BatchResults results) => _resolver?.Deliver(results);

    /// <summary>For messages: "0x1000", or "[0x2000]+0x8 = 0x5008" once resolved.</summary>
    public override readonly string ToString() => _resolver?.ToString() ?? _location.ToString();
}
