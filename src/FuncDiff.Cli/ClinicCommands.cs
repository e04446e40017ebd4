namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;

/// <summary>The gradient clinic on the command line: <c>explain</c>, <c>graph</c>, and <c>--check-finite</c> for eval and grad.</summary>
internal static class ClinicCommands
{
    /// <summary><c>--check-finite</c>: stop at the first NaN or ±∞, forward or backward.</summary>
    public static readonly Option<bool> CheckFinite = new("--check-finite")
    {
        Description = "Stop at the first NaN or infinity, forward or backward, naming the node, its position in EXPR, the element and the values that produced it",
    };

    /// <summary><c>--format</c> of <c>graph</c>.</summary>
    public static readonly Option<string> Format = FormatOption();

    /// <summary><c>--timeout</c> of <c>graph</c>: how long Graphviz's dot may draw, in seconds.</summary>
    public static readonly Option<int> DotTimeout = TimeoutOption();

    private static Option<int> TimeoutOption()
    {
        var timeout = new Option<int>("--timeout")
        {
            Description = "With --format svg: stop Graphviz's dot after this many seconds (large graphs can take it minutes)",
            DefaultValueFactory = _ => 60,
        };
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() <= 0) r.AddError("--timeout must be a positive number of seconds");
        });
        return timeout;
    }

    /// <summary><c>--grad</c> of <c>graph</c>.</summary>
    public static readonly Option<bool> WithGradient = new("--grad") { Description = "Also draw the gradient graph (boxes) with respect to --wrt" };

    /// <summary><c>--explain</c> of <c>graph</c>.</summary>
    public static readonly Option<bool> WithDiagnosis = new("--explain")
    {
        Description = "Draw the diagnosis at --at: nodes with causes bordered and labelled, non-finite values red, zero paths dashed",
    };

    public const string ExplainDescription =
        "Print the value and the gradient of a scalar EXPR and, for each input, its status (ok, zero, partly-zero, tiny, nan, inf) "
        + "and the causes: disconnected, stop-gradient, piecewise-constant, masked, cancellation, underflow, saturation, nan-origin, inf-origin.";

    public const string GraphDescription =
        "Draw EXPR's graph as Graphviz DOT (or SVG through Graphviz's dot): nodes with op, shape and dtype; --grad adds the gradient graph, "
        + "--explain marks the causes of zero, masked and NaN gradients.";

    private static Option<string> FormatOption()
    {
        var format = new Option<string>("--format") { Description = "dot (the text) or svg (drawn by Graphviz's dot)", DefaultValueFactory = _ => "dot" };
        format.AcceptOnlyFromAmong("dot", "svg");
        return format;
    }

    /// <summary><c>explain</c>.</summary>
    public static IReport Explain(ParseResult parse, Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt)
    {
        try
        {
            return new ExplainReport(problem.Output.Explain(problem.Values, [.. wrt.Select(w => w.Input)]), wrt);
        }
        catch (GradientException e) when (problem.Output.Rank > 0)
        {
            throw new CliException(ErrorKind.Gradient, e.Message)
            {
                Hint = $"explain diagnoses the gradient of a scalar; `funcdiff explain \"sum(...)\"` explains the gradient of the sum, "
                    + $"`funcdiff jacobian` prints every partial derivative of an output of shape {Text.Shape(problem.Output.Shape)}",
            };
        }
    }

    /// <summary><c>eval --check-finite</c>; null without the option.</summary>
    public static IReport? CheckedEval(ParseResult parse, Problem problem) =>
        parse.GetValue(CheckFinite) ? new ValueReport(problem.Output.EvalChecked(problem.Values)) : null;

    /// <summary><c>grad --check-finite</c>; null without the option.</summary>
    public static IReport? CheckedGrad(ParseResult parse, Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt)
    {
        if (!parse.GetValue(CheckFinite)) return null;
        if (problem.Output.Rank > 0) return null;
        var (value, gradients) = problem.Output.GradChecked(problem.Values, [.. wrt.Select(w => w.Input)]);
        return new DerivativesReport("gradients", "gradient", value, wrt.Select(w => (w.Name, gradients[w.Input])).ToList());
    }

    /// <summary><c>graph</c>.</summary>
    public static IReport Graph(ParseResult parse, Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt)
    {
        var explain = parse.GetValue(WithDiagnosis);
        if (explain && problem.Output.Rank > 0)
            throw new CliException(ErrorKind.Gradient, $"--explain diagnoses the gradient of a scalar, but EXPR has shape {Text.Shape(problem.Output.Shape)}");
        var dot = problem.Output.ToDot(
            gradient: parse.GetValue(WithGradient),
            explainAt: explain ? problem.Values : null,
            wrt: [.. wrt.Select(w => w.Input)]);
        var format = parse.GetValue(Format) ?? "dot";
        return new GraphReport(format, format == "svg" ? Svg(dot, parse.GetValue(DotTimeout)) : dot);
    }

    /// <summary>DOT drawn as SVG by Graphviz's <c>dot</c>.</summary>
    private static string Svg(string dot, int timeoutSeconds)
    {
        var start = new ProcessStartInfo("dot", "-Tsvg")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("dot did not start");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new CliException(ErrorKind.Usage,
                "--format svg needs Graphviz's `dot` on the PATH, and it was not found (Debian: apt-get install graphviz); --format dot prints the DOT text");
        }
        using (process)
        {
            process.StandardInput.Write(dot);
            process.StandardInput.Close();
            var svg = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
            {
                process.Kill(entireProcessTree: true);
                throw new CliException(ErrorKind.Evaluation,
                    $"Graphviz's dot did not finish drawing in {timeoutSeconds} s and was stopped; draw fewer nodes, raise --timeout, or print the DOT text with --format dot");
            }
            process.WaitForExit();
            if (process.ExitCode != 0) throw new CliException(ErrorKind.Evaluation, $"Graphviz's dot failed: {errors.Result.Trim()}");
            return svg.Result;
        }
    }
}

/// <summary><c>explain</c>: <c>{"value", "gradients", "diagnostics": [{"wrt", "status", "causes": [{"kind", "node", "message", "fraction"?, "site"?}]}]}</c>.</summary>
internal sealed class ExplainReport(Explanation explanation, IReadOnlyList<(string Name, Expr Input)> wrt) : IReport
{
    /// <inheritdoc/>
    public int ExitCode => Cli.ExitCode.Ok;

    /// <inheritdoc/>
    public void WriteText(TextWriter output)
    {
        Text.Block(output, "value", explanation.Value);
        foreach (var (name, input) in wrt)
        {
            output.WriteLine();
            Text.Block(output, $"gradient with respect to {name}", explanation.Gradients[input]);
        }
        output.WriteLine();
        output.WriteLine("diagnosis:");
        output.WriteLine(explanation.ToString());
    }

    /// <inheritdoc/>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        WriteFields(writer, explanation, wrt);
        writer.WriteEndObject();
    }

    /// <summary>The value, gradients and diagnostics properties, into an open object.</summary>
    public static void WriteFields(Utf8JsonWriter writer, Explanation explanation, IReadOnlyList<(string Name, Expr Input)> wrt)
    {
        Json.Tensor(writer, "value", explanation.Value);
        writer.WriteStartObject("gradients");
        foreach (var (name, input) in wrt) Json.Tensor(writer, name, explanation.Gradients[input]);
        writer.WriteEndObject();
        writer.WriteStartArray("diagnostics");
        for (var k = 0; k < wrt.Count; k++)
        {
            var d = explanation.Diagnostics[k];
            writer.WriteStartObject();
            writer.WriteString("wrt", wrt[k].Name);
            writer.WriteString("status", d.StatusName);
            writer.WriteStartArray("causes");
            foreach (var c in d.Causes)
            {
                writer.WriteStartObject();
                writer.WriteString("kind", c.KindName);
                writer.WriteString("node", c.NodeText);
                writer.WriteString("message", c.Message);
                if (c.Fraction is { } fraction) writer.WriteNumber("fraction", fraction);
                if (c.Site is { } site)
                {
                    writer.WriteStartObject("site");
                    if (site.File is { } file) writer.WriteString("file", file);
                    writer.WriteNumber("line", site.Line);
                    writer.WriteNumber("column", site.Column);
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}

/// <summary><c>graph</c>: the DOT or SVG text; with --json, <c>{"format": "dot" | "svg", "graph": text}</c>.</summary>
internal sealed class GraphReport(string format, string text) : IReport
{
    /// <inheritdoc/>
    public int ExitCode => Cli.ExitCode.Ok;

    /// <inheritdoc/>
    public void WriteText(TextWriter output) => output.Write(text);

    /// <inheritdoc/>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("format", format);
        writer.WriteString("graph", text);
        writer.WriteEndObject();
    }
}
