using System.Globalization;
using System.Text;
using Portal.Cli.Terminal;
using Portal.Introspection;

namespace Portal.Cli.Inspecting;

/// <summary>
/// Results as a person reads them, on stdout: tables like <c>ps</c> and <c>lsof</c>, mappings exactly as
/// <c>/proc/PID/maps</c>, <c>cat</c>'s bytes unchanged. Failures go to stderr as
/// <c>portal: QUERY: ERRNO: message</c>.
/// </summary>
internal sealed class TextFormatter(CliConsole console) : IQueryFormatter
{
    public bool StreamsCommandOutput => true;

    public void Write(QueryResult result)
    {
        switch (result)
        {
            case FileContentResult file:
                console.WriteBytes(file.Content);
                return;
            case MappingAtResult { Mapping: null } missing:
                console.Fail(string.Create(CultureInfo.InvariantCulture, $"{missing.Query.Text}: no mapping of process {missing.Pid} contains 0x{missing.Address:x}"));
                return;
            case CommandResult command:
                if (!command.OutputShown)
                    console.Out.Write(command.Output);
                if (command.ExitCode != 0)
                    console.Say(string.Create(CultureInfo.InvariantCulture, $"portal: '{((RunQuery)command.Query).Command}' exited with status {command.ExitCode}"));
                return;
        }
        // One write per result: a firmware's console lines (portal boot --inspect) never land inside a table.
        console.Out.Write(Format(result));
        console.Out.Flush();
    }

    public void Write(QueryFailure failure) => console.Fail(failure switch
    {
        { Kind: QueryFailureKind.Usage } => failure.Message,
        { Errno: { } errno } => $"{failure.QueryText}: {errno}: {failure.Message}",
        _ => $"{failure.QueryText}: {failure.Message}",
    });

    /// <summary>The text of a result other than <c>cat</c>'s and <c>run</c>'s, ending with a newline (empty for an empty list).</summary>
    public static string Format(QueryResult result) => result switch
    {
        ProcessListResult list => Processes(list.Processes),
        MappingsResult maps => Lines(maps.Mappings.Select(m => m.ToString())),
        MappingAtResult { Mapping: { } mapping } => mapping + "\n",
        FileDescriptorsResult fds => FileDescriptors(fds.FileDescriptors),
        AllFileDescriptorsResult all => AllFileDescriptors(all.Processes),
        PathsResult paths => Paths(paths.Paths),
        DirectoryResult directory => Directory(directory.Entries),
        StatResult stat => Status(stat.Path, stat.Status),
        _ => throw new ArgumentException($"No text form for {result.GetType().Name}.", nameof(result)),
    };

    /// <summary>As <c>ps</c>: one process a line, kernel threads as <c>[comm]</c>, a cut argv ending in <c>...</c>.</summary>
    public static string Processes(IReadOnlyList<GuestProcess> processes) =>
        Table(["PID", "PPID", "UID", "S", "STARTED", "COMMAND"], [true, true, true, false, true, false],
            processes.Select(p => new[]
            {
                Number(p.Pid), Number(p.ParentPid), Number(p.Uid), p.State.ToString(),
                string.Create(CultureInfo.InvariantCulture, $"{p.StartedAfterBoot.TotalSeconds:F2}s"),
                p.Traits.HasFlag(GuestProcessTraits.ArgumentsTruncated) ? p.CommandLine + " ..." : p.CommandLine,
            }));

    /// <summary>As <c>lsof</c>, for one process.</summary>
    public static string FileDescriptors(IReadOnlyList<GuestFileDescriptor> descriptors) =>
        Table(["FD", "ACCESS", "POSITION", "TYPE", "PATH"], [true, false, true, false, false], descriptors.Select(Row));

    /// <summary>As <c>lsof</c>, every process's descriptors, each line with the process's pid and comm (grep /dev/mtd0 in it).</summary>
    public static string AllFileDescriptors(IReadOnlyList<ProcessFileDescriptors> processes) =>
        Table(["PID", "COMM", "FD", "ACCESS", "POSITION", "TYPE", "PATH"], [true, false, true, false, true, false, false],
            processes.SelectMany(p => p.FileDescriptors.Select(fd => (string[])[Number(p.Process.Pid), p.Process.Comm, .. Row(fd)])));

    private static string[] Row(GuestFileDescriptor fd) =>
        [Number(fd.Fd), Access(fd.Access), Number(fd.Position), TypeName(fd.Type), fd.Path + (fd.PathTruncated ? "..." : "")];

    public static string Paths(GuestProcessPaths paths) =>
        $"exe:  {paths.Executable ?? "(none: a kernel thread, or a process that has exited)"}\ncwd:  {paths.WorkingDirectory}\nroot: {paths.Root}\n";

    /// <summary>As <c>ls -i</c> with the type's letter of <c>ls -l</c>.</summary>
    public static string Directory(IReadOnlyList<GuestDirectoryEntry> entries) =>
        Table(["T", "INODE", "NAME"], [false, true, false], entries.Select(e => new[] { TypeLetter(e.Type).ToString(), Number(e.Inode), e.Name }));

    public static string Status(string path, GuestFileStatus status)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"path:     {path}\n");
        text.Append(CultureInfo.InvariantCulture, $"type:     {TypeDescription(status.Type)}\n");
        text.Append(CultureInfo.InvariantCulture, $"mode:     {Convert.ToString(status.Mode & 0xfff, 8).PadLeft(4, '0')} ({GuestFileModes.Describe(status.Mode)})\n");
        text.Append(CultureInfo.InvariantCulture, $"size:     {status.Size}\n");
        text.Append(CultureInfo.InvariantCulture, $"links:    {status.Links}\n");
        text.Append(CultureInfo.InvariantCulture, $"inode:    {status.Inode}\n");
        text.Append(CultureInfo.InvariantCulture, $"owner:    uid {status.Uid}, gid {status.Gid}\n");
        text.Append(CultureInfo.InvariantCulture, $"modified: {status.Modified.ToUniversalTime():yyyy-MM-dd HH:mm:ss.fffffff} UTC\n");
        if (status.Type is GuestFileType.CharacterDevice or GuestFileType.BlockDevice)
            text.Append(CultureInfo.InvariantCulture, $"device:   {status.DeviceMajor}, {status.DeviceMinor}\n");
        return text.ToString();
    }

    /// <summary>r, w or rw, as lsof writes the access mode.</summary>
    public static string Access(FileAccess access) => access switch
    {
        FileAccess.Read => "r",
        FileAccess.Write => "w",
        _ => "rw",
    };

    /// <summary>lsof's TYPE column (an anonymous inode, which has no type, is "?").</summary>
    public static string TypeName(GuestFileType type) => type switch
    {
        GuestFileType.Regular => "REG",
        GuestFileType.Directory => "DIR",
        GuestFileType.CharacterDevice => "CHR",
        GuestFileType.BlockDevice => "BLK",
        GuestFileType.Fifo => "FIFO",
        GuestFileType.Socket => "SOCK",
        GuestFileType.Symlink => "LINK",
        _ => "?",
    };

    private static char TypeLetter(GuestFileType type) => type switch
    {
        GuestFileType.Regular => '-',
        GuestFileType.Directory => 'd',
        GuestFileType.CharacterDevice => 'c',
        GuestFileType.BlockDevice => 'b',
        GuestFileType.Fifo => 'p',
        GuestFileType.Socket => 's',
        GuestFileType.Symlink => 'l',
        _ => '?',
    };

    private static string TypeDescription(GuestFileType type) => type switch
    {
        GuestFileType.Regular => "regular file",
        GuestFileType.Directory => "directory",
        GuestFileType.CharacterDevice => "character device",
        GuestFileType.BlockDevice => "block device",
        GuestFileType.Fifo => "fifo",
        GuestFileType.Socket => "socket",
        GuestFileType.Symlink => "symbolic link",
        _ => "unknown",
    };

    private static string Number<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    private static string Lines(IEnumerable<string> lines) => string.Concat(lines.Select(line => line + "\n"));

    /// <summary>
    /// Columns as wide as their widest cell, two spaces apart; numbers right-aligned. The last column is not
    /// padded (command lines and paths run to the line's end). No rows: no header either, as with an empty list.
    /// </summary>
    private static string Table(string[] header, bool[] rightAligned, IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        if (all.Count == 0)
            return "";
        all.Insert(0, header);
        var widths = header.Select((_, column) => all.Max(row => row[column].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in all)
        {
            for (var column = 0; column < row.Length; column++)
            {
                var last = column == row.Length - 1;
                text.Append(rightAligned[column] ? row[column].PadLeft(widths[column]) : last ? row[column] : row[column].PadRight(widths[column]));
                text.Append(last ? "\n" : "  ");
            }
        }
        return text.ToString();
    }
}
