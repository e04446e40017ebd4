/// sin and cos over spans, SIMD and deterministic. x is reduced to r = |x| - n·π/2 (|r| ≤ π/4 + ε) in
/// double-word arithmetic with π/2 split into three parts, then sin r or cos r comes from a minimax
/// polynomial that takes the low word of r into account, chosen and signed by n mod 4. Every step is
/// one IEEE operation or an explicit fused multiply-add, each of which rounds once, exactly, on every
/// machine and at every JIT tier; a tail shorter than a vector runs through the same vector code on a
/// padded copy, so an element's result never depends on its position in the span, on the span's length,
/// on the vector width or on the tier. float32 runs the same steps in float32 lanes (π/2 split into three
/// floats, shorter polynomials, and r² and r³ carried with their rounding errors) for |x| ≤ Threshold32.
/// Where the reduction is not exact enough (|x| > Threshold, float32: > Threshold32), and at NaN and ±∞,
/// the element goes to Math.Sin / Math.Cos (float32: to the float64 result, rounded once), which give NaN
/// at NaN and ±∞.
module internal FuncDiff.Core.Kernels.Trig

// The tail's padded copy lives on the stack, so a call allocates nothing.
#nowarn "9"

open System
open System.Numerics
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open Microsoft.FSharp.NativeInterop
open FuncDiff
open FuncDiff.Core.Kernels.Elementwise

module V = FuncDiff.Core.Kernels.Vectors

/// 2³⁰: the largest |x| reduced here. Below it n < 2³⁰, and the reduced r is off by less than
/// 2⁻¹⁰⁶·|r| + 2⁻¹²⁹ (the rounding of its low word, and the π/2 bits beyond the three parts): far below
/// an ulp of r even at the smallest |r| any double has (about 2⁻⁶¹, at an x far above 2³⁰).
[<Literal>]
let Threshold = 1073741824.0

// π/2 = A + B + C + about 5.6·10⁻⁵⁰, each part the nearest double to what the previous ones leave.
[<Literal>]
let private PiOver2A = 1.5707963267948966
[<Literal>]
let private PiOver2B = 6.123233995736766e-17
[<Literal>]
let private PiOver2C = -1.4973849048591698e-33
[<Literal>]
let private TwoOverPi = 0.6366197723675814
/// 1.5·2⁵²: adding it to a value below 2⁵¹ rounds that value to an integer held in the low mantissa bits.
[<Literal>]
let private Shifter = 6755399441055744.0

// Minimax coefficients on [-π/4, π/4] (those of fdlibm's kernels): sin r ≈ r + r³(S1 + r²S2 + … + r¹⁰S6)
// within 2⁻⁵⁷·⁸ relative, cos r ≈ 1 - r²/2 + r⁴(C1 + r²C2 + … + r¹⁰C6) within 2⁻⁵⁹·³.
[<Literal>]
let private S1 = -1.66666666666666324348e-01
[<Literal>]
let private S2 = 8.33333333332248946124e-03
[<Literal>]
let private S3 = -1.98412698298579493134e-04
[<Literal>]
let private S4 = 2.75573137070700676789e-06
[<Literal>]
let private S5 = -2.50507602534068634195e-08
[<Literal>]
let private S6 = 1.58969099521155010221e-10
[<Literal>]
let private C1 = 4.16666666666666019037e-02
[<Literal>]
let private C2 = -1.38888888888741095749e-03
[<Literal>]
let private C3 = 2.48015872894767294178e-05
[<Literal>]
let private C4 = -2.75573143513906633035e-07
[<Literal>]
let private C5 = 2.08757232129817482790e-09
[<Literal>]
let private C6 = -1.13596475577881948265e-11

/// For |x| ≤ Threshold: t, holding n = round(|x|·2/π) in its low bits, and sin r and cos r of the
/// reduced argument; other lanes are garbage, replaced by the caller.
let inline reduce (x: ^V) : struct (^V * ^V * ^V) =
    let inline c (k: float) = V.splat x k
    let ax = V.abs x
    // n = round(|x|·2/π), also held in t's low bits.
    let t = V.fma ax (c TwoOverPi) (c Shifter)
    let n = t - c Shifter
    // |x| - n·A is exact (both are multiples of A's last place and the difference is below 1); n·B is
    // split exactly into p + pe; the subtraction of p is made exact with its error se (two-sum).
    let r1 = V.fma (-n) (c PiOver2A) ax
    let p = n * c PiOver2B
    let pe = V.fma n (c PiOver2B) (-p)
    let s = r1 - p
    let b = s - r1
    let se = (r1 - (s - b)) - (p + b)
    let low = V.fma (-n) (c PiOver2C) (se - pe)
    // r = hi + lo, normalised (|low| is far below |s|).
    let hi = s + low
    let lo = low - (hi - s)
    let z = hi * hi
    // sin(hi + lo) ≈ hi - ((z(lo/2 - v·R) - lo) - v·S1), v = hi³ (fdlibm's arrangement).
    let sr = V.fma z (V.fma z (V.fma z (V.fma z (c S6) (c S5)) (c S4)) (c S3)) (c S2)
    let v = z * hi
    let sinR = hi - V.fma (-v) (c S1) (V.fma z (V.fma (-v) sr (c 0.5 * lo)) (-lo))
    // cos(hi + lo) ≈ w + (((1 - w) - z/2) + (z·R - hi·lo)), w = 1 - z/2 (the rounding of w recovered).
    let cr = z * V.fma z (V.fma z (V.fma z (V.fma z (V.fma z (c C6) (c C5)) (c C4)) (c C3)) (c C2)) (c C1)
    let hz = c 0.5 * z
    let w = c 1.0 - hz
    let cosR = w + (((c 1.0 - w) - hz) + V.fma z cr (-(hi * lo)))
    struct (t, sinR, cosR)

/// sin x (cosine = false) or cos x from what `reduce` gives for x.
let inline pick (cosine: bool) (x: ^V) (t: ^V) (sinR: ^V) (cosR: ^V) : ^V =
    // Quadrant q = n mod 4 (plus one for cos): odd quadrants take the other function, q ≥ 2 negates.
    let tb = V.bits t
    let inline i (k: int64) = V.splat tb k
    let q = tb + i (if cosine then 1L else 0L)
    let odd : ^V = V.ofBits (V.equal (q &&& i 1L) (i 1L))
    let chosen = V.select odd cosR sinR
    let negate = V.shiftLeft (q &&& i 2L) 62
    // sin is odd: sin x = sign(x)·sin |x|, which also keeps sin(-0) = -0.
    let sign = if cosine then negate else negate ^^^ (V.bits x &&& i Int64.MinValue)
    V.ofBits (V.bits chosen ^^^ sign)

/// The library function for the elements the reduction does not cover.
let library (cosine: bool) (x: float) = if cosine then Math.Cos x else Math.Sin x

/// One float64 result, as store64 gives it.
let one64 (cosine: bool) (x: float) =
    if Math.Abs x <= Threshold then
        let v = Vector256.Create x
        let struct (t, sinR, cosR) = reduce v
        (pick cosine v t sinR cosR).GetElement 0
    else library cosine x

// ---- float32 ----------------------------------------------------------------------------------------

/// 2²⁰: the largest |x| reduced in float32. Below it n < 2¹⁹·⁴, and r = hi + lo is off by less than
/// n·2⁻⁷¹ (the roundings of the low words) + n·2⁻⁷⁶ (the π/2 bits beyond the three parts), under 2⁻²⁷·⁸·|r|
/// since no float32 below 2²⁰ lies closer than n·2⁻⁴³·² to its multiple n·π/2 (the closest in each
/// binade, found by search). Float32's 2/π is 2⁻²⁴·⁶ off, so n may be one off where |x|·2/π is near a
/// half-integer and |r| reaches π/4 + 0.043, which the polynomials cover (fitted on [0, 0.83]).
/// Measured over every float32 below 2²¹: at most 0.62 ulp.
[<Literal>]
let Threshold32 = 1048576.0f

// π/2 = A + B + C + about 1.1·10⁻²³, each part the nearest float32 to what the previous ones leave.
[<Literal>]
let private PiOver2A32 = 1.5707963705062866f
[<Literal>]
let private PiOver2B32 = -4.371138828673793e-08f
[<Literal>]
let private PiOver2C32 = -1.7151245100058819e-15f
[<Literal>]
let private TwoOverPi32 = 0.6366197466850281f
/// 1.5·2²³: adding it to a value below 2²² rounds that value to an integer held in the low mantissa bits.
[<Literal>]
let private Shifter32 = 12582912.0f

// Minimax on [-0.83, 0.83]: sin r ≈ r + r³(T1 + r²T2 + r⁴T3 + r⁶T4) within 2⁻³⁶ relative, cos r ≈
// 1 - r²/2 + r⁴(D1 + r²D2 + r⁴D3) within 2⁻³¹.
[<Literal>]
let private T1 = -0.1666666716337204f
[<Literal>]
let private T2 = 0.008333328180015087f
[<Literal>]
let private T3 = -0.00019838767184410244f
[<Literal>]
let private T4 = 2.712899004109204e-06f
[<Literal>]
let private D1 = 0.04166664928197861f
[<Literal>]
let private D2 = -0.0013887350214645267f
[<Literal>]
let private D3 = 2.442467666696757e-05f

/// reduce in float32, for |x| ≤ Threshold32; other lanes are garbage, replaced by the caller.
let inline reduce32 (x: ^V) : struct (^V * ^V * ^V) =
    let inline c (k: float32) = V.splat x k
    let ax = V.abs x
    let t = V.fma ax (c TwoOverPi32) (c Shifter32)
    let n = t - c Shifter32
    // As in lanes: |x| - n·A is exact (a multiple of 2⁻²⁴ below 1), n·B = p + pe, s - p made exact.
    let r1 = V.fma (-n) (c PiOver2A32) ax
    let p = n * c PiOver2B32
    let pe = V.fma n (c PiOver2B32) (-p)
    let s = r1 - p
    let b = s - r1
    let se = (r1 - (s - b)) - (p + b)
    let low = V.fma (-n) (c PiOver2C32) (se - pe)
    let hi = s + low
    let lo = low - (hi - s)
    // z = hi² and v = hi³ with their rounding errors zl and ve: in float32 those roundings alone would
    // cost up to 0.3 ulp.
    let z = hi * hi
    let zl = V.fma hi hi (-z)
    let v = z * hi
    let ve = V.fma zl hi (V.fma z hi (-v))
    let sr = V.fma z (V.fma z (c T4) (c T3)) (c T2)
    let sinR = hi - V.fma (-v) (c T1) (V.fma (-ve) (c T1) (V.fma z (V.fma (-v) sr (c 0.5f * lo)) (-lo)))
    let cr = z * V.fma z (V.fma z (c D3) (c D2)) (c D1)
    let hz = c 0.5f * z
    let w = c 1.0f - hz
    let cosR = w + (((c 1.0f - w) - hz) + V.fma z cr (V.fma (c -0.5f) zl (-(hi * lo))))
    struct (t, sinR, cosR)

/// pick in float32.
let inline pick32 (cosine: bool) (x: ^V) (t: ^V) (sinR: ^V) (cosR: ^V) : ^V =
    let tb = V.bits t
    let inline i (k: int) = V.splat tb k
    let q = tb + i (if cosine then 1 else 0)
    let odd : ^V = V.ofBits (V.equal (q &&& i 1) (i 1))
    let chosen = V.select odd cosR sinR
    let negate = V.shiftLeft (q &&& i 2) 30
    let sign = if cosine then negate else negate ^^^ (V.bits x &&& i Int32.MinValue)
    V.ofBits (V.bits chosen ^^^ sign)

/// Whether every lane of v lies within ±limit (false at NaN).
let inline within (limit: ^V) (v: ^V) = V.all (V.atLeast limit (V.abs v))

/// What a pass stores: the sines or the cosines into its output, or both (cosines into a second output).
type private Results =
    | Sines = 0
    | Cosines = 1
    | Both = 2

/// One vector of float64 results from one reduction, stored at s[at..] (and c[at..] for Both); x's lanes
/// are passed in, as s may be x itself.
let inline private store64 (results: Results) (v: ^V) (s: Span<float>) (c: Span<float>) (at: int) =
    let cosines = if results = Results.Both then c else s
    let struct (t, sinR, cosR) = reduce v
    if results <> Results.Cosines then V.store (pick false v t sinR cosR) s at
    if results <> Results.Sines then V.store (pick true v t sinR cosR) cosines at
    if not (within (V.splat v Threshold) v) then
        for j in 0 .. V.count v - 1 do
            let e : float = V.lane v j
            if not (Math.Abs e <= Threshold) then
                if results <> Results.Cosines then s[at + j] <- library false e
                if results <> Results.Sines then cosines[at + j] <- library true e

/// The float32 form; an element past Threshold32 gets the float64 results rounded once.
let inline private store32 (results: Results) (v: ^V) (s: Span<float32>) (c: Span<float32>) (at: int) =
    let cosines = if results = Results.Both then c else s
    let struct (t, sinR, cosR) = reduce32 v
    if results <> Results.Cosines then V.store (pick32 false v t sinR cosR) s at
    if results <> Results.Sines then V.store (pick32 true v t sinR cosR) cosines at
    if not (within (V.splat v Threshold32) v) then
        for j in 0 .. V.count v - 1 do
            let e : float32 = V.lane v j
            if not (MathF.Abs e <= Threshold32) then
                if results <> Results.Cosines then s[at + j] <- float32 (one64 false (float e))
                if results <> Results.Sines then cosines[at + j] <- float32 (one64 true (float e))

/// r with the lanes past the reduction's limit (or NaN) replaced as store64 and store32 replace them: the
/// library's result, float32 the float64 result rounded once. Not inlined: the common path has no calls.
/// (The stores patch their spans after storing instead: built on this, they took chain1000 float64 from
/// 3.88 to 3.95 ms.)
[<MethodImpl(MethodImplOptions.NoInlining)>]
let patched<'V, 'T> (cosine: bool) (x: 'V) (r: 'V) : 'V =
    let mutable x = x
    let mutable r = r
    for j in 0 .. sizeof<'V> / sizeof<'T> - 1 do
        if V.is<'T, float> then
            let e = Unsafe.Add(&Unsafe.As<'V, float>(&x), j)
            if not (Math.Abs e <= Threshold) then Unsafe.Add(&Unsafe.As<'V, float>(&r), j) <- library cosine e
        else
            let e = Unsafe.Add(&Unsafe.As<'V, float32>(&x), j)
            if not (MathF.Abs e <= Threshold32) then Unsafe.Add(&Unsafe.As<'V, float32>(&r), j) <- float32 (one64 cosine (float e))
    r

/// sin x (cosine = false) or cos x of one float64 vector, lane for lane the span kernels' results.
let inline vector (cosine: bool) (x: ^V) : ^V =
    let struct (t, sinR, cosR) = reduce x
    let r = pick cosine x t sinR cosR
    if within (V.splat x Threshold) x then r else patched<_, float> cosine x r

/// The float32 form.
let inline vector32 (cosine: bool) (x: ^V) : ^V =
    let struct (t, sinR, cosR) = reduce32 x
    let r = pick32 cosine x t sinR cosR
    if within (V.splat x Threshold32) x then r else patched<_, float32> cosine x r

/// sin x and cos x of one float64 vector from one reduction (Kernels/OneVector.fs's SinCos).
let inline vectorBoth (x: ^V) : struct (^V * ^V) =
    let struct (t, sinR, cosR) = reduce x
    let s = pick false x t sinR cosR
    let c = pick true x t sinR cosR
    if within (V.splat x Threshold) x then struct (s, c) else struct (patched<_, float> false x s, patched<_, float> true x c)

/// The float32 form.
let inline vectorBoth32 (x: ^V) : struct (^V * ^V) =
    let struct (t, sinR, cosR) = reduce32 x
    let s = pick32 false x t sinR cosR
    let c = pick32 true x t sinR cosR
    if within (V.splat x Threshold32) x then struct (s, c) else struct (patched<_, float32> false x s, patched<_, float32> true x c)

/// One vector's results, stored at s[at..] (and c[at..]).
type private Lanes<'V, 'T> =
    abstract Store: 'V * Span<'T> * Span<'T> * int -> unit

// Structs, so the driver is compiled once per float type and width with the store inlined.
[<Struct>]
type private Float64At512(results: Results) =
    interface Lanes<Vector512<float>, float> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Store(v, s, c, at) = store64 results v s c at

[<Struct>]
type private Float64At256(results: Results) =
    interface Lanes<Vector256<float>, float> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Store(v, s, c, at) = store64 results v s c at

[<Struct>]
type private Float64At128(results: Results) =
    interface Lanes<Vector128<float>, float> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Store(v, s, c, at) = store64 results v s c at

[<Struct>]
type private Float32At512(results: Results) =
    interface Lanes<Vector512<float32>, float32> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Store(v, s, c, at) = store32 results v s c at

[<Struct>]
type private Float32At256(results: Results) =
    interface Lanes<Vector256<float32>, float32> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Store(v, s, c, at) = store32 results v s c at

[<Struct>]
type private Float32At128(results: Results) =
    interface Lanes<Vector128<float32>, float32> with
        [<MethodImpl(MethodImplOptions.AggressiveInlining)>]
        member _.Store(v, s, c, at) = store32 results v s c at

/// Whole vectors of like's width, then the tail through the same vector code on a zero-padded copy.
/// c is empty when the pass has one output.
let inline private drive (like: ^V) (lanes: 'L when 'L :> Lanes< ^V, 'T>) (x: ReadOnlySpan<'T>) (s: Span<'T>) (c: Span<'T>) =
    let width = V.count like
    let mutable i = 0
    while i + width <= x.Length do
        lanes.Store(V.load like x i, s, c, i)
        i <- i + width
    if i < x.Length then
        let pad = Span<'T>(NativePtr.toVoidPtr (NativePtr.stackalloc<'T> (3 * width)), 3 * width)
        pad.Clear()
        x.Slice(i).CopyTo pad
        let ps = pad.Slice(width, width)
        let pc = pad.Slice(2 * width, width)
        lanes.Store(V.load like (Span<'T>.op_Implicit pad) 0, ps, pc, 0)
        ps.Slice(0, x.Length - i).CopyTo(s.Slice i)
        if not c.IsEmpty then pc.Slice(0, x.Length - i).CopyTo(c.Slice i)

/// The results for float64 spans, at the widest accelerated width.
let private run64 (results: Results) (x: ReadOnlySpan<float>) (s: Span<float>) (c: Span<float>) =
    if V.Width.Wide then drive Vector512<float>.Zero (Float64At512 results) x s c
    elif V.Width.Narrow then drive Vector256<float>.Zero (Float64At256 results) x s c
    else drive Vector128<float>.Zero (Float64At128 results) x s c

/// The results for float32 spans, at the widest accelerated width.
let private run32 (results: Results) (x: ReadOnlySpan<float32>) (s: Span<float32>) (c: Span<float32>) =
    if V.Width.Wide then drive Vector512<float32>.Zero (Float32At512 results) x s c
    elif V.Width.Narrow then drive Vector256<float32>.Zero (Float32At256 results) x s c
    else drive Vector128<float32>.Zero (Float32At128 results) x s c

let private kernel (cosine: bool) =
    let results = if cosine then Results.Cosines else Results.Sines
    { new FloatUnary with
        member _.Run<'T when 'T :> IFloatingPointIeee754<'T>>(x: ReadOnlySpan<'T>, y: Span<'T>) =
            if x.Length <> y.Length then invalidArg "y" (sprintf "%s kernel: %d inputs for %d results" (if cosine then "cos" else "sin") x.Length y.Length)
            if V.is<'T, float> then run64 results (V.readAs<'T, float> x) (V.writeAs<'T, float> y) Span.Empty
            elif V.is<'T, float32> then run32 results (V.readAs<'T, float32> x) (V.writeAs<'T, float32> y) Span.Empty
            else for i in 0 .. y.Length - 1 do y[i] <- (if cosine then 'T.Cos x[i] else 'T.Sin x[i]) }

/// sin x elementwise.
let sin = kernel false
/// cos x elementwise.
let cos = kernel true

/// sin x into s and cos x into c (float tensors of x's size and dtype) with one reduction per element;
/// each result has the bits `sin` and `cos` give. A gradient of sin or cos needs both of one argument.
let sinCos (x: Tensor) (s: Tensor) (c: Tensor) =
    if s.Size <> x.Size || c.Size <> x.Size then invalidArg "s" (sprintf "sin and cos kernel: %d inputs for %d sines and %d cosines" x.Size s.Size c.Size)
    match x.Data, s.Data, c.Data with
    | (:? (float[]) as a), (:? (float[]) as sd), (:? (float[]) as cd) -> run64 Results.Both (ReadOnlySpan a) (Span sd) (Span cd)
    | (:? (float32[]) as a), (:? (float32[]) as sd), (:? (float32[]) as cd) -> run32 Results.Both (ReadOnlySpan a) (Span sd) (Span cd)
    | _ -> invalidOp (sprintf "sin and cos together of %O" x.DType)
