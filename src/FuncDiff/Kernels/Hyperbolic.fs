/// tanh over spans, SIMD for every x, with one rounding rule per element (Kernels/Lanes.fs: vector lanes
/// and the scalar tail run the same IEEE operations, so an element's bits do not depend on its position,
/// the span's length or the JIT tier).
///
/// With a = |x|: below a knee, tanh a = a + a·q(a²), q a polynomial (minimax for the error it puts on
/// tanh); from the knee, tanh a = 1 - 2e/(1 + e) with e = e^(-2a) (Kernels/Exponential.fs), 1 + e and
/// the quotient carried with their rounding errors; a is clamped where tanh rounds to 1. The sign is x's,
/// so ±0 stay ±0 and tanh x = x where a² underflows. float64: knee 1, q of degree 16, clamp 20. float32,
/// in float32 lanes: knee 1/2, q of degree 5, clamp 9.1 (tanh rounds to 1 from 13·ln 2 ≈ 9.011 on), and
/// e as a double word (Exponential.pair32), since its error is magnified in 1 - 2e/(1 + e) near the
/// knee: at most 0.65 ulp over every float32.
module internal FuncDiff.Core.Kernels.Hyperbolic

open System

module V = FuncDiff.Core.Kernels.Vectors

// q(s) = (tanh √s / √s - 1) for s in [0, 1], q(s) = s·(Q0 + Q1·s + … + Q15·s¹⁵).
[<Literal>]
let private Q0 = -0.3333333333333329
[<Literal>]
let private Q1 = 0.13333333333328654
[<Literal>]
let private Q2 = -0.053968253966343
[<Literal>]
let private Q3 = 0.021869488496244555
[<Literal>]
let private Q4 = -0.008863235029183927
[<Literal>]
let private Q5 = 0.0035921239054741393
[<Literal>]
let private Q6 = -0.0014558106667583153
[<Literal>]
let private Q7 = 0.0005899290429113596
[<Literal>]
let private Q8 = -0.00023882675939929167
[<Literal>]
let private Q9 = 9.621585515930837e-05
[<Literal>]
let private Q10 = -3.804765176252815e-05
[<Literal>]
let private Q11 = 1.4264078744910533e-05
[<Literal>]
let private Q12 = -4.747255117244986e-06
[<Literal>]
let private Q13 = 1.2664614203697033e-06
[<Literal>]
let private Q14 = -2.317003871158041e-07
[<Literal>]
let private Q15 = 2.1144808058797934e-08

/// tanh rounds to 1 from about 19.06 on; larger arguments are clamped here.
[<Literal>]
let private Clamp = 20.0

// ---- Scalar form (the tail) ------------------------------------------------------------------------

let inline private fma (a: float) (b: float) (c: float) = Math.FusedMultiplyAdd(a, b, c)

let private belowOne (a: float) =
    let s = a * a
    let p = fma (fma (fma (fma (fma (fma (fma (fma (fma (fma (fma (fma (fma (fma (fma Q15 s Q14) s Q13) s Q12) s Q11) s Q10) s Q9) s Q8) s Q7) s Q6) s Q5) s Q4) s Q3) s Q2) s Q1) s Q0
    let q = p * s
    fma a q a

let private fromOne (a: float) =
    let e = Exponential.core ((if a > Clamp then Clamp else a) * -2.0)
    // 2e / (1 + e) with 1 + e = u + ue exactly and the quotient's residual, then 1 minus it, also exactly.
    // One division: q = n·(1/u) is a few ulps off n/u, and the residual n - q·u (one fma, its rounding
    // far below an ulp of q) times 1/u corrects it.
    let u = 1.0 + e
    let ue = e - (u - 1.0)
    let n = e + e
    let r = 1.0 / u
    let q = n * r
    let c = fma -q ue (fma -q u n) * r
    let h = 1.0 - q
    let hl = (1.0 - h) - q
    h + (hl - c)

/// tanh x for one float64, exactly as a vector lane computes it.
let scalar (x: float) =
    let a = Math.Abs x
    let t = if a >= 1.0 then fromOne a else belowOne a
    BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits t ||| (BitConverter.DoubleToInt64Bits x &&& Int64.MinValue))

// ---- Vector form, at either width (Kernels/Vectors.fs) ---------------------------------------------

let inline belowOneV (a: ^V) : ^V =
    let inline c (k: float) = V.splat a k
    let s = a * a
    let p = V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (V.fma (c Q15) s (c Q14)) s (c Q13)) s (c Q12)) s (c Q11)) s (c Q10)) s (c Q9)) s (c Q8)) s (c Q7)) s (c Q6)) s (c Q5)) s (c Q4)) s (c Q3)) s (c Q2)) s (c Q1)) s (c Q0)
    let q = p * s
    V.fma a q a

let inline fromOneV (a: ^V) : ^V =
    let inline c (k: float) = V.splat a k
    let one = c 1.0
    let e : ^V = Exponential.coreV (V.select (V.greater a (c Clamp)) (c Clamp) a * c -2.0)
    let u = one + e
    let ue = e - (u - one)
    let n = e + e
    let r = one / u
    let q = n * r
    let d = V.fma -q ue (V.fma -q u n) * r
    let h = one - q
    let hl = (one - h) - q
    h + (hl - d)

/// tanh lane by lane: the value of |x|, given x's sign bit.
let inline vector (x: ^V) : ^V =
    let a = V.abs x
    let large = V.atLeast a (V.splat a 1.0)
    // Only the branches some lane needs are computed; each lane's value is its own branch's either way.
    let t =
        if V.none large then belowOneV a
        else
            let above = fromOneV a
            if V.all large then above else V.select large above (belowOneV a)
    V.ofBits (V.bits t ||| V.andNot (V.bits x) (V.bits a))

// ---- float32 ----------------------------------------------------------------------------------------

// q(s) = s·(P0 + P1·s + … + P4·s⁴) for s in [0, 1/4], within 2⁻³⁰·⁶ on tanh relative.
[<Literal>]
let private P0 = -0.333333283662796f
[<Literal>]
let private P1 = 0.133329838514328f
[<Literal>]
let private P2 = -0.053898755460977554f
[<Literal>]
let private P3 = 0.02128620818257332f
[<Literal>]
let private P4 = -0.006615864112973213f

[<Literal>]
let private Knee32 = 0.5f
/// tanh rounds to 1 in float32 from 13·ln 2 ≈ 9.011 on; larger arguments are clamped here.
[<Literal>]
let private Clamp32 = 9.1f

let inline private fma32 (a: float32) (b: float32) (c: float32) = MathF.FusedMultiplyAdd(a, b, c)

let private belowKnee32 (a: float32) =
    let s = a * a
    let p = fma32 (fma32 (fma32 (fma32 P4 s P3) s P2) s P1) s P0
    let q = p * s
    fma32 a q a

let private fromKnee32 (a: float32) =
    let struct (e, el) = Exponential.pair32 ((if a > Clamp32 then Clamp32 else a) * -2.0f)
    // As fromOne, with e's low word el in 1 + e's rounding error and in the quotient's residual.
    let u = 1.0f + e
    let ue = (e - (u - 1.0f)) + el
    let n = e + e
    let r = 1.0f / u
    let q = n * r
    let c = (fma32 -q ue (fma32 -q u n) + (el + el)) * r
    let h = 1.0f - q
    let hl = (1.0f - h) - q
    h + (hl - c)

/// tanh x for one float32, exactly as a float32 lane computes it.
let scalar32 (x: float32) =
    let a = MathF.Abs x
    let t = if a >= Knee32 then fromKnee32 a else belowKnee32 a
    BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits t ||| (BitConverter.SingleToInt32Bits x &&& Int32.MinValue))

let inline belowKneeV32 (a: ^V) : ^V =
    let inline c (k: float32) = V.splat a k
    let s = a * a
    let p = V.fma (V.fma (V.fma (V.fma (c P4) s (c P3)) s (c P2)) s (c P1)) s (c P0)
    let q = p * s
    V.fma a q a

let inline fromKneeV32 (a: ^V) : ^V =
    let inline c (k: float32) = V.splat a k
    let one = c 1.0f
    let struct (e: ^V, el: ^V) = Exponential.pairV32 (V.select (V.greater a (c Clamp32)) (c Clamp32) a * c -2.0f)
    let u = one + e
    let ue = (e - (u - one)) + el
    let n = e + e
    let r = one / u
    let q = n * r
    let d = (V.fma -q ue (V.fma -q u n) + (el + el)) * r
    let h = one - q
    let hl = (one - h) - q
    h + (hl - d)

/// tanh lane by lane in float32.
let inline vector32 (x: ^V) : ^V =
    let a = V.abs x
    let large = V.atLeast a (V.splat a Knee32)
    let t =
        if V.none large then belowKneeV32 a
        else
            let above = fromKneeV32 a
            if V.all large then above else V.select large above (belowKneeV32 a)
    V.ofBits (V.bits t ||| V.andNot (V.bits x) (V.bits a))

/// y = tanh x for float64 or float32 spans of one length.
let tanh<'T> (x: ReadOnlySpan<'T>) (y: Span<'T>) = Lanes.apply "tanh" vector vector vector scalar vector32 vector32 vector32 scalar32 x y
