/// The log kernel against an exact reference (fixed point with 400 fraction bits: k·ln2 + 2·atanh s by
/// their series, so the measured error is the kernel's, not Math.Log's), IEEE's edge values, and bit for
/// bit against itself: every element the same whatever its position, the span's length or where a span
/// is split (compiled plans run blocks).
module FuncDiff.Tests.LogTests

open System
open System.Numerics
open Expecto
open FuncDiff.Core.Kernels
open FuncDiff.Core.Kernels.Elementwise

// ---- Exact reference ------------------------------------------------------------------------------

/// Fraction bits of the fixed-point reference.
let private Bits = 400
let private decompose = Exact.decompose

/// 2·atanh(p/q) = log((q + p)/(q - p)) = 2·Σ (p/q)²ʲ⁺¹/(2j+1), for 0 ≤ p/q ≤ 1/3.
let private twoAtanh (p: BigInteger) (q: BigInteger) =
    let mutable power = (p <<< Bits) / q
    let s2 = (power * power) >>> Bits
    let mutable sum = BigInteger.Zero
    let mutable j = 0
    while not power.IsZero do
        sum <- sum + power / BigInteger(2 * j + 1)
        power <- (power * s2) >>> Bits
        j <- j + 1
    sum * BigInteger 2

/// ln 2 = 2·atanh(1/3).
let private ln2 = twoAtanh BigInteger.One (BigInteger 3)

/// log x in fixed point for finite x > 0: x = M·2ᵉ = m·2ᵏ with m = M/2ᵇ in [1, 2), log m = 2·atanh((M - 2ᵇ)/(M + 2ᵇ)).
let private exactLog (x: float) =
    let m, e = decompose x
    let b = int (m.GetBitLength()) - 1
    let one = BigInteger.One <<< b
    BigInteger(e + b) * ln2 + twoAtanh (m - one) (m + one)

let private ulps = Exact.ulps Bits

// ---- Running the kernel --------------------------------------------------------------------------------

let private log64 (xs: float[]) =
    let y = Array.zeroCreate xs.Length
    Logarithm.log (ReadOnlySpan xs) (Span y)
    y

let private log32 (xs: float32[]) =
    let y = Array.zeroCreate xs.Length
    Logarithm.log (ReadOnlySpan xs) (Span y)
    y

let private same (a: float) (b: float) = BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b
let private same32 (a: float32) (b: float32) = BitConverter.SingleToInt32Bits a = BitConverter.SingleToInt32Bits b

/// (1 + u)·2ᵉ for u uniform in [0, 1) and e uniform in [lo, hi].
let private spread (rng: Random) (lo: int) (hi: int) = (1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(lo, hi + 1)))

/// Arguments by range: next to 1 (where log x is small and k = 0), tiny, moderate, large, subnormal, and
/// around √½ and √2 where the reduction moves m from one end of its interval to the other.
let private ranges (rng: Random) =
    [ "near 1", [| for _ in 1 .. 3000 do 1.0 + (rng.NextDouble() - 0.5) * Math.Pow(2.0, float (rng.Next(-52, 0)))
                   Math.BitIncrement 1.0; Math.BitDecrement 1.0; 0.5; 2.0 |]
      "(0, 1e-300]", [| for _ in 1 .. 1500 do spread rng -1022 -998 |]
      "[1e-3, 1e3]", [| for _ in 1 .. 3000 do Math.Pow(10.0, 6.0 * rng.NextDouble() - 3.0) |]
      "large", [| for _ in 1 .. 1500 do spread rng 10 1022
                  Double.MaxValue; 1e300 |]
      "subnormal", [| for _ in 1 .. 1500 do rng.NextDouble() * 2.2250738585072014e-308
                      5e-324; 1e-323; Math.BitDecrement 2.2250738585072014e-308; 2.2250738585072014e-308 |]
      "√½ and √2", [| for _ in 1 .. 1000 do (Math.Sqrt 0.5 + (rng.NextDouble() - 0.5) * 1e-6) * Math.Pow(2.0, float (rng.Next(-20, 21)))
                      for _ in 1 .. 1000 do (Math.Sqrt 2.0 + (rng.NextDouble() - 0.5) * 1e-6) * Math.Pow(2.0, float (rng.Next(-20, 21))) |] ]

/// The float32 ranges: next to 1, subnormal, the smallest normals, the largest, around √½ and √2, and
/// every float32 of [1, 2) at a stride.
let private ranges32 (rng: Random) =
    let spread32 lo hi = float32 (spread rng lo hi)
    [ "near 1", [| for _ in 1 .. 3000 do float32 (1.0 + (rng.NextDouble() - 0.5) * Math.Pow(2.0, float (rng.Next(-24, 0))))
                   MathF.BitIncrement 1.0f; MathF.BitDecrement 1.0f; 0.5f; 2.0f |]
      "subnormal", [| for _ in 1 .. 3000 do float32 (rng.NextDouble() * 1.1754943508222875e-38)
                      Single.Epsilon; 2.0f * Single.Epsilon; MathF.BitDecrement 1.17549435e-38f; 1.17549435e-38f |]
      "tiny and large", [| for _ in 1 .. 1500 do spread32 -126 -100
                           for _ in 1 .. 1500 do spread32 100 127
                           Single.MaxValue |]
      "√½ and √2", [| for _ in 1 .. 1000 do float32 ((Math.Sqrt 0.5 + (rng.NextDouble() - 0.5) * 1e-5) * Math.Pow(2.0, float (rng.Next(-20, 21))))
                      for _ in 1 .. 1000 do float32 ((Math.Sqrt 2.0 + (rng.NextDouble() - 0.5) * 1e-5) * Math.Pow(2.0, float (rng.Next(-20, 21)))) |]
      "every 397th float32 of [1, 2)", [| for i in 1 .. 21130 do BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits 1.0f + 397 * i) |] ]
    |> List.map (fun (name, xs) -> name, xs |> Array.filter (fun x -> x > 0.0f && x <> 1.0f && Single.IsFinite x))

/// The worst error of got against the exact log over xs, failing at the first above the bound.
let private worst (precision: int) (bound: float) (xs: float[]) (got: float[]) =
    let mutable worst = 0.0
    for i in 0 .. xs.Length - 1 do
        if xs[i] <> 1.0 then
            let err = ulps precision got[i] (exactLog xs[i])
            if err > bound then failtestf "log %.17g = %.17g, %.4f ulp from the exact value" xs[i] got[i] err
            worst <- max worst err
    worst

let private accuracyTests =
    testList "accuracy" [
        for name, xs in ranges (Random 31) do
            test (sprintf "float64 within 1 ulp of the exact value, %s" name) {
                let w = worst 53 1.0 xs (log64 xs)
                printfn "log float64, %s: worst %.4f ulp over %d arguments" name w xs.Length
            }
        test "float32 within 1 ulp of the exact value" {
            let rng = Random 32
            let xs =
                [| for _ in 1 .. 2000 do float32 (1.0 + (rng.NextDouble() - 0.5) * Math.Pow(2.0, float (rng.Next(-23, 0))))
                   for _ in 1 .. 2000 do float32 (spread rng -149 127)
                   Single.Epsilon; Single.MaxValue; 1.1754944e-38f; MathF.BitIncrement 1.0f |]
                |> Array.filter (fun x -> x > 0.0f && x <> 1.0f && Single.IsFinite x)
            let got = log32 xs
            let w = worst 24 1.0 (Array.map float xs) (Array.map float got)
            printfn "log float32: worst %.4f ulp over %d arguments" w xs.Length
        }
        for name, xs in ranges32 (Random 35) do
            test (sprintf "float32 within 1 ulp of the exact value, %s" name) {
                let w = worst 24 1.0 (Array.map float xs) (Array.map float (log32 xs))
                printfn "log float32, %s: worst %.4f ulp over %d arguments" name w xs.Length
            }
        test "powers of two give k·ln2 rounded within 1 ulp, and log 1 is +0" {
            let xs = [| for k in -1074 .. 1023 do Math.Pow(2.0, float k) |] |> Array.filter (fun x -> x <> 1.0)
            worst 53 1.0 xs (log64 xs) |> ignore
            let xs32 = [| for k in -149 .. 127 do float32 (Math.Pow(2.0, float k)) |] |> Array.filter (fun x -> x <> 1.0f)
            worst 24 1.0 (Array.map float xs32) (Array.map float (log32 xs32)) |> ignore
            let one = log64 [| 1.0 |]
            let one32 = log32 [| 1.0f |]
            Expect.isTrue (same one[0] 0.0) "log 1 = +0"
            Expect.isTrue (same32 one32[0] 0.0f) "log 1 = +0 (float32)"
        }
        test "edges: ±0 give -∞, negatives and NaN give NaN, +∞ gives +∞" {
            let xs = [| 0.0; -0.0; infinity; -infinity; -1.0; -5e-324; -Double.MaxValue; nan; -nan |]
            let got = log64 xs
            Expect.isTrue (same got[0] -infinity && same got[1] -infinity) "log ±0 = -∞"
            Expect.isTrue (same got[2] infinity) "log ∞ = ∞"
            Expect.isTrue (got[3..] |> Array.forall Double.IsNaN) "NaN below 0 and for NaN"
            let got32 = log32 [| 0.0f; -0.0f; infinityf; -infinityf; -1.0f; -Single.Epsilon; -Single.MaxValue; nanf; -nanf |]
            Expect.isTrue (same32 got32[0] -infinityf && same32 got32[1] -infinityf) "log ±0 = -∞ (float32)"
            Expect.isTrue (same32 got32[2] infinityf) "log ∞ = ∞ (float32)"
            Expect.isTrue (got32[3..] |> Array.forall Single.IsNaN) "NaN below 0 and for NaN (float32)"
        } ]

/// A mix of every kind of argument: ordinary, tiny, subnormal, huge, and the edge values.
let private mixedOf (kinds: 'T[]) (ofFloat: float -> 'T) (lowest: int) (highest: int) (rng: Random) (n: int) =
    Array.init n (fun _ ->
        match rng.Next 4 with
        | 0 -> kinds[rng.Next kinds.Length]
        | 1 -> ofFloat (spread rng lowest highest)
        | _ -> ofFloat (4.0 * rng.NextDouble()))

let private mixed = mixedOf [| 0.0; -0.0; infinity; -infinity; nan; 1.0; -1.0; 5e-324; 1e-310; Double.MaxValue; Math.BitIncrement 1.0 |] id -1074 1023
let private mixed32 =
    mixedOf [| 0.0f; -0.0f; infinityf; -infinityf; nanf; 1.0f; -1.0f; Single.Epsilon; 1e-40f; Single.MaxValue; MathF.BitIncrement 1.0f |] float32 -149 127

let private determinismTests =
    testList "bit for bit" [
        test "every element equals the scalar rule, whatever the span's length, offset or split" {
            LaneChecks.sameAtAnyPosition { new LaneChecks.SpanKernel with member _.Run(x, y) = Logarithm.log x y } Logarithm.scalar Logarithm.scalar32 mixed mixed32 33
        }
        test "in place (y = x) gives the same bits as into another span" {
            let xs = mixed (Random 34) 67
            let expected = log64 xs
            let inPlace = Array.copy xs
            Logarithm.log (ReadOnlySpan inPlace) (Span inPlace)
            Array.iteri2 (fun i a b -> if not (same a b) then failtestf "element %d: %.17g in place, %.17g apart" i a b) inPlace expected
            let xs32 = mixed32 (Random 35) 67
            let expected32 = log32 xs32
            Logarithm.log (ReadOnlySpan xs32) (Span xs32)
            Array.iteri2 (fun i a b -> if not (same32 a b) then failtestf "float32 element %d: %.9g in place, %.9g apart" i a b) xs32 expected32
        } ]

let tests = testList "log kernel" [ accuracyTests; determinismTests ]
