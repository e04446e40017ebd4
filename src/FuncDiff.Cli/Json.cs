namespace FuncDiff.Cli;

using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

/// <summary>
/// The JSON funcdiff prints: one object per run. A tensor is <c>{"shape": […], "dtype": "float64", "data": […]}</c>
/// with the data flat in row-major order; JSON has no NaN or infinities, so those are the strings
/// <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c> (the spellings .NET and JavaScript print and parse), and
/// <c>"-NaN"</c> for the NaN of the other sign (what <c>-nan</c> writes in EXPR), so that a tensor read back is the
/// same bit for bit. The same format is read back from files: <see cref="ReadTensor"/>.
/// </summary>
internal static class Json
{
    private static readonly JsonWriterOptions Options = new()
    {
        // Messages quote expressions (<, >, ', &) and may hold non-ASCII; the output is not embedded in HTML,
        // so escaping them would only make it harder to read.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The text of one JSON value written by <paramref name="write"/>, on one line.</summary>
    /// <param name="write">Writes exactly one value.</param>
    public static string Of(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Options)) write(writer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A number, or its string spelling when JSON has none for it.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="value">The number.</param>
    public static void Number(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteStringValue(NonFinite(value));
    }

    /// <summary>A float32 number, written with the shortest digits that read back to it.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="value">The number.</param>
    public static void Number(Utf8JsonWriter writer, float value)
    {
        if (float.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteStringValue(NonFinite(value));
    }

    /// <summary>A property holding a number, as <see cref="Number(Utf8JsonWriter, double)"/>.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="name">The property name.</param>
    /// <param name="value">The number.</param>
    public static void Number(Utf8JsonWriter writer, string name, double value)
    {
        writer.WritePropertyName(name);
        Number(writer, value);
    }

    /// <summary>A tensor: shape, dtype and flat row-major data.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="tensor">The tensor.</param>
    public static void Tensor(Utf8JsonWriter writer, Tensor tensor)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("shape");
        foreach (var d in tensor.Shape) writer.WriteNumberValue(d);
        writer.WriteEndArray();
        writer.WriteString("dtype", DTypeName(tensor.DType));
        writer.WriteStartArray("data");
        switch (tensor.DType)
        {
            case DType.Float64:
                foreach (var v in tensor.ToArray<double>()) Number(writer, v);
                break;
            case DType.Float32:
                foreach (var v in tensor.ToArray<float>()) Number(writer, v);
                break;
            case DType.Int32:
                foreach (var v in tensor.ToArray<int>()) writer.WriteNumberValue(v);
                break;
            case DType.Bool:
                foreach (var v in tensor.ToArray<bool>()) writer.WriteBooleanValue(v);
                break;
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>A property holding a tensor.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="name">The property name.</param>
    /// <param name="tensor">The tensor.</param>
    public static void Tensor(Utf8JsonWriter writer, string name, Tensor tensor)
    {
        writer.WritePropertyName(name);
        Tensor(writer, tensor);
    }

    /// <summary><c>{"error": {"kind", "message", "position"}}</c>; the position is null unless the error has a place in EXPR.</summary>
    /// <param name="writer">The writer.</param>
    /// <param name="error">The error.</param>
    public static void Error(Utf8JsonWriter writer, CliException error)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("kind", KindName(error.Kind));
        writer.WriteString("message", error.Message);
        if (error.Line is { } line && error.Column is { } column)
        {
            writer.WriteStartObject("position");
            writer.WriteNumber("line", line);
            writer.WriteNumber("column", column);
            writer.WriteEndObject();
        }
        else writer.WriteNull("position");
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The name of a dtype as EXPR and the JSON write it: float64, float32, bool, int32.</summary>
    /// <param name="dtype">The dtype.</param>
    public static string DTypeName(DType dtype) => dtype.ToString().ToLowerInvariant();

    /// <summary>The <c>kind</c> of an error: parse, shape, gradient, input, evaluation, binding or usage.</summary>
    /// <param name="kind">The kind.</param>
    public static string KindName(ErrorKind kind) => kind.ToString().ToLowerInvariant();

    private static string NonFinite(double value) =>
        double.IsNaN(value) ? (double.IsNegative(value) == double.IsNegative(double.NaN) ? "NaN" : "-NaN")
        : value > 0 ? "Infinity" : "-Infinity";

    // The spellings of the non-finite elements and the literal words they stand for.
    private static readonly Dictionary<string, string> NonFiniteLiterals = new(StringComparer.Ordinal)
    {
        ["NaN"] = "nan",
        ["-NaN"] = "-nan",
        ["Infinity"] = "inf",
        ["-Infinity"] = "-inf",
    };

    private static readonly string[] TensorProperties = ["shape", "dtype", "data"];

    /// <summary>
    /// A tensor object as <see cref="Tensor(Utf8JsonWriter, FuncDiff.Tensor)"/> writes it. Its data are read by
    /// <see cref="FuncDiff.Tensor.Parse(string, DType)"/>, so a number means what it means in EXPR: float32 elements are
    /// read at float32's width, and a number the dtype cannot hold (1e400, or 1e39 in float32) is an error.
    /// </summary>
    /// <param name="element">The JSON value.</param>
    /// <param name="what">What the value is, for messages: "the file", "'x'".</param>
    /// <exception cref="InvalidDataException">The value is not a tensor object, naming the property or element.</exception>
    public static Tensor ReadTensor(JsonElement element, string what)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{what} is not a tensor {{\"shape\", \"dtype\", \"data\"}}: it is {Kind(element)}");
        foreach (var property in element.EnumerateObject())
        {
            if (Array.IndexOf(TensorProperties, property.Name) >= 0) continue;
            var guess = Names.Closest(property.Name, TensorProperties) is { } g ? $" (did you mean '{g}'?)" : "";
            throw new InvalidDataException($"{what} has the property '{property.Name}'{guess}; a tensor has exactly shape, dtype and data");
        }
        JsonElement Required(string name) => element.TryGetProperty(name, out var value)
            ? value
            : throw new InvalidDataException($"{what} has no '{name}'; a tensor has shape, dtype and data");
        var shape = Shape(Required("shape"), what);
        var dtype = DTypeOf(Required("dtype"), what);
        var data = Required("data");
        if (data.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"the data of {what} is {Kind(data)}, not an array");
        // In double: a product of int32 dimensions can overflow a long, never a double's range.
        var size = shape.Aggregate(1.0, (a, d) => a * d);
        if (data.GetArrayLength() != size)
            throw new InvalidDataException($"{what} has {data.GetArrayLength()} data elements, but shape [{string.Join(", ", shape)}] holds {size}");

        // The data as one flat literal, each element at a known offset so that an error names its index.
        var literal = new StringBuilder("[");
        var offsets = new List<int>();
        var index = 0;
        foreach (var item in data.EnumerateArray())
        {
            if (index > 0) literal.Append(", ");
            offsets.Add(literal.Length);
            literal.Append(Element(item, dtype, what, index));
            index++;
        }
        literal.Append(']');
        var text = literal.ToString();
        try
        {
            var flat = FuncDiff.Tensor.Parse(text, dtype);
            return dtype switch
            {
                DType.Float64 => FuncDiff.Tensor.FromArray(flat.ToArray<double>(), shape),
                DType.Float32 => FuncDiff.Tensor.FromArray(flat.ToArray<float>(), shape),
                DType.Int32 => FuncDiff.Tensor.FromArray(flat.ToArray<int>(), shape),
                _ => FuncDiff.Tensor.FromArray(flat.ToArray<bool>(), shape),
            };
        }
        catch (ParseException e)
        {
            var at = offsets.BinarySearch(e.Column - 1);
            throw new InvalidDataException($"data[{(at >= 0 ? at : Math.Max(0, ~at - 1))}] of {what}: {e.Reason}");
        }
    }

    /// <summary>Every binding of a JSON object whose properties are input names and whose values are tensor objects.</summary>
    /// <param name="document">The JSON document.</param>
    /// <exception cref="InvalidDataException">The document is not such an object.</exception>
    public static IEnumerable<(string Name, Tensor Value)> ReadBindings(JsonDocument document)
    {
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"expected an object of tensors by input name, found {Kind(root)}");
        if (root.EnumerateObject().Any(p => Array.IndexOf(TensorProperties, p.Name) >= 0))
            throw new InvalidDataException("this is one tensor, not an object of tensors by input name: bind it to one input with name=@file");
        return root.EnumerateObject().Select(p => (p.Name, ReadTensor(p.Value, $"'{p.Name}'"))).ToList();
    }

    private static int[] Shape(JsonElement shape, string what)
    {
        if (shape.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"the shape of {what} is {Kind(shape)}, not an array of dimensions");
        var dims = new List<int>();
        foreach (var d in shape.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out var n) || n < 0)
                throw new InvalidDataException($"the shape of {what} holds {d.GetRawText()}, not a non-negative integer");
            dims.Add(n);
        }
        return [.. dims];
    }

    private static DType DTypeOf(JsonElement dtype, string what)
    {
        var names = Enum.GetValues<DType>().Select(DTypeName).ToArray();
        var name = dtype.ValueKind == JsonValueKind.String ? dtype.GetString()! : dtype.GetRawText();
        var found = Enum.GetValues<DType>().Where(d => DTypeName(d) == name).ToList();
        if (found.Count == 1) return found[0];
        var guess = Names.Closest(name, names) is { } g ? $" (did you mean '{g}'?)" : "";
        throw new InvalidDataException($"the dtype of {what} is '{name}'{guess}; the dtypes are {string.Join(", ", names)}");
    }

    // One element of the data as literal text, after checking that its JSON kind fits the dtype.
    private static string Element(JsonElement item, DType dtype, string what, int index)
    {
        switch (dtype, item.ValueKind)
        {
            case (DType.Bool, JsonValueKind.True or JsonValueKind.False):
                return item.ValueKind == JsonValueKind.True ? "true" : "false";
            case (not DType.Bool, JsonValueKind.Number):
                return item.GetRawText();
            case (DType.Float64 or DType.Float32, JsonValueKind.String) when NonFiniteLiterals.TryGetValue(item.GetString()!, out var word):
                return word;
            default:
                var expected = dtype switch
                {
                    DType.Bool => "true or false",
                    DType.Int32 => "an integer",
                    _ => "a number or one of \"NaN\", \"-NaN\", \"Infinity\", \"-Infinity\"",
                };
                throw new InvalidDataException($"data[{index}] of {what} is {item.GetRawText()}, but a {DTypeName(dtype)} tensor holds {expected}");
        }
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        _ => "a boolean",
    };
}
