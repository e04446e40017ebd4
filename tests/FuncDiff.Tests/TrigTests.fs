/// The sin and cos kernels: the same bits wherever an element sits in a span and however the span is
/// cut, accuracy against an exact reference (fixed point with 300 fraction bits), and IEEE's edge values.
module FuncDiff.Tests.TrigTests

open System
open System.Numerics
open Expecto
open FuncDiff.Tests.Exact
open FuncDiff.Core.Kernels

// ---- Exact reference ------------------------------------------------------------------------------

/// Fraction bits of the fixed-point reference.
let private Bits = 300
let private fixedOne = BigInteger.One <<< Bits

/// atan(1/m) by its series, in fixed point.
let private atanInverse (m: int) =
    let m2 = BigInteger(m * m)
    let mutable power = fixedOne / BigInteger m
    let mutable sum = power
    let mutable k = 1
    while not power.IsZero do
        power <- power / m2
        let term = power / BigInteger(2 * k + 1)
        sum <- if k % 2 = 1 then sum - term else sum + term
        k <- k + 1
    sum

/// π/2 = 2·(4·atan(1/5) - atan(1/239)) (Machin), to about 2⁻²⁹⁰.
let private halfPi = BigInteger 2 * (BigInteger 4 * atanInverse 5 - atanInverse 239)

/// v in fixed point, exactly (|v| ≥ 2⁻²⁴⁸ or 0).
let private toFixed (v: float) =
    let m, e = decompose v
    if e + Bits < 0 then failwithf "%g is below the reference's resolution" v
    m <<< (e + Bits)

/// Σ (-1)ʲ rᵏ⁺²ʲ/(k+2j)! from the first term rᵏ/k!.
let private series (r: BigInteger) (first: BigInteger) (k: int) =
    let r2 = (r * r) >>> Bits
    let mutable term = first
    let mutable sum = first
    let mutable k = k
    while not term.IsZero do
        term <- -((term * r2) >>> Bits) / BigInteger((k + 1) * (k + 2))
        sum <- sum + term
        k <- k + 2
    sum

/// sin x or cos x in fixed point: |x| = n·π/2 + r exactly, then the series of r by n mod 4.
let private exact (cosine: bool) (x: float) =
    let ax = toFixed (abs x)
    let n = (BigInteger 2 * ax + halfPi) / (BigInteger 2 * halfPi)
    let r = ax - n * halfPi
    let q = int ((n + (if cosine then BigInteger.One else BigInteger.Zero)) % BigInteger 4)
    let v = if q % 2 = 0 then series r r 1 else series r fixedOne 0
    let v = if q >= 2 then -v else v
    if not cosine && x < 0.0 then -v else v

/// |got - want| in units of the last place (of a p-bit significand) of the exact value want.
let private ulps (precision: int) (got: float) (want: BigInteger) =
    let place = int ((BigInteger.Abs want).GetBitLength()) - precision
    float ((BigInteger.Abs(toFixed got - want) <<< 30) >>> place) / Math.Pow(2.0, 30.0)

// ---- Running the kernels ------------------------------------------------------------------------------

let private run64 (cosine: bool) (xs: float[]) =
    let ys = Array.zeroCreate xs.Length
    (if cosine then Trig.cos else Trig.sin).Run(ReadOnlySpan xs, Span ys)
    ys

let private run32 (cosine: bool) (xs: float32[]) =
    let ys = Array.zeroCreate xs.Length
    (if cosine then Trig.cos else Trig.sin).Run(ReadOnlySpan xs, Span ys)
    ys

let private name cosine = if cosine then "cos" else "sin"

/// Random x: |x| below 1, 100, 10⁵ and the reduction's threshold, specials, and values past it.
let private mixed (rng: Random) (n: int) =
    let specials = [| 0.0; -0.0; nan; infinity; -infinity; 5e-324; -1e-310; Double.MaxValue; 1e20; -Trig.Threshold * 1.5; Math.PI / 2.0; -Math.PI |]
    Array.init n (fun _ ->
        match rng.Next 6 with
        | 0 -> specials[rng.Next specials.Length]
        | 1 -> rng.NextDouble() * 2.0 - 1.0
        | 2 -> (rng.NextDouble() * 2.0 - 1.0) * 100.0
        | 3 -> (rng.NextDouble() * 2.0 - 1.0) * 1e5
        | 4 -> (rng.NextDouble() * 2.0 - 1.0) * Trig.Threshold
        | _ -> (rng.NextDouble() - 0.5) * Math.Pow(2.0, float (rng.Next(-60, 60))))

let private bits64 (v: float[]) = v |> Array.map BitConverter.DoubleToInt64Bits
let private bits32 (v: float32[]) = v |> Array.map BitConverter.SingleToInt32Bits

let private splitTests =
    testList "the same bits however the span is cut" [
        for cosine in [ false; true ] do
            test (sprintf "%s: pieces of 0 to 70 elements at any offset, and in place, equal the whole span" (name cosine)) {
                let rng = Random(if cosine then 21 else 22)
                for _ in 1 .. 20 do
                    let xs = mixed rng (rng.Next(0, 700))
                    let whole64 = run64 cosine xs
                    let xs32 = xs |> Array.map float32
                    let whole32 = run32 cosine xs32
                    let pieces64 = Array.zeroCreate xs.Length
                    let pieces32 = Array.zeroCreate xs.Length
                    let mutable at = 0
                    while at < xs.Length do
                        let length = min (rng.Next(0, 71)) (xs.Length - at)
                        let kernel = if cosine then Trig.cos else Trig.sin
                        kernel.Run(ReadOnlySpan(xs, at, length), Span(pieces64, at, length))
                        kernel.Run(ReadOnlySpan(xs32, at, length), Span(pieces32, at, length))
                        at <- at + length
                    Expect.equal (bits64 pieces64) (bits64 whole64) "float64 pieces"
                    Expect.equal (bits32 pieces32) (bits32 whole32) "float32 pieces"
                    // Every element alone (the tail path) gives the vector path's bits.
                    Expect.equal (bits64 (xs |> Array.collect (fun v -> run64 cosine [| v |]))) (bits64 whole64) "float64 one by one"
                    Expect.equal (bits32 (xs32 |> Array.collect (fun v -> run32 cosine [| v |]))) (bits32 whole32) "float32 one by one"
                    let inPlace = Array.copy xs
                    (if cosine then Trig.cos else Trig.sin).Run(ReadOnlySpan inPlace, Span inPlace)
                    Expect.equal (bits64 inPlace) (bits64 whole64) "float64 in place"
                    let inPlace32 = Array.copy xs32
                    (if cosine then Trig.cos else Trig.sin).Run(ReadOnlySpan inPlace32, Span inPlace32)
                    Expect.equal (bits32 inPlace32) (bits32 whole32) "float32 in place"
            }
        test "sin, cos and sinCos give the same bits at every vector width the machine accelerates" {
            let rng = Random 23
            let xs = mixed rng 1003
            let xs32 = xs |> Array.map float32
            let widen32 (v: float32[]) = bits32 v |> Array.map int64
            let results () =
                let both (input: FuncDiff.Tensors.Tensor) =
                    let s = FuncDiff.Tensors.Tensor.Empty(input.Shape, input.DType)
                    let c = FuncDiff.Tensors.Tensor.Empty(input.Shape, input.DType)
                    Trig.sinCos input s c
                    match s.Data, c.Data with
                    | (:? (float[]) as s), (:? (float[]) as c) -> [ bits64 s; bits64 c ]
                    | (:? (float32[]) as s), (:? (float32[]) as c) -> [ widen32 s; widen32 c ]
                    | _ -> failtest "sinCos gave another dtype"
                let t = FuncDiff.TensorFunctions.Tensor.ofData [| xs.Length |] xs
                [ bits64 (run64 false xs); bits64 (run64 true xs); widen32 (run32 false xs32); widen32 (run32 true xs32) ]
                @ both t @ both (FuncDiff.TensorFunctions.Tensor.cast FuncDiff.ElementTypes.DType.Float32 t)
            let widest = results ()
            LaneChecks.atEveryWidth (fun width ->
                List.iteri2 (fun i (here: int64[]) (there: int64[]) -> Expect.equal here there (sprintf "result %d at %s" i width)) (results ()) widest)
        } ]

/// x next to multiples of π/2: the nearest doubles to k·π/2 and their neighbours, k up to the threshold.
let private nearMultiples (rng: Random) (n: int) =
    Array.init n (fun i ->
        let k = if i < 200 then float (i + 1) else 1.0 + floor (rng.NextDouble() * Math.Pow(2.0, float (rng.Next(1, 30))))
        let mutable x = Math.FusedMultiplyAdd(k, 1.5707963267948966, k * 6.123233995736766e-17)
        for _ in 1 .. rng.Next(0, 3) do x <- Math.BitIncrement x
        for _ in 1 .. rng.Next(0, 3) do x <- Math.BitDecrement x
        if rng.Next 2 = 0 then -x else x)

let private ranges (rng: Random) =
    let uniform (limit: float) n = Array.init n (fun _ -> (rng.NextDouble() * 2.0 - 1.0) * limit)
    [ "|x| < 1", uniform 1.0 4000
      "|x| < 100", uniform 100.0 4000
      "|x| < 1e5", uniform 1e5 4000
      "|x| < 2³⁰", uniform Trig.Threshold 4000
      "|x| just below 2³⁰", Array.init 500 (fun _ -> (if rng.Next 2 = 0 then -1.0 else 1.0) * Trig.Threshold * (1.0 - rng.NextDouble() * 1e-6))
      "near multiples of π/2", nearMultiples rng 4000
      "2⁻⁴⁰ ≤ |x| < 2⁻²⁰", Array.init 500 (fun _ -> (rng.NextDouble() + 1.0) * Math.Pow(2.0, float (rng.Next(-40, -20)))) ]

/// float32's own ranges: next to multiples of π/2 (the nearest float32s and their neighbours), on both
/// sides of Threshold32, every 4099th float32 from π/4 to Threshold32, and tiny and subnormal x.
let private ranges32 (rng: Random) =
    let sign () = if rng.Next 2 = 0 then -1.0f else 1.0f
    let step (x: float32) (k: int) = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits x + k)
    [ "float32s nearest multiples of π/2", Array.init 4000 (fun i ->
          let k = if i < 200 then float (i + 1) else 1.0 + floor (rng.NextDouble() * Math.Pow(2.0, float (rng.Next(1, 20))))
          sign () * step (float32 (k * Math.PI / 2.0)) (rng.Next(-2, 3)))
      "on both sides of 2²⁰", Array.init 1000 (fun _ -> sign () * step Trig.Threshold32 (rng.Next(-500, 501)))
      "every 4099th float32 from π/4 to 2²⁰", [| let last = BitConverter.SingleToInt32Bits Trig.Threshold32
                                               for b in BitConverter.SingleToInt32Bits(float32 (Math.PI / 4.0)) .. 4099 .. last do BitConverter.Int32BitsToSingle b |]
      "tiny and subnormal", Array.init 1000 (fun _ -> sign () * float32 ((1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-149, -2))))) ]
    |> List.map (fun (range, xs) -> range, xs |> Array.filter (fun x -> x <> 0.0f))

/// The worst error in ulps of the kernel over xs, with the x where it happens.
let private worst (precision: int) (cosine: bool) (xs: float[]) (got: float[]) =
    Array.zip xs got |> Array.map (fun (x, y) -> ulps precision y (exact cosine x), x) |> Array.max

let private accuracyTests =
    testList "accuracy against an exact reference" [
        for cosine in [ false; true ] do
            test (sprintf "%s float64 is within 1 ulp" (name cosine)) {
                let rng = Random(if cosine then 31 else 32)
                for range, xs in ranges rng do
                    let e, x = worst 53 cosine xs (run64 cosine xs)
                    if e > 1.0 then failtestf "%s, %s: %.3f ulp at x = %.17g" (name cosine) range e x
            }
            // 0.62 ulp is the worst over every float32 below 2²¹ (checked exhaustively); past 2²⁰ the result
            // is the float64 kernel's rounded once.
            test (sprintf "%s float32 is within 0.65 ulp" (name cosine)) {
                let rng = Random(if cosine then 33 else 34)
                for range, xs32 in [ for range, xs in ranges rng -> range, Array.map float32 xs ] @ ranges32 rng do
                    let e, x = worst 24 cosine (xs32 |> Array.map float) (run32 cosine xs32 |> Array.map float)
                    if e > 0.65 then failtestf "%s, %s: %.6f ulp at x = %.9g" (name cosine) range e x
                    printfn "%s float32, %s: worst %.4f ulp over %d arguments" (name cosine) range e xs32.Length
            } ]

let private edgeTests =
    testList "edge values" [
        test "zeros, subnormals, NaN and infinities" {
            let xs = [| 0.0; -0.0; 5e-324; -5e-324; 2.2250738585072009e-308; -1e-310; 1e-20; -1e-20; nan; infinity; -infinity |]
            let s, c = run64 false xs, run64 true xs
            for i in 0 .. 7 do
                // |x| < 2⁻²⁶: x - x³/6 rounds to x and 1 - x²/2 to 1.
                Expect.equal (BitConverter.DoubleToInt64Bits s[i]) (BitConverter.DoubleToInt64Bits xs[i]) (sprintf "sin %g = %g, sign kept" xs[i] xs[i])
                Expect.equal c[i] 1.0 (sprintf "cos %g" xs[i])
            for i in 8 .. 10 do
                Expect.isTrue (Double.IsNaN s[i] && Double.IsNaN c[i]) (sprintf "sin and cos of %g are NaN" xs[i])
            let xs32 = [| 0.0f; -0.0f; 1e-45f; -1e-45f; 1e-40f; -1e-10f; nan |> float32; infinityf; -infinityf |]
            let s, c = run32 false xs32, run32 true xs32
            for i in 0 .. 5 do
                Expect.equal (BitConverter.SingleToInt32Bits s[i]) (BitConverter.SingleToInt32Bits xs32[i]) (sprintf "float32 sin %g" xs32[i])
                Expect.equal c[i] 1.0f (sprintf "float32 cos %g" xs32[i])
            for i in 6 .. 8 do
                Expect.isTrue (Single.IsNaN s[i] && Single.IsNaN c[i]) (sprintf "float32 sin and cos of %g are NaN" xs32[i])
        }
        test "sin is odd and cos even, bit for bit" {
            // Finite x: at ±∞ and NaN both give NaN, whose sign bit is not specified.
            let xs = mixed (Random 41) 1000 |> Array.filter Double.IsFinite
            Expect.equal (bits64 (run64 false (Array.map (~-) xs))) (bits64 (Array.map (~-) (run64 false xs))) "sin(-x) = -sin x"
            Expect.equal (bits64 (run64 true (Array.map (~-) xs))) (bits64 (run64 true xs)) "cos(-x) = cos x"
            let xs32 = xs |> Array.map float32 |> Array.filter Single.IsFinite
            Expect.equal (bits32 (run32 false (Array.map (~-) xs32))) (bits32 (Array.map (~-) (run32 false xs32))) "float32 sin(-x) = -sin x"
            Expect.equal (bits32 (run32 true (Array.map (~-) xs32))) (bits32 (run32 true xs32)) "float32 cos(-x) = cos x"
        }
        test "past the threshold, the library's values bit for bit" {
            let xs =
                [| Math.BitIncrement Trig.Threshold; -Math.BitIncrement Trig.Threshold; Trig.Threshold * 2.0; 1e20; -1e300; Double.MaxValue; -Double.MaxValue
                   1.5707963267948966e22; 6381956970095103.0 * Math.Pow(2.0, 797.0) |]
            Expect.equal (bits64 (run64 false xs)) (bits64 (Array.map Math.Sin xs)) "sin"
            Expect.equal (bits64 (run64 true xs)) (bits64 (Array.map Math.Cos xs)) "cos"
            let xs32 = [| 1.1e9f; -3e9f; Single.MaxValue; -Single.MaxValue |]
            Expect.equal (bits32 (run32 false xs32)) (bits32 (xs32 |> Array.map (fun v -> float32 (Math.Sin(float v))))) "float32 sin"
            Expect.equal (bits32 (run32 true xs32)) (bits32 (xs32 |> Array.map (fun v -> float32 (Math.Cos(float v))))) "float32 cos"
        }
        test "float32 past 2²⁰: the float64 kernel's result rounded once, bit for bit" {
            let rng = Random 42
            let xs32 =
                [| MathF.BitIncrement Trig.Threshold32; -MathF.BitIncrement Trig.Threshold32; 2.0f * Trig.Threshold32; float32 Trig.Threshold; 1e30f
                   for _ in 1 .. 2000 do (if rng.Next 2 = 0 then -1.0f else 1.0f) * float32 (Math.Pow(2.0, 20.0 + 11.0 * rng.NextDouble())) |]
                |> Array.filter (fun x -> MathF.Abs x > Trig.Threshold32)
            for cosine in [ false; true ] do
                let via64 = run64 cosine (Array.map float xs32) |> Array.map float32
                Expect.equal (bits32 (run32 cosine xs32)) (bits32 via64) (name cosine)
        }
        test "at k·π/2 for k up to 2³⁰ the results are within 1 ulp of exact, and sin(π/2) = cos 0 = 1" {
            let ks = [| 1.0; 2.0; 3.0; 4.0; 5.0; 100.0; 1e4; 1e6; 123456789.0; 6.8e8 |]
            let xs = ks |> Array.collect (fun k -> let x = k * 1.5707963267948966 in [| x; -x; Math.BitIncrement x; Math.BitDecrement x |])
            for cosine in [ false; true ] do
                let e, x = worst 53 cosine xs (run64 cosine xs)
                if e > 1.0 then failtestf "%s: %.3f ulp at x = %.17g" (name cosine) e x
            Expect.equal (run64 false [| Math.PI / 2.0 |]) [| 1.0 |] "sin(π/2)"
            Expect.equal (run64 true [| 0.0 |]) [| 1.0 |] "cos 0"
        } ]

let tests = testList "sin and cos kernels" [ splitTests; accuracyTests; edgeTests ]
