using System.Text.Json.Serialization;

namespace Portal.Cli.Inspecting;

// The JSON documents of portal inspect --json, one per query, one per line (docs/introspection.md shows each).
// They are their own records rather than the runtime's: property names are the CLI's contract, enums are
// strings, and addresses are hex strings, because a 64-bit address (x86_64's vsyscall page at
// 0xffffffffff600000) is not exact as the double a JavaScript or jq reader turns a number into.

internal sealed record ProcessListDocument(string Query, IReadOnlyList<ProcessDocument> Processes);

internal sealed record ProcessDocument(int Pid, int Ppid, int Threads, string State, uint Uid, uint Euid, uint Gid, uint Egid,
    double StartedAfterBoot, string Comm, IReadOnlyList<string> Arguments, string CommandLine, bool KernelThread, bool ArgumentsTruncated,
    bool ArgumentsUnreadable);

internal sealed record MappingsDocument(string Query, int Pid, IReadOnlyList<MappingDocument> Mappings);

internal sealed record MappingAtDocument(string Query, int Pid, string Address, MappingDocument? Mapping);

internal sealed record MappingDocument(string Start, string End, string Permissions, ulong Offset, uint DeviceMajor, uint DeviceMinor, ulong Inode,
    string Path, bool PathTruncated);

internal sealed record FileDescriptorsDocument(string Query, int Pid, IReadOnlyList<FileDescriptorDocument> Fds);

internal sealed record AllFileDescriptorsDocument(string Query, IReadOnlyList<ProcessFileDescriptorsDocument> Processes);

internal sealed record ProcessFileDescriptorsDocument(int Pid, string Comm, IReadOnlyList<FileDescriptorDocument> Fds);

internal sealed record FileDescriptorDocument(int Fd, string Access, long Position, string Type, string Path, uint OpenFlags, uint Mode, bool PathTruncated);

internal sealed record PathsDocument(string Query, int Pid, string? Executable, string WorkingDirectory, string Root);

/// <summary><c>cat</c>: the bytes as base64 in <c>content</c>, and as <c>text</c> too when they are valid UTF-8.</summary>
internal sealed record FileContentDocument(string Query, string Path, int Length, byte[] Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text);

internal sealed record DirectoryDocument(string Query, string Path, IReadOnlyList<DirectoryEntryDocument> Entries);

internal sealed record DirectoryEntryDocument(string Name, string Type, ulong Inode);

internal sealed record StatDocument(string Query, string Path, string Type, uint Mode, string Permissions, uint Links, uint Uid, uint Gid, long Size,
    ulong Inode, DateTimeOffset Modified, uint DeviceMajor, uint DeviceMinor);

internal sealed record CommandDocument(string Query, int ExitCode, string Output);

/// <summary>A failed query: <c>errno</c> is the guest's error's name (ENOENT), null when the guest gave none.</summary>
internal sealed record ErrorDocument(string Query, string Error, string? Errno);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ProcessListDocument))]
[JsonSerializable(typeof(MappingsDocument))]
[JsonSerializable(typeof(MappingAtDocument))]
[JsonSerializable(typeof(FileDescriptorsDocument))]
[JsonSerializable(typeof(AllFileDescriptorsDocument))]
[JsonSerializable(typeof(PathsDocument))]
[JsonSerializable(typeof(FileContentDocument))]
[JsonSerializable(typeof(DirectoryDocument))]
[JsonSerializable(typeof(StatDocument))]
[JsonSerializable(typeof(CommandDocument))]
[JsonSerializable(typeof(ErrorDocument))]
internal sealed partial class JsonDocumentContext : JsonSerializerContext;
