/// tanh's kernel against an exact reference (the series of e²ᵃ - 1 in 400-bit fixed point, so the
/// measured error is the kernel's, not Math.Tanh's), and bit for bit against itself: every element the
/// same whatever its position, the span's length or where a span is split (compiled plans run blocks).
module FuncDiff.Tests.TanhTests

open System
open System.Numerics
open Expecto
open FuncDiff.Tests.Exact
open FuncDiff.Tests.LaneChecks
open FuncDiff.Core.Kernels

/// Fractional bits of the fixed-point reference.
let private F = 400

/// a·2^F exactly (a ≥ 2^-300).
let private fixedOf (a: float) =
    let m, e = decompose a
    m <<< (e + F)

/// tanh a · 2^F for 2^-300 ≤ a ≤ 40, within a few units: (e²ᵃ - 1) / (e²ᵃ + 1) with e²ᵃ - 1 = Σₙ₌₁ (2a)ⁿ/n!,
/// all terms positive, so nothing cancels.
let private exactTanh (a: float) =
    let one = BigInteger.One <<< F
    let twoA = fixedOf a * BigInteger 2
    let mutable term = one
    let mutable sum = BigInteger.Zero
    let mutable n = 1
    while not term.IsZero do
        term <- term * twoA / (BigInteger n <<< F)
        sum <- sum + term
        n <- n + 1
    (sum <<< F) / (sum + one + one)

/// |r - tanh a| in units of r's last place for a result r > 0 with p significant bits (53 or 24).
let private ulpError (p: int) (a: float) (r: float) =
    let m, e = decompose r
    // r's ulp is 2^(e + 53 - p) for normal results; the bit length of m tells where it is normal.
    let ulpExp = e + int (BigInteger.Log(m, 2.0)) + 1 - p
    let diff = BigInteger.Abs((m <<< (e + F)) - exactTanh a)
    float (diff <<< 20) / Math.Pow(2.0, float (ulpExp + F + 20))

let private kernel = { new SpanKernel with member _.Run(x, y) = Hyperbolic.tanh x y }
let private tanh64 = run64 kernel
let private tanh32 = run32 kernel

/// Arguments where tanh's evaluation changes: tiny, around the polynomial's end at 1, around saturation.
let private samples (rng: Random) =
    let sign () = if rng.Next 2 = 0 then -1.0 else 1.0
    [| for _ in 1 .. 6000 do sign () * rng.NextDouble()
       for _ in 1 .. 2000 do sign () * (1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-40, 0)))
       for _ in 1 .. 2000 do sign () * (1.0 + (rng.NextDouble() - 0.5) * Math.Pow(2.0, float (rng.Next(-52, -1))))
       for _ in 1 .. 2000 do sign () * (1.0 + 19.0 * rng.NextDouble())
       for _ in 1 .. 200 do sign () * (18.5 + 2.0 * rng.NextDouble())
       1.0; -1.0; Math.BitDecrement 1.0; Math.BitIncrement 1.0; 0.5; 0.55; 20.0; 19.0 |]

/// The worst error of f over the samples, failing at the first above the bound.
let private worst (p: int) (bound: float) (f: float -> float) (xs: float[]) =
    let mutable worst = 0.0
    for x in xs do
        let r = f x
        if Math.Sign r <> Math.Sign x then failtestf "tanh %.17g = %.17g has the wrong sign" x r
        let err = ulpError p (abs x) (abs r)
        if err > bound then failtestf "tanh %.17g = %.17g, %.4f ulp from the exact value" x r err
        worst <- max worst err
    worst

let private accuracyTests =
    testList "accuracy" [
        test "float64 within 1 ulp of the exact value" {
            let xs = samples (Random 21)
            let got = tanh64 xs
            let lookup = Collections.Generic.Dictionary<int64, float>()
            for i in 0 .. xs.Length - 1 do lookup[BitConverter.DoubleToInt64Bits xs[i]] <- got[i]
            let w = worst 53 1.0 (fun x -> lookup[BitConverter.DoubleToInt64Bits x]) xs
            printfn "tanh float64: worst %.4f ulp over %d arguments" w xs.Length
        }
        test "float32 within 1 ulp of the exact value" {
            let xs = samples (Random 22) |> Array.map float32 |> Array.filter (fun x -> x <> 0.0f)
            let got = tanh32 xs
            let w = worst 24 1.0 (fun x -> float got[Array.IndexOf(xs, float32 x)]) (Array.map float xs)
            printfn "tanh float32: worst %.4f ulp over %d arguments" w xs.Length
        }
        test "float32 within 1 ulp around the knee at 1/2, near 0 and up to saturation" {
            let rng = Random 25
            let sign () = if rng.Next 2 = 0 then -1.0f else 1.0f
            let knee = BitConverter.SingleToInt32Bits 0.5f
            let xs =
                [| for i in -3000 .. 3000 do BitConverter.Int32BitsToSingle(knee + i)
                   for _ in 1 .. 3000 do sign () * float32 (0.5 * rng.NextDouble())
                   for _ in 1 .. 3000 do sign () * float32 (0.5 + 8.7 * rng.NextDouble())
                   for _ in 1 .. 1000 do sign () * float32 ((1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-30, -1))))
                   for _ in 1 .. 1000 do sign () * float32 (8.9 + 0.3 * rng.NextDouble()) |]
                |> Array.filter (fun x -> x <> 0.0f)
            let got = tanh32 xs
            let lookup = Collections.Generic.Dictionary<int, float32>()
            for i in 0 .. xs.Length - 1 do lookup[BitConverter.SingleToInt32Bits xs[i]] <- got[i]
            let w = worst 24 1.0 (fun x -> float lookup[BitConverter.SingleToInt32Bits(float32 x)]) (Array.map float xs)
            printfn "tanh float32 (knee, near 0, saturation): worst %.4f ulp over %d arguments" w xs.Length
        }
        test "float32 saturates to ±1 from 13·ln 2 on, and only there" {
            // The float32 nearest 13·ln 2 lies just below it.
            let edge = float32 (13.0 * Math.Log 2.0)
            let below = [| for i in 0 .. 200 do BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits edge - i) |]
            let above = [| for i in 1 .. 200 do BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits edge + i)
                           9.1f; 9.2f; 50.0f; 1e30f |]
            Array.iter2 (fun x r -> if not (same32 r (MathF.BitDecrement 1.0f)) then failtestf "tanh %.9g = %.9g, not the float below 1" x r) below (tanh32 below)
            Array.iter2 (fun x r -> if not (same32 r 1.0f) then failtestf "tanh %.9g = %.9g, not 1" x r) above (tanh32 above)
            let negated = Array.map (~-) above
            Array.iter2 (fun x r -> if not (same32 r -1.0f) then failtestf "tanh %.9g = %.9g, not -1" x r) negated (tanh32 negated)
        }
        test "below 2⁻²⁷ tanh x is x, which is the correctly rounded value, down to the subnormals" {
            let rng = Random 23
            let xs =
                [| for _ in 1 .. 2000 do (if rng.Next 2 = 0 then -1.0 else 1.0) * (1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-1074, -27)))
                   5e-324; -5e-324; 2.2250738585072014e-308; Math.BitDecrement 2.2250738585072014e-308; Math.Pow(2.0, -28.0) |]
            Array.iter2 (fun x r -> if not (same x r) then failtestf "tanh %.17g = %.17g" x r) xs (tanh64 xs)
            let xs32 = [| Single.Epsilon; -Single.Epsilon; 1e-40f; -1e-40f; 1.1754944e-38f; 1e-20f; -3e-5f; 1e-4f |]
            Array.iter2 (fun x r -> if not (same32 x r) then failtestf "tanh %.9g = %.9g (float32)" x r) xs32 (tanh32 xs32)
        }
        test "edges: ±0 keep their sign, ±∞ and the largest floats give ±1, NaN gives NaN" {
            let xs = [| 0.0; -0.0; infinity; -infinity; Double.MaxValue; -Double.MaxValue; 1e300; -40.0; 19.5 |]
            let want = [| 0.0; -0.0; 1.0; -1.0; 1.0; -1.0; 1.0; -1.0; 1.0 |]
            Array.iteri2 (fun i r w -> if not (same r w) then failtestf "tanh %.17g = %.17g, not %g" xs[i] r w) (tanh64 xs) want
            Expect.isTrue (tanh64 [| nan; -nan |] |> Array.forall Double.IsNaN) "NaN"
            let xs32 = [| 0.0f; -0.0f; infinityf; -infinityf; Single.MaxValue; -Single.MaxValue; 10.0f |]
            let want32 = [| 0.0f; -0.0f; 1.0f; -1.0f; 1.0f; -1.0f; 1.0f |]
            Array.iteri2 (fun i r w -> if not (same32 r w) then failtestf "tanh %.9g = %.9g, not %g" xs32[i] r w) (tanh32 xs32) want32
            Expect.isTrue (tanh32 [| nanf |] |> Array.forall Single.IsNaN) "NaN (float32)"
        } ]

/// Every kind of argument: the polynomial's range, exp's, saturation, and the edge values.
let private kinds = [| 0.0; -0.0; infinity; -infinity; nan; 1.0; -1.0; 5e-324; 1e-20; 25.0; Double.MaxValue |]

/// The same in float32, with the knee and saturation.
let private kinds32 = [| 0.0f; -0.0f; infinityf; -infinityf; nanf; 0.5f; -0.5f; MathF.BitDecrement 0.5f; Single.Epsilon; 1e-20f; 9.0f; 9.5f; Single.MaxValue |]

let tests = testList "tanh kernel" [ accuracyTests; positionTest kernel Hyperbolic.scalar Hyperbolic.scalar32 (kinds, 6.0, 1.0) (kinds32, 20.0, 1.0) 24 ]
