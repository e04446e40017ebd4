/// The lane kernels (exp, log, tanh, sin, cos) on 4,096 elements, at the widest vectors the machine accelerates
/// and at 256 bits (Kernels/Vectors.fs), so the gain of 512-bit lanes reads per kernel and dtype.
module FuncDiff.Benchmarks.LaneBenchmarks

open System
open BenchmarkDotNet.Attributes
open FuncDiff.Core.Kernels

/// y = f x for one kernel over spans of 'T.
let private kernel<'T when 'T :> Numerics.IFloatingPointIeee754<'T> and 'T: unmanaged> (name: string) (x: 'T[]) (y: 'T[]) : unit -> unit =
    match name with
    | "exp" -> fun () -> Exponential.exp (ReadOnlySpan x) (Span y)
    | "log" -> fun () -> Logarithm.log (ReadOnlySpan x) (Span y)
    | "tanh" -> fun () -> Hyperbolic.tanh (ReadOnlySpan x) (Span y)
    | "sin" -> fun () -> Trig.sin.Run(ReadOnlySpan x, Span y)
    | "cos" -> fun () -> Trig.cos.Run(ReadOnlySpan x, Span y)
    | other -> invalidArg "name" other

type LaneKernels() =
    let mutable run: unit -> unit = ignore

    [<Params("exp", "log", "tanh", "sin", "cos")>]
    member val Kernel = "exp" with get, set

    [<Params("float64", "float32")>]
    member val DType = "float64" with get, set

    /// "widest": 512 bits where AVX-512 is accelerated; "256": the 256-bit forms on any machine with AVX2.
    [<Params("widest", "256")>]
    member val Width = "widest" with get, set

    [<GlobalSetup>]
    member this.Setup() =
        // Each kernel's usual range: exp on [-80, 80], log on [10⁻³, 10³], tanh on [-10, 10], sin and cos on [-100, 100].
        let rng = Random 1
        let draw () =
            match this.Kernel with
            | "exp" -> 160.0 * rng.NextDouble() - 80.0
            | "log" -> Math.Pow(10.0, 6.0 * rng.NextDouble() - 3.0)
            | "tanh" -> 20.0 * rng.NextDouble() - 10.0
            | _ -> 200.0 * rng.NextDouble() - 100.0
        let xs = Array.init 4096 (fun _ -> draw ())
        let call =
            if this.DType = "float32" then kernel this.Kernel (Array.map float32 xs) (Array.zeroCreate 4096)
            else kernel this.Kernel xs (Array.zeroCreate 4096)
        run <- if this.Width = "256" then (fun () -> Vectors.Width.UpTo(256, call)) else call

    [<Benchmark>]
    member _.Run() = run ()
