namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.Linq;

/// <summary>
/// The workloads of the side-by-side comparison with the TorchSharp peer, as <c>../shared/peers/README.md</c> defines
/// them: same definitions, same inputs. <c>funcdiff bench</c> times them, and so do the BenchmarkDotNet benchmarks
/// (tests/FuncDiff.Benchmarks, which this assembly lets see its internals), so both measure the same thing.
/// </summary>
internal static class Workloads
{
    /// <summary>A workload: what the peer harness calls it, what it computes, and how to build it in a dtype.</summary>
    /// <param name="Name">The peer harness's name.</param>
    /// <param name="Definition">What it computes, as the peer's list prints it.</param>
    /// <param name="Build">The expressions and inputs in a dtype (float64 or float32).</param>
    internal sealed record Workload(string Name, string Definition, Func<DType, Instance> Build);

    /// <summary>A workload built in one dtype.</summary>
    /// <param name="Value">The function, a scalar.</param>
    /// <param name="Derivatives">What the peer computes besides the value: the gradient with respect to each input
    /// (<c>hvp10k</c>: the Hessian-vector product).</param>
    /// <param name="Inputs">A tensor for each input.</param>
    internal sealed record Instance(Expr Value, IReadOnlyList<Expr> Derivatives, IReadOnlyDictionary<string, Tensor> Inputs)
    {
        /// <summary>What one repetition of the peer harness computes: the value first, then the derivatives.</summary>
        public Expr[] Outputs => [Value, .. Derivatives];

        /// <summary>The function alone, without any derivative: the denominator of the gradient-to-function ratio.</summary>
        public Expr[] FunctionOutputs => [Value];
    }

    private static Tensor Cast(Tensor t, DType dtype) => dtype == DType.Float64 ? t : t.Cast(dtype);

    private static Instance ValueAndGradient(Expr loss, params (Expr Input, Tensor Value)[] inputs)
    {
        var grads = loss.Grad([.. inputs.Select(i => i.Input)]);
        return new Instance(loss, [.. grads.Values], inputs.ToDictionary(i => i.Input.ToString(), i => i.Value));
    }

    private static Instance Elementwise(int n, DType dtype)
    {
        var x = Expr.Input("x", dtype, n);
        var loss = (x.Tanh() * (-x.Square()).Exp() + (1.0 + x.Square()).Log()).Sum();
        return ValueAndGradient(loss, (x, Cast(Tensor.Linspace(-3, 3, n), dtype)));
    }

    /// <summary>The seven workloads, in the peer's order.</summary>
    public static readonly IReadOnlyList<Workload> All =
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
            var built = ValueAndGradient(loss,
                (w1, scaled(1, 784, 256, Math.Sqrt(2.0 / 784))), (b1, Cast(Tensor.Zeros(256), dtype)),
                (w2, scaled(2, 256, 10, Math.Sqrt(2.0 / 256))), (b2, Cast(Tensor.Zeros(10), dtype)));
            return built with
            {
                Inputs = new Dictionary<string, Tensor>(built.Inputs)
                {
                    ["X"] = Cast(Tensor.RandomNormal(0, 64, 784), dtype),
                    ["Y"] = Cast(Tensor.FromArray(onehot, [64, 10]), dtype),
                },
            };
        }),
        new("chain1000", "y = x = linspace(-1, 1, 1000); 1000 times y = y + sin(y)*y*0.001; f = sum(y)", dtype =>
        {
            var x = Expr.Input("x", dtype, 1000);
            var y = x;
            // In the peer's order, (sin(y)·y)·0.001, so that values compare to the last bit.
            for (var i = 0; i < 1000; i++) y += y.Sin() * y * 0.001;
            return ValueAndGradient(y.Sum(), (x, Cast(Tensor.Linspace(-1, 1, 1000), dtype)));
        }),
        new("hvp10k", "f = sum(x^4) + sum(tanh(x))^2; value and Hessian-vector product with v = ones, x = linspace(-1, 1, 1e4)", dtype =>
        {
            var x = Expr.Input("x", dtype, 10_000);
            var f = x.Pow(4).Sum() + x.Tanh().Sum().Square();
            var g = f.Grad(x)[x];
            var hv = g.Sum().Grad(x)[x]; // v = ones: H·1 is the gradient of Σ g
            return new Instance(f, [hv], new Dictionary<string, Tensor> { ["x"] = Cast(Tensor.Linspace(-1, 1, 10_000), dtype) });
        }),
    ];
}
