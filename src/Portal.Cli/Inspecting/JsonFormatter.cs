using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using Portal.Cli.Terminal;
using Portal.Introspection;

namespace Portal.Cli.Inspecting;

/// <summary>
/// Results as JSON Lines on stdout: each query's result, or its failure, is one JSON document on one line,
/// in the order of the queries, so a program reads one line per query (<see cref="JsonDocumentContext"/>'s
/// records say what each holds).
/// </summary>
internal sealed class JsonFormatter(CliConsole console) : IQueryFormatter
{
    /// <summary>
    /// Paths and command lines stay readable (é, &lt;, + as themselves): the output is JSON Lines, never
    /// embedded in HTML, which is what the default encoder guards against. Control characters are still escaped.
    /// </summary>
    private static readonly JsonDocumentContext Context = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    });

    public bool StreamsCommandOutput => false;

    public void Write(QueryResult result) => WriteLine(Format(result));

    public void Write(QueryFailure failure) => WriteLine(Format(failure));

    private void WriteLine(string document)
    {
        console.Out.Write(document + "\n");
        console.Out.Flush();
    }

    /// <summary>The result's document, on one line (without its newline).</summary>
    public static string Format(QueryResult result) => result switch
    {
        ProcessListResult list => Serialize(new ProcessListDocument(result.Query.Text, [.. list.Processes.Select(Process)]), Context.ProcessListDocument),
        MappingsResult maps => Serialize(new MappingsDocument(result.Query.Text, maps.Pid, [.. maps.Mappings.Select(Mapping)]), Context.MappingsDocument),
        MappingAtResult at => Serialize(new MappingAtDocument(result.Query.Text, at.Pid, Hex(at.Address), at.Mapping is { } m ? Mapping(m) : null),
            Context.MappingAtDocument),
        FileDescriptorsResult fds => Serialize(new FileDescriptorsDocument(result.Query.Text, fds.Pid, [.. fds.FileDescriptors.Select(FileDescriptor)]),
            Context.FileDescriptorsDocument),
        AllFileDescriptorsResult all => Serialize(new AllFileDescriptorsDocument(result.Query.Text,
            [.. all.Processes.Select(p => new ProcessFileDescriptorsDocument(p.Process.Pid, p.Process.Comm, [.. p.FileDescriptors.Select(FileDescriptor)]))]),
            Context.AllFileDescriptorsDocument),
        PathsResult paths => Serialize(new PathsDocument(result.Query.Text, paths.Pid, paths.Paths.Executable, paths.Paths.WorkingDirectory, paths.Paths.Root),
            Context.PathsDocument),
        FileContentResult file => Serialize(new FileContentDocument(result.Query.Text, file.Path, file.Content.Length, file.Content,
            Utf8.IsValid(file.Content) ? System.Text.Encoding.UTF8.GetString(file.Content) : null), Context.FileContentDocument),
        DirectoryResult directory => Serialize(new DirectoryDocument(result.Query.Text, directory.Path,
            [.. directory.Entries.Select(e => new DirectoryEntryDocument(e.Name, Name(e.Type), e.Inode))]), Context.DirectoryDocument),
        StatResult stat => Serialize(Status(result.Query.Text, stat.Path, stat.Status), Context.StatDocument),
        CommandResult command => Serialize(new CommandDocument(result.Query.Text, command.ExitCode, command.Output), Context.CommandDocument),
        _ => throw new ArgumentException($"No JSON form for {result.GetType().Name}.", nameof(result)),
    };

    /// <summary>The failure's document: <c>{"query":…,"error":…,"errno":…}</c>.</summary>
    public static string Format(QueryFailure failure) =>
        Serialize(new ErrorDocument(failure.QueryText, failure.Message, failure.Errno?.ToString()), Context.ErrorDocument);

    private static string Serialize<T>(T document, JsonTypeInfo<T> type) => JsonSerializer.Serialize(document, type);

    private static ProcessDocument Process(GuestProcess p) =>
        new(p.Pid, p.ParentPid, p.Threads, p.State.ToString(), p.Uid, p.EffectiveUid, p.Gid, p.EffectiveGid, p.StartedAfterBoot.TotalSeconds, p.Comm,
            p.Arguments, p.CommandLine, p.IsKernelThread, p.Traits.HasFlag(GuestProcessTraits.ArgumentsTruncated),
            p.Traits.HasFlag(GuestProcessTraits.ArgumentsUnreadable));

    private static MappingDocument Mapping(GuestMapping m) =>
        new(Hex(m.Start), Hex(m.End), m.PermissionText, m.FileOffset, m.DeviceMajor, m.DeviceMinor, m.Inode, m.Path, m.PathTruncated);

    private static FileDescriptorDocument FileDescriptor(GuestFileDescriptor fd) =>
        new(fd.Fd, Name(fd.Access), fd.Position, Name(fd.Type), fd.Path, fd.OpenFlags, fd.Mode, fd.PathTruncated);

    private static StatDocument Status(string query, string path, GuestFileStatus s) =>
        new(query, path, Name(s.Type), s.Mode, GuestFileModes.Describe(s.Mode), s.Links, s.Uid, s.Gid, s.Size, s.Inode, s.Modified, s.DeviceMajor, s.DeviceMinor);

    private static string Hex(ulong address) => string.Create(CultureInfo.InvariantCulture, $"0x{address:x}");

    /// <summary>An enum value as the documents write it: camelCase, as the property names (<c>characterDevice</c>, <c>readWrite</c>).</summary>
    private static string Name<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());
}
