/// Span drivers for float64 kernels written twice, as a vector form and a scalar form that perform the
/// same IEEE operations (explicit fused multiply-adds, never a product and a sum the JIT could contract
/// in one tier and not another): whole vectors, then the tail element by element, so an element's
/// result does not depend on its position, the span's length or the JIT tier. float32 is computed in
/// float64 and rounded once.
module internal FuncDiff.Core.Kernels.Lanes

open System
open System.Numerics
open System.Runtime.CompilerServices
open System.Runtime.InteropServices

let inline run64 ([<InlineIfLambda>] vector: Vector<float> -> Vector<float>) ([<InlineIfLambda>] scalar: float -> float) (x: ReadOnlySpan<float>) (y: Span<float>) =
    let w = Vector<float>.Count
    let mutable i = 0
    if Vector.IsHardwareAccelerated then
        while i <= x.Length - w do
            (vector (Vector<float>(x.Slice(i, w)))).CopyTo(y.Slice(i, w))
            i <- i + w
    while i < x.Length do
        y[i] <- scalar x[i]
        i <- i + 1

let inline run32 ([<InlineIfLambda>] vector: Vector<float> -> Vector<float>) ([<InlineIfLambda>] scalar: float -> float) (x: ReadOnlySpan<float32>) (y: Span<float32>) =
    let w = Vector<float32>.Count
    let mutable i = 0
    if Vector.IsHardwareAccelerated then
        let mutable lo = Vector<float>.Zero
        let mutable hi = Vector<float>.Zero
        while i <= x.Length - w do
            Vector.Widen(Vector<float32>(x.Slice(i, w)), &lo, &hi)
            Vector.Narrow(vector lo, vector hi).CopyTo(y.Slice(i, w))
            i <- i + w
    while i < x.Length do
        y[i] <- float32 (scalar (float x[i]))
        i <- i + 1

let readAs<'T, 'U> (x: ReadOnlySpan<'T>) : ReadOnlySpan<'U> =
    let r = &MemoryMarshal.GetReference x
    MemoryMarshal.CreateReadOnlySpan<'U>(&Unsafe.As<'T, 'U>(&Unsafe.AsRef<'T>(&r)), x.Length)

let writeAs<'T, 'U> (x: Span<'T>) : Span<'U> =
    MemoryMarshal.CreateSpan<'U>(&Unsafe.As<'T, 'U>(&MemoryMarshal.GetReference x), x.Length)

/// y = f x for float64 or float32 spans of one length, f given by its vector and scalar forms.
let inline apply<'T> (name: string) ([<InlineIfLambda>] vector: Vector<float> -> Vector<float>) ([<InlineIfLambda>] scalar: float -> float) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    if x.Length <> y.Length then invalidArg "y" (sprintf "%s kernel: %d inputs for %d results" name x.Length y.Length)
    if typeof<'T> = typeof<float> then run64 vector scalar (readAs<'T, float> x) (writeAs<'T, float> y)
    elif typeof<'T> = typeof<float32> then run32 vector scalar (readAs<'T, float32> x) (writeAs<'T, float32> y)
    else invalidOp (sprintf "%s kernel has no %s implementation" name typeof<'T>.Name)
