namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

/// <summary>One binding: the input's name and the tensor it is bound to.</summary>
internal sealed record Binding(string Name, Tensor Value);

/// <summary>
/// Reads the bindings of <c>--at</c>: items separated by <c>;</c>, each <c>name=value</c> or <c>@file</c>. A value is a
/// tensor literal as the expression language writes constants (read by <see cref="Tensor.Parse(string)"/>, so it means
/// here what it means in EXPR), <c>randn(dims…)</c>, <c>zeros(dims…)</c>, <c>ones(dims…)</c>, or <c>@file</c>: one
/// tensor from a .npy or JSON file. <c>@file</c> on its own binds every name of a JSON object of tensors. The file
/// <c>-</c> is standard input.
/// </summary>
/// <remarks>
/// A binding is data, so <c>x=[1, y]</c> or <c>x=2*3</c> is an error here, not an expression evaluated behind the
/// user's back. Numbers become float64, or float32 as asked; booleans stay bool; files keep their own dtype.
/// </remarks>
internal sealed class BindingReader(DType floatType, int seed, Func<Stream> openStandardInput)
{
    private readonly List<Binding> bindings = [];
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private bool standardInputRead;

    /// <summary>The bindings of every <c>--at</c> in order; a name bound twice is an error.</summary>
    /// <param name="texts">The values of the <c>--at</c> options.</param>
    /// <param name="floatType">The dtype numbers become.</param>
    /// <param name="seed">The seed <c>randn</c> derives each input's stream from.</param>
    /// <param name="openStandardInput">Opens standard input, for the file <c>-</c>; called at most once.</param>
    /// <exception cref="CliException">Kind <c>binding</c>: the text or a file is malformed, naming the binding and the column.</exception>
    public static IReadOnlyList<Binding> Read(IEnumerable<string> texts, DType floatType, int seed, Func<Stream> openStandardInput)
    {
        var reader = new BindingReader(floatType, seed, openStandardInput);
        foreach (var text in texts) reader.ReadText(text);
        return reader.bindings;
    }

    /// <summary>
    /// The generator <c>randn</c> uses for the input <paramref name="name"/>: mixed from the seed and the name,
    /// so two <c>randn</c> inputs differ and reordering the bindings changes no value.
    /// </summary>
    /// <param name="seed">The value of <c>--seed</c>.</param>
    /// <param name="name">The input's name.</param>
    public static int StreamSeed(int seed, string name)
    {
        // FNV-1a: stable across processes and platforms, unlike string.GetHashCode.
        var hash = 2166136261u;
        void Mix(uint value)
        {
            hash ^= value;
            hash *= 16777619u;
        }
        for (var i = 0; i < 4; i++) Mix((uint)(seed >> (8 * i)) & 0xFF);
        foreach (var c in name)
        {
            Mix(c & 0xFFu);
            Mix((uint)c >> 8);
        }
        return unchecked((int)hash);
    }

    private void ReadText(string text)
    {
        // A literal never holds ';', so the items can be cut apart before any of them is read.
        var start = 0;
        while (start <= text.Length)
        {
            var end = text.IndexOf(';', start);
            if (end < 0) end = text.Length;
            ReadItem(new Item(text, start, end));
            start = end + 1;
        }
    }

    private void ReadItem(Item item)
    {
        var i = item.SkipSpace(item.Start);
        if (i == item.End) return;
        if (item.Text[i] == '@')
        {
            foreach (var (name, value) in FromFile(item, null, i, TensorFiles.ReadBindings)) Add(item, i, name, value);
            return;
        }
        var nameStart = i;
        if (!(char.IsLetter(item.Text[i]) || item.Text[i] == '_'))
            throw item.Error(null, i, $"expected the name of an input, found {item.Describe(i)}");
        while (i < item.End && (char.IsLetterOrDigit(item.Text[i]) || item.Text[i] == '_')) i++;
        var bound = item.Text[nameStart..i];
        i = item.SkipSpace(i);
        if (i == item.End || item.Text[i] != '=') throw item.Error(bound, i, $"expected '=' after the name '{bound}', found {item.Describe(i)}");
        i = item.SkipSpace(i + 1);
        Add(item, nameStart, bound, Value(item, bound, i));
    }

    private void Add(Item item, int at, string name, Tensor value)
    {
        if (!names.Add(name)) throw item.Error(null, at, $"'{name}' is bound twice");
        bindings.Add(new Binding(name, value));
    }

    private Tensor Value(Item item, string name, int start)
    {
        if (start == item.End) throw item.Error(name, start, "expected a value, found the end");
        if (item.Text[start] == '@') return FromFile(item, name, start, TensorFiles.ReadTensor);
        var wordEnd = start;
        while (wordEnd < item.End && char.IsLetterOrDigit(item.Text[wordEnd])) wordEnd++;
        var word = item.Text[start..wordEnd];
        if (word is "randn" or "zeros" or "ones") return Generated(item, name, word, wordEnd);
        if (word.Length > 0 && char.IsLetter(word[0]) && word is not ("true" or "false" or "nan" or "inf"))
        {
            throw item.Error(name, start,
                $"expected a number, true, false, a [tensor literal], randn/zeros/ones(dims…) or @file, found '{word}' (a binding is data, not an expression)");
        }
        var literal = item.Text[start..item.End];
        try
        {
            var tensor = Tensor.Parse(literal);
            // Read again rather than converted: float32 numbers are read at float32's width, and refused out of its range.
            return floatType == DType.Float32 && tensor.DType == DType.Float64 ? Tensor.Parse(literal, DType.Float32) : tensor;
        }
        catch (ParseException e)
        {
            throw item.Error(name, start + Place.Offset(literal, e.Line, e.Column), e.Reason);
        }
    }

    private Tensor Generated(Item item, string name, string generator, int i)
    {
        i = item.SkipSpace(i);
        if (i == item.End || item.Text[i] != '(') throw item.Error(name, i, $"expected '(' after {generator}, found {item.Describe(i)}");
        var opening = i;
        var dims = new List<int>();
        i = item.SkipSpace(i + 1);
        if (i < item.End && item.Text[i] == ')') i++;
        else
        {
            while (true)
            {
                i = item.SkipSpace(i);
                var digits = i;
                while (i < item.End && char.IsAsciiDigit(item.Text[i])) i++;
                if (i == digits) throw item.Error(name, i, $"expected a dimension (a non-negative integer) in {generator}(…), found {item.Describe(i)}");
                if (!int.TryParse(item.Text.AsSpan(digits, i - digits), NumberStyles.None, CultureInfo.InvariantCulture, out var d))
                    throw item.Error(name, digits, $"dimension {item.Text[digits..i]} in {generator}(…) is too large");
                dims.Add(d);
                i = item.SkipSpace(i);
                if (i < item.End && item.Text[i] == ',') i++;
                else if (i < item.End && item.Text[i] == ')')
                {
                    i++;
                    break;
                }
                else throw item.Error(name, i, $"expected ',' or ')' to close the '(' at column {opening + 1}, found {item.Describe(i)}");
            }
        }
        i = item.SkipSpace(i);
        if (i < item.End) throw item.Error(name, i, $"expected ';' or the end after the value, found {item.Describe(i)}");
        var shape = dims.ToArray();
        var size = 1L;
        foreach (var d in shape)
        {
            size *= d;
            if (size > Array.MaxLength) throw item.Error(name, opening, $"{generator}({string.Join(", ", shape)}) has more elements than a tensor can hold");
        }
        var tensor = generator switch
        {
            "randn" => Tensor.RandomNormal(StreamSeed(seed, name), shape),
            "zeros" => Tensor.Zeros(shape),
            _ => Tensor.Ones(shape),
        };
        return floatType == DType.Float64 ? tensor : tensor.Cast(floatType);
    }

    /// <summary>The file named after the '@' at <paramref name="at"/>, read by <paramref name="read"/>; its errors name the binding.</summary>
    private T FromFile<T>(Item item, string? name, int at, Func<byte[], T> read)
    {
        var path = item.Text[(at + 1)..item.End].Trim();
        var bytes = ReadFile(item, name, at, path);
        try
        {
            return read(bytes);
        }
        catch (InvalidDataException e)
        {
            throw item.Error(name, at, $"{Shown(path)}: {e.Message}");
        }
    }

    private byte[] ReadFile(Item item, string? name, int at, string path)
    {
        if (path.Length == 0) throw item.Error(name, at, "expected a file name after '@' (or '-' for standard input)");
        try
        {
            if (path != "-") return File.ReadAllBytes(path);
            if (standardInputRead) throw item.Error(name, at, "standard input (@-) can be read only once");
            standardInputRead = true;
            using var input = openStandardInput();
            using var copy = new MemoryStream();
            input.CopyTo(copy);
            return copy.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw item.Error(name, at, $"cannot read {Shown(path)}: {e.Message}");
        }
    }

    private static string Shown(string path) => path == "-" ? "standard input" : $"'{path}'";

    /// <summary>One <c>;</c>-separated item of an <c>--at</c> text: offsets Start to End of Text.</summary>
    private readonly record struct Item(string Text, int Start, int End)
    {
        public int SkipSpace(int i)
        {
            while (i < End && char.IsWhiteSpace(Text[i])) i++;
            return i;
        }

        public string Describe(int i) => i >= End ? "the end" : $"'{Text[i]}'";

        /// <summary>A binding error at an offset of the <c>--at</c> text, shown with a caret under it.</summary>
        public CliException Error(string? binding, int offset, string reason)
        {
            var (line, column) = Place.Of(Text, offset);
            var where = line == 1 ? $"column {column}" : $"line {line}, column {column}";
            var subject = binding is null ? where : $"binding '{binding}', {where}";
            return new CliException(ErrorKind.Binding, $"in --at, {subject}: {reason}") { Shown = new Place(Text, line, column) };
        }
    }
}
