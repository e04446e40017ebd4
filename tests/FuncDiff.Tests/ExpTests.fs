/// exp's kernel against an exact reference (x = n·ln 2 + r in 400-bit fixed point, eʳ by its series, so
/// the measured error is the kernel's, not Math.Exp's), IEEE's edge values, and bit for bit against
/// itself wherever an element sits in a span.
module FuncDiff.Tests.ExpTests

open System
open System.Numerics
open Expecto
open FuncDiff.Tests.Exact
open FuncDiff.Tests.LaneChecks
open FuncDiff.Core.Kernels

// ---- Exact reference ------------------------------------------------------------------------------

/// Fraction bits of the fixed-point reference.
let private F = 400
let private fixedOne = BigInteger.One <<< F

/// ln 2 = Σₖ₌₁ 1/(k·2ᵏ), to about 2⁻³⁹⁰.
let private ln2 = Seq.sum (seq { for k in 1 .. F + 20 -> (fixedOne >>> k) / BigInteger k })

/// eˣ = s·2^(n - F) for finite x: x = n·ln 2 + r with |r| < ln 2, then Σ rⁱ/i!.
let private exactExp (x: float) =
    let m, e = decompose x
    let fx = if e + F >= 0 then m <<< (e + F) else m >>> -(e + F)
    let n = fx / ln2
    let r = fx - n * ln2
    let mutable term = fixedOne
    let mutable sum = fixedOne
    let mutable i = 1
    while not term.IsZero do
        term <- ((term * r) >>> F) / BigInteger i
        sum <- sum + term
        i <- i + 1
    sum, int n

/// |got - eˣ| in units of the last place of eˣ, for a result with p significant bits whose ulp is at
/// least 2^minExp (float64: 53 and -1074; float32: 24 and -149). An infinite result must be the correct
/// rounding: eˣ at least halfway between the largest finite value and 2^maxExp.
let private ulps (p: int) (minExp: int) (maxExp: int) (x: float) (got: float) =
    let s, n = exactExp x
    let unit = n - F
    if Double.IsPositiveInfinity got then
        let halfway = (BigInteger.One <<< (maxExp - unit)) - (BigInteger.One <<< (maxExp - p - 1 - unit))
        if s >= halfway then 0.0 else infinity
    else
        let m, e = decompose got
        let diff = BigInteger.Abs((m <<< (e - unit)) - s)
        let place = max (int (s.GetBitLength()) - p) (minExp - unit)
        float ((diff <<< 30) >>> place) / Math.Pow(2.0, 30.0)

let private ulps64 = ulps 53 -1074 1024
let private ulps32 = ulps 24 -149 128

// ---- Arguments ------------------------------------------------------------------------------------

/// ±k ulps around a.
let private around (a: float) (k: int) =
    [| let mutable u = a
       let mutable d = a
       for _ in 1 .. k do
           u <- Math.BitIncrement u
           d <- Math.BitDecrement d
           u
           d
       a |]

/// ln(Double.MaxValue), ln 2⁻¹⁰⁷⁵ (below: 0), ln 2⁻¹⁰⁷⁴ (the smallest subnormal), ln 2⁻¹⁰²² (the smallest normal).
let private thresholds = [| 709.782712893384; -745.1332191019412; -744.4400719213812; -708.3964185322641 |]

let private samples (rng: Random) =
    let sign () = if rng.Next 2 = 0 then -1.0 else 1.0
    let ln2 = Math.Log 2.0
    [| for _ in 1 .. 4000 do sign () * rng.NextDouble()
       for _ in 1 .. 1000 do sign () * (1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-60, 0)))
       for _ in 1 .. 6000 do -745.2 + 1455.0 * rng.NextDouble()
       for _ in 1 .. 2000 do -745.2 + 36.9 * rng.NextDouble()
       for _ in 1 .. 500 do 708.0 + 1.79 * rng.NextDouble()
       // Where the reduction's k changes: r near ±ln2/2.
       for _ in 1 .. 1000 do (float (rng.Next(-1075, 1024)) + 0.5) * ln2 + (rng.NextDouble() - 0.5) * 1e-9
       for t in thresholds do yield! around t 200
       for k in -745 .. 709 do float k
       1.0; -1.0; 0.5; -0.5; 5e-324; -5e-324; 1e-300 |]

/// The worst error over xs, failing at the first above 1 ulp.
let private worst (error: float -> float -> float) (xs: float[]) (ys: float[]) =
    let mutable w = 0.0
    for i in 0 .. xs.Length - 1 do
        let err = error xs[i] ys[i]
        if not (err <= 1.0) then failtestf "exp %.17g = %.17g, %.4f ulp from the exact value" xs[i] ys[i] err
        w <- max w err
    w

let private kernel = { new SpanKernel with member _.Run(x, y) = Exponential.exp x y }

let private accuracyTests =
    testList "accuracy" [
        test "float64 within 1 ulp of the exact value from -745.2 to 709.79, subnormal results and both thresholds included" {
            let xs = samples (Random 31)
            let w = worst ulps64 xs (run64 kernel xs)
            printfn "exp float64: worst %.4f ulp over %d arguments" w xs.Length
        }
        test "float32 within 1 ulp of the exact value, subnormal results and both thresholds included" {
            let rng = Random 32
            let xs =
                [| for _ in 1 .. 3000 do float32 (-104.0 + 193.0 * rng.NextDouble())
                   for _ in 1 .. 1000 do float32 (2.0 * rng.NextDouble() - 1.0)
                   for _ in 1 .. 1000 do float32 (-104.0 + 17.0 * rng.NextDouble())
                   for t in [| 88.72284f; -103.97208f; -87.33655f |] do
                       let mutable u = t
                       let mutable d = t
                       for _ in 1 .. 50 do
                           u <- MathF.BitIncrement u
                           d <- MathF.BitDecrement d
                           u
                           d |]
            let w = worst (fun x y -> ulps32 x y) (Array.map float xs) (Array.map float (run32 kernel xs))
            printfn "exp float32: worst %.4f ulp over %d arguments" w xs.Length
        }
        test "float32 within 1 ulp where the reduction's k changes, at every integer, for tiny x and through the subnormal results" {
            let rng = Random 33
            let ln2 = Math.Log 2.0
            let xs =
                [| for k in -150 .. 128 do
                       let mutable u = float32 ((float k + 0.5) * ln2)
                       let mutable d = u
                       for _ in 1 .. 8 do
                           u <- MathF.BitIncrement u
                           d <- MathF.BitDecrement d
                           u
                           d
                   for k in -104 .. 88 do float32 k
                   for _ in 1 .. 1000 do float32 ((if rng.Next 2 = 0 then -1.0 else 1.0) * (1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-149, -1))))
                   // Every 97th float32 from -103.98 to -89.2: results from +0 through the subnormals.
                   for i in 0 .. 19999 do BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits -103.98f - 97 * i) |]
                |> Array.filter (fun x -> x >= -104.0f && x <= 89.0f)
            let w = worst (fun x y -> ulps32 x y) (Array.map float xs) (Array.map float (run32 kernel xs))
            printfn "exp float32 (reduction boundaries, integers, tiny, subnormal results): worst %.4f ulp over %d arguments" w xs.Length
            let tiny = [| Single.Epsilon; -Single.Epsilon; 1e-30f; -1e-10f; 2.9e-8f; -2.9e-8f |]
            Array.iter2 (fun x r -> if not (same32 r 1.0f) then failtestf "exp %.9g = %.9g (float32)" x r) tiny (run32 kernel tiny)
        }
        test "e¹ is correctly rounded, and eˣ = 1 for |x| below 2⁻⁵⁴" {
            let e1 = (run64 kernel [| 1.0 |])[0]
            Expect.isLessThanOrEqual (ulps64 1.0 e1) 0.5 "exp 1 is the nearest double to e"
            Expect.isTrue (same e1 Math.E) "exp 1 = Math.E"
            let tiny = [| 5e-324; -5e-324; 1e-300; -1e-20; 5e-17; -2.7e-17 |]
            Array.iter2 (fun x r -> if not (same r 1.0) then failtestf "exp %.17g = %.17g" x r) tiny (run64 kernel tiny)
        }
        test "edges: ±0 give 1 exactly, +∞ and overflow +∞, -∞ and underflow +0, NaN NaN" {
            let xs = [| 0.0; -0.0; infinity; -infinity; Double.MaxValue; -Double.MaxValue; 710.0; 709.79; -746.0; -745.14; -745.13; -1e300 |]
            let want = [| 1.0; 1.0; infinity; 0.0; infinity; 0.0; infinity; infinity; 0.0; 0.0; 5e-324; 0.0 |]
            Array.iteri2 (fun i r w -> if not (same r w) then failtestf "exp %.17g = %.17g, not %g" xs[i] r w) (run64 kernel xs) want
            Expect.isTrue (run64 kernel [| nan; -nan |] |> Array.forall Double.IsNaN) "NaN"
            let xs32 = [| 0.0f; -0.0f; infinityf; -infinityf; Single.MaxValue; -Single.MaxValue; 89.0f; -104.0f; 1.0f |]
            let want32 = [| 1.0f; 1.0f; infinityf; 0.0f; infinityf; 0.0f; infinityf; 0.0f; float32 Math.E |]
            Array.iteri2 (fun i r w -> if not (same32 r w) then failtestf "exp %.9g = %.9g, not %g (float32)" xs32[i] r w) (run32 kernel xs32) want32
            Expect.isTrue (run32 kernel [| nanf |] |> Array.forall Single.IsNaN) "NaN (float32)"
        } ]

/// Every kind of argument: ordinary, overflowing, subnormal results, and the edge values.
let private kinds = [| 0.0; -0.0; infinity; -infinity; nan; 1.0; 709.78; -745.0; -720.0; 800.0; -800.0; 5e-324 |]

/// The same in float32.
let private kinds32 = [| 0.0f; -0.0f; infinityf; -infinityf; nanf; 1.0f; 88.72f; 88.73f; -103.0f; -95.0f; -110.0f; Single.Epsilon |]

let tests = testList "exp kernel" [ accuracyTests; positionTest kernel Exponential.scalar Exponential.scalar32 (kinds, 1500.0, 2.0) (kinds32, 220.0, 2.0) 33 ]
