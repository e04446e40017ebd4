namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.IO;
using System.Linq;

/// <summary>
/// <c>bench</c>: one workload of the side-by-side comparison with the TorchSharp peer, timed quickly: warm-up, then
/// repetitions that each compute the value and the full gradient. The workloads, inputs and JSON fields are the
/// peer harness's, so the two can be read together.
/// </summary>
internal static class Bench
{
    /// <summary>A workload: its expressions (the value first, then what the gradient needs) and its inputs.</summary>
    /// <param name="Name">The peer harness's name.</param>
    /// <param name="Definition">What it computes, as the peer's list prints it.</param>
    /// <param name="Build">The outputs and inputs in a dtype.</param>
    internal sealed record Workload(string Name, string Definition, Func<DType, (Expr[] Outputs, Dictionary<string, Tensor> Inputs)> Build);

    private static Tensor Cast(Tensor t, DType dtype) => dtype == DType.Float64 ? t : t.Cast(dtype);

    private static (Expr[], Dictionary<string, Tensor>) ValueAndGradient(Expr loss, params (Expr Input, Tensor Value)[] inputs)
    {
        var grads = loss.Grad([.. inputs.Select(i => i.Input)]);
        return ([loss, .. grads.Values], inputs.ToDictionary(i => i.Input.ToString(), i => i.Value));
    }

    private static (Expr[], Dictionary<string, Tensor>) Elementwise(int n, DType dtype)
    {
        var x = Expr.Input("x", dtype, n);
        var loss = (x.Tanh() * (-x.Square()).Exp() + (1.0 + x.Square()).Log()).Sum();
        return ValueAndGradient(loss, (x, Cast(Tensor.Linspace(-3, 3, n), dtype)));
    }

    /// <summary>The workloads, as <c>../shared/peers/README.md</c> defines them.</summary>
    public static readonly IReadOnlyList<Workload> Workloads =
    [
        new("rosenbrock1000", "f = sum(100(x[1:]-x[:-1]^2)^2 + (1-x[:-1])^2), x = linspace(-1.2, 1.2, 1000)", dtype =>
        {
            var x = Expr.Input("x", dtype, 1000);
            var head = x.Slice([0], [999]);
            var tail = x.Slice([1], [1000]);
            var loss = (100.0 * (tail - head.Square()).Square() + (1.0 - head).Square()).Sum();
            return ValueAndGradient(loss, (x, Cast(Tensor.Linspace(-1.2, 1.2, 1000), dtype)));
        }),
        new("ew1k", "f = sum(tanh(x)*exp(-x^2) + log(1+x^2)), x = linspace(-3, 3, 1e3)", dtype => Elementwise(1_000, dtype)),
        new("ew100k", "the same, n = 1e5", dtype => Elementwise(100_000, dtype)),
        new("ew1m", "the same, n = 1e6", dtype => Elementwise(1_000_000, dtype)),
        new("mlp", "batch 64, 784->256 relu->10, mean softmax cross-entropy; grads for W1, b1, W2, b2", dtype =>
        {
            var x = Expr.Input("X", dtype, 64, 784);
            var w1 = Expr.Input("W1", dtype, 784, 256);
            var b1 = Expr.Input("b1", dtype, 256);
            var w2 = Expr.Input("W2", dtype, 256, 10);
            var b2 = Expr.Input("b2", dtype, 10);
            var labels = Expr.Input("Y", dtype, 64, 10);
            var logits = (x.MatMul(w1) + b1).Relu().MatMul(w2) + b2;
            var loss = -(labels * logits.LogSoftmax()).Sum() / 64.0;
            var onehot = new double[64 * 10];
            var classes = Tensor.RandomUniform(3, 64).ToDoubleArray();
            for (var i = 0; i < 64; i++) onehot[i * 10 + (int)(classes[i] * 10)] = 1;
            var scaled = (int seed, int rows, int cols, double scale) =>
                Cast(Tensor.FromArray(Tensor.RandomNormal(seed, rows, cols).ToDoubleArray().Select(v => v * scale).ToArray(), [rows, cols]), dtype);
            var (outputs, inputs) = ValueAndGradient(loss,
                (w1, scaled(1, 784, 256, Math.Sqrt(2.0 / 784))), (b1, Cast(Tensor.Zeros(256), dtype)),
                (w2, scaled(2, 256, 10, Math.Sqrt(2.0 / 256))), (b2, Cast(Tensor.Zeros(10), dtype)));
            inputs["X"] = Cast(Tensor.RandomNormal(0, 64, 784), dtype);
            inputs["Y"] = Cast(Tensor.FromArray(onehot, [64, 10]), dtype);
            return (outputs, inputs);
        }),
        new("chain1000", "y = x = linspace(-1, 1, 1000); 1000 times y = y + 0.001*sin(y)*y; f = sum(y)", dtype =>
        {
            var x = Expr.Input("x", dtype, 1000);
            var y = x;
            for (var i = 0; i < 1000; i++) y += 0.001 * y.Sin() * y;
            return ValueAndGradient(y.Sum(), (x, Cast(Tensor.Linspace(-1, 1, 1000), dtype)));
        }),
        new("hvp10k", "f = sum(x^4) + sum(tanh(x))^2; value and Hessian-vector product with v = ones, x = linspace(-1, 1, 1e4)", dtype =>
        {
            var x = Expr.Input("x", dtype, 10_000);
            var f = x.Pow(4).Sum() + x.Tanh().Sum().Square();
            var g = f.Grad(x)[x];
            var hv = g.Sum().Grad(x)[x]; // v = ones: H·1 is the gradient of Σ g
            return ([f, hv], new Dictionary<string, Tensor> { ["x"] = Cast(Tensor.Linspace(-1, 1, 10_000), dtype) });
        }),
    ];

    /// <summary>The <c>bench</c> command.</summary>
    /// <param name="output">Standard output.</param>
    /// <param name="error">Standard error.</param>
    public static Command Command(TextWriter output, TextWriter error)
    {
        var name = new Argument<string>("NAME") { Description = "The workload: " + string.Join(", ", Workloads.Select(w => w.Name)) };
        name.AcceptOnlyFromAmong([.. Workloads.Select(w => w.Name)]);
        var dtype = new Option<string>("--dtype") { Description = "float64 (default) or float32", DefaultValueFactory = _ => "float64" };
        dtype.AcceptOnlyFromAmong("float64", "float32");
        var reps = new Option<int>("--reps") { Description = "Timed repetitions after the warm-up (default 20)", DefaultValueFactory = _ => 20 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of untimed warm-up first (default 3: the JIT's tiers need it)", DefaultValueFactory = _ => 3.0 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with the peer harness's fields" };
        var command = new Command("bench", "Time one workload of the TorchSharp comparison: value and full gradient per repetition. "
            + "Prints the median and minimum time, the value, the gradient's norm and the bytes allocated per repetition.") { name, dtype, reps, warmup, json };
        command.SetAction(parse =>
        {
            var workload = Workloads.Single(w => w.Name == parse.GetValue(name));
            var type = parse.GetValue(dtype) == "float32" ? DType.Float32 : DType.Float64;
            var count = parse.GetValue(reps);
            if (count < 1)
            {
                error.WriteLine("funcdiff: --reps must be at least 1");
                return ExitCode.Usage;
            }
            var result = Run(workload, type, count, TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(warmup))));
            if (parse.GetValue(json)) output.WriteLine(Json.Of(result.WriteJson));
            else result.WriteText(output);
            return ExitCode.Ok;
        });
        return command;
    }

    private static Result Run(Workload workload, DType dtype, int reps, TimeSpan warmup)
    {
        var (outputs, inputs) = workload.Build(dtype);
        IReadOnlyList<Tensor> values = Expr.EvalMany(outputs, inputs);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < warmup) values = Expr.EvalMany(outputs, inputs);
        var times = new double[reps];
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < reps; i++)
        {
            var start = Stopwatch.GetTimestamp();
            values = Expr.EvalMany(outputs, inputs);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        var perOp = (GC.GetAllocatedBytesForCurrentThread() - allocated) / reps;
        Array.Sort(times);
        var median = reps % 2 == 1 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
        var norm = Math.Sqrt(values.Skip(1).Sum(g => g.ToDoubleArray().Sum(v => v * v)));
        return new Result(workload.Name, dtype, median, times[0], reps, values[0].ToScalar(), norm, perOp);
    }

    private sealed record Result(string Name, DType DType, double MedianMs, double MinMs, int Reps, double Value, double GradNorm, long AllocatedBytesPerOp) : IReport
    {
        public int ExitCode => Cli.ExitCode.Ok;

        private string DTypeName => DType == DType.Float32 ? "float32" : "float64";

        public void WriteText(TextWriter output) =>
            output.WriteLine($"{Name} ({DTypeName}): median {MedianMs:F3} ms, min {MinMs:F3} ms over {Reps} repetitions; value {Value:G9}, gradient norm {GradNorm:G9}, {AllocatedBytesPerOp} bytes allocated per repetition");

        public void WriteJson(System.Text.Json.Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            writer.WriteString("name", Name);
            writer.WriteString("dtype", DTypeName);
            writer.WriteNumber("median_ms", Math.Round(MedianMs, 4));
            writer.WriteNumber("min_ms", Math.Round(MinMs, 4));
            writer.WriteNumber("reps", Reps);
            Json.Number(writer, "value", Value);
            Json.Number(writer, "grad_norm", GradNorm);
            writer.WriteNumber("allocated_bytes_per_op", AllocatedBytesPerOp);
            writer.WriteEndObject();
        }
    }
}
