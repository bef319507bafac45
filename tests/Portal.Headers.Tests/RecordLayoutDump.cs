using System.Globalization;
using System.Text.RegularExpressions;

namespace Portal.Headers.Tests;

/// <summary>
/// Reads <c>clang -Xclang -fdump-record-layouts</c> output: per record, every member with its absolute byte offset
/// and, for a bitfield, its first bit within that byte and its width. This is clang's compiler driver printing its
/// record layout, an independent path from the libclang API calls portal-headers makes.
/// </summary>
internal static partial class RecordLayoutDump
{
    internal sealed record Line(int Depth, string Name, int ByteOffset, int? BitBegin, int? BitWidth, bool IsRecordHeader)
    {
        public long AbsoluteBit => ByteOffset * 8L + (BitBegin ?? 0);
    }

    /// <summary>Blocks keyed by the record's printed name: <c>struct ifreq</c>, <c>union x</c>, or a typedef name.</summary>
    public static Dictionary<string, List<Line>> Parse(string output)
    {
        var blocks = new Dictionary<string, List<Line>>(StringComparer.Ordinal);
        List<Line>? current = null;
        foreach (var raw in output.Split('\n'))
        {
            if (raw.StartsWith("*** Dumping AST Record Layout", StringComparison.Ordinal))
            {
                current = null;
                continue;
            }
            var m = LinePattern().Match(raw);
            if (!m.Success)
                continue;
            var depth = (m.Groups["indent"].Value.Length - 1) / 2;
            var text = m.Groups["text"].Value;
            var byteOffset = int.Parse(m.Groups["byte"].Value, CultureInfo.InvariantCulture);
            int? begin = null, width = null;
            if (m.Groups["zero"].Success)
            {
                begin = 0;
                width = 0;
            }
            else if (m.Groups["begin"].Success)
            {
                begin = int.Parse(m.Groups["begin"].Value, CultureInfo.InvariantCulture);
                width = int.Parse(m.Groups["end"].Value, CultureInfo.InvariantCulture) - begin + 1;
            }
            if (depth == 0)
            {
                current = [];
                blocks.TryAdd(text.Trim(), current);
                continue;
            }
            if (current is null)
                continue;
            // "type name": the name is the last word; an anonymous member or unnamed bitfield ends with a space.
            var name = text.EndsWith(' ') ? "" : text[(text.LastIndexOf(' ') + 1)..];
            current.Add(new Line(depth, name, byteOffset, begin, width, false));
        }
        return blocks;
    }

    /// <summary>Compares a manifest record with its dump; returns the differences (empty when they agree).</summary>
    public static List<string> Compare(ManifestRecord record, List<Line> lines, out int compared)
    {
        var problems = new List<string>();
        var index = 0;
        var count = 0;
        Walk(record.Fields!, 1, 0, record.Name);
        compared = count;
        return problems;

        void Walk(IReadOnlyList<ManifestField> fields, int depth, long baseBits, string where)
        {
            foreach (var field in fields)
            {
                // Unnamed bitfields are padding: in the dump, absent from the manifest.
                while (index < lines.Count && lines[index].Depth == depth && lines[index].Name.Length == 0 && lines[index].BitWidth is not null)
                    index++;
                var name = $"{where}.{(field.Name.Length == 0 ? "(anonymous)" : field.Name)}";
                if (index >= lines.Count || lines[index].Depth != depth)
                {
                    problems.Add($"{name}: not in the dump at depth {depth}");
                    return;
                }
                var line = lines[index++];
                count++;
                if (line.Name != field.Name)
                {
                    problems.Add($"{name}: the dump has '{line.Name}' here");
                    return;
                }
                if (field.BitWidth is { } width)
                {
                    var expected = baseBits + field.BitOffset!.Value;
                    if (line.BitWidth != width || line.AbsoluteBit != expected)
                        problems.Add($"{name}: manifest bit {expected} width {width}, dump {line.ByteOffset}:{line.BitBegin} = bit {line.AbsoluteBit} width {line.BitWidth}");
                }
                else if (line.BitWidth is not null || line.ByteOffset * 8L != baseBits + field.Offset * 8L)
                {
                    problems.Add($"{name}: manifest byte {(baseBits / 8) + field.Offset}, dump {line.ByteOffset}{(line.BitWidth is null ? "" : $":{line.BitBegin} width {line.BitWidth}")}");
                }
                // The dump expands every record-typed member (not arrays): follow it where the manifest lists the
                // fields (records defined inline), skip it otherwise.
                if (field.Fields is { } nested && field.Type.Kind == ManifestTypeKind.Record)
                    Walk(nested, depth + 1, baseBits + field.Offset * 8L, name);
                while (index < lines.Count && lines[index].Depth > depth)
                    index++;
            }
        }
    }

    // "     4:0-4 |   int b", "       4:- |   unsigned int ", "        12 |   struct inner in"
    [GeneratedRegex(@"^\s*(?<byte>\d+)(?::(?:(?<zero>-)|(?<begin>\d+)-(?<end>\d+)))?\s\|(?<indent> +)(?<text>\S.*)$")]
    private static partial Regex LinePattern();
}
