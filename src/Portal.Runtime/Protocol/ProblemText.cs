using System.Runtime.CompilerServices;

namespace Portal.Protocol;

/// <summary>
/// An interpolated message that is only formatted when its check fails, so validating a correct
/// response allocates nothing (the hot path checks every response).
/// </summary>
[InterpolatedStringHandler]
internal ref struct ProblemText
{
    private DefaultInterpolatedStringHandler _text;

    public ProblemText(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
    {
        shouldAppend = !condition;
        _text = shouldAppend ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => _text.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

    public override string ToString() => _text.ToStringAndClear();
}
