using System.Text;

namespace Portal.Headers;

/// <summary>Writes files whole or not at all, so a failed or interrupted run never leaves half a file behind.</summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="contents"/> (UTF-8, no byte order mark) to a temporary file in the same directory, then renames it to <paramref name="path"/>.</summary>
    public static void Write(string path, string contents)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, contents, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
