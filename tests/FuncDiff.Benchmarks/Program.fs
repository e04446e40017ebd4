module FuncDiff.Benchmarks.Program

open BenchmarkDotNet.Running

/// dotnet run -c Release --project tests/FuncDiff.Benchmarks -- --filter '*'
/// (a short in-process job unless the command line names another, e.g. --job medium)
[<EntryPoint>]
let main argv =
    BenchmarkSwitcher.FromAssembly(typeof<MatMulBenchmarks.MatMul>.Assembly).Run(argv, MatMulBenchmarks.ShortConfig()) |> ignore
    0
