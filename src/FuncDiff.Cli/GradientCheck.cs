namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;

/// <summary>
/// <c>check</c>: the analytic derivative (the gradient of a scalar output, the Jacobian of any other) against
/// central finite differences, in float64.
/// </summary>
/// <remarks>
/// Element i of input w is moved by h = 1e-6·max(1, |wᵢ|), so the step is relative for large values and
/// absolute near zero, and the difference quotient divides by the step actually taken ((wᵢ + h) − (wᵢ − h)
/// in floating point), not by 2h. An element passes when
/// |analytic − fd| ≤ 1e-6·(1 + |fd|) + 100·ε·|f|/h, with ε the float64 machine epsilon and |f| the larger
/// magnitude of the two perturbed outputs: the first term allows for the O(h²) truncation error, the second
/// for rounding in f(w ± h), which the quotient magnifies by 1/h. NaN never passes.
/// </remarks>
internal static class GradientCheck
{
    /// <summary>The relative step: h = Step·max(1, |w|).</summary>
    public const double Step = 1e-6;

    /// <summary>The relative and absolute tolerance of an element.</summary>
    public const double Tolerance = 1e-6;

    /// <summary>How many machine epsilons of rounding in f the tolerance allows for.</summary>
    public const double RoundingUlps = 100;

    // 2^-52, the gap between 1 and the next float64 (double.Epsilon is the smallest subnormal, not this).
    private static readonly double MachineEpsilon = Math.BitIncrement(1.0) - 1.0;

    /// <summary>The rule an element must pass, as the text output states it.</summary>
    public const string Rule = "|analytic - fd| <= 1e-6*(1 + |fd|) + 100*eps*|f|/h, with h = 1e-6*max(1, |x|) per element";

    /// <summary>Checks the derivative of <paramref name="problem"/>'s output with respect to each of <paramref name="wrt"/>.</summary>
    /// <param name="problem">EXPR over float64 inputs.</param>
    /// <param name="wrt">The inputs to check.</param>
    public static CheckReport Run(Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt)
    {
        var output = problem.Output;
        var scalar = output.Rank == 0;
        var nodes = wrt.Select(w => w.Input).ToArray();
        var derivatives = scalar ? output.Grad(nodes) : output.Jacobian(nodes);
        var analytic = Expr.EvalMany(derivatives.Values, problem.Values);
        var outputSize = output.Shape.Aggregate(1, (a, b) => a * b);
        var results = new List<InputResult>(wrt.Count);
        for (var k = 0; k < wrt.Count; k++)
            results.Add(Compare(problem, wrt[k].Name, analytic[k].ToDoubleArray(), output.Shape, outputSize));
        return new CheckReport(scalar ? "gradient" : "jacobian", results);
    }

    private static InputResult Compare(Problem problem, string name, double[] analytic, IReadOnlyList<int> outputShape, int outputSize)
    {
        var bound = problem.Values[name];
        var shape = bound.Shape.ToArray();
        var point = bound.ToArray<double>();
        var n = point.Length;
        var values = new Dictionary<string, Tensor>(problem.Values);
        double[] At(double[] x)
        {
            values[name] = Tensor.FromArray(x, shape);
            return problem.Output.Eval(values).ToDoubleArray();
        }

        var result = new InputResult(name, analytic.Length);
        var x = (double[])point.Clone();
        for (var i = 0; i < n; i++)
        {
            var h = Step * Math.Max(1.0, Math.Abs(point[i]));
            x[i] = point[i] + h;
            var plus = At(x);
            var upper = x[i];
            x[i] = point[i] - h;
            var minus = At(x);
            var taken = upper - x[i];
            x[i] = point[i];
            for (var o = 0; o < outputSize; o++)
            {
                var fd = (plus[o] - minus[o]) / taken;
                var a = analytic[o * n + i];
                var f = Math.Max(Math.Abs(plus[o]), Math.Abs(minus[o]));
                var allowed = Tolerance * (1 + Math.Abs(fd)) + RoundingUlps * MachineEpsilon * f / (taken / 2);
                result.Add(Index(o, outputShape, i, shape), a, fd, allowed);
            }
        }
        return result;
    }

    // The element's index in the derivative: the output's index, then the input's (for a gradient, just the input's).
    private static int[] Index(int flatOutput, IReadOnlyList<int> outputShape, int flatInput, int[] inputShape)
    {
        var index = new int[outputShape.Count + inputShape.Length];
        Unflatten(flatOutput, outputShape, index, 0);
        Unflatten(flatInput, inputShape, index, outputShape.Count);
        return index;
    }

    private static void Unflatten(int flat, IReadOnlyList<int> shape, int[] into, int offset)
    {
        for (var d = shape.Count - 1; d >= 0; d--)
        {
            into[offset + d] = flat % shape[d];
            flat /= shape[d];
        }
    }
}

/// <summary>How one input's derivative compares with finite differences.</summary>
internal sealed class InputResult(string name, int elements)
{
    /// <summary>The input's name.</summary>
    public string Name { get; } = name;

    /// <summary>How many elements the derivative has.</summary>
    public int Elements { get; } = elements;

    /// <summary>How many fall outside the tolerance.</summary>
    public int Failed { get; private set; }

    /// <summary>The largest |analytic − fd|; NaN when any element is NaN.</summary>
    public double MaxAbsError { get; private set; }

    /// <summary>The largest |analytic − fd| / max(|analytic|, |fd|) (0 where both are 0); NaN when any element is NaN.</summary>
    public double MaxRelError { get; private set; }

    /// <summary>True when every element is within the tolerance.</summary>
    public bool Ok => Failed == 0;

    /// <summary>The element furthest outside its tolerance: its index in the derivative, analytic value and finite difference.</summary>
    public (int[] Index, double Analytic, double FiniteDifference)? Worst { get; private set; }

    private double worstExcess = double.NegativeInfinity;

    /// <summary>Takes one element into account.</summary>
    /// <param name="index">Its index in the derivative.</param>
    /// <param name="analytic">The analytic value.</param>
    /// <param name="fd">The finite difference.</param>
    /// <param name="allowed">Its tolerance.</param>
    public void Add(int[] index, double analytic, double fd, double allowed)
    {
        var error = Math.Abs(analytic - fd);
        var scale = Math.Max(Math.Abs(analytic), Math.Abs(fd));
        var relative = error == 0 ? 0 : error / scale;
        MaxAbsError = double.IsNaN(error) || double.IsNaN(MaxAbsError) ? double.NaN : Math.Max(MaxAbsError, error);
        MaxRelError = double.IsNaN(relative) || double.IsNaN(MaxRelError) ? double.NaN : Math.Max(MaxRelError, relative);
        // Written so that NaN fails: no comparison with NaN is true.
        if (error <= allowed) return;
        Failed++;
        var excess = double.IsNaN(error) ? double.PositiveInfinity : error - allowed;
        if (Worst is null || excess > worstExcess)
        {
            worstExcess = excess;
            Worst = (index, analytic, fd);
        }
    }
}

/// <summary><c>check</c>: <c>{"ok": bool, "inputs": {name: {"maxAbsError", "maxRelError", "ok", "elements", "failed"}}}</c>.</summary>
/// <param name="derivative">"gradient" or "jacobian": what was compared.</param>
/// <param name="results">One per input checked.</param>
internal sealed class CheckReport(string derivative, IReadOnlyList<InputResult> results) : IReport
{
    /// <summary>True when every input passes.</summary>
    public bool Ok => results.All(r => r.Ok);

    /// <inheritdoc/>
    public int ExitCode => Ok ? Cli.ExitCode.Ok : Cli.ExitCode.CheckFailed;

    /// <inheritdoc/>
    public void WriteText(TextWriter output)
    {
        output.WriteLine($"check: analytic {derivative} vs central finite differences, in float64");
        output.WriteLine($"tolerance: {GradientCheck.Rule}");
        if (results.Count == 0) output.WriteLine("no floating-point input to check");
        foreach (var r in results)
        {
            var verdict = r.Ok ? "ok" : $"FAILED: {r.Failed} of {r.Elements} elements outside the tolerance";
            output.WriteLine($"  {r.Name}: {r.Elements} elements, max abs error {G(r.MaxAbsError)}, max rel error {G(r.MaxRelError)}: {verdict}");
            if (r.Worst is var (index, a, fd))
                output.WriteLine($"    worst at [{string.Join(", ", index)}]: analytic {G(a)}, finite difference {G(fd)}");
        }
        output.WriteLine(Ok ? "ok" : "FAILED");
    }

    /// <inheritdoc/>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", Ok);
        writer.WriteString("derivative", derivative);
        writer.WriteStartObject("inputs");
        foreach (var r in results)
        {
            writer.WriteStartObject(r.Name);
            Json.Number(writer, "maxAbsError", r.MaxAbsError);
            Json.Number(writer, "maxRelError", r.MaxRelError);
            writer.WriteBoolean("ok", r.Ok);
            writer.WriteNumber("elements", r.Elements);
            writer.WriteNumber("failed", r.Failed);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static string G(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}
