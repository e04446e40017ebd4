/// The matrix-product kernel against independent loops, on every code path (AVX-512 and AVX2
/// micro-kernels, the scalar loop, the automatic choice), with transposed operands read in place:
/// - each element is the documented chain c ← fma(a_ip, b_pj, c), p = 0 … k-1 from +0, bit for bit;
/// - that chain is within its rounding-error bound of a plain float64 triple loop;
/// - ±∞ and NaN propagate as IEEE says, and a strong zero contributes exactly zero against them;
/// - shapes at every block edge (tile rows and columns, k panels, row blocks, column blocks), empty
///   and unit sizes, batches that broadcast and 1-D operands; the same inputs give the same bits.
module internal FuncDiff.Tests.MatMulTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Kernels

let private paths = [ MatMul.Path.Best; MatMul.Path.Simd512; MatMul.Path.Simd256; MatMul.Path.Scalar ]

/// op(A) is A or Aᵀ, op(B) is B or Bᵀ: C = op(A) · op(B).
type private Layout =
    { TransA: bool; TransB: bool }
    override l.ToString() = (if l.TransA then "Aᵀ" else "A") + "·" + (if l.TransB then "Bᵀ" else "B")

let private layouts = [ for ta in [ false; true ] do for tb in [ false; true ] -> { TransA = ta; TransB = tb } ]

/// One product: operands stored as the layout says, with [batch] in front of each (possibly empty).
type private Case =
    { N: int; K: int; M: int; Layout: Layout; DType: DType; A: Tensor; B: Tensor; ADims: int[]; BDims: int[] }
    override c.ToString() = sprintf "%O %dx%dx%d %O, a %A, b %A" c.DType c.N c.K c.M c.Layout c.ADims c.BDims

let private storedA (l: Layout) n k = if l.TransA then [| k; n |] else [| n; k |]
let private storedB (l: Layout) k m = if l.TransB then [| m; k |] else [| k; m |]

/// Normal samples, with every third element rounded to an integer so that exact zeros and exact
/// cancellations occur too.
let private sample (seed: int) (dims: int[]) (dtype: DType) =
    let v = (Tensor.randn seed dims).ToFloat64Array() |> Array.mapi (fun i x -> if i % 3 = 0 then Math.Round x else x)
    Tensor.ofData dims v |> Tensor.cast dtype

let private case (seed: int) (dtype: DType) (layout: Layout) (aBatch: int[]) (bBatch: int[]) n k m =
    let aDims, bDims = Array.append aBatch (storedA layout n k), Array.append bBatch (storedB layout k m)
    { N = n; K = k; M = m; Layout = layout; DType = dtype; ADims = aDims; BDims = bDims
      A = sample seed aDims dtype; B = sample (seed + 1) bDims dtype }

let private broadcastBatch (a: int[]) (b: int[]) =
    let r = max a.Length b.Length
    let at (d: int[]) i = if i < r - d.Length then 1 else d[i - (r - d.Length)]
    Array.init r (fun i -> max (at a i) (at b i))

let private runOn (path: MatMul.Path) (twoThreads: bool) (strongZero: MatMul.StrongZero) (c: Case) =
    let batch = broadcastBatch c.ADims[.. c.ADims.Length - 3] c.BDims[.. c.BDims.Length - 3]
    let out = Tensor.Empty(Shape.Of (Array.append batch [| c.N; c.M |]), c.DType)
    MatMul.matmulVia path twoThreads strongZero c.Layout.TransA c.A c.ADims c.Layout.TransB c.B c.BDims out
    out

let private run (path: MatMul.Path) (strongZero: MatMul.StrongZero) (c: Case) = runOn path false strongZero c

/// Element (i, p) of op(A) and (p, j) of op(B) in the batch element t of the broadcast batch.
let private factors (c: Case) (t: int) =
    let av, bv = c.A.ToFloat64Array(), c.B.ToFloat64Array()
    let batch = broadcastBatch c.ADims[.. c.ADims.Length - 3] c.BDims[.. c.BDims.Length - 3]
    // The batch index of each operand: broadcast axes (size 1) stay at 0.
    let offset (dims: int[]) =
        let own = dims[.. dims.Length - 3]
        let mutable rest, flat, stride = t, 0, 1
        for ax in batch.Length - 1 .. -1 .. 0 do
            let idx = rest % batch[ax]
            rest <- rest / batch[ax]
            let j = ax - (batch.Length - own.Length)
            if j >= 0 then
                if own[j] <> 1 then flat <- flat + idx * stride
                stride <- stride * own[j]
        flat
    let aOff, bOff = offset c.ADims * c.N * c.K, offset c.BDims * c.K * c.M
    (fun i p -> av[aOff + (if c.Layout.TransA then p * c.N + i else i * c.K + p)]),
    (fun p j -> bv[bOff + (if c.Layout.TransB then j * c.K + p else p * c.M + j)])

let private batchCount (c: Case) =
    broadcastBatch c.ADims[.. c.ADims.Length - 3] c.BDims[.. c.BDims.Length - 3] |> Array.fold (*) 1

/// The documented order in the element type: c ← fma(a, b, c) from +0, leaving out the terms whose
/// left (right) factor is exactly zero when skipA (skipB).
let private chain (c: Case) (skipA: bool) (skipB: bool) =
    [| for t in 0 .. batchCount c - 1 do
           let a, b = factors c t
           for i in 0 .. c.N - 1 do
               for j in 0 .. c.M - 1 do
                   let keep p = not (skipA && a i p = 0.0) && not (skipB && b p j = 0.0)
                   if c.DType = DType.Float32 then
                       let mutable s = 0.0f
                       for p in 0 .. c.K - 1 do
                           if keep p then s <- MathF.FusedMultiplyAdd(float32 (a i p), float32 (b p j), s)
                       float s
                   else
                       let mutable s = 0.0
                       for p in 0 .. c.K - 1 do
                           if keep p then s <- Math.FusedMultiplyAdd(a i p, b p j, s)
                       s |]

/// The plain float64 triple loop, s ← s + a·b, with Σ|a·b| for the error bound.
let private plain (c: Case) =
    [| for t in 0 .. batchCount c - 1 do
           let a, b = factors c t
           for i in 0 .. c.N - 1 do
               for j in 0 .. c.M - 1 do
                   let mutable s, size = 0.0, 0.0
                   for p in 0 .. c.K - 1 do
                       s <- s + a i p * b p j
                       size <- size + abs (a i p * b p j)
                   s, size |]

/// Equal, or both NaN (the payload of a NaN made by ∞ - ∞ or 0·∞ is the hardware's).
let private same (x: float) (y: float) = x = y || (Double.IsNaN x && Double.IsNaN y)

let private expectChain (path: MatMul.Path) (strongZero: MatMul.StrongZero) (skipA: bool) (skipB: bool) (c: Case) =
    let actual = (run path strongZero c).ToFloat64Array()
    let expected = chain c skipA skipB
    Expect.equal actual.Length expected.Length (sprintf "%A %O: size" path c)
    for e in 0 .. actual.Length - 1 do
        if not (same actual[e] expected[e]) || (actual[e] = 0.0 && BitConverter.DoubleToInt64Bits actual[e] <> BitConverter.DoubleToInt64Bits expected[e]) then
            failwithf "%A %O: element %d is %.17g, the fma chain gives %.17g" path c e actual[e] expected[e]

/// Within the sum of both loops' rounding-error bounds, (k + 1)·u·Σ|a·b| each, of the plain loop.
let private expectNearPlain (c: Case) =
    let actual = (run MatMul.Path.Best MatMul.StrongZero.Neither c).ToFloat64Array()
    let u = if c.DType = DType.Float32 then Math.Pow(2.0, -24.0) else Math.Pow(2.0, -53.0)
    plain c |> Array.iteri (fun e (s, size) ->
        let bound = float (c.K + 1) * (u + Math.Pow(2.0, -53.0)) * size
        if not (abs (actual[e] - s) <= bound) then
            failwithf "%O: element %d is %.17g, the plain loop gives %.17g (bound %g)" c e actual[e] s bound)

/// Sizes at and around every edge: the tiles (8 or 6 rows; 8, 16, 24 or 48 columns), the k panel
/// (256), the row block (128 or 96 rows), empty and unit sizes, and wide products (≥ 16 columns).
let private edgeShapes =
    [ 0, 0, 0; 0, 3, 4; 3, 0, 4; 3, 4, 0; 1, 1, 1; 1, 7, 1; 1, 300, 33; 2, 3, 4; 5, 1, 17; 7, 13, 9
      8, 16, 24; 9, 17, 25; 6, 16, 16; 16, 16, 16; 12, 5, 48; 13, 257, 49; 17, 255, 47; 33, 47, 61
      48, 8, 96; 64, 65, 15; 95, 3, 97; 97, 9, 8; 129, 33, 50; 127, 513, 23; 24, 256, 72; 3, 520, 130 ]

let private shapeTests =
    testList "every path equals the fma chain bit for bit, and the plain loop within rounding" [
        for dtype in [ DType.Float64; DType.Float32 ] do
            for layout in layouts do
                test (sprintf "%O, %O, shapes at the block edges" dtype layout) {
                    for (n, k, m) in edgeShapes do
                        let c = case (n * 7 + k * 3 + m) dtype layout [||] [||] n k m
                        for path in paths do expectChain path MatMul.StrongZero.Neither false false c
                        expectNearPlain c
                }
        test "columns past one packed block of B (3072 float64, 6144 float32)" {
            for dtype, m in [ DType.Float64, 3100; DType.Float32, 6150 ] do
                for layout in layouts do
                    let c = case 3 dtype layout [||] [||] 9 3 m
                    for path in [ MatMul.Path.Best; MatMul.Path.Simd512 ] do expectChain path MatMul.StrongZero.Neither false false c
        }
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 60 } "random shapes, layouts, batches and paths"
            (Prop.forAll
                (Arb.fromGen (
                    gen {
                        let! n, k, m = Gen.zip3 (Gen.choose (0, 40)) (Gen.choose (0, 300)) (Gen.choose (0, 60))
                        let! layout = Gen.elements layouts
                        let! dtype = Gen.elements [ DType.Float64; DType.Float32 ]
                        let! path = Gen.elements paths
                        let! aBatch, bBatch = Gen.elements [ [||], [||]; [| 2 |], [||]; [||], [| 3 |]; [| 2; 1 |], [| 3 |]; [| 1; 2 |], [| 3; 1 |] ]
                        let! seed = Gen.choose (0, 1000)
                        return path, case seed dtype layout aBatch bBatch n k m
                    }))
                (fun (path, c) ->
                    expectChain path MatMul.StrongZero.Neither false false c
                    expectNearPlain c))
        test "k = 0 gives +0 everywhere, on every path" {
            for path in paths do
                let out = run path MatMul.StrongZero.Neither (case 1 DType.Float64 layouts[0] [| 2 |] [||] 5 0 30)
                Expect.isTrue (out.ToFloat64Array() |> Array.forall (fun v -> BitConverter.DoubleToInt64Bits v = 0L)) (sprintf "%A: +0" path)
        }
    ]

/// Sprinkles ±∞, NaN and ±0 over a sample: about one element in six.
let private poison (seed: int) (t: Tensor) =
    let specials = [| infinity; -infinity; nan; 0.0; -0.0 |]
    let r = Random(seed)
    let v = t.ToFloat64Array() |> Array.map (fun x -> if r.Next 6 = 0 then specials[r.Next specials.Length] else x)
    Tensor.ofData (t.Shape.ToArray()) v |> Tensor.cast t.DType

let private nonFiniteTests =
    testList "±∞, NaN and strong zeros" [
        test "∞·0, ∞ - ∞ and NaN give NaN, ∞·x gives ∞, overflow gives ∞" {
            let a = Tensor.create [ [ infinity; 1.0 ]; [ infinity; -infinity ]; [ nan; 0.0 ]; [ infinity; 2.0 ]; [ 1e308; 1e308 ] ]
            let b = Tensor.create [ [ 0.0; 1.0 ]; [ 1.0; 10.0 ] ]
            for path in paths do
                let out = Tensor.Empty(Shape.Of [| 5; 2 |], DType.Float64)
                MatMul.matmulVia path false MatMul.StrongZero.Neither false a [| 5; 2 |] false b [| 2; 2 |] out
                let v = out.ToFloat64Array()
                Expect.isTrue (Double.IsNaN v[0]) (sprintf "%A: ∞·0" path)
                Expect.equal v[1] infinity (sprintf "%A: ∞·1 + 1·10" path)
                Expect.isTrue (Double.IsNaN v[3]) (sprintf "%A: ∞ - ∞" path)
                Expect.isTrue (Double.IsNaN v[4] && Double.IsNaN v[5]) (sprintf "%A: NaN" path)
                Expect.equal v[7] infinity (sprintf "%A: ∞ + 20" path)
                Expect.equal v[9] infinity (sprintf "%A: 1e308·1 + 1e308·10 overflows" path)
        }
        for layout in layouts do
            test (sprintf "%O: non-finite values propagate as the fma chain says; strong zeros on either side leave their terms out" layout) {
                for (n, k, m) in [ 1, 1, 1; 3, 5, 7; 9, 33, 25; 17, 260, 50; 40, 20, 100 ] do
                    for dtype in [ DType.Float64; DType.Float32 ] do
                        let c = case (n + k + m) dtype layout [||] [||] n k m
                        let c = { c with A = poison 1 c.A; B = poison 2 c.B }
                        for path in paths do
                            expectChain path MatMul.StrongZero.Neither false false c
                            expectChain path MatMul.StrongZero.Right false true c
                            expectChain path MatMul.StrongZero.Left true false c
                        // The fast path of a strong zero: the other factor all finite.
                        let finiteA = { c with A = case 5 dtype layout [||] [||] n k m |> fun d -> d.A }
                        for path in paths do expectChain path MatMul.StrongZero.Right false true finiteA
            }
        test "matmulNoNan: a zero b factor contributes zero against ±∞ and NaN in a, with batches broadcasting" {
            let c = case 4 DType.Float64 layouts[0] [| 2; 1 |] [| 3 |] 10 30 27
            let c = { c with A = poison 3 c.A; B = poison 4 c.B }
            let out = Tensor.Empty(Shape.Of [| 2; 3; 10; 27 |], DType.Float64)
            MatMul.matmulNoNan c.A c.ADims c.B c.BDims out
            let expected = chain c false true
            Expect.isTrue (Array.forall2 same (out.ToFloat64Array()) expected) "the chain without the b = 0 terms"
            let plainOut = Tensor.Empty(Shape.Of [| 2; 3; 10; 27 |], DType.Float64)
            MatMul.matmul c.A c.ADims c.B c.BDims plainOut
            Expect.isTrue (Array.forall2 same (plainOut.ToFloat64Array()) (chain c false false)) "matmul keeps them (IEEE)"
            Expect.notEqual plainOut out "the poisoned inputs make the two differ"
        }
    ]

let private layoutTests =
    testList "batches, 1-D operands and transposes" [
        test "transposed operands read in place give the bits of matmul on materialised transposes" {
            for dtype in [ DType.Float64; DType.Float32 ] do
                for layout in layouts do
                    for aBatch, bBatch in [ [||], [||]; [| 2; 3 |], [| 3 |]; [| 1 |], [| 4 |] ] do
                        let c = case 9 dtype layout aBatch bBatch 19 270 37
                        let swap (t: Tensor) =
                            let r = t.Rank
                            let perm = Array.init r (fun i -> if i = r - 2 then r - 1 elif i = r - 1 then r - 2 else i)
                            let dims = perm |> Array.map (fun p -> t.Shape[p])
                            let out = Tensor.Empty(Shape.Of dims, t.DType)
                            Movement.transpose t perm out
                            out
                        let a = if layout.TransA then swap c.A else c.A
                        let b = if layout.TransB then swap c.B else c.B
                        let direct = run MatMul.Path.Best MatMul.StrongZero.Neither c
                        let materialised = Tensor.Empty(direct.Shape, dtype)
                        MatMul.matmul a (a.Shape.ToArray()) b (b.Shape.ToArray()) materialised
                        Expect.equal direct materialised (sprintf "%O" c)
        }
        test "matmul through the language: 1-D operands and broadcast batches against the fma chain" {
            let cases =
                [ [ 300 ], [ 300 ]; [ 300 ], [ 300; 20 ]; [ 20; 300 ], [ 300 ]; [ 4; 20; 30 ], [ 30 ]; [ 30 ], [ 4; 30; 20 ]
                  [ 2; 3; 9; 40 ], [ 3; 40; 17 ]; [ 1; 9; 40 ], [ 4; 40; 17 ]; [ 4; 9; 40 ], [ 40; 17 ] ]
            for aDims, bDims in cases do
                let a, b = sample 1 (Array.ofList aDims) DType.Float64, sample 2 (Array.ofList bDims) DType.Float64
                let actual = eval [ "a", a; "b", b ] (matmul (input "a" aDims) (input "b" bDims))
                // The same product with the 1-D operands as a row and a column.
                let aM = if aDims.Length = 1 then [| 1; aDims[0] |] else Array.ofList aDims
                let bM = if bDims.Length = 1 then [| bDims[0]; 1 |] else Array.ofList bDims
                let c =
                    { N = aM[aM.Length - 2]; K = aM[aM.Length - 1]; M = bM[bM.Length - 1]; Layout = layouts[0]; DType = DType.Float64
                      ADims = aM; BDims = bM; A = a; B = b }
                Expect.isTrue (Array.forall2 same (actual.ToFloat64Array()) (chain c false false)) (sprintf "%A @ %A" aDims bDims)
                expectNearPlain c
        }
    ]

let private reproducibilityTests =
    testList "the same inputs give bit-identical results" [
        test "matmul and its gradient on every call, while the JIT recompiles the kernels" {
            // k = 300 crosses a k panel, so tiles accumulate into C; 70 columns leave ragged tiles.
            for dtype in [ DType.Float64; DType.Float32 ] do
                let x, w = input "x" [ 64; 300 ], input "w" [ 300; 70 ]
                let x, w = (if dtype = DType.Float32 then cast DType.Float32 x, cast DType.Float32 w else x, w)
                let f = sum (tanh (matmul x w))
                let at = [ "x", Tensor.randn 1 [ 64; 300 ]; "w", Tensor.randn 2 [ 300; 70 ] ]
                let gs = grad [ x; w ] f
                let first = evalMany at (f :: gs)
                for _ in 1 .. 2000 do
                    Expect.equal (evalMany at (f :: gs)) first "bit-identical"
        }
        test "the transposed products on every call" {
            for layout in layouts do
                let c = case 6 DType.Float32 layout [||] [||] 40 300 50
                let first = run MatMul.Path.Best MatMul.StrongZero.Right c
                for _ in 1 .. 1000 do
                    Expect.equal (run MatMul.Path.Best MatMul.StrongZero.Right c) first (sprintf "%O" layout)
        }
    ]

/// Products of at least MatMul.parallelMinimum multiply-adds: cut by columns (m ≥ n) and by rows, on and
/// off tile multiples, at the threshold, batched.
let private largeShapes = [ 64, 784, 256; 300, 200, 40; 130, 129, 131; 128, 128, 128; 16, 513, 257; 257, 513, 16 ]

let private twoThreadTests =
    testList "two threads" [
        test "a product split between two threads gives the single thread's bits" {
            for n, k, m in largeShapes do
                Expect.isGreaterThanOrEqual (int64 n * int64 k * int64 m) MatMul.parallelMinimum "large enough to split"
                for dtype in [ DType.Float32; DType.Float64 ] do
                    for layout in layouts do
                        let c = case (n + m) dtype layout [||] [||] n k m
                        let poisonedC = { c with A = poison 1 c.A; B = poison 2 c.B }
                        for strongZero, d in [ MatMul.StrongZero.Neither, c; MatMul.StrongZero.Right, poisonedC; MatMul.StrongZero.Left, poisonedC ] do
                            Expect.equal (runOn MatMul.Path.Best true strongZero d) (runOn MatMul.Path.Best false strongZero d) (sprintf "%O %A" d strongZero)
        }
        test "on every SIMD path and with batches" {
            for path in [ MatMul.Path.Simd512; MatMul.Path.Simd256 ] do
                let c = case 3 DType.Float64 layouts[1] [||] [||] 130 129 131
                Expect.equal (runOn path true MatMul.StrongZero.Neither c) (runOn path false MatMul.StrongZero.Neither c) (sprintf "%A" path)
            let c = case 4 DType.Float32 layouts[2] [| 2; 1 |] [| 3 |] 100 150 150
            Expect.equal (runOn MatMul.Path.Best true MatMul.StrongZero.Neither c) (runOn MatMul.Path.Best false MatMul.StrongZero.Neither c) "batched"
        }
        test "a split product equals the fma chain" {
            let c = case 5 DType.Float32 layouts[3] [||] [||] 130 129 131
            let actual = (runOn MatMul.Path.Best true MatMul.StrongZero.Neither c).ToFloat64Array()
            Expect.isTrue (Array.forall2 same actual (chain c false false)) "every element"
        }
        test "split products on several threads at once give each its own bits" {
            let cases = [| for i in 0 .. 5 -> case i DType.Float32 layouts[i % 4] [||] [||] 64 784 256 |]
            let expected = cases |> Array.map (runOn MatMul.Path.Best false MatMul.StrongZero.Neither)
            let results =
                Array.init 4 (fun t -> System.Threading.Tasks.Task.Run(fun () ->
                    [| for r in 1 .. 5 -> runOn MatMul.Path.Best true MatMul.StrongZero.Neither cases[(t + r) % cases.Length], (t + r) % cases.Length |]))
                |> Array.collect (fun task -> task.Result)
            for got, i in results do Expect.equal got expected[i] (sprintf "case %d" i)
        }
    ]

let tests = testList "Matrix products" [ shapeTests; nonFiniteTests; layoutTests; reproducibilityTests; twoThreadTests ]
