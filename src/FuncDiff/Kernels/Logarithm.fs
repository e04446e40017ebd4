/// Natural logarithm over spans, SIMD for every x, with one rounding rule per element: vector lanes and
/// the scalar tail run the same IEEE operations (explicit fused multiply-adds, never a product and a sum
/// the JIT could contract in one tier and not another), so an element's result does not depend on its
/// position, the span's length or the JIT tier. float32 is computed in float64 and rounded once.
///
/// fdlibm's method: x = 2ᵏ·m with m in [√½, √2) (subnormal x first scaled by 2⁵⁴), f = m - 1 (exact),
/// s = f/(2 + f), and log m = f - f²/2 + s·(f²/2 + R(s²)), R an odd-series remainder of degree 14 in s;
/// log x = k·ln2hi + (log m + k·ln2lo), where k·ln2hi is exact. ±0 give -∞, x < 0 NaN, +∞ and NaN
/// themselves; log 1 = +0.
module internal FuncDiff.Core.Kernels.Logarithm

open System
open System.Numerics

// R(z) = z·(L1 + L2·z + … + L7·z⁶), z = s², fdlibm's minimax remainder of log((1+s)/(1-s)) - 2s.
[<Literal>]
let private L1 = 6.666666666666735130e-01
[<Literal>]
let private L2 = 3.999999999940941908e-01
[<Literal>]
let private L3 = 2.857142874366239149e-01
[<Literal>]
let private L4 = 2.222219843214978396e-01
[<Literal>]
let private L5 = 1.818357216161805012e-01
[<Literal>]
let private L6 = 1.531383769920937332e-01
[<Literal>]
let private L7 = 1.479819860511658591e-01

/// ln 2 split so that k·Ln2Hi is exact for |k| ≤ 1100 (Ln2Hi has 32 significant bits).
[<Literal>]
let private Ln2Hi = 6.93147180369123816490e-01
[<Literal>]
let private Ln2Lo = 1.90821492927058770002e-10
/// The bits of √½: subtracting them from x's bits leaves k in the exponent field.
[<Literal>]
let private SqrtHalfBits = 0x3FE6A09E667F3BCDL
/// 1024 in the exponent field: x's bits - SqrtHalfBits + Bias holds k + 1024 ≥ 0 there, so k comes out
/// of a logical shift (AVX2 has no 64-bit arithmetic one).
[<Literal>]
let private Bias = 0x4000000000000000L
[<Literal>]
let private ExponentMask = 0xFFF0000000000000L
/// 1.5·2⁵², whose bits plus a small integer k are the bits of 1.5·2⁵² + k.
[<Literal>]
let private Shifter = 6755399441055744.0
[<Literal>]
let private SmallestNormal = 2.2250738585072014e-308
/// 2⁵⁴, which lifts every subnormal into the normal range.
[<Literal>]
let private Lift = 18014398509481984.0

// ---- Scalar form (the tail) ------------------------------------------------------------------------

let inline private fma (a: float) (b: float) (c: float) = Math.FusedMultiplyAdd(a, b, c)

/// log x for finite x > 0.
let private positive (x: float) =
    let tiny = x < SmallestNormal
    let bits = BitConverter.DoubleToInt64Bits(if tiny then x * Lift else x)
    let e = bits - SqrtHalfBits + Bias
    let m = BitConverter.Int64BitsToDouble(bits - (e &&& ExponentMask) + Bias)
    let k = BitConverter.Int64BitsToDouble(int64 (uint64 e >>> 52) + (BitConverter.DoubleToInt64Bits Shifter - 1024L) - (if tiny then 54L else 0L)) - Shifter
    let f = m - 1.0
    let s = f / (2.0 + f)
    let z = s * s
    let w = z * z
    let even = w * fma (fma L6 w L4) w L2
    let r = fma (fma (fma (fma L7 w L5) w L3) w L1) z even
    let hfsq = 0.5 * f * f
    let low = fma s (hfsq + r) (k * Ln2Lo)
    fma k Ln2Hi (f - (hfsq - low))

/// log x for one float64, exactly as a vector lane computes it.
let scalar (x: float) =
    if x > 0.0 && x < Double.PositiveInfinity then positive x
    elif x = 0.0 then Double.NegativeInfinity
    elif x < 0.0 then Double.NaN
    else x

// ---- Vector form ----------------------------------------------------------------------------------

let inline private vfma (a: Vector<float>) (b: Vector<float>) (c: Vector<float>) = Vector.FusedMultiplyAdd(a, b, c)
let inline private v (c: float) = Vector<float>(c)

let private positiveV (x: Vector<float>) =
    let tiny = Vector.LessThan(x, v SmallestNormal)
    let bits = Vector.AsVectorInt64(Vector.ConditionalSelect(tiny, x * v Lift, x))
    let e = bits - Vector<int64>(SqrtHalfBits - Bias)
    let m = Vector.AsVectorDouble(bits - (e &&& Vector<int64>(ExponentMask)) + Vector<int64>(Bias))
    let kBits = Vector.ShiftRightLogical(e, 52) + Vector<int64>(BitConverter.DoubleToInt64Bits Shifter - 1024L) - (tiny &&& Vector<int64>(54L))
    let k = Vector.AsVectorDouble kBits - v Shifter
    let f = m - Vector<float>.One
    let s = f / (v 2.0 + f)
    let z = s * s
    let w = z * z
    let even = w * vfma (vfma (v L6) w (v L4)) w (v L2)
    let r = vfma (vfma (vfma (vfma (v L7) w (v L5)) w (v L3)) w (v L1)) z even
    let hfsq = v 0.5 * f * f
    let low = vfma s (hfsq + r) (k * v Ln2Lo)
    vfma k (v Ln2Hi) (f - (hfsq - low))

let private vector (x: Vector<float>) =
    let y = positiveV x
    let ordinary = Vector.BitwiseAnd(Vector.GreaterThan(x, Vector<float>.Zero), Vector.LessThan(x, v Double.PositiveInfinity))
    if Vector.EqualsAll(ordinary, Vector<int64>.AllBitsSet) then y
    else
        let other = Vector.ConditionalSelect(Vector.Equals(x, Vector<float>.Zero), v Double.NegativeInfinity, Vector.ConditionalSelect(Vector.LessThan(x, Vector<float>.Zero), v Double.NaN, x))
        Vector.ConditionalSelect(ordinary, y, other)

// ---- Spans ------------------------------------------------------------------------------------------

/// y = log x for float64 or float32 spans of one length (y may be x).
let log<'T> (x: ReadOnlySpan<'T>) (y: Span<'T>) = Lanes.apply "log" vector scalar (Lanes.widened vector) (fun x -> float32 (scalar (float x))) x y
