using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Portal.Headers.Isolation;

// What the parent and the worker say to each other: one JSON object per line. The parent writes one request
// on the worker's stdin; the worker writes one reply per ABI on its stdout, in the request's order, and
// stops after the first failure. Both ends are this assembly, so the messages need no versioning.

/// <summary>
/// What to parse, and within which limits (the worker applies them to itself before loading libclang).
/// Written and read by hand with <see cref="Utf8JsonWriter"/> and <see cref="JsonDocument"/>, which the shared
/// framework ships precompiled: the serializer's generated code would be compiled at every worker start
/// (about 60 ms of CPU each time, measured).
/// </summary>
internal sealed record WorkerRequest(
    string Path,
    string Header,
    IReadOnlyList<WorkerAbi> Abis,
    IReadOnlyList<string> IncludeDirectories,
    IReadOnlyList<string> Defines,
    IReadOnlyList<string>? Structs,
    int MaxDiagnostics,
    long MemoryLimit,
    long CpuSeconds)
{
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("path", Path);
            json.WriteString("header", Header);
            json.WriteStartArray("abis");
            foreach (var abi in Abis)
            {
                json.WriteStartObject();
                json.WriteString("name", abi.Name);
                json.WriteString("triple", abi.Triple);
                WriteStrings(json, "systemIncludeDirectories", abi.SystemIncludeDirectories);
                json.WriteString("package", abi.Package);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            WriteStrings(json, "includeDirectories", IncludeDirectories);
            WriteStrings(json, "defines", Defines);
            if (Structs is not null)
                WriteStrings(json, "structs", Structs);
            json.WriteNumber("maxDiagnostics", MaxDiagnostics);
            json.WriteNumber("memoryLimit", MemoryLimit);
            json.WriteNumber("cpuSeconds", CpuSeconds);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The request in <paramref name="json"/>; throws <see cref="JsonException"/> or <see cref="KeyNotFoundException"/> when it is not one.</summary>
    public static WorkerRequest Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new WorkerRequest(
            root.GetProperty("path").GetString()!,
            root.GetProperty("header").GetString()!,
            [.. root.GetProperty("abis").EnumerateArray().Select(a => new WorkerAbi(
                a.GetProperty("name").GetString()!,
                a.GetProperty("triple").GetString()!,
                Strings(a.GetProperty("systemIncludeDirectories")),
                a.GetProperty("package").GetString()!))],
            Strings(root.GetProperty("includeDirectories")),
            Strings(root.GetProperty("defines")),
            root.TryGetProperty("structs", out var structs) ? Strings(structs) : null,
            root.GetProperty("maxDiagnostics").GetInt32(),
            root.GetProperty("memoryLimit").GetInt64(),
            root.GetProperty("cpuSeconds").GetInt64());
    }

    static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
            json.WriteStringValue(value);
        json.WriteEndArray();
    }

    static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}

/// <summary>A <see cref="HeaderAbi"/> as sent: callers may build their own (another sysroot), so the table is not enough.</summary>
internal sealed record WorkerAbi(string Name, string Triple, IReadOnlyList<string> SystemIncludeDirectories, string Package)
{
    public static WorkerAbi From(HeaderAbi abi) => new(abi.Name, abi.Triple, abi.SystemIncludeDirectories, abi.Package);

    public HeaderAbi ToAbi() => new(Name, Triple, SystemIncludeDirectories, Package);
}

/// <summary>One ABI's outcome: its manifest, or why there is none.</summary>
internal sealed record WorkerReply(string Abi, LayoutManifest? Manifest, WorkerFailure? Failure);

/// <summary>How a worker's parse failed: <see cref="Kind"/> says which exception the parent throws.</summary>
internal sealed record WorkerFailure(WorkerFailureKind Kind, string Message, IReadOnlyList<HeaderDiagnostic>? Errors = null, int ErrorCount = 0);

[JsonConverter(typeof(JsonStringEnumConverter<WorkerFailureKind>))]
internal enum WorkerFailureKind
{
    /// <summary>The header has errors: <see cref="HeaderParseException"/>.</summary>
    Parse,

    /// <summary>A bad request found late (an unknown <c>--struct</c>): <see cref="HeaderArgumentException"/>.</summary>
    Argument,

    /// <summary>libclang or a sysroot is missing: <see cref="HeaderToolException"/>.</summary>
    Tool,

    /// <summary>libclang's crash recovery caught a crash (at the memory limit, LLVM says "out of memory" on stderr).</summary>
    Crash,

    /// <summary>.NET ran out of memory under the limit.</summary>
    Memory,
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WorkerReply))]
internal sealed partial class WorkerJsonContext : JsonSerializerContext;

[JsonSourceGenerationOptions(
    GenerationMode = JsonSourceGenerationMode.Serialization,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WorkerReply))]
internal sealed partial class WorkerReplyWriter : JsonSerializerContext;
