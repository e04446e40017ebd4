namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;

/// <summary>
/// <c>bench</c>: one workload of the side-by-side comparison with the TorchSharp peer, timed quickly: warm-up, then
/// repetitions that each compute the value and the full gradient. The workloads (<see cref="Workloads"/>), inputs and
/// JSON fields are the peer harness's, so the two can be read together; <c>--ratio</c> also times the function alone.
/// </summary>
internal static class Bench
{
    /// <summary>The <c>bench</c> command.</summary>
    /// <param name="output">Standard output.</param>
    public static Command Command(TextWriter output)
    {
        var name = new Argument<string>("NAME") { Description = "The workload: " + string.Join(", ", Workloads.All.Select(w => w.Name)) };
        name.AcceptOnlyFromAmong([.. Workloads.All.Select(w => w.Name)]);
        var dtype = new Option<string>("--dtype") { Description = "float64 or float32", DefaultValueFactory = _ => "float64" };
        dtype.AcceptOnlyFromAmong("float64", "float32");
        var reps = new Option<int>("--reps")
        {
            Description = "Timed repetitions after the warm-up",
            DefaultValueFactory = _ => 20,
            CustomParser = result => Program.Integer(result, "--reps", 1, 20),
        };
        var warmup = new Option<double>("--warmup")
        {
            Description = "Seconds of untimed warm-up first, up to 3600 (the JIT's tiers need about 3)",
            DefaultValueFactory = _ => 3.0,
            CustomParser = result => Program.Bounded(result, "--warmup", "a number of seconds", NumberStyles.Float, 0.0, 3600.0, 3.0),
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with the peer harness's fields" };
        var compiled = new Option<bool>("--compiled")
        {
            Description = "Time a compiled plan run in a workspace (Expr.Compile once, Plan.Run per repetition: results are the "
                + "workspace's own, nothing is copied or allocated) instead of Expr.EvalMany (a cached plan, results copied out)",
        };
        var ratio = new Option<bool>("--ratio")
        {
            Description = "Also time the function alone (no derivative), alternating with the gradient's repetitions, "
                + "and print the ratio of their medians, gradient over function",
        };
        var command = new Command("bench", "Time one workload of the TorchSharp comparison: value and full gradient per repetition. "
            + "Prints the median and minimum time, the value, the gradient's norm and the bytes allocated per repetition.") { name, dtype, reps, warmup, json, compiled, ratio };
        command.SetAction(parse =>
        {
            var workload = Workloads.All.Single(w => w.Name == parse.GetValue(name));
            var type = parse.GetValue(dtype) == "float32" ? DType.Float32 : DType.Float64;
            var result = Run(workload, type, parse.GetValue(reps), TimeSpan.FromSeconds(parse.GetValue(warmup)), parse.GetValue(compiled), parse.GetValue(ratio));
            if (parse.GetValue(json)) output.WriteLine(Json.Of(result.WriteJson));
            else result.WriteText(output);
            return ExitCode.Ok;
        });
        return command;
    }

    /// <summary>
    /// Times the value and gradient and, when <paramref name="ratio"/> is set, the function alone, alternating one
    /// repetition of each, so a shared machine's drift affects both alike; through <c>Expr.EvalMany</c>, or, when
    /// <paramref name="compiled"/> is set, as runs of a compiled plan in a workspace.
    /// </summary>
    private static Result Run(Workloads.Workload workload, DType dtype, int reps, TimeSpan warmup, bool compiled, bool ratio)
    {
        var instance = workload.Build(dtype);
        var gradient = new Timing(instance.Outputs, instance.Inputs, reps, compiled);
        var function = ratio ? new Timing(instance.FunctionOutputs, instance.Inputs, reps, compiled) : null;
        var clock = Stopwatch.StartNew();
        do
        {
            gradient.Evaluate();
            function?.Evaluate();
        } while (clock.Elapsed < warmup);
        for (var i = 0; i < reps; i++)
        {
            gradient.Measure(i);
            function?.Measure(i);
        }
        var values = gradient.Values;
        var norm = Math.Sqrt(values.Skip(1).Sum(g => g.ToDoubleArray().Sum(v => v * v)));
        return new Result(workload.Name, dtype, reps, compiled, gradient.Summary(), values[0].ToScalar(), norm, function?.Summary());
    }

    /// <summary>The median and minimum time of a measured evaluation, and the bytes it allocates on average.</summary>
    private sealed record Times(double MedianMs, double MinMs, long AllocatedBytesPerOp);

    /// <summary>
    /// Repeated evaluations of some outputs, each timed and its allocations counted: through <see cref="Expr.EvalMany(IEnumerable{Expr}, IReadOnlyDictionary{string, Tensor})"/>,
    /// or, <paramref name="compiled"/>, as runs of one plan in one workspace.
    /// </summary>
    private sealed class Timing(Expr[] outputs, IReadOnlyDictionary<string, Tensor> inputs, int reps, bool compiled)
    {
        private readonly double[] times = new double[reps];
        private readonly Func<IReadOnlyList<Tensor>> evaluate = compiled ? Runs(outputs, inputs) : () => Expr.EvalMany(outputs, inputs);
        private long allocated;

        /// <summary>The values of the last evaluation.</summary>
        public IReadOnlyList<Tensor> Values { get; private set; } = [];

        private static Func<IReadOnlyList<Tensor>> Runs(Expr[] outputs, IReadOnlyDictionary<string, Tensor> inputs)
        {
            var plan = Expr.Compile(outputs);
            var workspace = plan.CreateWorkspace();
            foreach (var name in plan.InputNames) workspace.Bind(name, inputs[name]);
            return () => plan.Run(workspace);
        }

        public void Evaluate() => Values = evaluate();

        public void Measure(int rep)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            Evaluate();
            times[rep] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
        }

        public Times Summary()
        {
            var sorted = times.Order().ToArray();
            var median = reps % 2 == 1 ? sorted[reps / 2] : (sorted[reps / 2 - 1] + sorted[reps / 2]) / 2;
            return new Times(median, sorted[0], allocated / reps);
        }
    }

    /// <summary>One workload's measurements, in the peer harness's terms.</summary>
    /// <param name="Name">The workload.</param>
    /// <param name="DType">Its dtype.</param>
    /// <param name="Reps">Timed repetitions.</param>
    /// <param name="Compiled">Timed as runs of a compiled plan in a workspace rather than through <c>Expr.EvalMany</c>.</param>
    /// <param name="Gradient">The value and full gradient, timed.</param>
    /// <param name="Value">The value.</param>
    /// <param name="GradNorm">The L2 norm over all the gradient's tensors.</param>
    /// <param name="Function">The function alone, timed, when asked for (<c>--ratio</c>).</param>
    private sealed record Result(string Name, DType DType, int Reps, bool Compiled, Times Gradient, double Value, double GradNorm, Times? Function) : IReport
    {
        public int ExitCode => Cli.ExitCode.Ok;

        private string DTypeName => DType == DType.Float32 ? "float32" : "float64";

        /// <summary>How many times longer the value and gradient take than the function alone, by their medians.</summary>
        private double Ratio => Gradient.MedianMs / Function!.MedianMs;

        public void WriteText(TextWriter output)
        {
            output.WriteLine($"{Name} ({DTypeName}{(Compiled ? ", compiled plan" : "")}): median {Gradient.MedianMs:F3} ms, min {Gradient.MinMs:F3} ms over {Reps} repetitions; value {Value:G9}, gradient norm {GradNorm:G9}, {Gradient.AllocatedBytesPerOp} bytes allocated per repetition");
            if (Function is not null)
                output.WriteLine($"function alone: median {Function.MedianMs:F3} ms, min {Function.MinMs:F3} ms, {Function.AllocatedBytesPerOp} bytes allocated per repetition; gradient/function ratio {Ratio:F2}");
        }

        public void WriteJson(System.Text.Json.Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            writer.WriteString("name", Name);
            writer.WriteString("dtype", DTypeName);
            writer.WriteNumber("median_ms", Math.Round(Gradient.MedianMs, 4));
            writer.WriteNumber("min_ms", Math.Round(Gradient.MinMs, 4));
            writer.WriteNumber("reps", Reps);
            Json.Number(writer, "value", Value);
            Json.Number(writer, "grad_norm", GradNorm);
            writer.WriteNumber("allocated_bytes_per_op", Gradient.AllocatedBytesPerOp);
            if (Compiled) writer.WriteBoolean("compiled", true);
            if (Function is not null)
            {
                writer.WriteNumber("function_median_ms", Math.Round(Function.MedianMs, 4));
                writer.WriteNumber("function_min_ms", Math.Round(Function.MinMs, 4));
                writer.WriteNumber("function_allocated_bytes_per_op", Function.AllocatedBytesPerOp);
                Json.Number(writer, "grad_to_function_ratio", Ratio);
            }
            writer.WriteEndObject();
        }
    }
}
