using System.Buffers.Binary;
using System.Text;

namespace Portal.Protocol;

/// <summary>What a QUERY asks for (docs/protocol.md §3.4).</summary>
internal enum QueryKind : uint
{
    Processes = 1,
    Mappings = 2,
    Files = 3,
    Paths = 4,
    FileRead = 5,
    FileWrite = 6,
    Directory = 7,
    Stat = 8,
}

/// <summary>One page of a query's result, checked against what was asked.</summary>
internal readonly ref struct QueryPage
{
    public QueryPage(ulong resultId, long total, ReadOnlySpan<byte> bytes)
    {
        ResultId = resultId;
        Total = total;
        Bytes = bytes;
    }

    public ulong ResultId { get; }

    /// <summary>The whole result's length.</summary>
    public long Total { get; }

    /// <summary>This page's bytes of the result.</summary>
    public ReadOnlySpan<byte> Bytes { get; }
}

/// <summary>
/// QUERY and QUERY_PAGE requests and pages (docs/protocol.md §3.4). The guest is untrusted: a page must
/// say exactly what was asked (its offset, the total the first page gave, the number of bytes that
/// remain), so a lying guest cannot make the host loop, skip or read beyond the region.
/// </summary>
internal static class QueryWire
{
    /// <summary>Page header: le64 total, le64 offset.</summary>
    public const int PageHeader = 16;

    /// <summary>Most result bytes one page carries.</summary>
    public const int PageCapacity = RegionLayout.DataCapacity - PageHeader;

    /// <summary>Largest result a guest may hold.</summary>
    public const long ResultLimit = 4 << 20;

    /// <summary>Longest path parameter.</summary>
    public const int PathLimit = 4000;

    /// <summary>Most bytes one FILE_READ returns.</summary>
    public const int ReadLimit = 1 << 20;

    /// <summary>Most argv bytes per process a PROCESSES query may ask for.</summary>
    public const int ArgvLimit = 4096;

    /// <summary>QUERY with its parameters; <paramref name="writeParameters"/> returns their length.</summary>
    public static void WriteQuery<TState>(Span<byte> region, QueryKind kind, TState state, ParameterWriter<TState> writeParameters)
    {
        var data = Region.Data(region);
        var length = writeParameters(state, data);
        Region.WriteHeader(region, PortalOp.Query, (ulong)kind, (ulong)length);
    }

    public static void WritePageRequest(Span<byte> region, ulong resultId, long offset)
    {
        BinaryPrimitives.WriteInt64LittleEndian(Region.Data(region), offset);
        Region.WriteHeader(region, PortalOp.QueryPage, resultId, 8);
    }

    /// <summary>Writes a path parameter at <paramref name="destination"/>; its length in bytes.</summary>
    /// <exception cref="ArgumentException">The path is not absolute, holds a NUL or is too long.</exception>
    public static int WritePath(string path, Span<byte> destination)
    {
        var length = CheckPath(path);
        return Encoding.UTF8.GetBytes(path, destination[..length]);
    }

    /// <summary>The path's length in bytes, once it is known to be one the guest accepts.</summary>
    /// <exception cref="ArgumentException">The path is not absolute, holds a NUL or is too long.</exception>
    public static int CheckPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!path.StartsWith('/'))
            throw new ArgumentException($"A guest path must be absolute (start with '/'): '{path}'.", nameof(path));
        if (path.Contains('\0', StringComparison.Ordinal))
            throw new ArgumentException("A guest path cannot contain a NUL.", nameof(path));
        var length = Encoding.UTF8.GetByteCount(path);
        return length <= PathLimit
            ? length
            : throw new ArgumentException($"A guest path is at most {PathLimit} bytes; this one is {length}.", nameof(path));
    }

    /// <summary>
    /// The page in the region, or the errno of a refusal. <paramref name="resultId"/> is 0 for the first
    /// page (QUERY) and the id it gave for the others; <paramref name="total"/> is −1 until known;
    /// <paramref name="limit"/> is the largest total the request allows.
    /// </summary>
    public static (bool Ok, long Errno) ReadPage(ReadOnlySpan<byte> region, PortalOp request, ulong resultId, long offset, long total,
        long limit, out QueryPage page)
    {
        page = default;
        var result = ResponseReader.ExtResult(region, request);
        if (!result.Ok)
            return (false, result.Errno);
        var op = Region.Op(region);
        var id = Region.Address(region);
        ResponseReader.Require(resultId == 0 ? id != 0 : id == resultId, request, op,
            $"result id {id} but {(resultId == 0 ? "a new nonzero id" : resultId.ToString(System.Globalization.CultureInfo.InvariantCulture))} was expected");
        ResponseReader.Require(result.DataLength >= PageHeader, request, op, $"size {result.DataLength} is shorter than the page header");
        var data = Region.Data(region);
        var pageTotal = BinaryPrimitives.ReadUInt64LittleEndian(data);
        var pageOffset = BinaryPrimitives.ReadUInt64LittleEndian(data[8..]);
        ResponseReader.Require(total < 0 || pageTotal == (ulong)total, request, op, $"total {pageTotal} changed from {total}");
        ResponseReader.Require(pageTotal <= (ulong)limit, request, op, $"a result of {pageTotal} bytes exceeds the {limit} this request allows");
        ResponseReader.Require(pageOffset == (ulong)offset, request, op, $"page offset {pageOffset} but {offset} was asked");
        ResponseReader.Require(offset < (long)pageTotal || (offset == 0 && pageTotal == 0), request, op, $"offset {offset} is past the total {pageTotal}");
        var expected = Math.Min(PageCapacity, (long)pageTotal - offset);
        ResponseReader.Require(result.DataLength - PageHeader == expected, request, op,
            $"{result.DataLength - PageHeader} bytes in the page but {expected} remain from offset {offset} of {pageTotal}");
        page = new QueryPage(id, (long)pageTotal, data.Slice(PageHeader, (int)expected));
        return (true, 0);
    }
}

/// <summary>Writes a request's parameters into the region's data; returns their length.</summary>
internal delegate int ParameterWriter<in TState>(TState state, Span<byte> data);
