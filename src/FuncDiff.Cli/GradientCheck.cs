namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;

/// <summary>
/// <c>check</c>: the library's <see cref="GradCheck"/> (the gradient of a scalar EXPR, the vjp through a seeded random
/// cotangent of any other) with the command line's sampling, progress and report.
/// </summary>
internal static class GradientCheck
{
    /// <summary>The sample size when none is given: enough to catch a wrong rule, few enough for any input size.</summary>
    public const int DefaultSample = 100;

    /// <summary>The rule an element must pass, as the help and the text output state it.</summary>
    public static string Rule => new GradCheckOptions().Rule;

    /// <summary>Checks the derivative of <paramref name="problem"/>'s output with respect to each of <paramref name="wrt"/>.</summary>
    /// <param name="problem">EXPR over float64 inputs.</param>
    /// <param name="wrt">The inputs to check.</param>
    /// <param name="sample">Elements per input to check (a seeded sample); null for every one.</param>
    /// <param name="seed">The value of <c>--seed</c>: seeds the sample and the random cotangent.</param>
    /// <param name="progress">Where progress is reported on long runs (standard error).</param>
    public static CheckReport Run(Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt, int? sample, int seed, TextWriter progress)
    {
        var lines = new Progress(progress);
        var options = new GradCheckOptions { Sample = sample, Seed = seed, Progress = lines.Step };
        var report = GradCheck.Check(problem.Output, problem.Values, wrt.Select(w => w.Input).ToArray(), options);
        return new CheckReport(problem.Output.Rank == 0 ? "gradient" : "vjp", sample, seed, report);
    }
}

/// <summary>
/// <c>check</c>: <c>{"ok": bool, "derivative": "gradient" | "vjp", "sample": {"size", "seed"} | null,
/// "inputs": {name: {"maxAbsError", "maxRelError", "ok", "elements", "checked", "failed"}}}</c>.
/// </summary>
/// <param name="derivative">What was compared.</param>
/// <param name="sample">The sample size, or null for every element.</param>
/// <param name="seed">The seed of the sample and of the random cotangent.</param>
/// <param name="report">The library's report.</param>
internal sealed class CheckReport(string derivative, int? sample, int seed, GradCheckReport report) : IReport
{
    /// <inheritdoc/>
    public int ExitCode => report.Ok ? Cli.ExitCode.Ok : Cli.ExitCode.CheckFailed;

    /// <inheritdoc/>
    public void WriteText(TextWriter output)
    {
        output.WriteLine(derivative == "gradient"
            ? "check: analytic gradient vs central finite differences, in float64"
            : $"check: analytic vjp with a random cotangent (seed {seed}) vs central finite differences, in float64");
        output.WriteLine($"tolerance: {GradientCheck.Rule}");
        if (sample is { } size && report.Inputs.Any(r => r.Checked < r.Elements))
            output.WriteLine($"elements: a sample of {size} of each input, drawn with seed {seed} (--all checks every one)");
        if (report.Inputs.Count == 0) output.WriteLine("no floating-point input to check");
        foreach (var r in report.Inputs)
        {
            var verdict = r.Ok ? "ok" : $"FAILED: {r.Failed} of {r.Checked} elements outside the tolerance";
            var count = r.Checked == r.Elements ? $"{r.Elements} elements" : $"{r.Checked} of {r.Elements} elements";
            output.WriteLine($"  {r.Name}: {count}, max abs error {G(r.MaxAbsError)}, max rel error {G(r.MaxRelError)}: {verdict}");
            if (!r.Ok && r.Worst is { } w)
                output.WriteLine($"    worst at [{string.Join(", ", w.Index)}]: analytic {G(w.Analytic)}, finite difference {G(w.FiniteDifference)}, allowed error {G(w.Allowed)}");
        }
        output.WriteLine(report.Ok ? "ok" : "FAILED");
    }

    /// <inheritdoc/>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteBoolean("ok", report.Ok);
        writer.WriteString("derivative", derivative);
        if (sample is { } size)
        {
            writer.WriteStartObject("sample");
            writer.WriteNumber("size", size);
            writer.WriteNumber("seed", seed);
            writer.WriteEndObject();
        }
        else writer.WriteNull("sample");
        writer.WriteStartObject("inputs");
        foreach (var r in report.Inputs)
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
/// A line on standard error now and then while <c>check</c> runs long, so a large run is not silent; nothing in the
/// first seconds, so short runs (and their JSON on standard output) look as they always did.
/// </summary>
/// <param name="error">Standard error.</param>
internal sealed class Progress(TextWriter error)
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);
    private readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    private TimeSpan next = Quiet;

    /// <summary>Another element has been checked.</summary>
    /// <param name="done">Elements checked so far.</param>
    /// <param name="total">Elements to check in all.</param>
    public void Step(int done, int total)
    {
        if (clock.Elapsed < next) return;
        next = clock.Elapsed + Quiet;
        error.WriteLine($"check: {done} of {total} elements ({100.0 * done / total:F0}%)");
    }
}
