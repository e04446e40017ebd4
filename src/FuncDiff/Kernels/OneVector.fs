/// Kernels on one SIMD vector, for a fused group that runs as one loop over registers (Compile/Loops.fs):
/// each is the vector form its span kernel runs, so an element gets the same bits either way. They are
/// `inline` functions whose operations resolve at compile time, so each becomes a method here for each
/// vector type it runs on (a loop is built from method calls), inlined into the loop by the JIT.
module internal FuncDiff.Core.Kernels.OneVector

open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open System.Runtime.Intrinsics

module V = FuncDiff.Core.Kernels.Vectors

/// mulNoNan lane by lane: +0 where y is ±0, else x·y (Kernels/Elementwise.fs's mulNoNan).
let inline private mulNoNan (x: ^V) (y: ^V) (zero: 'E) =
    let zero = V.splat x zero
    V.select (V.equal y zero) zero (x * y)

/// 1/x lane by lane, as TensorPrimitives.Reciprocal computes it (one correctly rounded division).
let inline private reciprocal (x: ^V) (one: 'E) = V.splat x one / x

/// sign lane by lane, as sign's kernel: 1 above 0, -1 below, +0 at ±0, NaN kept.
let inline private sign (x: ^V) (one: 'E) (zero: 'E) =
    let z = V.splat x zero
    let o = V.splat x one
    V.select (V.greater x z) o (V.select (V.less x z) (-o) (V.select (V.equal x z) z x))

/// Overloads by vector type, found by name when a loop is built (Primitives: each entry's `Lanes`).
[<AbstractClass; Sealed>]
type Calls =
    // Loads and stores without a bounds check each: a loop checks its arrays once per call
    // (Evaluation/Execute.fs), and a checked access per vector made a loop of cheap calls instruction-bound.
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Load512<'T>(a: 'T[], i: int) = Vector512.LoadUnsafe(&MemoryMarshal.GetArrayDataReference a, unativeint i)
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Load256<'T>(a: 'T[], i: int) = Vector256.LoadUnsafe(&MemoryMarshal.GetArrayDataReference a, unativeint i)
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Load128<'T>(a: 'T[], i: int) = Vector128.LoadUnsafe(&MemoryMarshal.GetArrayDataReference a, unativeint i)
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Store512<'T>(v: Vector512<'T>, a: 'T[], i: int) = Vector512.StoreUnsafe(v, &MemoryMarshal.GetArrayDataReference a, unativeint i)
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Store256<'T>(v: Vector256<'T>, a: 'T[], i: int) = Vector256.StoreUnsafe(v, &MemoryMarshal.GetArrayDataReference a, unativeint i)
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Store128<'T>(v: Vector128<'T>, a: 'T[], i: int) = Vector128.StoreUnsafe(v, &MemoryMarshal.GetArrayDataReference a, unativeint i)
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Exp(x: Vector512<float>) = Exponential.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Exp(x: Vector256<float>) = Exponential.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Exp(x: Vector128<float>) = Exponential.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Exp(x: Vector512<float32>) = Exponential.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Exp(x: Vector256<float32>) = Exponential.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Exp(x: Vector128<float32>) = Exponential.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Log(x: Vector512<float>) = Logarithm.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Log(x: Vector256<float>) = Logarithm.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Log(x: Vector128<float>) = Logarithm.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Log(x: Vector512<float32>) = Logarithm.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Log(x: Vector256<float32>) = Logarithm.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Log(x: Vector128<float32>) = Logarithm.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Tanh(x: Vector512<float>) = Hyperbolic.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Tanh(x: Vector256<float>) = Hyperbolic.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Tanh(x: Vector128<float>) = Hyperbolic.vector x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Tanh(x: Vector512<float32>) = Hyperbolic.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Tanh(x: Vector256<float32>) = Hyperbolic.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Tanh(x: Vector128<float32>) = Hyperbolic.vector32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member MulNoNan(x: Vector512<float>, y) = mulNoNan x y 0.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member MulNoNan(x: Vector256<float>, y) = mulNoNan x y 0.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member MulNoNan(x: Vector128<float>, y) = mulNoNan x y 0.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member MulNoNan(x: Vector512<float32>, y) = mulNoNan x y 0.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member MulNoNan(x: Vector256<float32>, y) = mulNoNan x y 0.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member MulNoNan(x: Vector128<float32>, y) = mulNoNan x y 0.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Reciprocal(x: Vector512<float>) = reciprocal x 1.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Reciprocal(x: Vector256<float>) = reciprocal x 1.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Reciprocal(x: Vector128<float>) = reciprocal x 1.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Reciprocal(x: Vector512<float32>) = reciprocal x 1.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Reciprocal(x: Vector256<float32>) = reciprocal x 1.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Reciprocal(x: Vector128<float32>) = reciprocal x 1.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sin(x: Vector512<float>) = Trig.vector false x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sin(x: Vector256<float>) = Trig.vector false x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sin(x: Vector128<float>) = Trig.vector false x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sin(x: Vector512<float32>) = Trig.vector32 false x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sin(x: Vector256<float32>) = Trig.vector32 false x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sin(x: Vector128<float32>) = Trig.vector32 false x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Cos(x: Vector512<float>) = Trig.vector true x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Cos(x: Vector256<float>) = Trig.vector true x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Cos(x: Vector128<float>) = Trig.vector true x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Cos(x: Vector512<float32>) = Trig.vector32 true x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Cos(x: Vector256<float32>) = Trig.vector32 true x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Cos(x: Vector128<float32>) = Trig.vector32 true x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member SinCos(x: Vector512<float>) = Trig.vectorBoth x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member SinCos(x: Vector256<float>) = Trig.vectorBoth x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member SinCos(x: Vector128<float>) = Trig.vectorBoth x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member SinCos(x: Vector512<float32>) = Trig.vectorBoth32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member SinCos(x: Vector256<float32>) = Trig.vectorBoth32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member SinCos(x: Vector128<float32>) = Trig.vectorBoth32 x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sqrt(x: Vector512<float>) = Vector512.Sqrt x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sqrt(x: Vector256<float>) = Vector256.Sqrt x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sqrt(x: Vector128<float>) = Vector128.Sqrt x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sqrt(x: Vector512<float32>) = Vector512.Sqrt x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sqrt(x: Vector256<float32>) = Vector256.Sqrt x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sqrt(x: Vector128<float32>) = Vector128.Sqrt x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Abs(x: Vector512<float>) = Vector512.Abs x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Abs(x: Vector256<float>) = Vector256.Abs x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Abs(x: Vector128<float>) = Vector128.Abs x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Abs(x: Vector512<float32>) = Vector512.Abs x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Abs(x: Vector256<float32>) = Vector256.Abs x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Abs(x: Vector128<float32>) = Vector128.Abs x
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sign(x: Vector512<float>) = sign x 1.0 0.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sign(x: Vector256<float>) = sign x 1.0 0.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sign(x: Vector128<float>) = sign x 1.0 0.0
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sign(x: Vector512<float32>) = sign x 1.0f 0.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sign(x: Vector256<float32>) = sign x 1.0f 0.0f
    [<MethodImpl(MethodImplOptions.AggressiveInlining)>] static member Sign(x: Vector128<float32>) = sign x 1.0f 0.0f
