using System.Net;
using System.Net.Sockets;

namespace Portal.Typed;

/// <summary>
/// Converts the standard socket structs between guest bytes and <see cref="IPAddress"/> /
/// <see cref="IPEndPoint"/>. Generated records of <c>in_addr</c>, <c>in6_addr</c>, <c>sockaddr_in</c>
/// and <c>sockaddr_in6</c> call these (<c>ToIPAddress</c>, <c>SetIPEndPoint</c>...) with their
/// offsets for the guest's ABI. Addresses and ports are big-endian in memory on every ABI; the
/// family and <c>sin6_scope_id</c> are in the guest's order (docs/networking.md).
/// </summary>
public static class SocketAddresses
{
    /// <summary><c>AF_INET</c>: the same number on every Linux ABI.</summary>
    public const ushort AddressFamilyInet = 2;

    /// <summary><c>AF_INET6</c>: the same number on every Linux ABI.</summary>
    public const ushort AddressFamilyInet6 = 10;

    private const int IPv4Length = 4;
    private const int IPv6Length = 16;

    /// <summary>The 4 bytes of an <c>in_addr</c> at <paramref name="offset"/>, as an IPv4 address.</summary>
    public static IPAddress ReadIPv4(RecordView view, int offset) => new(view.Bytes(offset, IPv4Length));

    /// <summary>The 16 bytes of an <c>in6_addr</c> at <paramref name="offset"/>, as an IPv6 address.</summary>
    public static IPAddress ReadIPv6(RecordView view, int offset, long scopeId = 0) => new(view.Bytes(offset, IPv6Length), scopeId);

    /// <summary>Writes an IPv4 address as the 4 bytes of an <c>in_addr</c> and stages the change.</summary>
    /// <exception cref="ArgumentException">The address is not IPv4.</exception>
    public static void WriteIPv4(RecordView view, int offset, IPAddress address) => view.WriteBytes(offset, AddressBytes(address, AddressFamily.InterNetwork, "an in_addr"));

    /// <summary>Writes an IPv6 address as the 16 bytes of an <c>in6_addr</c> and stages the change (its scope id is not part of them).</summary>
    /// <exception cref="ArgumentException">The address is not IPv6.</exception>
    public static void WriteIPv6(RecordView view, int offset, IPAddress address) => view.WriteBytes(offset, AddressBytes(address, AddressFamily.InterNetworkV6, "an in6_addr"));

    /// <summary>A <c>sockaddr_in</c> as an endpoint.</summary>
    /// <exception cref="InvalidDataException"><c>sin_family</c> is not <c>AF_INET</c> (the guest's bytes are not an IPv4 address).</exception>
    public static IPEndPoint ReadInetEndPoint(RecordView view, int familyOffset, int familySize, int portOffset, int addressOffset)
    {
        RequireFamily(view, familyOffset, familySize, AddressFamilyInet, "sockaddr_in", "AF_INET");
        return new IPEndPoint(ReadIPv4(view, addressOffset), (int)view.ReadUnsignedNetworkOrder(portOffset, 2));
    }

    /// <summary>Writes an IPv4 endpoint into a <c>sockaddr_in</c> (family, port, address) and stages the change; <c>sin_zero</c> is left as it is.</summary>
    /// <exception cref="ArgumentException">The endpoint's address is not IPv4.</exception>
    public static void WriteInetEndPoint(RecordView view, int familyOffset, int familySize, int portOffset, int addressOffset, IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = AddressBytes(endPoint.Address, AddressFamily.InterNetwork, "a sockaddr_in");
        view.WriteUnsigned(familyOffset, familySize, AddressFamilyInet);
        view.WriteUnsignedNetworkOrder(portOffset, 2, (ulong)endPoint.Port);
        view.WriteBytes(addressOffset, address);
    }

    /// <summary>A <c>sockaddr_in6</c> as an endpoint (with its scope id; the flow label is not part of an endpoint).</summary>
    /// <exception cref="InvalidDataException"><c>sin6_family</c> is not <c>AF_INET6</c>.</exception>
    public static IPEndPoint ReadInet6EndPoint(RecordView view, int familyOffset, int familySize, int portOffset, int addressOffset, int scopeIdOffset)
    {
        RequireFamily(view, familyOffset, familySize, AddressFamilyInet6, "sockaddr_in6", "AF_INET6");
        var scopeId = view.ReadUnsigned(scopeIdOffset, 4);
        return new IPEndPoint(ReadIPv6(view, addressOffset, (long)scopeId), (int)view.ReadUnsignedNetworkOrder(portOffset, 2));
    }

    /// <summary>Writes an IPv6 endpoint into a <c>sockaddr_in6</c> (family, port, flow label 0, address, scope id) and stages the change.</summary>
    /// <exception cref="ArgumentException">The endpoint's address is not IPv6, or its scope id does not fit 32 bits.</exception>
    public static void WriteInet6EndPoint(RecordView view, int familyOffset, int familySize, int portOffset, int flowInfoOffset, int addressOffset,
        int scopeIdOffset, IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = AddressBytes(endPoint.Address, AddressFamily.InterNetworkV6, "a sockaddr_in6");
        if (endPoint.Address.ScopeId is < 0 or > uint.MaxValue)
            throw new ArgumentException($"The scope id {endPoint.Address.ScopeId} does not fit sin6_scope_id (32 bits).", nameof(endPoint));
        view.WriteUnsigned(familyOffset, familySize, AddressFamilyInet6);
        view.WriteUnsignedNetworkOrder(portOffset, 2, (ulong)endPoint.Port);
        view.WriteUnsignedNetworkOrder(flowInfoOffset, 4, 0);
        view.WriteBytes(addressOffset, address);
        view.WriteUnsigned(scopeIdOffset, 4, (ulong)endPoint.Address.ScopeId);
    }

    private static byte[] AddressBytes(IPAddress address, AddressFamily family, string what)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily == family
            ? address.GetAddressBytes()
            : throw new ArgumentException($"{address} is {address.AddressFamily}, which {what} cannot hold (it holds {family} addresses).", nameof(address));
    }

    private static void RequireFamily(RecordView view, int familyOffset, int familySize, ushort expected, string record, string expectedName)
    {
        var family = view.ReadUnsigned(familyOffset, familySize);
        if (family != expected)
            throw new InvalidDataException($"The guest's {record} has family {family}, not {expectedName} ({expected}): its bytes are not that kind of address (check the family before casting).");
    }
}
