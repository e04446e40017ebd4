/// xʸ. Where y is an integer n with |n| ≤ 16, xⁿ comes from multiplications instead of the library
/// pow: n = 0 gives 1, n = 1 gives x, n = 2 gives x·x and n = -1 gives 1/x (each IEEE pow's value:
/// one correctly rounded operation or none). Other n: in float64, double-word arithmetic (each
/// product carries its rounding error, recovered exactly by a fused multiply-add), so the result is
/// xⁿ with a relative error of a few units in 2⁻¹⁰⁰ before the final rounding: within 0.5 ulp plus
/// that, i.e. correctly rounded except when xⁿ lies that close to a midpoint; where the result or the
/// intermediate powers leave the range in which that holds (zeros, subnormals, ±∞, NaN, overflow,
/// results below 2⁻⁹¹⁶), the element goes to the library pow, so every IEEE edge case is the
/// library's. In float32, float64 products rounded once to float32 (within 0.5 ulp plus 2⁻⁵⁰
/// relative). Spans run the same operations in SIMD lanes.
module internal FuncDiff.Core.Kernels.Power

open System
open System.Numerics
open System.Numerics.Tensors
open FuncDiff.Core.Kernels.Elementwise

/// The largest |n| computed by multiplication.
[<Literal>]
let MaxExponent = 16

/// True when y is an integer n with |n| ≤ MaxExponent.
let inline private smallInteger<'T when 'T :> IFloatingPointIeee754<'T>> (y: 'T) =
    'T.IsInteger y && 'T.op_LessThanOrEqual('T.Abs y, 'T.CreateTruncating MaxExponent)

/// The smallest magnitude at which double-word products keep their rounding errors exactly: the error
/// term of a product is about 2⁻²ᵖ times it (p bits of precision), and must not be subnormal.
let private lowest<'T when 'T :> IFloatingPointIeee754<'T>> () =
    if Vectors.is<'T, float> then 'T.CreateTruncating(Math.Pow(2.0, -916.0)) else 'T.CreateTruncating(Math.Pow(2.0, -78.0))

/// xⁿ for 3 ≤ |n| ≤ 16 in double-word arithmetic, or the library's pow outside its range.
let private doubleWord<'T when 'T :> IFloatingPointIeee754<'T>> (lowest: 'T) (x: 'T) (n: int) : 'T =
    let m = abs n
    // Left-to-right binary powering: (hi, lo) = x^(the bits of m read so far). Each operation is bound
    // on its own: F# cannot generalise a chain of generic-math operators.
    let mutable hi = x
    let mutable lo = 'T.Zero
    let mutable bit = 31 - BitOperations.LeadingZeroCount(uint32 m)
    while bit > 0 do
        bit <- bit - 1
        // Square: hi² exactly as p + its error, plus the cross term 2·hi·lo (lo² is below the error).
        let p: 'T = hi * hi
        let twice: 'T = hi + hi
        let cross: 'T = twice * lo
        let e: 'T = 'T.FusedMultiplyAdd(hi, hi, -p) + cross
        hi <- p + e
        let rounded: 'T = hi - p
        lo <- e - rounded
        if (m >>> bit) &&& 1 = 1 then
            let p: 'T = hi * x
            let cross: 'T = lo * x
            let e: 'T = 'T.FusedMultiplyAdd(hi, x, -p) + cross
            hi <- p + e
            let rounded: 'T = hi - p
            lo <- e - rounded
    let result =
        if n > 0 then hi
        else
            // 1/(hi + lo): q = 1/hi, plus q times its residual 1 - hi·q (exact) less lo·q.
            let q: 'T = 'T.One / hi
            let loq: 'T = lo * q
            let r: 'T = 'T.FusedMultiplyAdd(-hi, q, 'T.One) - loq
            let correction: 'T = q * r
            q + correction
    let fits = 'T.IsFinite x && 'T.IsFinite hi && 'T.IsFinite result && 'T.op_GreaterThanOrEqual('T.Abs hi, lowest) && 'T.op_GreaterThanOrEqual('T.Abs result, lowest)
    if fits then result else 'T.Pow(x, 'T.CreateTruncating n)

/// xⁿ for float32 x and 3 ≤ |n| ≤ 16: binary powering in float64 products, then the reciprocal for a
/// negative n. x is exact in float64, each of the at most eight products and the reciprocal rounds by
/// 2⁻⁵³, so the float64 value is within 2⁻⁵⁰ of xⁿ relative, and its one rounding to float32 is within
/// 0.5 ulp plus that. float64 holds every float32 power that does not round to 0 or ∞ in float32, so
/// no element needs the library pow.
let private power32 (x: float) (n: int) : float =
    let m = abs n
    let mutable p = x
    let mutable bit = 31 - BitOperations.LeadingZeroCount(uint32 m)
    while bit > 0 do
        bit <- bit - 1
        p <- p * p
        if (m >>> bit) &&& 1 = 1 then p <- p * x
    if n > 0 then p else 1.0 / p

/// xⁿ for one element with a small integer n.
let private integerPower<'T when 'T :> IFloatingPointIeee754<'T>> (lowest: 'T) (x: 'T) (n: int) : 'T =
    match n with
    | 0 -> 'T.One
    | 1 -> x
    | 2 -> x * x
    | -1 -> 'T.One / x
    | n when Vectors.is<'T, float32> -> 'T.CreateTruncating(power32 (Double.CreateTruncating x) n)
    | n -> doubleWord lowest x n

// ---- The same, lane by lane --------------------------------------------------------------------------

/// doubleWord for float64 spans: every lane does doubleWord's operations; a vector with a lane outside
/// the range where they hold has its elements redone by doubleWord itself (the library's pow there).
let private doubleWords (x: ReadOnlySpan<float>) (n: int) (d: Span<float>) =
    let lowest = lowest<float> ()
    let m = abs n
    let top = 31 - BitOperations.LeadingZeroCount(uint32 m)
    let w = Vector<float>.Count
    let one = Vector<float>.One
    let infinite = Vector<float>(Double.PositiveInfinity)
    let floor = Vector<float>(lowest)
    let mutable i = 0
    if Vector.IsHardwareAccelerated then
        while i + w <= x.Length do
            let vx = Vector<float>(x.Slice(i, w))
            let mutable hi = vx
            let mutable lo = Vector<float>.Zero
            let mutable bit = top
            while bit > 0 do
                bit <- bit - 1
                let p = hi * hi
                let cross = (hi + hi) * lo
                let e = Vector.FusedMultiplyAdd(hi, hi, -p) + cross
                hi <- p + e
                lo <- e - (hi - p)
                if (m >>> bit) &&& 1 = 1 then
                    let p = hi * vx
                    let cross = lo * vx
                    let e = Vector.FusedMultiplyAdd(hi, vx, -p) + cross
                    hi <- p + e
                    lo <- e - (hi - p)
            let result =
                if n > 0 then hi
                else
                    let q = one / hi
                    let r = Vector.FusedMultiplyAdd(-hi, q, one) - lo * q
                    q + q * r
            let fits =
                Vector.LessThan(Vector.Abs vx, infinite) &&& Vector.LessThan(Vector.Abs hi, infinite) &&& Vector.LessThan(Vector.Abs result, infinite)
                &&& Vector.GreaterThanOrEqual(Vector.Abs hi, floor) &&& Vector.GreaterThanOrEqual(Vector.Abs result, floor)
            if Vector.EqualsAll(fits, Vector<int64>.AllBitsSet) then result.CopyTo(d.Slice(i, w))
            else for j in i .. i + w - 1 do d[j] <- doubleWord lowest x[j] n
            i <- i + w
    while i < x.Length do
        d[i] <- doubleWord lowest x[i] n
        i <- i + 1

/// power32 for float32 spans: both float64 halves of a vector, each lane with power32's operations.
let private powers32 (x: ReadOnlySpan<float32>) (n: int) (d: Span<float32>) =
    let m = abs n
    let top = 31 - BitOperations.LeadingZeroCount(uint32 m)
    let inline lanes (v: Vector<float>) =
        let mutable p = v
        let mutable bit = top
        while bit > 0 do
            bit <- bit - 1
            p <- p * p
            if (m >>> bit) &&& 1 = 1 then p <- p * v
        if n > 0 then p else Vector<float>.One / p
    let w = Vector<float32>.Count
    let mutable i = 0
    if Vector.IsHardwareAccelerated then
        let mutable low = Vector<float>.Zero
        let mutable high = Vector<float>.Zero
        while i + w <= x.Length do
            Vector.Widen(Vector<float32>(x.Slice(i, w)), &low, &high)
            Vector.Narrow(lanes low, lanes high).CopyTo(d.Slice(i, w))
            i <- i + w
    while i < x.Length do
        d[i] <- float32 (power32 (float x[i]) n)
        i <- i + 1

/// The span form: whole-span SIMD operations where there are ones (n = 0, 1, 2, -1).
let private integerPowers<'T when 'T :> IFloatingPointIeee754<'T>> (x: ReadOnlySpan<'T>) (n: int) (d: Span<'T>) =
    match n with
    | 0 -> d.Fill 'T.One
    | 1 -> x.CopyTo d
    | 2 -> TensorPrimitives.Multiply(x, x, d)
    | -1 -> TensorPrimitives.Divide('T.One, x, d)
    | n when Vectors.is<'T, float> -> doubleWords (Vectors.readAs<'T, float> x) n (Vectors.writeAs<'T, float> d)
    | n when Vectors.is<'T, float32> -> powers32 (Vectors.readAs<'T, float32> x) n (Vectors.writeAs<'T, float32> d)
    | n ->
        let lowest = lowest<'T> ()
        for i in 0 .. d.Length - 1 do d[i] <- doubleWord lowest x[i] n

/// After the library pow of a whole span, the elements with small integer exponents recomputed, so an
/// element's value does not depend on how its operands were broadcast.
let private fixIntegers<'T when 'T :> IFloatingPointIeee754<'T>> (x: ReadOnlySpan<'T>) (xScalar: 'T) (xIsSpan: bool) (y: ReadOnlySpan<'T>) (d: Span<'T>) =
    let lowest = lowest<'T> ()
    for i in 0 .. d.Length - 1 do
        if smallInteger y[i] then d[i] <- integerPower lowest (if xIsSpan then x[i] else xScalar) (Int32.CreateTruncating y[i])

/// TensorPrimitives.Pow, chunked so that its roundings do not depend on an element's position.
let private generic =
    Aligned.chunkedBinary
        { new FloatBinary with
            member _.SS(a, b, d) = TensorPrimitives.Pow(a, b, d)
            member _.ST(a, b, d) = TensorPrimitives.Pow(a, b, d)
            member _.TS(a, b, d) = TensorPrimitives.Pow(a, b, d) }

/// pow's kernel.
let kernel =
    { new FloatBinary with
        member _.SS<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged>(a: ReadOnlySpan<'T>, b: ReadOnlySpan<'T>, d: Span<'T>) =
            generic.SS(a, b, d)
            fixIntegers a 'T.Zero true b d
        member _.ST<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged>(a: ReadOnlySpan<'T>, b: 'T, d: Span<'T>) =
            if smallInteger b then integerPowers a (Int32.CreateTruncating b) d else generic.ST(a, b, d)
        member _.TS<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged>(a: 'T, b: ReadOnlySpan<'T>, d: Span<'T>) =
            generic.TS(a, b, d)
            fixIntegers ReadOnlySpan<'T>.Empty a false b d }

/// xⁿ for one element by the kernel's rule (tests compare it with exact powers).
let integer<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T) (n: int) = integerPower (lowest<'T> ()) x n
