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
