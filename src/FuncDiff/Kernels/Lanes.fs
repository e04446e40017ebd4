/// The span driver of the float64 kernels that own their rounding (Hyperbolic, Logarithm): whole vectors
/// through the kernel's lane form, the tail through its scalar form, which runs the same IEEE operations,
/// so an element's result does not depend on where it sits. float32 is widened to float64, computed
/// there and rounded once.
module internal FuncDiff.Core.Kernels.Lanes

open System
open System.Numerics
open System.Runtime.CompilerServices
open System.Runtime.InteropServices

let inline private run64 ([<InlineIfLambda>] vector: Vector<float> -> Vector<float>) ([<InlineIfLambda>] scalar: float -> float) (x: ReadOnlySpan<float>) (y: Span<float>) =
    let w = Vector<float>.Count
    let mutable i = 0
    if Vector.IsHardwareAccelerated then
        while i <= x.Length - w do
            (vector (Vector<float>(x.Slice(i, w)))).CopyTo(y.Slice(i, w))
            i <- i + w
    while i < x.Length do
        y[i] <- scalar x[i]
        i <- i + 1

let inline private run32 ([<InlineIfLambda>] vector: Vector<float> -> Vector<float>) ([<InlineIfLambda>] scalar: float -> float) (x: ReadOnlySpan<float32>) (y: Span<float32>) =
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

/// y = f x for float64 or float32 spans of one length (y may be x), f given by its lane and scalar forms.
let inline map<'T> (name: string) ([<InlineIfLambda>] vector: Vector<float> -> Vector<float>) ([<InlineIfLambda>] scalar: float -> float) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    if typeof<'T> = typeof<float> then run64 vector scalar (readAs<'T, float> x) (writeAs<'T, float> y)
    elif typeof<'T> = typeof<float32> then run32 vector scalar (readAs<'T, float32> x) (writeAs<'T, float32> y)
    else invalidOp (sprintf "%s kernel has no %s implementation" name typeof<'T>.Name)
