/// Natural logarithm over spans, SIMD for every x, with one rounding rule per element: vector lanes and
/// the scalar tail run the same IEEE operations (explicit fused multiply-adds, never a product and a sum
/// the JIT could contract in one tier and not another), so an element's result does not depend on its
/// position, the span's length or the JIT tier.
///
/// fdlibm's method: x = 2ᵏ·m with m in [√½, √2) (subnormal x first scaled up to normal), f = m - 1
/// (exact), s = f/(2 + f), and log m = f - f²/2 + s·(f²/2 + R(s²)), R an odd-series remainder;
/// log x = k·ln2hi + (log m + k·ln2lo), where k·ln2hi is exact or, in float32, taken exactly inside one
/// fused multiply-add. float64: R of degree 14 in s. float32 runs the same steps in float32 lanes with R of
/// degree 8 (FreeBSD's logf) and f²/2 carried with its rounding error: at most 0.75 ulp over every
/// positive float32. ±0 give -∞, x < 0 NaN, +∞ and NaN themselves; log 1 = +0.
module internal FuncDiff.Core.Kernels.Logarithm

open System

module V = FuncDiff.Core.Kernels.Vectors

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

// ---- Vector form, at either width (Kernels/Vectors.fs) ---------------------------------------------

/// log of the positive normal value whose bits are `bits`, less kTiny·ln 2 (kTiny: 54 in lanes that
/// were subnormal and scaled by 2⁵⁴, else 0).
let inline private ofBitsV (like: ^V) (bits: ^I) (kTiny: ^I) : ^V =
    let inline c (k: float) = V.splat like k
    let inline i (k: int64) = V.splat bits k
    let e = bits - i (SqrtHalfBits - Bias)
    let m : ^V = V.ofBits (bits - (e &&& i ExponentMask) + i Bias)
    let kBits = V.shiftRightLogical e 52 + i (BitConverter.DoubleToInt64Bits Shifter - 1024L) - kTiny
    let k = (V.ofBits kBits : ^V) - c Shifter
    let f = m - c 1.0
    let s = f / (c 2.0 + f)
    let z = s * s
    let w = z * z
    let even = w * V.fma (V.fma (c L6) w (c L4)) w (c L2)
    let r = V.fma (V.fma (V.fma (V.fma (c L7) w (c L5)) w (c L3)) w (c L1)) z even
    let hfsq = c 0.5 * f * f
    let low = V.fma s (hfsq + r) (k * c Ln2Lo)
    V.fma k (c Ln2Hi) (f - (hfsq - low))

let inline positiveV (x: ^V) : ^V =
    let tiny = V.less x (V.splat x SmallestNormal)
    let bits = V.bits x
    // Subnormal lanes are rare: only a vector holding one (or a zero, negative or -∞ lane, whose value is
    // replaced anyway) is scaled. The mask stays out of the common path, where turning it into a vector
    // slowed the 512-bit form to a third of its speed.
    if V.none tiny then ofBitsV x bits (bits - bits)
    else
        let scaled = V.bits (V.select tiny (x * V.splat x Lift) x)
        ofBitsV x scaled (V.bits tiny &&& V.splat scaled 54L)

/// log lane by lane: 0 gives -∞, negatives NaN, +∞ and NaN themselves.
let inline vector (x: ^V) : ^V =
    let inline c (k: float) = V.splat x k
    let y = positiveV x
    let ordinary : ^V = V.ofBits (V.bits (V.greater x (c 0.0)) &&& V.bits (V.less x (c Double.PositiveInfinity)))
    if V.all ordinary then y
    else
        let other = V.select (V.equal x (c 0.0)) (c Double.NegativeInfinity) (V.select (V.less x (c 0.0)) (c Double.NaN) x)
        V.select ordinary y other

// ---- float32 ----------------------------------------------------------------------------------------

// R(z) = z·(G1 + G2·z + G3·z² + G4·z³), z = s², within 2⁻³⁴ of log((1+s)/(1-s)) - 2s for |s| ≤ 0.1716.
[<Literal>]
let private G1 = 0.66666662693f
[<Literal>]
let private G2 = 0.40000972152f
[<Literal>]
let private G3 = 0.28498786688f
[<Literal>]
let private G4 = 0.24279078841f
/// ln 2 = Ln2Hi32 + Ln2Lo32 + about 10⁻¹⁶; k·Ln2Hi32 is added inside the last fused multiply-add, so it
/// need not be exact on its own.
[<Literal>]
let private Ln2Hi32 = 0.693147182f
[<Literal>]
let private Ln2Lo32 = -1.90465421e-09f
/// The bits of √½ in float32: subtracting them from x's bits leaves k in the exponent field (and an
/// arithmetic shift takes it out, sign and all).
[<Literal>]
let private SqrtHalfBits32 = 0x3F3504F3
[<Literal>]
let private ExponentMask32 = 0xFF800000
[<Literal>]
let private SmallestNormal32 = 1.17549435e-38f
/// 2²⁴, which lifts every float32 subnormal into the normal range.
[<Literal>]
let private Lift32 = 16777216.0f

let inline private fma32 (a: float32) (b: float32) (c: float32) = MathF.FusedMultiplyAdd(a, b, c)

/// log x for finite float32 x > 0.
let private positive32 (x: float32) =
    let tiny = x < SmallestNormal32
    let bits = BitConverter.SingleToInt32Bits(if tiny then x * Lift32 else x)
    let e = bits - SqrtHalfBits32
    let m = BitConverter.Int32BitsToSingle(bits - (e &&& ExponentMask32))
    let k = float32 ((e >>> 23) - (if tiny then 24 else 0))
    let f = m - 1.0f
    let s = f / (2.0f + f)
    let z = s * s
    let w = z * z
    let even = w * fma32 w G4 G2
    let r = fma32 (fma32 w G3 G1) z even
    // f²/2 = hfsq + hlo exactly (f/2 is exact).
    let hf = 0.5f * f
    let hfsq = hf * f
    let hlo = fma32 hf f -hfsq
    let low = fma32 s (fma32 hf f r) (fma32 k Ln2Lo32 -hlo)
    fma32 k Ln2Hi32 (f - (hfsq - low))

/// log x for one float32, exactly as a float32 lane computes it.
let scalar32 (x: float32) =
    if x > 0.0f && x < Single.PositiveInfinity then positive32 x
    elif x = 0.0f then Single.NegativeInfinity
    elif x < 0.0f then Single.NaN
    else x

/// ofBitsV in float32 lanes.
let inline private ofBitsV32 (like: ^V) (bits: ^I) (kTiny: ^I) : ^V =
    let inline c (k: float32) = V.splat like k
    let inline i (k: int) = V.splat bits k
    let e = bits - i SqrtHalfBits32
    let m : ^V = V.ofBits (bits - (e &&& i ExponentMask32))
    let k : ^V = V.toFloat (V.shiftRight e 23 - kTiny)
    let f = m - c 1.0f
    let s = f / (c 2.0f + f)
    let z = s * s
    let w = z * z
    let even = w * V.fma w (c G4) (c G2)
    let r = V.fma (V.fma w (c G3) (c G1)) z even
    let hf = c 0.5f * f
    let hfsq = hf * f
    let hlo = V.fma hf f -hfsq
    let low = V.fma s (V.fma hf f r) (V.fma k (c Ln2Lo32) -hlo)
    V.fma k (c Ln2Hi32) (f - (hfsq - low))

let inline positiveV32 (x: ^V) : ^V =
    let tiny = V.less x (V.splat x SmallestNormal32)
    let bits = V.bits x
    if V.none tiny then ofBitsV32 x bits (bits - bits)
    else
        let scaled = V.bits (V.select tiny (x * V.splat x Lift32) x)
        ofBitsV32 x scaled (V.bits tiny &&& V.splat scaled 24)

/// log lane by lane in float32.
let inline vector32 (x: ^V) : ^V =
    let inline c (k: float32) = V.splat x k
    let y = positiveV32 x
    let ordinary : ^V = V.ofBits (V.bits (V.greater x (c 0.0f)) &&& V.bits (V.less x (c Single.PositiveInfinity)))
    if V.all ordinary then y
    else
        let other = V.select (V.equal x (c 0.0f)) (c Single.NegativeInfinity) (V.select (V.less x (c 0.0f)) (c Single.NaN) x)
        V.select ordinary y other

// ---- Spans ------------------------------------------------------------------------------------------

/// y = log x for float64 or float32 spans of one length (y may be x).
let log<'T> (x: ReadOnlySpan<'T>) (y: Span<'T>) = Lanes.apply "log" vector vector vector scalar vector32 vector32 vector32 scalar32 x y
