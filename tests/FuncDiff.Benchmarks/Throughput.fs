/// A summary column giving a matrix product's throughput, 2·n·k·m floating-point operations over
/// the mean time, so results read against the machine's FMA peak.
module FuncDiff.Benchmarks.Throughput

open BenchmarkDotNet.Columns
open BenchmarkDotNet.Reports
open BenchmarkDotNet.Running

/// n, k, m from a shape parameter written "NxKxM".
let dims (shape: string) =
    match shape.Split 'x' |> Array.map int with
    | [| n; k; m |] -> n, k, m
    | _ -> invalidArg "shape" (sprintf "expected NxKxM, got %s" shape)

type GFlopsColumn() =
    let value (summary: Summary) (case: BenchmarkCase) =
        match summary[case] with
        | null -> "-"
        | report when isNull report.ResultStatistics -> "-"
        | report ->
            let n, k, m = dims (string case.Parameters["Shape"])
            sprintf "%.1f" (2.0 * float n * float k * float m / report.ResultStatistics.Mean)
    interface IColumn with
        member _.Id = "GFlops"
        member _.ColumnName = "GFLOP/s"
        member _.AlwaysShow = true
        member _.Category = ColumnCategory.Custom
        member _.PriorityInCategory = 0
        member _.IsNumeric = true
        member _.UnitType = UnitType.Dimensionless
        member _.Legend = "2·n·k·m floating-point operations per nanosecond of mean time"
        member _.IsAvailable _ = true
        member _.IsDefault(_, _) = false
        member _.GetValue(summary, case) = value summary case
        member _.GetValue(summary, case, _) = value summary case
