using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Portal.Benchmarks;

/// <summary>
/// A numeric column whose values the benchmark computes itself (exchange counts, ratios to another case):
/// BenchmarkDotNet's <see cref="IColumn"/> written once, the name, legend and value given.
/// </summary>
internal sealed class ComputedColumn(string name, int priority, string legend, Func<Summary, BenchmarkCase, string> value) : IColumn
{
    public string Id => $"{nameof(ComputedColumn)}.{name}";
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => priority;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => legend;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => value(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => value(summary, benchmarkCase);
}
