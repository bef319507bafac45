using Portal.Protocol;

namespace Portal.Memory.Batching;

/// <summary>The outcome of one exchange: a result per planned entry, and a copy of the response's data.</summary>
internal sealed class BatchResults
{
    private readonly EntryResult[] _results = new EntryResult[BatchWire.MaxEntries];
    private readonly byte[] _data = new byte[RegionLayout.DataCapacity];

    public BatchResults(BatchBuilder batch) => Batch = batch;

    /// <summary>The entries these results answer.</summary>
    public BatchBuilder Batch { get; }

    public Span<EntryResult> Results => _results;

    /// <summary>Where the response's data area is copied (the region goes back to other users before delivery).</summary>
    public Span<byte> DataArea => _data;

    public ref readonly EntryResult this[int index] => ref _results[index];

    /// <summary>The bytes entry <paramref name="index"/> returned (its <see cref="EntryResult.Count"/> bytes).</summary>
    public ReadOnlySpan<byte> Bytes(int index) => _data.AsSpan(_results[index].DataOffset, _results[index].Count);
}
