/// Kernels against their scalar definitions: the SIMD mulNoNan bit for bit, and pow's small integer
/// exponents against exact powers (BigInteger) and, at IEEE's edge values, against Math.Pow bit for bit.
module FuncDiff.Tests.KernelProperties

open System
open System.Numerics
open Expecto
open FuncDiff.Tests.Exact
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Kernels
open FuncDiff.Core.Primitives

let private forward (name: string) (inputs: Tensor list) =
    let p = (Registry.tryFind name).Value
    let node = Rules.apply p [] (inputs |> List.map Rules.constant)
    let out = Tensor.Empty(node.Shape, node.DType)
    match node.Op with
    | Apply (_, attrs) -> p.Prepare attrs (Array.ofList inputs) out
    | _ -> failwith "not an application"
    out

let private specials = [| 0.0; -0.0; infinity; -infinity; nan; 1.0; -1.0; 5e-324; -2.5; 1e300; -1e-300 |]

let private randomValues (rng: Random) (n: int) =
    Array.init n (fun _ -> if rng.Next 3 = 0 then specials[rng.Next specials.Length] else (rng.NextDouble() - 0.5) * Math.Pow(10.0, float (rng.Next(-5, 6))))

let private bits (t: Tensor) =
    match t.Data with
    | :? (float[]) as d -> d |> Array.map BitConverter.DoubleToInt64Bits
    | :? (float32[]) as d -> d |> Array.map (fun v -> int64 (BitConverter.SingleToInt32Bits v))
    | _ -> failwith "float tensors only"

/// The scalar definition: +0 where y is ±0, else x·y.
let private mulNoNanOf (x: float) (y: float) = if y = 0.0 then 0.0 else x * y

let private mulNoNanTests =
    testList "mulNoNan" [
        for dtype in [ DType.Float64; DType.Float32 ] do
            test (sprintf "SIMD equals the scalar definition bit for bit (%O, all lengths and forms, at every vector width)" dtype) {
                LaneChecks.atEveryWidth (fun width ->
                    let rng = Random(7)
                    for length in [ 0; 1; 3; 4; 7; 8; 15; 16; 17; 33; 100; 1001 ] do
                        let xs, ys = randomValues rng length, randomValues rng length
                        let sx, sy = (randomValues rng 1)[0], (randomValues rng 1)[0]
                        let t (a: float[]) dims = Tensor.cast dtype (Tensor.ofData dims a)
                        let expect (f: int -> float) = Tensor.cast dtype (Tensor.ofData [| length |] (Array.init length f))
                        // float32 inputs are rounded first: the definition applies to the rounded values.
                        let r (v: float) = if dtype = DType.Float32 then float (float32 v) else v
                        let cases =
                            [ "span-span", [ t xs [| length |]; t ys [| length |] ], expect (fun i -> mulNoNanOf (r xs[i]) (r ys[i]))
                              "span-scalar", [ t xs [| length |]; t [| sy |] [||] ], expect (fun i -> mulNoNanOf (r xs[i]) (r sy))
                              "scalar-span", [ t [| sx |] [||]; t ys [| length |] ], expect (fun i -> mulNoNanOf (r sx) (r ys[i]))
                              "span-zero", [ t xs [| length |]; t [| -0.0 |] [||] ], expect (fun _ -> 0.0) ]
                        for form, inputs, expected in cases do
                                Expect.equal (bits (forward "mulNoNan" inputs)) (bits expected) (sprintf "%s, length %d, %s" form length width)
                    // Broadcast rows: [3, length] against [length] and [3, 1].
                    let xs, ys, zs = randomValues rng 51, randomValues rng 17, randomValues rng 3
                    let got = forward "mulNoNan" [ Tensor.ofData [| 3; 17 |] xs |> Tensor.cast dtype; Tensor.ofData [| 17 |] ys |> Tensor.cast dtype ]
                    let want = Tensor.ofData [| 3; 17 |] (Array.init 51 (fun i -> mulNoNanOf (float (Tensor.cast dtype (Tensor.scalar xs[i])).[[||]]) (float (Tensor.cast dtype (Tensor.scalar ys[i % 17])).[[||]]))) |> Tensor.cast dtype
                    Expect.equal (bits got) (bits want) ("broadcast along rows, " + width)
                    let got = forward "mulNoNan" [ Tensor.ofData [| 3; 17 |] xs |> Tensor.cast dtype; Tensor.ofData [| 3; 1 |] zs |> Tensor.cast dtype ]
                    let want = Tensor.ofData [| 3; 17 |] (Array.init 51 (fun i -> mulNoNanOf (float (Tensor.cast dtype (Tensor.scalar xs[i])).[[||]]) (float (Tensor.cast dtype (Tensor.scalar zs[i / 17])).[[||]]))) |> Tensor.cast dtype
                    Expect.equal (bits got) (bits want) ("broadcast along columns, " + width)
                    ())
            } ]

// ---- pow with small integer exponents -------------------------------------------------------------

let private pow2 (e: int) = BigInteger.Pow(BigInteger 2, e)

/// |r - xⁿ| in units of r's last place, exactly (r normal).
let private ulpError (x: float) (n: int) (r: float) =
    let mx, ex = decompose x
    let mr, er = decompose r
    let k = abs n
    // r - xⁿ as num / den; for n < 0, xⁿ = 2^(-ex·k) / mx^k.
    let num, den =
        if n >= 0 then
            let e = min er (ex * k)
            mr * pow2 (er - e) - BigInteger.Pow(mx, k) * pow2 (ex * k - e), pow2 (er - e)
        else
            let mk = BigInteger.Pow(mx, k)
            let e = min er (-ex * k)
            mr * mk * pow2 (er - e) - pow2 (-ex * k - e), mk * pow2 (er - e)
    let num, den = BigInteger.Abs num, BigInteger.Abs den
    float (num * pow2 40 / den) / Math.Pow(2.0, 40.0)

let private powTests =
    testList "pow with small integer exponents" [
        test "float64 results are within 0.5 ulp plus 2⁻³⁰ of the exact power, for every |n| ≤ 16" {
            let rng = Random(11)
            let mutable worst = 0.0
            for n in -16 .. 16 do
                // Bases whose powers stay in the normal range the multiplications cover.
                let limit = if n = 0 then 900 else 900 / abs n
                let xs = Array.init 2000 (fun _ -> (if rng.Next 2 = 0 then -1.0 else 1.0) * (1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-limit, limit))))
                let got = (forward "pow" [ Tensor.ofData [| xs.Length |] xs; Tensor.scalar (float n) ]).ToFloat64Array()
                for i in 0 .. xs.Length - 1 do
                    Expect.equal got[i] (Power.integer xs[i] n) "the span form gives the element rule"
                    if n <> 0 then
                        let e = ulpError xs[i] n got[i]
                        worst <- max worst e
                        if e > 0.5 + Math.Pow(2.0, -30.0) then failtestf "%.17g ^ %d = %.17g, %.6f ulp from the exact power" xs[i] n got[i] e
                    else Expect.equal got[i] 1.0 "x⁰"
            Expect.isLessThan worst 0.5000001 "the worst error"
        }
        test "float32 results are within 1 ulp of Math.Pow rounded to float32" {
            let rng = Random(12)
            for n in -16 .. 16 do
                let limit = if n = 0 then 60 else 60 / abs n
                // 2001 elements: whole vectors and a tail, which must agree with the element rule.
                let xs = Array.init 2001 (fun _ -> float32 ((if rng.Next 2 = 0 then -1.0 else 1.0) * (1.0 + rng.NextDouble()) * Math.Pow(2.0, float (rng.Next(-limit, limit)))))
                let got = (forward "pow" [ Tensor.ofData [| xs.Length |] xs; Tensor.cast DType.Float32 (Tensor.scalar (float n)) ]).ToArray<float32>()
                for i in 0 .. xs.Length - 1 do
                    if BitConverter.SingleToInt32Bits got[i] <> BitConverter.SingleToInt32Bits (Power.integer xs[i] n) then
                        failtestf "%.9g ^ %d: the span form gives %.9g, the element rule %.9g" xs[i] n got[i] (Power.integer xs[i] n)
                    let want = float32 (Math.Pow(float xs[i], float n))
                    let apart = abs (BitConverter.SingleToInt32Bits got[i] - BitConverter.SingleToInt32Bits want)
                    if apart > 1 then failtestf "%.9g ^ %d = %.9g, Math.Pow gives %.9g" xs[i] n got[i] want
        }
        test "at IEEE's edge values every form equals Math.Pow bit for bit" {
            let edges =
                [| 0.0; -0.0; infinity; -infinity; nan; 1.0; -1.0; 2.0; -2.0; 0.5; -3.0; 5e-324; -5e-324; 2.2250738585072014e-308
                   -2.2250738585072014e-308; Double.MaxValue; -Double.MaxValue; 1e-160; -1e-160; 1e160; -1e160; 1e-20; 1e20; -1e20; 1e300; -1e-300 |]
            for n in -16 .. 16 do
                let exponent = float n
                let want = edges |> Array.map (fun x -> Math.Pow(x, exponent))
                let same (what: string) (got: float[]) =
                    for i in 0 .. edges.Length - 1 do
                        let ok = (Double.IsNaN want[i] && Double.IsNaN got[i]) || BitConverter.DoubleToInt64Bits want[i] = BitConverter.DoubleToInt64Bits got[i]
                        if not ok then failtestf "%s: %.17g ^ %d = %.17g, Math.Pow gives %.17g" what edges[i] n got[i] want[i]
                same "span-scalar" ((forward "pow" [ Tensor.ofData [| edges.Length |] edges; Tensor.scalar exponent ]).ToFloat64Array())
                same "span-span" ((forward "pow" [ Tensor.ofData [| edges.Length |] edges; Tensor.ofData [| edges.Length |] (Array.create edges.Length exponent) ]).ToFloat64Array())
                let scalarSpan = edges |> Array.map (fun x -> (forward "pow" [ Tensor.scalar x; Tensor.ofData [| 2 |] [| exponent; 0.5 |] ]).ToFloat64Array()[0])
                same "scalar-span" scalarSpan
                // float32: the same edges rounded to float32, against Math.Pow of them rounded once.
                let edges32 = edges |> Array.map float32
                let want32 = edges32 |> Array.map (fun x -> float32 (Math.Pow(float x, exponent)))
                let got32 = (forward "pow" [ Tensor.ofData [| edges.Length |] edges |> Tensor.cast DType.Float32; Tensor.cast DType.Float32 (Tensor.scalar exponent) ]).ToArray<float32>()
                for i in 0 .. edges32.Length - 1 do
                    let ok = (Single.IsNaN want32[i] && Single.IsNaN got32[i]) || BitConverter.SingleToInt32Bits want32[i] = BitConverter.SingleToInt32Bits got32[i]
                    if not ok then failtestf "float32: %.9g ^ %d = %.9g, Math.Pow gives %.9g" edges32[i] n got32[i] want32[i]
        }
    ]

/// Element i of a tensor as raw bits (floats keep NaN payloads and the sign of zero).
let private rawAt (t: Tensor) (i: int) =
    match t.Data with
    | :? (float[]) as d -> BitConverter.DoubleToInt64Bits d[i]
    | :? (float32[]) as d -> int64 (BitConverter.SingleToInt32Bits d[i])
    | :? (int[]) as d -> int64 d[i]
    | :? (bool[]) as d -> if d[i] then 1L else 0L
    | _ -> failwith "unknown data"

/// The flat index in an operand of dims `src` that broadcasting reads for flat index i of `out`.
let private broadcastIndex (out: int[]) (src: int[]) (i: int) =
    let mutable rest, index, stride = i, 0, 1
    for k in 1 .. out.Length do
        let coordinate = rest % out[out.Length - k]
        rest <- rest / out[out.Length - k]
        if k <= src.Length then
            let size = src[src.Length - k]
            if size > 1 then index <- index + coordinate * stride
            stride <- stride * size
    index

let private whereTests =
    testList "where" [
        test "selects bit for bit under random conditions, every dtype and broadcast form" {
            let rng = Random 11
            let size (d: int[]) = Array.fold (*) 1 d
            let forms = [ [| 33 |], [| 33 |], [| 33 |], [| 33 |]
                          [| 4; 9 |], [| 4; 9 |], [||], [| 4; 9 |]
                          [| 4; 1 |], [| 1; 9 |], [| 9 |], [| 4; 9 |]
                          [||], [| 5 |], [| 5 |], [| 5 |]
                          [| 2; 3; 7 |], [| 3; 1 |], [| 2; 1; 7 |], [| 2; 3; 7 |]
                          // Rows of 32 and more run in lanes: a scalar on either side, both whole, and tails.
                          [| 70 |], [||], [| 70 |], [| 70 |]
                          [| 3; 40 |], [| 3; 40 |], [| 1 |], [| 3; 40 |]
                          [| 97 |], [| 97 |], [| 97 |], [| 97 |] ]
            for dtype in [ DType.Float64; DType.Float32; DType.Int32; DType.Bool ] do
                for c, a, b, out in forms do
                    let cond = Tensor.ofData c (Array.init (size c) (fun _ -> float (rng.Next 2))) |> Tensor.cast DType.Bool
                    let x = Tensor.ofData a (randomValues rng (size a)) |> Tensor.cast dtype
                    let y = Tensor.ofData b (randomValues rng (size b)) |> Tensor.cast dtype
                    let got = forward "where" [ cond; x; y ]
                    for i in 0 .. size out - 1 do
                        let pick = if rawAt cond (broadcastIndex out c i) = 1L then rawAt x (broadcastIndex out a i) else rawAt y (broadcastIndex out b i)
                        if rawAt got i <> pick then failtestf "%O where %A %A %A: element %d is %x, not %x" dtype c a b i (rawAt got i) pick
        }
    ]

let private comparisonTests =
    testList "comparisons" [
        test "every comparison gives IEEE's answer per element, every dtype and broadcast form, in lanes and tails" {
            let rng = Random 13
            let size (d: int[]) = Array.fold (*) 1 d
            let forms = [ [| 1 |], [| 1 |]; [| 31 |], [| 31 |]; [| 33 |], [| 33 |]; [| 97 |], [| 97 |]; [| 70 |], [||]; [||], [| 70 |]
                          [| 3; 40 |], [| 40 |]; [| 3; 1 |], [| 1; 40 |]; [| 2; 35 |], [| 2; 1 |] ]
            let tests = [ "lt", (fun (x: float) y -> x < y); "le", (fun x y -> x <= y); "gt", (fun x y -> x > y)
                          "ge", (fun x y -> x >= y); "eq", (fun x y -> x = y); "ne", (fun x y -> not (x = y)) ]
            for dtype in [ DType.Float64; DType.Float32; DType.Int32 ] do
                for da, db in forms do
                    let av = randomValues rng (size da)
                    // Half of b repeats a's values (or its first), so equality is exercised too.
                    let bv = Array.init (size db) (fun i -> if rng.Next 2 = 0 then av[i % av.Length] else (randomValues rng 1)[0])
                    let a = Tensor.ofData da av |> Tensor.cast dtype
                    let b = Tensor.ofData db bv |> Tensor.cast dtype
                    let out = ShapeMath.tryBroadcast (Shape.Of da) (Shape.Of db) |> function Ok s -> s.Dims | Error e -> failwith e
                    let ax, bx = a.ToFloat64Array(), b.ToFloat64Array()
                    for name, scalar in tests do
                        let got = (forward name [ a; b ]).ToArray<bool>()
                        for i in 0 .. size out - 1 do
                            let x, y = ax[broadcastIndex out da i], bx[broadcastIndex out db i]
                            if got[i] <> scalar x y then failtestf "%O %s %A %A: element %d, %g vs %g gives %b" dtype name da db i x y got[i]
        }
    ]

let tests = testList "Kernel properties" [ mulNoNanTests; powTests; whereTests; comparisonTests ]
