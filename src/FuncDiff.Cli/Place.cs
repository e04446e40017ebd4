namespace FuncDiff.Cli;

using System;
using System.IO;

/// <summary>A place in a text of the command line (EXPR or <c>--at</c>): 1-based line and column.</summary>
/// <param name="Text">The whole text.</param>
/// <param name="Line">The line, from 1.</param>
/// <param name="Column">The column, from 1, in UTF-16 code units as the parser counts them.</param>
internal sealed record Place(string Text, int Line, int Column)
{
    /// <summary>How much of a long line is shown around the place: a line of EXPR can be megabytes long.</summary>
    public const int Window = 76;

    /// <summary>The line and column of an offset of <paramref name="text"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="offset">From 0.</param>
    public static (int Line, int Column) Of(string text, int offset)
    {
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < Math.Min(offset, text.Length); i++)
        {
            if (text[i] != '\n') continue;
            line++;
            lineStart = i + 1;
        }
        return (line, offset - lineStart + 1);
    }

    /// <summary>The offset of a line and column of <paramref name="text"/>, the inverse of <see cref="Of"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="line">From 1.</param>
    /// <param name="column">From 1.</param>
    public static int Offset(string text, int line, int column)
    {
        var start = 0;
        for (var l = 1; l < line; l++)
        {
            var next = text.IndexOf('\n', start);
            if (next < 0) break;
            start = next + 1;
        }
        return start + column - 1;
    }

    /// <summary>
    /// Writes the line of the place with a caret under the column, as compilers show it. A line longer than
    /// <see cref="Window"/> is cut around the column, with "…" where it was cut.
    /// </summary>
    /// <param name="error">Standard error.</param>
    public void WriteWithCaret(TextWriter error)
    {
        var lines = Text.Split('\n');
        if (Line < 1 || Line > lines.Length) return;
        var shown = lines[Line - 1].TrimEnd('\r');
        var caret = Math.Clamp(Column - 1, 0, shown.Length);
        if (shown.Length > Window)
        {
            var from = Math.Clamp(caret - Window / 2, 0, shown.Length - Window);
            var cut = shown.Substring(from, Window);
            caret -= from;
            if (from > 0)
            {
                cut = "…" + cut;
                caret++;
            }
            if (from + Window < shown.Length) cut += "…";
            shown = cut;
        }
        error.WriteLine($"  {shown}");
        error.WriteLine($"  {new string(' ', caret)}^");
    }
}
