using System.Globalization;
using System.Text;

namespace Portal.Headers.Tests;

/// <summary>
/// Bitfield truth from real code: a C program, built by the target's gcc and run on the target (qemu-user), zeroes
/// each record, stores a distinct value in one bitfield, and prints the record's bytes. The manifest predicts those
/// bytes from <c>bitOffset</c>, <c>bitWidth</c> and the byte order alone; the two must agree byte for byte.
/// </summary>
internal static class BitfieldProbe
{
    internal sealed record Case(string Record, string Type, string Path, int Size, long BitOffset, int Width, ulong Value);

    /// <summary>Every bitfield of every record (in anonymous members and inline records too).</summary>
    public static List<Case> Cases(LayoutManifest manifest)
    {
        var cases = new List<Case>();
        foreach (var record in manifest.Structs.Where(r => r.Incomplete != true))
            Walk(record, CNames.RecordType(manifest, record), record.Fields!, "", 0);
        return cases;

        void Walk(ManifestRecord record, string type, IReadOnlyList<ManifestField> fields, string prefix, long baseBits)
        {
            foreach (var field in fields)
            {
                var path = field.Name.Length == 0 ? prefix : prefix + field.Name;
                if (field.BitWidth is { } width and > 0)
                    cases.Add(new Case(record.Name, type, path, record.Size!.Value, baseBits + field.BitOffset!.Value, width, Pattern(width)));
                if (field.Fields is { } nested && field.Type.Kind == ManifestTypeKind.Record)
                    Walk(record, type, nested, field.Name.Length == 0 ? prefix : path + ".", baseBits + field.Offset * 8L);
            }
        }
    }

    /// <summary>A value that fits the width with the top bit clear (also fits a signed bitfield), lowest bit set, not symmetric.</summary>
    public static ulong Pattern(int width)
    {
        if (width == 1)
            return 1;
        var mask = width >= 64 ? ulong.MaxValue : (1UL << width) - 1;
        var value = (0xB6DB6DB6DB6DB6DBUL & mask) | 1;
        return value & ~(1UL << (width - 1));
    }

    /// <summary>The line the program prints for a case, as the manifest predicts it.</summary>
    public static string Expected(Case c, bool bigEndian)
    {
        var bytes = new byte[c.Size];
        for (var i = 0; i < c.Width; i++)
        {
            var position = c.BitOffset + i;
            // Little-endian: the field's least significant bit comes first, bits numbered from each byte's LSB.
            // Big-endian: the most significant bit comes first, bits numbered from each byte's MSB.
            var bit = bigEndian ? (c.Value >> (c.Width - 1 - i)) & 1 : (c.Value >> i) & 1;
            if (bit != 0)
                bytes[position / 8] |= (byte)(bigEndian ? 0x80 >> (int)(position % 8) : 1 << (int)(position % 8));
        }
        return Line(c, Convert.ToHexStringLower(bytes));
    }

    static string Line(Case c, string hex) => $"{c.Record} {c.Path} {c.Width} {c.Value.ToString("x", CultureInfo.InvariantCulture)} {hex}";

    public static string Program(string header, IReadOnlyList<Case> cases)
    {
        var c = new StringBuilder();
        c.Append("#include <stdio.h>\n#include <string.h>\n#include \"").Append(header).Append("\"\n\n");
        c.Append("""
            static void print(const char *record, const char *path, int width, unsigned long long value, const void *bytes, size_t size)
            {
            	const unsigned char *b = bytes;
            	printf("%s %s %d %llx ", record, path, width, value);
            	for (size_t i = 0; i < size; i++)
            		printf("%02x", b[i]);
            	printf("\n");
            }

            int main(void)
            {

            """);
        foreach (var k in cases)
        {
            var value = k.Value.ToString(CultureInfo.InvariantCulture) + "ULL";
            c.Append("\t{\n\t\t").Append(k.Type).Append(" r;\n\t\tmemset(&r, 0, sizeof r);\n\t\tr.").Append(k.Path).Append(" = ").Append(value).Append(";\n");
            c.Append("\t\tprint(\"").Append(k.Record).Append("\", \"").Append(k.Path).Append("\", ").Append(k.Width).Append(", ").Append(value)
                .Append(", &r, sizeof r);\n\t}\n");
        }
        c.Append("\treturn 0;\n}\n");
        return c.ToString();
    }
}
