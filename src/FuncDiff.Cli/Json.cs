namespace FuncDiff.Cli;

using System;
using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

/// <summary>
/// The JSON funcdiff prints: one object per run. A tensor is <c>{"shape": […], "dtype": "float64", "data": […]}</c>
/// with the data flat in row-major order; JSON has no NaN or infinities, so those are the strings
/// <c>"NaN"</c>, <c>"Infinity"</c> and <c>"-Infinity"</c> (the spellings .NET and JavaScript print and parse).
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
        double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}
