module FuncDiff.Benchmarks.Program

open BenchmarkDotNet.Running

/// dotnet run -c Release --project tests/FuncDiff.Benchmarks -- --filter '*MatMul*' --job short --inProcess
/// (a few minutes; without --job short, BenchmarkDotNet's default job takes about ten); the workloads of the
/// TorchSharp comparison are '*WorkloadBenchmarks.Gradient.*' and '*GradientToFunction*' (docs/performance.md).
[<EntryPoint>]
let main argv =
    BenchmarkSwitcher.FromAssembly(typeof<MatMulBenchmarks.MatMul>.Assembly).Run(argv) |> ignore
    0
