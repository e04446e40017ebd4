module FuncDiff.Benchmarks.Program

open BenchmarkDotNet.Running

/// dotnet run -c Release --project tests/FuncDiff.Benchmarks -- --filter '*' --job short --inProcess
/// (a few minutes; without --job short, BenchmarkDotNet's default job takes about ten)
[<EntryPoint>]
let main argv =
    BenchmarkSwitcher.FromAssembly(typeof<MatMulBenchmarks.MatMul>.Assembly).Run(argv, MatMulBenchmarks.ThroughputConfig()) |> ignore
    0
