/// A small seeded generator (xoshiro256** seeded through splitmix64): the same seed gives the
/// same tensors on every machine and every .NET version.
module internal FuncDiff.Core.Random

open System
open System.Numerics
open FuncDiff

[<Sealed>]
type Generator(seed: int64) =
    let mutable s0 = 0UL
    let mutable s1 = 0UL
    let mutable s2 = 0UL
    let mutable s3 = 0UL
    let mutable spare = nan
    do
        let mutable x = uint64 seed
        let next () =
            x <- x + 0x9E3779B97F4A7C15UL
            let mutable z = x
            z <- (z ^^^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL
            z <- (z ^^^ (z >>> 27)) * 0x94D049BB133111EBUL
            z ^^^ (z >>> 31)
        s0 <- next ()
        s1 <- next ()
        s2 <- next ()
        s3 <- next ()

    member _.NextUInt64() =
        let result = BitOperations.RotateLeft(s1 * 5UL, 7) * 9UL
        let t = s1 <<< 17
        s2 <- s2 ^^^ s0
        s3 <- s3 ^^^ s1
        s1 <- s1 ^^^ s2
        s0 <- s0 ^^^ s3
        s2 <- s2 ^^^ t
        s3 <- BitOperations.RotateLeft(s3, 45)
        result

    /// Uniform on [0, 1) with 53 random bits.
    member g.NextUniform() = float (g.NextUInt64() >>> 11) * (1.0 / 9007199254740992.0)

    /// Standard normal by the Box-Muller transform, using both values of each pair.
    member g.NextNormal() =
        if not (Double.IsNaN spare) then
            let v = spare
            spare <- nan
            v
        else
            let u1 = 1.0 - g.NextUniform() // in (0, 1], so the log is finite
            let u2 = g.NextUniform()
            let r = sqrt (-2.0 * log u1)
            spare <- r * sin (2.0 * Math.PI * u2)
            r * cos (2.0 * Math.PI * u2)
