/// Tensors and kernels: creation, formatting, and each SIMD kernel against a plain loop over indices.
module FuncDiff.Tests.TensorTests

open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Tests.Generators

let private config = { FsCheckConfig.defaultConfig with maxTest = 100 }

/// Flat position of a multi-index, reading size-1 (broadcast) axes at 0; idx is aligned to the right.
let private ravel (dims: int[]) (idx: int[]) =
    let offset = idx.Length - dims.Length
    let mutable flat = 0
    for k in 0 .. dims.Length - 1 do
        flat <- flat * dims[k] + (if dims[k] = 1 then 0 else idx[k + offset])
    flat

let private run (bindings: (string * Tensor) list) (e: Expr) = (eval bindings e).ToFloat64Array()

let private binaryOperands =
    gen {
            let! out = shape
            let! sa = broadcastableTo out
            let! sb = broadcastableTo out
            let! a = tensor Domain.Any sa
            let! b = tensor Domain.NonZero sb
        return a, b
    }

let private binaryMatchesLoops (a: Tensor, b: Tensor) =
    let ea, eb = input "a" (a.Shape.ToList()), input "b" (b.Shape.ToList())
    let bindings = [ "a", a; "b", b ]
    let outDims = (ea + eb).Shape.ToArray()
    let av, bv = a.ToFloat64Array(), b.ToFloat64Array()
    let expected (f: float -> float -> float) =
        Array.init (Array.fold (*) 1 outDims) (fun i ->
            let idx = unravel outDims i
            f av[ravel (a.Shape.ToArray()) idx] bv[ravel (b.Shape.ToArray()) idx])
    Expect.equal (run bindings (ea + eb)) (expected (+)) "add"
    Expect.equal (run bindings (ea - eb)) (expected (-)) "sub"
    Expect.equal (run bindings (eb - ea)) (expected (fun x y -> y - x)) "sub, swapped"
    Expect.equal (run bindings (ea / eb)) (expected (/)) "div"
    Expect.equal (run bindings (maximum ea eb)) (expected max) "maximum"
    Expect.equal (run bindings (cast DType.Float64 (ea .< eb))) (expected (fun x y -> if x < y then 1.0 else 0.0)) "lt"

let private reductionCase =
    gen {
            let! dims = Gen.choose (0, 4) |> Gen.bind (fun r -> arrayOfLength r positiveDim)
            let! x = tensor Domain.Any dims
            let! axes = axesOf dims.Length
        return x, axes
    }

let private reductionsMatchLoops (x: Tensor, axes: int list) =
    let dims = x.Shape.ToArray()
    let e = input "x" (List.ofArray dims)
    let outDims = dims |> Array.mapi (fun i d -> if List.contains i axes then 1 else d)
    let xv = x.ToFloat64Array()
    let expected (seed: float) (f: float -> float -> float) =
        let acc = Array.create (Array.fold (*) 1 outDims) seed
        for i in 0 .. xv.Length - 1 do
            let j = ravel outDims (unravel dims i)
            acc[j] <- f acc[j] xv[i]
        acc
    let close (a: float[]) (b: float[]) = Array.forall2 (fun p q -> abs (p - q) <= 1e-12 * (1.0 + abs q)) a b
    Expect.isTrue (close (run [ "x", x ] (e.Sum(axes = axes))) (expected 0.0 (+))) "sum"
    Expect.equal (run [ "x", x ] (e.Max(axes = axes))) (expected -infinity max) "max"
    Expect.equal (run [ "x", x ] (e.Min(axes = axes))) (expected infinity min) "min"
    Expect.isTrue (close (run [ "x", x ] (e.Prod(axes = axes))) (expected 1.0 (*))) "prod"

let private movementCase =
    gen {
            let! dims = shapeOfRank 1 4
            let! x = tensor Domain.Any dims
            let! perm = Gen.shuffle [| 0 .. dims.Length - 1 |]
            let! start = dims |> Array.map (fun d -> Gen.choose (0, d)) |> Gen.sequenceToArray
            let! step = arrayOfLength dims.Length (Gen.choose (1, 3))
        return x, perm, start, step
    }

let private movementMatchesLoops (x: Tensor, perm: int[], start: int[], step: int[]) =
    let dims = x.Shape.ToArray()
    let e = input "x" (List.ofArray dims)
    let xv = x.ToFloat64Array()
    let tDims = perm |> Array.map (fun p -> dims[p])
    let transposed = Array.init xv.Length (fun i ->
        let idx = unravel tDims i
        let src = Array.zeroCreate dims.Length
        perm |> Array.iteri (fun k p -> src[p] <- idx[k])
        xv[ravel dims src])
    Expect.equal (run [ "x", x ] (permute (List.ofArray perm) e)) transposed "transpose"
    let counts = Array.init dims.Length (fun k -> (dims[k] - start[k] + step[k] - 1) / step[k])
    let sliced = Array.init (Array.fold (*) 1 counts) (fun i ->
        let idx = unravel counts i
        xv[ravel dims (Array.init dims.Length (fun k -> start[k] + idx[k] * step[k]))])
    Expect.equal (run [ "x", x ] (e.Slice(start, dims, step))) sliced "slice"

let private matmulOperands =
    gen {
        let! n, k, m = Gen.zip3 positiveDim dim (Gen.choose (1, 20))
        let! batch = shapeOfRank 0 2
        let! ba = broadcastableTo batch
        let! bb = broadcastableTo batch
        let! a = tensor Domain.Any (Array.append ba [| n; k |])
        let! b = tensor Domain.Any (Array.append bb [| k; m |])
        return a, b
    }

let private matmulMatchesLoops (a: Tensor, b: Tensor) =
    let ea, eb = input "a" (a.Shape.ToList()), input "b" (b.Shape.ToList())
    let c = matmul ea eb
    let cDims = c.Shape.ToArray()
    let r = cDims.Length
    let n, m = cDims[r - 2], cDims[r - 1]
    let k = a.Shape[a.Rank - 1]
    let av, bv = a.ToFloat64Array(), b.ToFloat64Array()
    let aDims, bDims = a.Shape.ToArray(), b.Shape.ToArray()
    let expected = Array.init (Array.fold (*) 1 cDims) (fun i ->
        let idx = unravel cDims i
        let mutable s = 0.0
        for p in 0 .. k - 1 do
            let ia = Array.copy idx
            ia[r - 1] <- p
            let ib = Array.copy idx
            ib[r - 2] <- p
            s <- s + av[ravel aDims ia] * bv[ravel bDims ib]
        s)
    let actual = run [ "a", a; "b", b ] c
    Expect.isTrue (Array.forall2 (fun p q -> abs (p - q) <= 1e-12 * (1.0 + abs q)) actual expected) (sprintf "matmul %A @ %A" aDims bDims)
    ignore (n, m)

let tests =
    testList "Tensors" [
        testList "creation" [
            test "from scalars, arrays and nested sequences" {
                Expect.equal ((Tensor.scalar 2.5).Shape.ToList()) [] "a scalar has rank 0"
                let t = Tensor.create [ [ 1.0; 2.0; 3.0 ]; [ 4.0; 5.0; 6.0 ] ]
                Expect.equal (t.Shape.ToList()) [ 2; 3 ] "nested lists give their shape"
                Expect.equal (t.ToFloat64Array()) [| 1.0 .. 6.0 |] "row-major"
                Expect.equal (Tensor.create [| [| 1; 2 |] |]).DType DType.Int32 "ints give int32"
                Expect.equal (Tensor.create [ true; false ]).DType DType.Bool "bools give bool"
                Expect.equal (Tensor.create [ 1.0f ]).DType DType.Float32 "float32 stays float32"
                Expect.equal ((Tensor.ofArray2D (array2D [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ]))[[| 1; 0 |]]) 3.0 "2-D arrays keep their layout"
            }
            test "a tensor does not share storage with the caller's array" {
                let data = [| 1.0; 2.0 |]
                let t = Tensor.ofArray data
                data[0] <- 99.0
                Expect.equal (t.ToFloat64Array()) [| 1.0; 2.0 |] "the tensor copied its input"
                (t.ToArray<float>())[1] <- 99.0
                Expect.equal (t.ToFloat64Array()) [| 1.0; 2.0 |] "and ToArray copies its output"
            }
            test "ranges" {
                Expect.equal ((Tensor.arange 0.0 1.0 0.25).ToFloat64Array()) [| 0.0; 0.25; 0.5; 0.75 |] "arange excludes stop"
                Expect.equal ((Tensor.linspace -1.0 1.0 5).ToFloat64Array()) [| -1.0; -0.5; 0.0; 0.5; 1.0 |] "linspace includes both ends"
                Expect.equal ((Tensor.linspace 2.0 3.0 1).ToFloat64Array()) [| 2.0 |] "one point: the start"
                Expect.equal (Tensor.linspace 2.0 3.0 0).Size 0 "none"
                // Counts past what a tensor holds, and ranges with no count, are the library's errors.
                for what, make in [ "arange(0, 1000000000000, 0.001)", (fun () -> Tensor.arange 0.0 1e12 1e-3)
                                    "arange(-1e+308, 1e+308, 1)", (fun () -> Tensor.arange -1e308 1e308 1.0)
                                    "arange(0, inf, 1)", (fun () -> Tensor.arange 0.0 infinity 1.0)
                                    "arange(0, nan, 1)", (fun () -> Tensor.arange 0.0 nan 1.0)
                                    "arange(nan, 1, 1)", (fun () -> Tensor.arange nan 1.0 1.0)
                                    "arange(0, 1, inf)", (fun () -> Tensor.arange 0.0 1.0 infinity)
                                    "linspace(0, 1, 2147483647)", (fun () -> Tensor.linspace 0.0 1.0 System.Int32.MaxValue) ] do
                    match Expect.throwsC (make >> ignore) id with
                    | :? FuncDiffException as e -> Expect.stringStarts e.Message what "the error names the call"
                    | e -> failtestf "%s threw %s: %s" what (e.GetType().Name) e.Message
                Expect.equal ((Tensor.full [ 2 ] 7.0).ToFloat64Array()) [| 7.0; 7.0 |] "full"
                Expect.equal ((Tensor.zeros [ 0; 3 ]).Size) 0 "size-0 dimensions are allowed"
            }
            test "seeded random tensors are reproducible and look like their distribution" {
                Expect.equal (Tensor.randn 3 [ 1000 ]) (Tensor.randn 3 [ 1000 ]) "same seed, same tensor"
                Expect.notEqual (Tensor.randn 3 [ 1000 ]) (Tensor.randn 4 [ 1000 ]) "another seed, another tensor"
                let n = (Tensor.randn 1 [ 100_000 ]).ToFloat64Array()
                let mean = Array.average n
                let sd = sqrt (Array.averageBy (fun v -> (v - mean) ** 2.0) n)
                Expect.floatClose { absolute = 0.02; relative = 0.0 } mean 0.0 "normal mean"
                Expect.floatClose { absolute = 0.02; relative = 0.0 } sd 1.0 "normal standard deviation"
                let u = (Tensor.rand 1 [ 100_000 ]).ToFloat64Array()
                Expect.isTrue (u |> Array.forall (fun v -> v >= 0.0 && v < 1.0)) "uniform on [0, 1)"
            }
            test "casts truncate toward zero, saturate, and test for non-zero" {
                let t = Tensor.ofArray [| 2.7; -2.7; nan; 1e12; 0.0 |]
                Expect.equal ((Tensor.cast DType.Int32 t).ToArray<int>()) [| 2; -2; 0; System.Int32.MaxValue; 0 |] "to int32"
                Expect.equal ((Tensor.cast DType.Bool t).ToArray<bool>()) [| true; true; true; true; false |] "to bool"
            }
        ]
        testList "text" [
            for t, text in
                [ Tensor.scalar 2.5, "tensor(2.5)"
                  Tensor.ofArray [| 1.0; 2.5; -3.0 |], "tensor([ 1. ,  2.5, -3. ])"
                  Tensor.create [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ], "tensor([[1., 2.],\n        [3., 4.]])"
                  Tensor.ofArray [| 1e-10; 1.0 |], "tensor([1.e-10, 1.e+00])"
                  Tensor.ofArray [| nan; infinity; 1.0 |], "tensor([nan, inf,  1.])"
                  Tensor.create [ true; false ], "tensor([ true, false], dtype=bool)"
                  Tensor.create [ 1; 20 ], "tensor([ 1, 20], dtype=int32)"
                  Tensor.zeros [ 0; 3 ], "tensor([], shape=[0, 3])"
                  Tensor.create [ [ [ 1.0 ]; [ 2.0 ] ]; [ [ 3.0 ]; [ 4.0 ] ] ], "tensor([[[1.],\n         [2.]],\n\n        [[3.],\n         [4.]]])"
                  Tensor.arange 0.0 2000.0 1.0, "tensor([0.000e+00, 1.000e+00, 2.000e+00, ..., 1.997e+03, 1.998e+03, 1.999e+03])"
                  Tensor.arange 10.0 1012.0 1.0, "tensor([  10.,   11.,   12., ..., 1009., 1010., 1011.])" ] do
                test text { Expect.equal (string t) text "NumPy-like" }
        ]
        testList "kernels against index loops" [
            testPropertyWithConfig config "linspace: exact ends, within two ulps of the exact points, monotone, symmetric about 0 to the bit"
                (Prop.forAll (Arb.fromGen (gen { let! a = Gen.choose (-1000, 1000)
                                                 let! b = Gen.choose (-1000, 1000)
                                                 let! n = Gen.choose (2, 2001)
                                                 return float a / 7.0, float b / 3.0, n }))
                    (fun (start, stop, n) ->
                        let t = (Tensor.linspace start stop n).ToFloat64Array()
                        let ulp = System.Math.BitIncrement(max (abs start) (abs stop)) - max (abs start) (abs stop)
                        // In decimal, from the doubles' round-trip digits (decimal of a double keeps only 15).
                        let dec (v: float) = System.Decimal.Parse(v.ToString "R", System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture)
                        let exact i = float (dec start + (dec stop - dec start) * decimal i / decimal (n - 1))
                        Expect.equal (t[0], t[n - 1]) (start, stop) "both ends exact"
                        for i in 0 .. n - 1 do Expect.isLessThanOrEqual (abs (t[i] - exact i)) (2.0 * ulp) (sprintf "element %d" i)
                        for i in 1 .. n - 1 do Expect.isTrue (if stop >= start then t[i] >= t[i - 1] else t[i] <= t[i - 1]) (sprintf "monotone at %d" i)
                        let s = (Tensor.linspace -stop stop n).ToFloat64Array()
                        // The middle point of an odd count is its own mirror, counted from stop: near 0, not 0.
                        for i in 0 .. n - 1 do
                            if 2 * i <> n - 1 then Expect.isTrue (s[i] = -s[n - 1 - i]) (sprintf "symmetric at %d of %d" i n)))
            testPropertyWithConfig config "broadcasting binary operations" (Prop.forAll (Arb.fromGen binaryOperands) binaryMatchesLoops)
            testPropertyWithConfig config "reductions over any axes" (Prop.forAll (Arb.fromGen reductionCase) reductionsMatchLoops)
            testPropertyWithConfig config "transpose and slice" (Prop.forAll (Arb.fromGen movementCase) movementMatchesLoops)
            test "a transpose of the last two axes (done in tiles) matches the index loop around tile edges" {
                let rng = System.Random 19
                for dims in [ [| 1; 1 |]; [| 15; 17 |]; [| 16; 16 |]; [| 40; 33 |]; [| 3; 17; 70 |]; [| 2; 0; 5 |]; [| 2; 33; 1 |] ] do
                    let x = Tensor.ofData dims (Array.init (Array.fold (*) 1 dims) (fun _ -> rng.NextDouble()))
                    let r = dims.Length
                    let perm = Array.init r (fun i -> if i = r - 2 then r - 1 elif i = r - 1 then r - 2 else i)
                    movementMatchesLoops (x, perm, Array.zeroCreate r, Array.create r 1)
            }
            testPropertyWithConfig config "batched matmul with broadcasting" (Prop.forAll (Arb.fromGen matmulOperands) matmulMatchesLoops)
            test "identical inputs give bit-identical results" {
                let x = input "x" [ 1000 ]
                let f = (tanh x * exp (-(x * x)) + log1p (x * x)).Sum() + (softmax x).Max()
                let t = Tensor.linspace -3.0 3.0 1000
                Expect.equal (eval [ "x", t ] f) (eval [ "x", t ] f) "same bits"
                Expect.equal (eval [ "x", t ] (f |> grad [ x ] |> List.head)) (eval [ "x", t ] (f |> grad [ x ] |> List.head)) "gradients too"
            }
            test "softmax, log-softmax and logsumexp do not overflow at ±1000" {
                let x = input "x" [ 3 ]
                let t = Tensor.ofArray [| 1000.0; 0.0; -1000.0 |]
                Expect.equal (run [ "x", t ] (softmax x)) [| 1.0; 0.0; 0.0 |] "softmax"
                Expect.equal (run [ "x", t ] (logSoftmax x)) [| 0.0; -1000.0; -2000.0 |] "log-softmax"
                Expect.equal (run [ "x", t ] (logsumexp x)) [| 1000.0 |] "logsumexp"
                Expect.equal (run [ "x", Tensor.full [ 3 ] -infinity ] (logsumexp x)) [| -infinity |] "logsumexp of -∞ is -∞"
            }
        ]
    ]
