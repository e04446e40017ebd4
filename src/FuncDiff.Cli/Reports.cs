namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;

/// <summary>What a command found, printed for a person or as one JSON object.</summary>
internal interface IReport
{
    /// <summary>The process exit code.</summary>
    int ExitCode { get; }

    /// <summary>Readable text: shapes, then values as NumPy prints them.</summary>
    /// <param name="output">Standard output.</param>
    void WriteText(TextWriter output);

    /// <summary>The JSON object.</summary>
    /// <param name="writer">The writer.</param>
    void WriteJson(Utf8JsonWriter writer);
}

/// <summary><c>eval</c>: <c>{"value": T}</c>.</summary>
internal sealed class ValueReport(Tensor value) : IReport
{
    /// <inheritdoc/>
    public int ExitCode => Cli.ExitCode.Ok;

    /// <inheritdoc/>
    public void WriteText(TextWriter output) => Text.Block(output, "value", value);

    /// <inheritdoc/>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        Json.Tensor(writer, "value", value);
        writer.WriteEndObject();
    }
}

/// <summary>
/// <c>grad</c>, <c>jacobian</c>, <c>hessian</c>: <c>{"value": T, "gradients" | "jacobians" | "hessians": {name: T}}</c>,
/// the inputs in the order of <c>--wrt</c>.
/// </summary>
/// <param name="property">The JSON property holding the derivatives.</param>
/// <param name="label">What one derivative is called in the text output.</param>
/// <param name="value">The value of EXPR.</param>
/// <param name="derivatives">One derivative per input, by name.</param>
/// <param name="note">Explains the shape of a derivative of one input in the text output, or null.</param>
internal sealed class DerivativesReport(
    string property,
    string label,
    Tensor value,
    IReadOnlyList<(string Name, Tensor Value)> derivatives,
    Func<string, Tensor, string>? note = null) : IReport
{
    /// <inheritdoc/>
    public int ExitCode => Cli.ExitCode.Ok;

    /// <inheritdoc/>
    public void WriteText(TextWriter output)
    {
        Text.Block(output, "value", value);
        if (derivatives.Count == 0) output.WriteLine($"no {label}: no floating-point input to differentiate with respect to");
        foreach (var (name, d) in derivatives)
        {
            output.WriteLine();
            Text.Block(output, $"{label} with respect to {name}", d, note?.Invoke(name, d));
        }
    }

    /// <inheritdoc/>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        Json.Tensor(writer, "value", value);
        writer.WriteStartObject(property);
        foreach (var (name, d) in derivatives) Json.Tensor(writer, name, d);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}

/// <summary>Helpers for the text output.</summary>
internal static class Text
{
    /// <summary>A heading with the tensor's shape and dtype, then the tensor as NumPy prints it.</summary>
    /// <param name="output">Standard output.</param>
    /// <param name="title">What the tensor is.</param>
    /// <param name="tensor">The tensor.</param>
    /// <param name="note">Said after the shape, or null.</param>
    public static void Block(TextWriter output, string title, Tensor tensor, string? note = null)
    {
        var extra = note is null ? "" : $" ({note})";
        output.WriteLine($"{title}: shape {Shape(tensor.Shape)}{extra}, {Json.DTypeName(tensor.DType)}");
        output.WriteLine(tensor.ToString());
    }

    /// <summary>A shape as <c>[2, 3]</c>; <c>[]</c> for a scalar.</summary>
    /// <param name="shape">The dimensions.</param>
    public static string Shape(IReadOnlyList<int> shape) => $"[{string.Join(", ", shape)}]";
}
