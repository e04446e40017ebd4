namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.Globalization;

/// <summary>One <c>name=value</c> of <c>--at</c>: the input's name and the tensor it is bound to.</summary>
internal sealed record Binding(string Name, Tensor Value);

/// <summary>
/// Reads the bindings of <c>--at</c>: <c>name=value</c> separated by <c>;</c>, where a value is a number
/// (<c>2</c>, <c>-0.5</c>, <c>1e-3</c>, <c>nan</c>, <c>inf</c>, <c>-inf</c>), <c>true</c>/<c>false</c>, a rectangular
/// nested-bracket literal of either, or <c>randn(dims…)</c>, <c>zeros(dims…)</c>, <c>ones(dims…)</c>.
/// </summary>
/// <remarks>
/// A dedicated reader rather than the expression parser: a binding is data, so <c>x=[1, y]</c> or
/// <c>x=2*3</c> is an error here, not an expression evaluated behind the user's back. Numbers become
/// <see cref="DType.Float64"/> or <see cref="DType.Float32"/> as asked, booleans <see cref="DType.Bool"/>.
/// </remarks>
internal sealed class BindingReader
{
    // Deeper than any tensor anyone types, shallow enough that recursion cannot exhaust the stack.
    private const int MaxRank = 32;

    private readonly string text;
    private readonly DType floatType;
    private readonly int seed;
    private int position;
    private string? current;

    private BindingReader(string text, DType floatType, int seed)
    {
        this.text = text;
        this.floatType = floatType;
        this.seed = seed;
    }

    /// <summary>The bindings of every <c>--at</c> in order; a name bound twice is an error.</summary>
    /// <param name="texts">The values of the <c>--at</c> options.</param>
    /// <param name="floatType">The dtype numbers become.</param>
    /// <param name="seed">The seed <c>randn</c> derives each input's stream from.</param>
    /// <exception cref="CliException">Kind <c>binding</c>: the text is malformed, naming the binding and the column.</exception>
    public static IReadOnlyList<Binding> Read(IEnumerable<string> texts, DType floatType, int seed)
    {
        var bindings = new List<Binding>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            var reader = new BindingReader(text, floatType, seed);
            foreach (var (binding, column) in reader.ReadAll())
            {
                if (!names.Add(binding.Name))
                    throw new CliException(ErrorKind.Binding, $"in --at \"{text}\", column {column}: '{binding.Name}' is bound twice");
                bindings.Add(binding);
            }
        }
        return bindings;
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

    private List<(Binding Binding, int Column)> ReadAll()
    {
        var result = new List<(Binding, int)>();
        while (true)
        {
            SkipSpace();
            if (AtEnd) break;
            if (Peek == ';')
            {
                position++;
                continue;
            }
            current = null;
            var column = position + 1;
            var name = Name();
            current = name;
            SkipSpace();
            Expect('=', $"expected '=' after the name '{name}'");
            SkipSpace();
            var value = Value(name);
            SkipSpace();
            if (!AtEnd && Peek != ';') throw Error($"expected ';' or the end after the value, found {Describe()}");
            result.Add((new Binding(name, value), column));
        }
        return result;
    }

    private string Name()
    {
        var start = position;
        if (AtEnd || !(char.IsLetter(Peek) || Peek == '_'))
            throw Error($"expected the name of an input, found {Describe()}");
        while (!AtEnd && (char.IsLetterOrDigit(Peek) || Peek == '_')) position++;
        return text[start..position];
    }

    private Tensor Value(string name)
    {
        if (AtEnd) throw Error("expected a value, found the end");
        if (Peek == '[') return Literal();
        if (char.IsLetter(Peek))
        {
            var start = position;
            var word = Word();
            switch (word)
            {
                case "true":
                case "false":
                    return Tensor.FromArray([word == "true"], []);
                case "randn":
                case "zeros":
                case "ones":
                    return Generated(word, name);
                case var _ when word.ToLowerInvariant() is "nan" or "inf" or "infinity":
                    position = start;
                    return Floats([Number()], []);
                default:
                    position = start;
                    throw Error($"expected a number, true, false, a [literal] or randn/zeros/ones(dims…), found '{word}' (a binding is data, not an expression)");
            }
        }
        return Floats([Number()], []);
    }

    private Tensor Generated(string generator, string name)
    {
        SkipSpace();
        var opening = position;
        Expect('(', $"expected '(' after {generator}");
        var dims = new List<int>();
        SkipSpace();
        if (!AtEnd && Peek == ')') position++;
        else
        {
            do
            {
                SkipSpace();
                dims.Add(Dimension(generator));
            }
            while (Separator(')', opening));
        }
        var shape = dims.ToArray();
        var size = 1L;
        foreach (var d in shape)
        {
            size *= d;
            if (size > Array.MaxLength) throw Error($"{generator}({string.Join(", ", shape)}) has more elements than a tensor can hold");
        }
        var tensor = generator switch
        {
            "randn" => Tensor.RandomNormal(StreamSeed(seed, name), shape),
            "zeros" => Tensor.Zeros(shape),
            _ => Tensor.Ones(shape),
        };
        return floatType == DType.Float64 ? tensor : tensor.Cast(floatType);
    }

    private int Dimension(string generator)
    {
        var start = position;
        while (!AtEnd && char.IsAsciiDigit(Peek)) position++;
        if (position == start)
            throw Error($"expected a dimension (a non-negative integer) in {generator}(…), found {Describe()}");
        if (!int.TryParse(text.AsSpan(start, position - start), NumberStyles.None, CultureInfo.InvariantCulture, out var d))
        {
            position = start;
            throw Error($"dimension {text[start..(start + Math.Min(20, text.Length - start))]} in {generator}(…) is too large");
        }
        return d;
    }

    private Tensor Literal()
    {
        var numbers = new List<double>();
        var bools = new List<bool>();
        bool? isBool = null;
        var dims = Rows(numbers, bools, ref isBool, 1);
        return isBool == true ? Tensor.FromArray(bools.ToArray(), dims) : Floats(numbers.ToArray(), dims);
    }

    /// <summary>One bracketed level; every element must have the shape of the first. Returns this level's dims.</summary>
    private int[] Rows(List<double> numbers, List<bool> bools, ref bool? isBool, int depth)
    {
        if (depth > MaxRank) throw Error($"a literal may nest at most {MaxRank} levels");
        var opening = position;
        position++;
        SkipSpace();
        if (!AtEnd && Peek == ']')
        {
            position++;
            return [0];
        }
        int[]? first = null;
        var count = 0;
        do
        {
            SkipSpace();
            var at = position;
            int[] shape;
            if (!AtEnd && Peek == '[') shape = Rows(numbers, bools, ref isBool, depth + 1);
            else
            {
                Element(numbers, bools, ref isBool);
                shape = [];
            }
            if (first is null) first = shape;
            else if (!Same(first, shape))
            {
                position = at;
                throw Error($"ragged literal: {ShapeText(shape)} where the first element is {ShapeText(first)}");
            }
            count++;
        }
        while (Separator(']', opening));
        var dims = new int[first!.Length + 1];
        dims[0] = count;
        first.CopyTo(dims, 1);
        return dims;
    }

    /// <summary>After an item of a list opened at <paramref name="opening"/>: true after a ',', false after the closing bracket.</summary>
    private bool Separator(char closing, int opening)
    {
        SkipSpace();
        if (!AtEnd && (Peek == ',' || Peek == closing)) return text[position++] == ',';
        throw Error($"expected ',' or '{closing}' to close the '{text[opening]}' at column {opening + 1}, found {Describe()}");
    }

    private void Element(List<double> numbers, List<bool> bools, ref bool? isBool)
    {
        var start = position;
        bool elementIsBool;
        if (!AtEnd && char.IsLetter(Peek))
        {
            var word = Word();
            if (word is "true" or "false")
            {
                bools.Add(word == "true");
                elementIsBool = true;
            }
            else
            {
                position = start;
                numbers.Add(Number());
                elementIsBool = false;
            }
        }
        else
        {
            numbers.Add(Number());
            elementIsBool = false;
        }
        if (isBool is { } kind && kind != elementIsBool)
        {
            position = start;
            throw Error("a literal cannot mix true/false with numbers");
        }
        isBool = elementIsBool;
    }

    /// <summary>[+-] then digits with an optional fraction and exponent, or nan, inf, infinity.</summary>
    private double Number()
    {
        var start = position;
        var negative = false;
        if (!AtEnd && (Peek == '-' || Peek == '+'))
        {
            negative = Peek == '-';
            position++;
        }
        if (!AtEnd && char.IsLetter(Peek))
        {
            var wordStart = position;
            var word = Word();
            switch (word.ToLowerInvariant())
            {
                case "nan":
                    return double.NaN;
                case "inf":
                case "infinity":
                    return negative ? double.NegativeInfinity : double.PositiveInfinity;
                default:
                    position = wordStart;
                    throw Error($"expected a number, found '{word}'");
            }
        }
        var digits = position;
        while (!AtEnd && (char.IsAsciiDigit(Peek) || Peek == '.')) position++;
        if (position == digits) throw Error($"expected a number, found {Describe()}");
        if (!AtEnd && (Peek == 'e' || Peek == 'E'))
        {
            position++;
            if (!AtEnd && (Peek == '-' || Peek == '+')) position++;
            while (!AtEnd && char.IsAsciiDigit(Peek)) position++;
        }
        var token = text[start..position];
        if (!AtEnd && (char.IsLetterOrDigit(Peek) || Peek == '_' || Peek == '.'))
        {
            position = start;
            throw Error($"'{token}{Peek}…' is not a number");
        }
        if (!double.TryParse(token, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                CultureInfo.InvariantCulture, out var value))
        {
            position = start;
            throw Error($"'{token}' is not a number");
        }
        return value;
    }

    private Tensor Floats(double[] data, int[] shape) =>
        floatType == DType.Float32 ? Tensor.FromArray(Array.ConvertAll(data, v => (float)v), shape) : Tensor.FromArray(data, shape);

    private string Word()
    {
        var start = position;
        while (!AtEnd && (char.IsLetterOrDigit(Peek) || Peek == '_')) position++;
        return text[start..position];
    }

    private void Expect(char c, string message)
    {
        if (AtEnd || Peek != c) throw Error($"{message}, found {Describe()}");
        position++;
    }

    private void SkipSpace()
    {
        while (!AtEnd && char.IsWhiteSpace(Peek)) position++;
    }

    private bool AtEnd => position >= text.Length;

    private char Peek => text[position];

    private string Describe() => AtEnd ? "the end" : $"'{Peek}'";

    private CliException Error(string reason)
    {
        var where = current is null ? $"column {position + 1}" : $"binding '{current}', column {position + 1}";
        return new CliException(ErrorKind.Binding, $"in --at \"{text}\", {where}: {reason}");
    }

    private static bool Same(int[] a, int[] b) => a.AsSpan().SequenceEqual(b);

    private static string ShapeText(int[] shape) => shape.Length == 0 ? "a scalar" : $"a list of shape [{string.Join(", ", shape)}]";
}
