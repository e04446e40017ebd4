/// Exact values of floats, for references computed in BigInteger arithmetic.
module FuncDiff.Tests.Exact

open System
open System.Numerics

/// v = m·2ᵉ with an integer m (v finite; m = 0 for ±0).
let decompose (v: float) =
    let b = BitConverter.DoubleToInt64Bits v
    let e = int ((b >>> 52) &&& 0x7FFL)
    let f = b &&& 0xFFFFFFFFFFFFFL
    let m = if e = 0 then f else f ||| (1L <<< 52)
    BigInteger(if v < 0.0 then -m else m), (if e = 0 then -1074 else e - 1075)

/// v·2^bits, exactly; fails for a v whose last significant bit lies below 2^-bits.
let toFixed (bits: int) (v: float) =
    let m, e = decompose v
    if e + bits < 0 then failwithf "%g is below the reference's resolution" v
    m <<< (e + bits)

/// |got - want| in units of the last place (of a p-bit significand) of the exact value want, given in
/// fixed point with the same fraction bits.
let ulps (bits: int) (precision: int) (got: float) (want: BigInteger) =
    let place = int ((BigInteger.Abs want).GetBitLength()) - precision
    float ((BigInteger.Abs(toFixed bits got - want) <<< 30) >>> place) / Math.Pow(2.0, 30.0)
