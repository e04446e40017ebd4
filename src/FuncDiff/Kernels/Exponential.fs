/// eˣ over spans, SIMD for every x, with one rounding rule per element (Kernels/Lanes.fs: vector lanes
/// and the scalar tail run the same IEEE operations, so an element's bits do not depend on its position,
/// the span's length or the JIT tier).
///
/// x = k·ln 2 + r with |r| ≤ ln2/2 (Cody–Waite: k·ln 2 subtracted in two parts, the first exact), eʳ from
/// a polynomial, then 2ᵏ applied as 2^⌊k/2⌋ · 2^(k-⌊k/2⌋): both factors are normal, the first product is
/// exact and the second rounds once, so overflow gives +∞ and underflow is gradual, rounded once into the
/// subnormals. float64: a degree-11 polynomial, x clamped to [-746, 710], beyond which eˣ rounds to +0 or
/// overflows. float32 runs the same steps in float32 lanes: a degree-7 polynomial, x clamped to
/// [-104, 89] (eˣ rounds to +0 below -103.98 and overflows above 88.73), at most 0.90 ulp over every
/// float32 in between.
module internal FuncDiff.Core.Kernels.Exponential

open System

module V = FuncDiff.Core.Kernels.Vectors

// eʳ = 1 + r·(1 + r·(E0 + E1·r + … + E9·r⁹)) for |r| ≤ ln2/2.
[<Literal>]
let private E0 = 0.5000000000000011
[<Literal>]
let private E1 = 0.1666666666666642
[<Literal>]
let private E2 = 0.041666666666527
[<Literal>]
let private E3 = 0.008333333333490347
[<Literal>]
let private E4 = 0.0013888888944325673
[<Literal>]
let private E5 = 0.00019841269515649934
[<Literal>]
let private E6 = 2.480149247433654e-05
[<Literal>]
let private E7 = 2.7557578194522223e-06
[<Literal>]
let private E8 = 2.7630445830841923e-07
[<Literal>]
let private E9 = 2.5002661928231792e-08

/// ln 2 split so that k·Ln2Hi is exact for every k used here (Ln2Hi has 32 significant bits, |k| < 2¹¹).
[<Literal>]
let private Ln2Hi = 0.6931471803691238
[<Literal>]
let private Ln2Lo = 1.9082149292705877e-10
[<Literal>]
let private InvLn2 = 1.4426950408889634
/// 1.5·2⁵²: adding it rounds to an integer, which then sits in the low bits.
[<Literal>]
let private Shifter = 6755399441055744.0
/// Above ln(Double.MaxValue) ≈ 709.78: e^710 overflows to +∞ through the same steps.
[<Literal>]
let private Highest = 710.0
/// Below ln(2⁻¹⁰⁷⁵) ≈ -745.13: e^-746 rounds to +0 through the same steps.
[<Literal>]
let private Lowest = -746.0

let shifterBits = BitConverter.DoubleToInt64Bits Shifter

// ---- Scalar form ------------------------------------------------------------------------------------

let inline private fma (a: float) (b: float) (c: float) = Math.FusedMultiplyAdd(a, b, c)
let inline private power (k: int64) = BitConverter.Int64BitsToDouble((k + 1023L) <<< 52)

/// eʸ for y in [-746, 710] or NaN, exactly as a vector lane computes it.
let core (y: float) =
    let t = fma y InvLn2 Shifter
    let k = t - Shifter
    let r = fma k -Ln2Lo (fma k -Ln2Hi y)
    let p = fma (fma (fma (fma (fma (fma (fma (fma (fma (fma (fma E9 r E8) r E7) r E6) r E5) r E4) r E3) r E2) r E1) r E0) r 1.0) r 1.0
    let n = BitConverter.DoubleToInt64Bits t - shifterBits
    let half = n >>> 1
    p * power half * power (n - half)

/// eˣ for one float64, exactly as a vector lane computes it.
let scalar (x: float) = core (if x > Highest then Highest elif x < Lowest then Lowest else x)

// ---- Vector form, at either width (Kernels/Vectors.fs) ---------------------------------------------

/// eʸ lane by lane for y in [-746, 710] or NaN.
let inline coreV (y: ^V) : ^V =
    let inline c (k: float) = V.splat y k
    let one = c 1.0
    let t = V.fma y (c InvLn2) (c Shifter)
    let k = t - c Shifter
    let r = V.fma k (c -Ln2Lo) (V.fma k (c -Ln2Hi) y)
    let p = V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (c E9) r (c E8)) r (c E7)) r (c E6)) r (c E5)) r (c E4)) r (c E3)) r (c E2)) r (c E1)) r (c E0)) r one) r one
    let tb = V.bits t
    let n = tb - V.splat tb shifterBits
    let half = V.shiftRight n 1
    let inline power k : ^V = V.ofBits (V.shiftLeft (k + V.splat k 1023L) 52)
    p * power half * power (n - half)

/// eˣ lane by lane (NaN compares false, so it passes the clamps).
let inline vector (x: ^V) : ^V =
    let high = V.splat x Highest
    let low = V.splat x Lowest
    coreV (V.select (V.less x low) low (V.select (V.greater x high) high x))

// ---- float32 ----------------------------------------------------------------------------------------

// eʳ = 1 + r·(1 + r·(F0 + F1·r + … + F5·r⁵)) for |r| ≤ ln2/2 (Cephes' expf coefficients).
[<Literal>]
let private F0 = 5.0000001201e-1f
[<Literal>]
let private F1 = 1.6666665459e-1f
[<Literal>]
let private F2 = 4.1665795894e-2f
[<Literal>]
let private F3 = 8.3334519073e-3f
[<Literal>]
let private F4 = 1.3981999507e-3f
[<Literal>]
let private F5 = 1.9875691500e-4f

/// ln 2 = Ln2Hi32 + Ln2Lo32 + about 10⁻¹⁶. x - k·Ln2Hi32 is exact in one fused multiply-add: it is a
/// multiple of 2⁻²⁵ below 1/2 in magnitude (x ≥ ln2/2 wherever k ≠ 0), so it fits in 24 bits.
[<Literal>]
let private Ln2Hi32 = 0.693147182f
[<Literal>]
let private Ln2Lo32 = -1.90465421e-09f
[<Literal>]
let private InvLn2_32 = 1.44269502f
/// 1.5·2²³: adding it rounds to an integer, which then sits in the low bits.
[<Literal>]
let private Shifter32 = 12582912.0f
/// Above ln(Single.MaxValue) ≈ 88.72: e^89 overflows to +∞ through the same steps.
[<Literal>]
let private Highest32 = 89.0f
/// Below ln(2⁻¹⁵⁰) ≈ -103.97: e^-104 rounds to +0 through the same steps.
[<Literal>]
let private Lowest32 = -104.0f

let shifterBits32 = BitConverter.SingleToInt32Bits Shifter32

let inline private fma32 (a: float32) (b: float32) (c: float32) = MathF.FusedMultiplyAdd(a, b, c)
let inline private power32 (k: int) = BitConverter.Int32BitsToSingle((k + 127) <<< 23)

/// (eʳ - 1 - r)/r² for |r| ≤ ln2/2.
let inline private poly32 (r: float32) = fma32 (fma32 (fma32 (fma32 (fma32 F5 r F4) r F3) r F2) r F1) r F0

/// eʸ for y in [-104, 89] or NaN, exactly as a float32 lane computes it.
let core32 (y: float32) =
    let t = fma32 y InvLn2_32 Shifter32
    let k = t - Shifter32
    let r = fma32 k -Ln2Lo32 (fma32 k -Ln2Hi32 y)
    let p = fma32 r (fma32 r (poly32 r) 1.0f) 1.0f
    let n = BitConverter.SingleToInt32Bits t - shifterBits32
    let half = n >>> 1
    p * power32 half * power32 (n - half)

/// eʸ as an unevaluated sum hi + lo, within about 2⁻²⁸ relative, for y in [-87, 0] (where 2ᵏ is normal),
/// exactly as pairV32's lanes compute it. r = y - k·Ln2Hi32 is kept exact and the rest of k·ln 2 is
/// applied to first order, eʳ⁺ᵇ ≈ (1 + r) + (r²·P(r) + b·(1 + r)), 1 + r split exactly in two: none of
/// the roundings that limit core32 to 0.9 ulp is taken.
let pair32 (y: float32) =
    let t = fma32 y InvLn2_32 Shifter32
    let k = t - Shifter32
    let r = fma32 k -Ln2Hi32 y
    let b = k * -Ln2Lo32
    let tail = fma32 (r * r) (poly32 r) (fma32 b r b)
    let p = 1.0f + r
    let pl = (1.0f - p) + r
    let hi = p + tail
    let lo = ((p - hi) + tail) + pl
    let scale = power32 (BitConverter.SingleToInt32Bits t - shifterBits32)
    struct (hi * scale, lo * scale)

/// eˣ for one float32, exactly as a float32 lane computes it.
let scalar32 (x: float32) = core32 (if x > Highest32 then Highest32 elif x < Lowest32 then Lowest32 else x)

/// (eʳ - 1 - r)/r² lane by lane for |r| ≤ ln2/2.
let inline polyV32 (r: ^V) : ^V =
    let inline c (k: float32) = V.splat r k
    V.fma (V.fma (V.fma (V.fma (V.fma (c F5) r (c F4)) r (c F3)) r (c F2)) r (c F1)) r (c F0)

/// 2ᵏ lane by lane for float32 lanes' integer k with a normal result.
let inline powerV32 (k: ^I) = V.ofBits (V.shiftLeft (k + V.splat k 127) 23)

/// eʸ lane by lane for y in [-104, 89] or NaN.
let inline coreV32 (y: ^V) : ^V =
    let inline c (k: float32) = V.splat y k
    let one = c 1.0f
    let t = V.fma y (c InvLn2_32) (c Shifter32)
    let k = t - c Shifter32
    let r = V.fma k (c -Ln2Lo32) (V.fma k (c -Ln2Hi32) y)
    let p = V.fma r (V.fma r (polyV32 r) one) one
    let tb = V.bits t
    let n = tb - V.splat tb shifterBits32
    let half = V.shiftRight n 1
    let inline power k : ^V = powerV32 k
    p * power half * power (n - half)

/// pair32 lane by lane.
let inline pairV32 (y: ^V) : struct (^V * ^V) =
    let inline c (k: float32) = V.splat y k
    let one = c 1.0f
    let t = V.fma y (c InvLn2_32) (c Shifter32)
    let k = t - c Shifter32
    let r = V.fma k (c -Ln2Hi32) y
    let b = k * c -Ln2Lo32
    let tail = V.fma (r * r) (polyV32 r) (V.fma b r b)
    let p = one + r
    let pl = (one - p) + r
    let hi = p + tail
    let lo = ((p - hi) + tail) + pl
    let tb = V.bits t
    let scale : ^V = powerV32 (tb - V.splat tb shifterBits32)
    struct (hi * scale, lo * scale)

/// eˣ lane by lane in float32.
let inline vector32 (x: ^V) : ^V =
    let high = V.splat x Highest32
    let low = V.splat x Lowest32
    coreV32 (V.select (V.less x low) low (V.select (V.greater x high) high x))

/// y = eˣ for float64 or float32 spans of one length.
let exp<'T> (x: ReadOnlySpan<'T>) (y: Span<'T>) = Lanes.apply "exp" vector vector vector scalar vector32 vector32 vector32 scalar32 x y
