using System;
using System.Text;

namespace Portal.Generators.Emit;

/// <summary>Writes C# with indentation; multi-line text (raw strings) is indented line by line.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _text = new();
    private int _depth;

    public SourceWriter Line(string line = "")
    {
        foreach (var part in line.Replace("\r\n", "\n").Split('\n'))
        {
            if (part.Length > 0)
                _text.Append(' ', 4 * _depth).Append(part);
            _text.Append('\n');
        }
        return this;
    }

    /// <summary>Writes "{", runs <paramref name="body"/> one level deeper, writes "}".</summary>
    public SourceWriter Block(string header, Action body, string close = "}")
    {
        Line(header);
        Line("{");
        _depth++;
        body();
        _depth--;
        Line(close);
        return this;
    }

    public override string ToString() => _text.ToString();
}
