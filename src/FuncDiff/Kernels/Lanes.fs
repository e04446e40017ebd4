/// Span drivers for kernels written twice per float type, as a vector form and a scalar form that perform
/// the same IEEE operations (explicit fused multiply-adds, never a product and a sum the JIT could contract
/// in one tier and not another): whole vectors, then the tail element by element, so an element's result
/// does not depend on its position, the span's length, the vector width (Kernels/Vectors.fs: 512, 256 or
/// 128 bits, the widest the machine accelerates) or the JIT tier. float32 has forms of its own, in float32
/// lanes (twice as many per vector as float64), never widened to float64.
module internal FuncDiff.Core.Kernels.Lanes

open System
open System.Runtime.Intrinsics

module V = FuncDiff.Core.Kernels.Vectors

/// Whole vectors of like's width through vector, then the tail element by element through scalar.
let inline private runAt (like: ^V) ([<InlineIfLambda>] vector: ^V -> ^V) ([<InlineIfLambda>] scalar: 'T -> 'T) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    let w = V.count like
    let mutable i = 0
    while i <= x.Length - w do
        V.store (vector (V.load like x i)) y i
        i <- i + w
    while i < x.Length do
        y[i] <- scalar x[i]
        i <- i + 1

/// At the widest accelerated width of 512, 256 and 128 bits, else element by element.
let inline private run (wide: ^W) ([<InlineIfLambda>] vector512: ^W -> ^W) (narrow: ^N) ([<InlineIfLambda>] vector256: ^N -> ^N) (least: ^L) ([<InlineIfLambda>] vector128: ^L -> ^L) ([<InlineIfLambda>] scalar: 'T -> 'T) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    if V.Width.Wide then runAt wide vector512 scalar x y
    elif V.Width.Narrow then runAt narrow vector256 scalar x y
    elif V.Width.Least then runAt least vector128 scalar x y
    else
        for i in 0 .. x.Length - 1 do y[i] <- scalar x[i]

/// y = f x for float64 or float32 spans of one length, f given by its vector forms at the three widths (one
/// `inline` generic function, passed once for each) and its scalar form, for each float type.
let inline apply<'T> (name: string) ([<InlineIfLambda>] wide64: Vector512<float> -> Vector512<float>) ([<InlineIfLambda>] narrow64: Vector256<float> -> Vector256<float>) ([<InlineIfLambda>] least64: Vector128<float> -> Vector128<float>) ([<InlineIfLambda>] scalar64: float -> float) ([<InlineIfLambda>] wide32: Vector512<float32> -> Vector512<float32>) ([<InlineIfLambda>] narrow32: Vector256<float32> -> Vector256<float32>) ([<InlineIfLambda>] least32: Vector128<float32> -> Vector128<float32>) ([<InlineIfLambda>] scalar32: float32 -> float32) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    if x.Length <> y.Length then invalidArg "y" (sprintf "%s kernel: %d inputs for %d results" name x.Length y.Length)
    if V.is<'T, float> then run Vector512<float>.Zero wide64 Vector256<float>.Zero narrow64 Vector128<float>.Zero least64 scalar64 (V.readAs<'T, float> x) (V.writeAs<'T, float> y)
    elif V.is<'T, float32> then run Vector512<float32>.Zero wide32 Vector256<float32>.Zero narrow32 Vector128<float32>.Zero least32 scalar32 (V.readAs<'T, float32> x) (V.writeAs<'T, float32> y)
    else invalidOp (sprintf "%s kernel has no %s implementation" name typeof<'T>.Name)
