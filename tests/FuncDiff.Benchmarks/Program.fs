module FuncDiff.Benchmarks.Program

open BenchmarkDotNet.Running

/// dotnet run -c Release --project tests/FuncDiff.Benchmarks -- --filter '*'
[<EntryPoint>]
let main argv =
    BenchmarkSwitcher.FromAssembly(typeof<MatMulBenchmarks.MatMul>.Assembly).Run(argv) |> ignore
    0
