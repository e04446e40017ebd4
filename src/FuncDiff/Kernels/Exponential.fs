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
open System.Numerics

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

let private shifterBits = BitConverter.DoubleToInt64Bits Shifter

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

// ---- Vector form ------------------------------------------------------------------------------------

let inline private vfma (a: Vector<float>) (b: Vector<float>) (c: Vector<float>) = Vector.FusedMultiplyAdd(a, b, c)
let inline private v (c: float) = Vector<float>(c)
let inline private vpower (k: Vector<int64>) = Vector.AsVectorDouble(Vector.ShiftLeft(k + Vector<int64>(1023L), 52))

/// eʸ lane by lane for y in [-746, 710] or NaN.
let coreV (y: Vector<float>) =
    let one = Vector<float>.One
    let t = vfma y (v InvLn2) (v Shifter)
    let k = t - v Shifter
    let r = vfma k (v -Ln2Lo) (vfma k (v -Ln2Hi) y)
    let p = vfma (vfma (vfma (vfma (vfma (vfma (vfma (vfma (vfma (vfma (vfma (v E9) r (v E8)) r (v E7)) r (v E6)) r (v E5)) r (v E4)) r (v E3)) r (v E2)) r (v E1)) r (v E0)) r one) r one
    let n = Vector.AsVectorInt64 t - Vector<int64>(shifterBits)
    let half = Vector.ShiftRightArithmetic(n, 1)
    p * vpower half * vpower (n - half)

/// eˣ lane by lane (NaN compares false, so it passes the clamps).
let vector (x: Vector<float>) =
    let high = v Highest
    let low = v Lowest
    coreV (Vector.ConditionalSelect(Vector.LessThan(x, low), low, Vector.ConditionalSelect(Vector.GreaterThan(x, high), high, x)))

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

let private shifterBits32 = BitConverter.SingleToInt32Bits Shifter32

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

let inline private vfma32 (a: Vector<float32>) (b: Vector<float32>) (c: Vector<float32>) = Vector.FusedMultiplyAdd(a, b, c)
let inline private v32 (c: float32) = Vector<float32>(c)
let inline private vpower32 (k: Vector<int>) = Vector.AsVectorSingle(Vector.ShiftLeft(k + Vector<int>(127), 23))

let inline private polyV32 (r: Vector<float32>) =
    vfma32 (vfma32 (vfma32 (vfma32 (vfma32 (v32 F5) r (v32 F4)) r (v32 F3)) r (v32 F2)) r (v32 F1)) r (v32 F0)

/// eʸ lane by lane for y in [-104, 89] or NaN.
let coreV32 (y: Vector<float32>) =
    let one = Vector<float32>.One
    let t = vfma32 y (v32 InvLn2_32) (v32 Shifter32)
    let k = t - v32 Shifter32
    let r = vfma32 k (v32 -Ln2Lo32) (vfma32 k (v32 -Ln2Hi32) y)
    let p = vfma32 r (vfma32 r (polyV32 r) one) one
    let n = Vector.AsVectorInt32 t - Vector<int>(shifterBits32)
    let half = Vector.ShiftRightArithmetic(n, 1)
    p * vpower32 half * vpower32 (n - half)

/// pair32 lane by lane.
let pairV32 (y: Vector<float32>) =
    let one = Vector<float32>.One
    let t = vfma32 y (v32 InvLn2_32) (v32 Shifter32)
    let k = t - v32 Shifter32
    let r = vfma32 k (v32 -Ln2Hi32) y
    let b = k * v32 -Ln2Lo32
    let tail = vfma32 (r * r) (polyV32 r) (vfma32 b r b)
    let p = one + r
    let pl = (one - p) + r
    let hi = p + tail
    let lo = ((p - hi) + tail) + pl
    let scale = vpower32 (Vector.AsVectorInt32 t - Vector<int>(shifterBits32))
    struct (hi * scale, lo * scale)

/// eˣ lane by lane in float32.
let vector32 (x: Vector<float32>) =
    let high = v32 Highest32
    let low = v32 Lowest32
    coreV32 (Vector.ConditionalSelect(Vector.LessThan(x, low), low, Vector.ConditionalSelect(Vector.GreaterThan(x, high), high, x)))

/// y = eˣ for float64 or float32 spans of one length.
let exp<'T> (x: ReadOnlySpan<'T>) (y: Span<'T>) = Lanes.apply "exp" vector scalar vector32 scalar32 x y
