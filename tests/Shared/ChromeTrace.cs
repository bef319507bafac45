using System.Text.Json;
using Microsoft.VisualStudio.TestTools.UnitTesting;

namespace Portal.Tests.Shared;

/// <summary>One event of a Chrome trace file, as a trace viewer reads it.</summary>
internal sealed record TraceEvent(string Name, string Phase, string? Category, int Tid, double Start, double Duration, JsonElement Args)
{
    public double End => Start + Duration;

    public string Arg(string name) => Args.GetProperty(name).ToString();

    /// <summary>Whether <paramref name="inner"/> lies within this span on the same track (ts and dur are rounded to nanoseconds, so only float error separates equal ends).</summary>
    public bool Contains(TraceEvent inner) => inner.Tid == Tid && inner.Start >= Start && inner.End <= End + 1e-6;
}

/// <summary>Reads a trace written by ChromeTraceWriter and checks what every viewer needs of it.</summary>
internal static class ChromeTrace
{
    /// <summary>Parses the file (it must be complete JSON) and checks each event's required fields.</summary>
    public static IReadOnlyList<TraceEvent> Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));     // throws on anything but complete, valid JSON
        Assert.AreEqual(JsonValueKind.Object, document.RootElement.ValueKind, "the JSON object format");
        var array = document.RootElement.GetProperty("traceEvents");
        Assert.AreEqual(JsonValueKind.Array, array.ValueKind);
        var events = new List<TraceEvent>();
        foreach (var e in array.EnumerateArray())
        {
            var phase = e.GetProperty("ph").GetString()!;
            CollectionAssert.Contains(new[] { "M", "X", "i" }, phase, e.ToString());
            Assert.AreEqual(1, e.GetProperty("pid").GetInt32(), e.ToString());
            var start = phase == "M" ? 0 : e.GetProperty("ts").GetDouble();
            var duration = phase == "X" ? e.GetProperty("dur").GetDouble() : 0;
            Assert.IsGreaterThanOrEqualTo(0.0, duration, e.ToString());
            if (phase == "i")
                Assert.AreEqual("t", e.GetProperty("s").GetString(), "an instant belongs to its track");
            events.Add(new TraceEvent(e.GetProperty("name").GetString()!, phase, e.TryGetProperty("cat", out var category) ? category.GetString() : null,
                e.GetProperty("tid").GetInt32(), start, duration, e.GetProperty("args").Clone()));
        }
        return events;
    }

    public static IReadOnlyList<TraceEvent> Handlers(this IEnumerable<TraceEvent> events) =>
        [.. events.Where(e => e.Category == "handler").OrderBy(e => e.Start)];

    public static IReadOnlyList<TraceEvent> Exchanges(this IEnumerable<TraceEvent> events) =>
        [.. events.Where(e => e.Category == "exchange").OrderBy(e => e.Start)];

    /// <summary>The exchanges within <paramref name="span"/> on its track, in time order.</summary>
    public static IReadOnlyList<TraceEvent> ExchangesIn(this IEnumerable<TraceEvent> events, TraceEvent span) =>
        [.. events.Exchanges().Where(span.Contains)];

    /// <summary>The name the trace gives a track (thread_name metadata).</summary>
    public static string? TrackName(this IEnumerable<TraceEvent> events, int tid) =>
        events.FirstOrDefault(e => e.Phase == "M" && e.Name == "thread_name" && e.Tid == tid)?.Arg("name");

    /// <summary>The operation names of an exchange's <c>ops</c>, in order.</summary>
    public static string[] Operations(this TraceEvent exchange) =>
        [.. exchange.Args.GetProperty("ops").EnumerateArray().Select(op => op.GetProperty("op").GetString()!)];
}
