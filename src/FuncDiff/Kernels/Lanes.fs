/// Span drivers for kernels written twice per float type, as a vector form and a scalar form that perform
/// the same IEEE operations (explicit fused multiply-adds, never a product and a sum the JIT could contract
/// in one tier and not another): whole vectors, then the tail element by element, so an element's result
/// does not depend on its position, the span's length or the JIT tier. float32 has forms of its own, in
/// float32 lanes (twice as many per vector as float64), never widened to float64.
module internal FuncDiff.Core.Kernels.Lanes

open System
open System.Numerics
open System.Runtime.CompilerServices
open System.Runtime.InteropServices

let inline private run<'T when 'T: struct and 'T: (new: unit -> 'T) and 'T :> ValueType> ([<InlineIfLambda>] vector: Vector<'T> -> Vector<'T>) ([<InlineIfLambda>] scalar: 'T -> 'T) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    let w = Vector<'T>.Count
    let mutable i = 0
    if Vector.IsHardwareAccelerated then
        while i <= x.Length - w do
            (vector (Vector<'T>(x.Slice(i, w)))).CopyTo(y.Slice(i, w))
            i <- i + w
    while i < x.Length do
        y[i] <- scalar x[i]
        i <- i + 1

let readAs<'T, 'U> (x: ReadOnlySpan<'T>) : ReadOnlySpan<'U> =
    let r = &MemoryMarshal.GetReference x
    MemoryMarshal.CreateReadOnlySpan<'U>(&Unsafe.As<'T, 'U>(&Unsafe.AsRef<'T>(&r)), x.Length)

let writeAs<'T, 'U> (x: Span<'T>) : Span<'U> =
    MemoryMarshal.CreateSpan<'U>(&Unsafe.As<'T, 'U>(&MemoryMarshal.GetReference x), x.Length)

/// y = f x for float64 or float32 spans of one length, f given by its vector and scalar forms for each.
let inline apply<'T> (name: string) ([<InlineIfLambda>] vector64: Vector<float> -> Vector<float>) ([<InlineIfLambda>] scalar64: float -> float) ([<InlineIfLambda>] vector32: Vector<float32> -> Vector<float32>) ([<InlineIfLambda>] scalar32: float32 -> float32) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    if x.Length <> y.Length then invalidArg "y" (sprintf "%s kernel: %d inputs for %d results" name x.Length y.Length)
    if typeof<'T> = typeof<float> then run vector64 scalar64 (readAs<'T, float> x) (writeAs<'T, float> y)
    elif typeof<'T> = typeof<float32> then run vector32 scalar32 (readAs<'T, float32> x) (writeAs<'T, float32> y)
    else invalidOp (sprintf "%s kernel has no %s implementation" name typeof<'T>.Name)
