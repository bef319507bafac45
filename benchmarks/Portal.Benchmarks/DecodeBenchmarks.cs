using BenchmarkDotNet.Attributes;
using Portal.Abi;
using Portal.Benchmarks.Sample;
using Portal.Typed;

namespace Portal.Benchmarks;

/// <summary>
/// Reading a property of a generated snapshot: no exchange, just decoding bytes already loaded.
/// Target: ≤ 5 ns and no allocation per scalar access, on little- and big-endian layouts.
/// </summary>
[MemoryDiagnoser, MedianColumn]
public class DecodeBenchmarks
{
    private Point _point;
    private SampleReq _request;
    private FlagsRec _flags;

    [Params("x86_64", "mips")]
    public string Abi { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var abi = GuestAbi.Parse(Abi);
        _point = GuestRecord.Create<Point>(abi);
        _point.X = 123456;
        _request = GuestRecord.Create<SampleReq>(abi);
        _request.SampleValue = -42;
        _request.Name = "eth0";
        _flags = GuestRecord.Create<FlagsRec>(abi);
        _flags.D = 0xabcde;
    }

    [Benchmark(Description = "int member (fixed width)")]
    public int FixedWidth() => _point.X;

    [Benchmark(Description = "long member (width depends on the ABI)")]
    public long AbiWidth() => _request.SampleValue;

    [Benchmark(Description = "20-bit bitfield")]
    public uint Bitfield() => _flags.D;

    [Benchmark(Description = "char[16] as string (allocates the string)")]
    public string CharArray() => _request.Name;
}
