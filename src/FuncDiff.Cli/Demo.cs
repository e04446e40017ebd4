namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.CommandLine;
using System.IO;
using System.Linq;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

/// <summary>
/// <c>funcdiff demo</c>: the gradient clinic over the seed questions ("why is my gradient zero / None / NaN?"), each as
/// an expression at a point, its gradient and explain's diagnosis, as a table or (<c>--json</c>) one JSON object.
/// </summary>
internal static class Demo
{
    /// <summary>One seed scenario: the question it answers, the seed it comes from, EXPR, --at and --wrt.</summary>
    public sealed record Scenario(string Seed, string Question, string Expression, string At, string? Wrt = null);

    /// <summary>The scenarios by seed (a stable sort: a seed's questions in the order it asks them).</summary>
    public static readonly IReadOnlyList<Scenario> Scenarios = Listed().OrderBy(s => s.Seed, StringComparer.Ordinal).ToList();

    private static Scenario[] Listed() =>
    [
        new("000", "x - mean(x) has a zero gradient", "x - mean(x)", "x=[1,2,3,4]"),
        new("000", "... and so does its sum", "sum(x - mean(x))", "x=[1,2,3,4]"),
        new("001", "a ReLU layer with bias -100 learns nothing", "sum(relu(w @ x + b))", "w=[[0.5,-1],[2,1]]; x=[1,2]; b=-100", "w,b"),
        new("001", "where with a constant mask", "sum(where([true, false, false], x, 0))", "x=[1,2,3]"),
        new("001", "stop_gradient", "sum(stopGradient(x) * 3)", "x=[2,5]"),
        new("004", "argmax in the loss", "cast(argmax(x), dtype=float64)", "x=[1,2]"),
        new("003", "round in the loss", "sum(round(x))", "x=[1.2,2.7]"),
        new("003", "a cast to an integer", "sum(cast(cast(x, dtype=int32), dtype=float64))", "x=[1.2,2.7]"),
        new("004", "an input the loss does not use", "sum(x * x)", "x=[1,2]; y=[3]", "y"),
        new("002", "exp(-1000 x) is 'null'", "sum(exp(-1000 * x))", "x=[0.01,1]"),
        new("002", "log at 0", "sum(log(x))", "x=[0,1]"),
        new("002", "where with an unsafe branch", "sum(where(x > 0, log(x), 0))", "x=[0,1]"),
        new("002", "log(exp(-1000 x))", "sum(log(exp(-1000 * x)))", "x=[1,0.001,0,-1]"),
    ];

    /// <summary>The <c>demo</c> command.</summary>
    public static Command Command(TextWriter output)
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object: {\"scenarios\": [...]}" };
        var command = new Command("demo", "The gradient clinic: the seed questions' zero, None and NaN gradients, each with its diagnosis.") { json };
        command.SetAction(parse =>
        {
            var results = Scenarios.Select(Run).ToList();
            if (parse.GetValue(json)) output.WriteLine(Json.Of(w => WriteJson(w, results)));
            else WriteTable(output, results);
            return ExitCode.Ok;
        });
        return command;
    }

    private sealed record Result(Scenario Scenario, Problem Problem, IReadOnlyList<(string Name, Expr Input)> Wrt, Explanation? Explanation, GradientException? Refusal);

    private static Result Run(Scenario s)
    {
        var problem = Problem.Parse(s.Expression, BindingReader.Read([s.At], DType.Float64, 0, () => Stream.Null));
        var wrt = problem.Wrt(s.Wrt is null ? [] : [s.Wrt]);
        try
        {
            return new Result(s, problem, wrt, problem.Output.Explain(problem.Values, [.. wrt.Select(w => w.Input)]), null);
        }
        catch (GradientException e)
        {
            return new Result(s, problem, wrt, null, e);
        }
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<Result> results)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ColorSystemSupport.Detect,
            Interactive = InteractionSupport.No,
        });
        // A terminal's own width when there is one (Spectre detects it); a pipe or a file has none: wide
        // enough for the messages, as a terminal usually is.
        if (!ReferenceEquals(output, Console.Out) || Console.IsOutputRedirected) console.Profile.Width = 160;
        console.Write(new Rule("[bold]FuncDiff gradient clinic[/]: why is my gradient zero, None or NaN?").LeftJustified());
        var table = new Table().Border(TableBorder.Rounded).ShowRowSeparators();
        table.AddColumn("seed");
        table.AddColumn(new TableColumn("question").Width(20));
        table.AddColumn(new TableColumn("expression at").Width(28));
        table.AddColumn(new TableColumn("gradient").Width(30));
        table.AddColumn("diagnosis");
        foreach (var r in results)
        {
            table.AddRow(
                new Spectre.Console.Text(r.Scenario.Seed),
                new Spectre.Console.Text(r.Scenario.Question),
                new Spectre.Console.Text($"{r.Scenario.Expression}\nat {r.Scenario.At}"),
                new Spectre.Console.Text(Gradients(r)),
                Diagnosis(r));
        }
        console.Write(table);
        console.WriteLine("Each row is `funcdiff explain EXPR --at AT`; docs/gradient-clinic.md explains the answers.");
    }

    private static string Gradients(Result r)
    {
        if (r.Explanation is null)
        {
            var jacobian = r.Problem.Output.Jacobian([.. r.Wrt.Select(w => w.Input)]);
            return string.Join("\n", r.Wrt.Select(w => $"grad refuses a vector; jacobian d/d{w.Name} =\n{jacobian[w.Input].Eval(r.Problem.Values)}"));
        }
        return string.Join("\n", r.Wrt.Select(w => $"d/d{w.Name} = {r.Explanation.Gradients[w.Input]}"));
    }

    private static IRenderable Diagnosis(Result r)
    {
        if (r.Explanation is null) return new Spectre.Console.Text(r.Refusal!.Message);
        var lines = new List<IRenderable>();
        foreach (var d in r.Explanation.Diagnostics)
        {
            var colour = d.Status == GradientStatus.Ok ? "green" : d.Status is GradientStatus.NaN or GradientStatus.Inf ? "red" : "yellow";
            lines.Add(new Markup($"[bold {colour}]{Markup.Escape(d.WrtText)}: {d.StatusName}[/]"));
            foreach (var c in d.Causes) lines.Add(new Spectre.Console.Text($"{c.KindName}: {c.Message}"));
        }
        return new Rows(lines);
    }

    private static void WriteJson(Utf8JsonWriter writer, IReadOnlyList<Result> results)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("scenarios");
        foreach (var r in results)
        {
            writer.WriteStartObject();
            writer.WriteString("seed", r.Scenario.Seed);
            writer.WriteString("question", r.Scenario.Question);
            writer.WriteString("expression", r.Scenario.Expression);
            writer.WriteString("at", r.Scenario.At);
            if (r.Explanation is { } e) ExplainReport.WriteFields(writer, e, r.Wrt);
            else
            {
                writer.WriteStartObject("error");
                writer.WriteString("kind", "gradient");
                writer.WriteString("message", r.Refusal!.Message);
                writer.WriteEndObject();
                var jacobian = r.Problem.Output.Jacobian([.. r.Wrt.Select(w => w.Input)]);
                writer.WriteStartObject("jacobians");
                foreach (var (name, input) in r.Wrt) Json.Tensor(writer, name, jacobian[input].Eval(r.Problem.Values));
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
