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
/// Each input element checked costs two evaluations of the output, so by default a sample of
/// <see cref="Sampling.DefaultSize"/> elements of each input is checked (<see cref="Sampling"/>); long runs report
/// their progress (<see cref="Progress"/>).
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
    /// <param name="sampling">Which elements of each input to check.</param>
    /// <param name="progress">Where progress is reported on long runs (standard error).</param>
    public static CheckReport Run(Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt, Sampling sampling, TextWriter progress)
    {
        var output = problem.Output;
        var scalar = output.Rank == 0;
        var nodes = wrt.Select(w => w.Input).ToArray();
        var derivatives = scalar ? output.Grad(nodes) : output.Jacobian(nodes);
        var analytic = Expr.EvalMany(derivatives.Values, problem.Values);
        var outputSize = output.Shape.Aggregate(1, (a, b) => a * b);
        var chosen = wrt.Select(w => sampling.Choose(w.Name, problem.Values[w.Name].Size)).ToList();
        var report = new Progress(progress, chosen.Sum(c => (long)c.Length));
        var results = new List<InputResult>(wrt.Count);
        for (var k = 0; k < wrt.Count; k++)
            results.Add(Compare(problem, wrt[k].Name, analytic[k].ToDoubleArray(), output.Shape, outputSize, chosen[k], report));
        return new CheckReport(scalar ? "gradient" : "jacobian", sampling, results);
    }

    private static InputResult Compare(
        Problem problem, string name, double[] analytic, IReadOnlyList<int> outputShape, int outputSize, int[] elements, Progress progress)
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

        var result = new InputResult(name, analytic.Length, elements.Length * outputSize);
        var x = (double[])point.Clone();
        foreach (var i in elements)
        {
            progress.Step(name);
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
internal sealed class InputResult(string name, int elements, int compared)
{
    /// <summary>The input's name.</summary>
    public string Name { get; } = name;

    /// <summary>How many elements the derivative has.</summary>
    public int Elements { get; } = elements;

    /// <summary>How many of them were compared: the output's size for each input element checked.</summary>
    public int Checked { get; } = compared;

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

/// <summary>
/// <c>check</c>: <c>{"ok": bool, "derivative", "sample": {"size", "seed"} | null,
/// "inputs": {name: {"maxAbsError", "maxRelError", "ok", "elements", "checked", "failed"}}}</c>.
/// </summary>
/// <param name="derivative">"gradient" or "jacobian": what was compared.</param>
/// <param name="sampling">Which elements were checked.</param>
/// <param name="results">One per input checked.</param>
internal sealed class CheckReport(string derivative, Sampling sampling, IReadOnlyList<InputResult> results) : IReport
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
        if (sampling.Size is { } size && results.Any(r => r.Checked < r.Elements))
            output.WriteLine($"elements: a sample of {size} of each input, drawn with seed {sampling.Seed} (--all checks every one)");
        if (results.Count == 0) output.WriteLine("no floating-point input to check");
        foreach (var r in results)
        {
            var verdict = r.Ok ? "ok" : $"FAILED: {r.Failed} of {r.Checked} elements outside the tolerance";
            var count = r.Checked == r.Elements ? $"{r.Elements} elements" : $"{r.Checked} of {r.Elements} elements";
            output.WriteLine($"  {r.Name}: {count}, max abs error {G(r.MaxAbsError)}, max rel error {G(r.MaxRelError)}: {verdict}");
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
        if (sampling.Size is { } size)
        {
            writer.WriteStartObject("sample");
            writer.WriteNumber("size", size);
            writer.WriteNumber("seed", sampling.Seed);
            writer.WriteEndObject();
        }
        else writer.WriteNull("sample");
        writer.WriteStartObject("inputs");
        foreach (var r in results)
        {
            writer.WriteStartObject(r.Name);
            Json.Number(writer, "maxAbsError", r.MaxAbsError);
            Json.Number(writer, "maxRelError", r.MaxRelError);
            writer.WriteBoolean("ok", r.Ok);
            writer.WriteNumber("elements", r.Elements);
            writer.WriteNumber("checked", r.Checked);
            writer.WriteNumber("failed", r.Failed);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static string G(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}

/// <summary>
/// Which elements of each input <c>check</c> moves: all of them, or a sample of <see cref="Size"/> distinct elements
/// drawn from a stream seeded by <see cref="Seed"/> and the input's name, so the same command checks the same elements.
/// </summary>
/// <param name="Size">Elements per input; null for every element.</param>
/// <param name="Seed">The value of <c>--seed</c>.</param>
internal sealed record Sampling(int? Size, int Seed)
{
    /// <summary>The sample size when none is given: enough to catch a wrong rule, few enough for any input size.</summary>
    public const int DefaultSize = 100;

    /// <summary>The flat indices to check of an input with <paramref name="count"/> elements, in increasing order.</summary>
    /// <param name="name">The input's name, mixed into the seed so that inputs get independent samples.</param>
    /// <param name="count">How many elements the input has.</param>
    public int[] Choose(string name, int count)
    {
        if (Size is not { } size || size >= count) return [.. Enumerable.Range(0, count)];
        // Floyd's algorithm: size distinct indices from size uniform draws, each index equally likely.
        // The ':' keeps this stream apart from randn's for an input of the same name.
        var uniform = Tensor.RandomUniform(BindingReader.StreamSeed(Seed, "check:" + name), size).ToArray<double>();
        var chosen = new HashSet<int>();
        for (var j = count - size; j < count; j++)
        {
            var t = Math.Min((int)(uniform[j - count + size] * (j + 1)), j);
            chosen.Add(chosen.Contains(t) ? j : t);
        }
        return [.. chosen.Order()];
    }
}

/// <summary>
/// A line on standard error now and then while <c>check</c> runs long, so a large run is not silent; nothing in the
/// first seconds, so short runs (and their JSON on standard output) look as they always did.
/// </summary>
/// <param name="error">Standard error.</param>
/// <param name="total">How many input elements will be checked in all.</param>
internal sealed class Progress(TextWriter error, long total)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);
    private readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    private TimeSpan next = Quiet;
    private long done;

    /// <summary>One more element of <paramref name="name"/> is about to be checked.</summary>
    /// <param name="name">The input.</param>
    public void Step(string name)
    {
        done++;
        if (clock.Elapsed < next) return;
        next = clock.Elapsed + Quiet;
        error.WriteLine($"check: {done} of {total} elements ({100.0 * done / total:F0}%), now {name}");
    }
}
