/// Matrix products through the kernel entry points: the 512³ GEMM, the MLP's forward shapes, and the
/// transposed products its backward pass needs.
module FuncDiff.Benchmarks.MatMulBenchmarks

open BenchmarkDotNet.Attributes
open BenchmarkDotNet.Configs
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Kernels

/// The GFLOP/s column, added to the default configuration for the matrix products only (the other
/// benchmarks have no shape to count operations from).
type ThroughputConfig() as this =
    inherit ManualConfig()
    do this.AddColumn(Throughput.GFlopsColumn()) |> ignore

[<Config(typeof<ThroughputConfig>)>]
type MatMul() =
    let mutable a = Unchecked.defaultof<Tensor>
    let mutable b = Unchecked.defaultof<Tensor>
    let mutable out = Unchecked.defaultof<Tensor>
    let mutable aDims = [||]
    let mutable bDims = [||]

    /// n x k x m: C[n, m] = A[n, k] · B[k, m].
    [<Params("512x512x512", "64x784x256", "64x256x10")>]
    member val Shape = "512x512x512" with get, set

    [<Params("float64", "float32")>]
    member val DType = "float64" with get, set

    /// AB: C = A·B; AtB: C = Aᵀ·B with A stored [k, n]; ABt: C = A·Bᵀ with B stored [m, k]. The
    /// transposed operands are read in place, as the derivative rules of matmul need them.
    [<Params("AB", "AtB", "ABt")>]
    member val Layout = "AB" with get, set

    /// 1: one thread, to compare with the one-core FMA peak; 2: as plans run products of 2²¹
    /// multiply-adds or more, split between two threads.
    [<Params(1, 2)>]
    member val Threads = 2 with get, set

    [<GlobalSetup>]
    member this.Setup() =
        let n, k, m = Throughput.dims this.Shape
        let dtype = if this.DType = "float32" then DType.Float32 else DType.Float64
        aDims <- if this.Layout = "AtB" then [| k; n |] else [| n; k |]
        bDims <- if this.Layout = "ABt" then [| m; k |] else [| k; m |]
        a <- Tensor.randn 1 aDims |> Tensor.cast dtype
        b <- Tensor.randn 2 bDims |> Tensor.cast dtype
        out <- Tensor.Empty(Shape.Of [| n; m |], dtype)

    [<Benchmark>]
    member this.Product() =
        MatMul.matmulVia MatMul.Path.Best (this.Threads = 2) MatMul.StrongZero.Neither (this.Layout = "AtB") a aDims (this.Layout = "ABt") b bDims out
