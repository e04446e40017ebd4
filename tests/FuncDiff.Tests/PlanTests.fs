/// Compiled plans against the interpreter they must agree with bit for bit: every catalogue entry with
/// its derivative, random programs with shared subexpressions, reused workspaces, several threads.
module FuncDiff.Tests.PlanTests

open System
open System.Collections.Generic
open System.Threading.Tasks
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives
open FuncDiff.Tests.Specs

let private dict (pairs: (string * Tensor) list) =
    let d = Dictionary<string, Tensor>()
    for k, v in pairs do d[k] <- v
    d :> IReadOnlyDictionary<string, Tensor>

/// Runs the roots both ways and fails unless every value is bitwise equal, signed zeros included, with
/// any NaN equal to any NaN: where two NaNs meet in a commutative operation, x86 passes on the first
/// operand's, and the JIT may swap the operands of a commutative vector operation in one compilation of
/// a kernel and not in another (the interpreter's own mulNoNan gave NaNs of either sign across its tiers).
/// The workspace's buffers hold garbage before each run, so a kernel that relies on a zeroed result, or
/// a buffer reused too early, shows up.
let private agree (what: string) (bindings: IReadOnlyDictionary<string, Tensor>) (roots: Node list) =
    let expected = Interpreter.evaluate bindings roots
    let same (a: float) (b: float) = (Double.IsNaN a && Double.IsNaN b) || BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b
    let difference (e: Tensor) (g: Tensor) =
        if e.Shape <> g.Shape || e.DType <> g.DType then Some (sprintf "shapes %O%O and %O%O" g.DType g.Shape e.DType e.Shape)
        else
            let a, b = e.ToFloat64Array(), g.ToFloat64Array()
            Seq.tryFindIndex (fun i -> not (same a[i] b[i])) (seq { 0 .. a.Length - 1 })
            |> Option.map (fun i -> sprintf "element %d: %.17g here, %.17g from the interpreter" i b[i] a[i])
    let check (source: string) (got: Tensor list) =
        List.iteri2 (fun i (e: Tensor) (g: Tensor) ->
            match difference e g with
            | Some d -> failwithf "%s, root %d: %s differs at %s" what i source d
            | None -> ()) expected got
    check "the interpreter, run again," (Interpreter.evaluate bindings roots)
    let compiled = Plans.Compiled(Plan.compile roots, false)
    let w = compiled.Rent()
    for run in 1 .. 2 do
        w.Scribble()
        check (sprintf "the plan (run %d)" run) (compiled.RunIn(w, bindings) |> List.ofArray)
    check "the plan's copied results" (compiled.Evaluate bindings)

/// The value and the vjp with a seeded cotangent, for each float input.
let private withDerivatives (output: Node) (inputs: Node list) =
    let wrt = inputs |> List.filter (fun i -> i.DType.IsFloat)
    if not output.DType.IsFloat || wrt.IsEmpty then [ output ]
    else output :: Reverse.vjp [ output ] [ Rules.constant (Tensor.randn 3 (output.Shape.ToArray()) |> Tensor.cast output.DType) ] wrt

let private catalogue =
    testList "every catalogue entry, value and derivative" [
        for spec in Specs.all ->
            testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 30 } spec.Label (Prop.forAll (Arb.fromGen spec.Case) (fun case ->
                let p = (Registry.tryFind spec.Name).Value
                let inputs = case.Inputs |> List.mapi (fun i t -> Rules.input (sprintf "a%d" i) t.Shape t.DType)
                let bindings = dict [ for i, t in List.indexed case.Inputs -> sprintf "a%d" i, t ]
                agree spec.Label bindings (withDerivatives (Rules.apply p case.Attributes inputs) inputs)))
    ]

/// A random program grown from the starting values: each step applies a random operation to two
/// values built before it (so values are reused), up to maxSteps steps; the result is the last one summed.
let private grow (start: Expr list) (operations: (Expr -> Expr -> Expr) list) (maxSteps: int) : Gen<Expr> =
    gen {
        let pool = ResizeArray start
        let! steps = Gen.choose (1, maxSteps)
        for _ in 1 .. steps do
            let! i = Gen.choose (0, pool.Count - 1)
            let! j = Gen.choose (0, pool.Count - 1)
            let! k = Gen.choose (0, operations.Length - 1)
            pool.Add(operations[k] pool[i] pool[j])
        return pool[pool.Count - 1].Sum()
    }

/// Programs over x: [3, 4] and y: [4], mixing elementwise maps, broadcasting, views, transposes (twice,
/// so simplification has work), reductions, products and constants.
let private programs =
    let x, y = input "x" [ 3; 4 ], input "y" [ 4 ]
    let operations: (Expr -> Expr -> Expr) list =
        [ fun a b -> a + b
          fun a b -> a * b - y
          fun a _ -> tanh a * 1.0
          fun a _ -> (a.Transpose()).Transpose() + a
          fun a b -> (a |> reshape [ 12 ] |> reshape [ 3; 4 ]) * b
          fun a _ -> a.Sum(axis = 0) |> broadcastTo [ 3; 4 ]
          fun a b -> sin a / (2.0 + cos b)
          fun a b -> matmul (matmul a (b.Transpose())) (broadcastTo [ 3; 4 ] y) / 10.0
          fun a b -> where (a .> b) a (b * 0.5)
          fun a _ -> a.Softmax(axis = 1)
          fun a _ -> exp (-(a * a))
          fun a _ -> a.Max(axis = 1, keepDims = true) - a
          fun a b -> log (1.0 + a * a) * stopGradient b
          fun a _ -> a ** 3.0 + a ** 2.0 ]
    let program = grow [ x; x * y; exp (constant (Tensor.create [ 0.5; 1.0; 1.5; 2.0 ])) + x ] operations 12
    let cases = Gen.zip program (Gen.zip (Generators.tensor Domain.Any [| 3; 4 |]) (Generators.tensor Domain.Any [| 4 |]))
    testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 150 } "random programs: value and gradients as the interpreter gives them"
        (Prop.forAll (Arb.fromGen cases) (fun (f, (tx, ty)) ->
            agree (string f) (dict [ "x", tx; "y", ty ]) [ for r in f :: grad [ x; y ] f -> r.Node ]))

/// Elementwise programs over vectors of n elements and a scalar, as large as fusion and the two-thread
/// split need, with their gradients.
let private largeProgram (n: int) : Gen<Expr list * (string * Tensor) list> =
    let x, y, s = input "x" [ n ], input "y" [ n ], input "s" []
    let operations: (Expr -> Expr -> Expr) list =
        [ fun a b -> tanh a + b
          fun a _ -> exp (-(a * a)) * s
          fun a b -> log1p (a * a) - b
          fun a b -> sin a * cos b
          fun a _ -> sqrt (abs a + 1.0)
          fun a _ -> a ** 3.0 + a ** 2.0
          fun a b -> where (a .> b) a (b * 0.5)
          fun a b -> maximum a b + relu a
          fun a b -> sigmoid a * softplus b
          fun a b -> a / (1.0 + b * b)
          fun a b -> cast DType.Float64 (cast DType.Float32 a) + expm1 (tanh b)
          fun a b -> square a - signum b
          fun a b -> (a |> reshape [ n; 1 ] |> reshape [ n ]) * b
          fun a _ -> a * a.Sum() / float n
          fun a b -> stopGradient a * b
          fun a _ -> -a + s ]
    gen {
        let! f = grow [ x; y; x * s ] operations 10
        let! tx = Generators.tensor Domain.Any [| n |]
        let! ty = Generators.tensor Domain.Any [| n |]
        let! ts = Generators.tensor Domain.Any [||]
        return sum f :: f :: grad [ x; y; s ] f, [ "x", tx; "y", ty; "s", ts ]
    }

let private fusion =
    testList "fused elementwise groups" [
        for n in [ Fuse.minimumSize; 10_007; Fuse.parallelMinimum; 70_001 ] do
            testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 15 } (sprintf "random programs over %d elements give the interpreter's bits" n)
                (Prop.forAll (Arb.fromGen (largeProgram n)) (fun (roots, bindings) -> agree (string roots.Head) (dict bindings) [ for r in roots -> r.Node ]))
        test "an elementwise chain becomes one fused step" {
            let x = input "x" [ 100_000 ]
            let f = sum (tanh x * exp (-(x * x)) + log (1.0 + x * x))
            let plan = Plan.compile [ for r in f :: grad [ x ] f -> r.Node ]
            let groups = plan.Steps |> Array.choose (function Steps.Fused g -> Some g | _ -> None)
            Expect.isNonEmpty groups "fused"
            Expect.isGreaterThanOrEqual (groups |> Array.sumBy (fun g -> g.Calls.Length)) 10 "most of the elementwise work is fused"
            let describe =
                plan.Steps |> Array.map (function
                    | Steps.Kernel c -> sprintf "%s%O" c.Primitive.Name plan.Values[c.Output].Shape
                    | Steps.Fused g -> sprintf "fused[%s -> %d exports]" (String.Join(" ", g.Calls |> Array.map (fun c -> c.Primitive.Name))) g.Exports.Length
                    | Steps.Pair _ -> "sin and cos")
            Expect.isTrue (plan.Buffers.Length <= 4) (sprintf "values that stay inside a group need no buffer: %d buffers for %s" plan.Buffers.Length (String.Join("; ", describe)))
            Expect.equal plan.Steps.Length 1 (sprintf "the loss's sum is taken inside the group: %s" (String.Join("; ", describe)))
            Expect.equal (groups |> Array.sumBy (fun g -> g.Sums.Length)) 1 "one fused sum"
            Expect.isTrue (plan.Buffers.Length <= 2) (sprintf "the summed values are not written out: %d buffers" plan.Buffers.Length)
        }
    ]

/// Programs of calls that all have lane forms, over n elements of one float type, with their gradients: every
/// fused group of their plans runs as one loop over registers.
let private laneProgram : Gen<DType * string * Node list * (string * Tensor) list> =
    gen {
        let! dtype = Gen.elements [ DType.Float64; DType.Float32 ]
        // Sizes with tails of every length at both float types' widths, and a two-thread split.
        let! n = Gen.elements [ Fuse.minimumLoopSize; 100; Fuse.blockSize + 9; Fuse.minimumSize; Fuse.minimumSize + 1; Fuse.minimumSize + 7; Fuse.minimumSize + 15; 10_007; 70_001 ]
        let x, y, s = inputOf dtype "x" [ n ], inputOf dtype "y" [ n ], inputOf dtype "s" []
        let operations: (Expr -> Expr -> Expr) list =
            [ fun a b -> a + b
              fun a b -> a - b * s
              fun a b -> a / (1.0 + b * b)
              fun a _ -> -(square a)
              fun a _ -> reciprocal a
              fun a _ -> exp (-(a * a))
              fun a b -> log (1.0 + a * a) * b
              fun a _ -> log a
              fun a b -> tanh a * exp b
              fun a b -> mulNoNan a b
              fun a b -> sin a * cos b
              fun a _ -> cos (a * 1e9) + sin a
              fun a b -> sqrt (abs a) - abs b ]
        let! f = grow [ x; y; x * s ] operations 10
        let! values = Gen.listOfLength 2 (Generators.tensor Domain.Any [| n |])
        // Every fifth element a special value, in an order of its own in each input, so that every pair meets.
        let! shifts = Gen.listOfLength 2 (Gen.choose (0, 7))
        let specials = [| 0.0; -0.0; nan; infinity; -infinity; 1e-310; -1e300; 1e-40 |]
        let withSpecials (t: Tensor) (shift: int) =
            let a = t.ToFloat64Array()
            for i in 0 .. 5 .. n - 1 do a[i] <- specials[(i / 5 * (shift + 1) + shift) % specials.Length]
            Tensor.ofData [| n |] a
        let! ts = Gen.oneof [ Generators.tensor Domain.Any [||]; Gen.elements [ for v in specials -> Tensor.scalar v ] ]
        let bindings = [ "x", withSpecials values[0] shifts[0]; "y", withSpecials values[1] shifts[1]; "s", ts ] |> List.map (fun (k, t) -> k, Tensor.cast dtype t)
        return dtype, string f, [ for r in sum f :: f :: grad [ x; y; s ] f -> r.Node ], bindings
    }

/// Elementwise calls over 2^16 elements or more, alone or in a short chain, with an operand that broadcasts
/// along an axis (a bias row, a column, a scalar) or not at all, on either side, with their gradients.
let private broadcastProgram : Gen<string * Node list * (string * Tensor) list> =
    gen {
        let! dtype = Gen.elements [ DType.Float64; DType.Float32 ]
        let! r, c = Gen.elements [ 512, 128; 256, 257; 131, 509 ]
        let! bDims = Gen.elements [ [ c ]; [ r; 1 ]; [ 1; c ]; []; [ r; c ] ]
        let x, b = inputOf dtype "x" [ r; c ], inputOf dtype "b" bDims
        let! op =
            Gen.elements [ (fun (u: Expr) (v: Expr) -> u + v); (fun u v -> u - v); (fun u v -> u * v); (fun u v -> u / v)
                           (fun u v -> mulNoNan u v); (fun u v -> u * v + u); (fun u v -> exp u * v); (fun u v -> tanh (u - v)) ]
        let! swapped = Gen.elements [ false; true ]
        let f = if swapped then op b x else op x b
        let! tx = Generators.tensor Domain.Any [| r; c |]
        let! tb = Generators.tensor Domain.Any (Array.ofList bDims)
        return sprintf "%O %s with b%A" dtype (string f) bDims, [ for e in f :: grad [ x; b ] (sum f) -> e.Node ], [ "x", Tensor.cast dtype tx; "b", Tensor.cast dtype tb ]
    }

let private loops =
    testList "fused groups as loops over registers" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 40 } "calls whose operands broadcast along an axis, over 2^16 elements or more, give the interpreter's bits"
            (Prop.forAll (Arb.fromGen broadcastProgram) (fun (what, roots, bindings) -> agree what (dict bindings) roots))
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 40 } "the interpreter's bits at every width, with tails, scalars, sums, NaN, ±∞ and two threads"
            (Prop.forAll (Arb.fromGen laneProgram) (fun (dtype, f, roots, bindings) ->
                LaneChecks.atEveryWidth (fun width ->
                    let plan = Plan.compile roots
                    for step in plan.Steps do
                        match step with
                        | Steps.Fused g ->
                            let heavy = g.Calls |> Array.filter (fun c -> c.Primitive.Lanes.IsSome && c.Primitive.Lanes.Value.Heavy) |> Array.length
                            let fits = heavy <= Loops.maximumHeavy && g.Calls.Length <= Loops.maximumCalls && g.Calls |> Array.forall (fun c -> c.Primitive.Lanes.IsSome)
                            Expect.equal g.Loop.IsSome (width <> "no vectors" && fits) (sprintf "a loop at %s:\n%s" width (Plan.describe plan))
                        | _ -> ()
                    agree (sprintf "%O %s at %s" dtype f width) (dict bindings) roots)))
        test "groups alike in shape share one compiled loop" {
            let x = input "x" [ 1000 ]
            let mutable y = x
            for _ in 1 .. 200 do y <- y + 0.001 * sin y * y
            let plan = Plan.compile [ for r in sum y :: grad [ x ] (sum y) -> r.Node ]
            let loops = plan.Steps |> Array.choose (function Steps.Fused g -> g.Loop | _ -> None)
            let distinct = HashSet<Delegate>(loops, HashIdentity.Reference).Count
            Expect.isGreaterThan loops.Length 200 "a loop per layer at least"
            Expect.isLessThan (distinct * 20) loops.Length (sprintf "%d loops compiled for %d groups" distinct loops.Length)
        }
        test "a lone large call with a lane form is a loop, so that both threads share it; other lone calls are kernel calls" {
            let x = input "x" [ Fuse.parallelMinimum ]
            let small = input "small" [ Fuse.parallelMinimum - 1 ]
            let stepsOf (e: Expr) = (Plan.compile [ e.Node ]).Steps
            match stepsOf (exp x) with
            | [| Steps.Fused g |] when Loops.available () ->
                Expect.equal g.Calls.Length 1 "one call"
                Expect.isTrue g.Loop.IsSome "as a loop"
            | [| Steps.Kernel _ |] when not (Loops.available ()) -> ()
            | steps -> failtestf "exp over %d elements: %A" Fuse.parallelMinimum steps
            Expect.isTrue (stepsOf (exp small) |> Array.forall (function Steps.Kernel _ -> true | _ -> false)) "one element fewer: a kernel call"
            Expect.isTrue (stepsOf (x ** 3.5) |> Array.forall (function Steps.Kernel _ -> true | _ -> false)) "pow has no lane form: a kernel call"
            let t = Tensor.linspace -700.0 700.0 Fuse.parallelMinimum
            agree "exp alone" (dict [ "x", t ]) [ (exp x).Node ]
        }
        test "ew1m's group is one loop" {
            let x = input "x" [ 100_000 ]
            let f = sum (tanh x * exp (-(x * x)) + log (1.0 + x * x))
            let plan = Plan.compile [ for r in f :: grad [ x ] f -> r.Node ]
            match plan.Steps with
            | [| Steps.Fused g |] -> Expect.isTrue g.Loop.IsSome "a loop"
            | _ -> failtestf "one fused step:\n%s" (Plan.describe plan)
        }
    ]

let private placement =
    let copy (t: Tensor) = Tensor.ofData (t.Shape.ToArray()) (t.ToFloat64Array())
    testList "the same values wherever the data sits" [
        // TensorPrimitives on its own gives an element other last bits in a long span (its non-temporal
        // loop), near a span's ends or at another alignment; kernels must not, or a plan's blocks would
        // not match the whole tensor.
        let n = 40_000
        for dtype in [ DType.Float64; DType.Float32 ] do
            for name, f in
                [ "exp", exp; "log", (fun (x: Expr) -> log (abs x)); "tan", tan; "sigmoid", sigmoid; "softplus", softplus
                  "expm1", expm1; "tanh", tanh; "sin", sin; "cos", cos; "pow", (fun x -> abs x ** 2.5) ] do
                test (sprintf "%s: an element's value does not depend on the length of its tensor (%O)" name dtype) {
                    let t = Tensor.cast dtype (Tensor.randn 1 [ n ])
                    let whole = (Interpreter.evaluate (dict [ "x", t ]) [ (f (inputOf dtype "x" [ n ])).Node ]).Head.ToFloat64Array()
                    for length in [ 9; 300; 3001; 33_000 ] do
                        let part = Tensor.cast dtype (Tensor.ofArray (t.ToFloat64Array()[.. length - 1]))
                        let value = (Interpreter.evaluate (dict [ "x", part ]) [ (f (inputOf dtype "x" [ length ])).Node ]).Head.ToFloat64Array()
                        Expect.equal (Array.map BitConverter.DoubleToInt64Bits value) (Array.map BitConverter.DoubleToInt64Bits whole[.. length - 1]) (sprintf "the first %d elements" length)
                }
        let x, y = input "x" [ n ], input "y" [ n ]
        let m = input "m" [ 300; 100 ]
        for name, f in [ "sum", sum (x * y); "prod", (1.0 + x * 1e-5).Prod(); "dot", dot x y; "softmax", m.Softmax(axis = 1); "logsumexp", m.LogSumExp(axis = 1) ] do
            test (name + ": the same bits in every copy of the data") {
                let tx, ty, tm = Tensor.randn 1 [ n ], Tensor.randn 2 [ n ], Tensor.randn 3 [ 300; 100 ]
                let values () =
                    // Allocated between arrays of odd lengths, so the copies start at varied addresses.
                    let spacer = Array.zeroCreate<byte> (Random.Shared.Next(1, 64))
                    let r = Interpreter.evaluate (dict [ "x", copy tx; "y", copy ty; "m", copy tm ]) [ f.Node ]
                    GC.KeepAlive spacer
                    r.Head
                let first = values ()
                for _ in 1 .. 24 do Expect.equal (values ()) first "bit-identical for every copy"
            }
    ]

let private memory =
    testList "memory" [
        test "a chain of 1000 elementwise steps needs a few buffers, not 1000" {
            let x = input "x" [ 100 ]
            let mutable y = x
            for _ in 1 .. 1000 do y <- tanh y * 0.5 + y
            let plan = compile [ y ]
            Expect.equal plan.Steps 3000 "three kernel calls per link (tanh, × 0.5, +); the constant is read, not broadcast"
            // Loops over registers take 64 calls at most, so a cut can fall inside a link and pass two values on.
            Expect.isLessThanOrEqual plan.Buffers 4 "buffers are reused once their last reader has run"
            Expect.equal (plan.Run [ "x", Tensor.linspace -1.0 1.0 100 ]) [ eval [ "x", Tensor.linspace -1.0 1.0 100 ] y |> fun t -> t ] "same values"
        }
        test "views of an input follow the tensor bound to it" {
            let x = input "x" [ 2; 3 ]
            let plan = compile [ reshape [ 6 ] x * 2.0 ]
            let w = plan.CreateWorkspace()
            for k in 1 .. 3 do
                let t = Tensor.randn k [ 2; 3 ]
                let got = plan.Run(w, dict [ "x", t ])
                Expect.equal (got[0].ToFloat64Array()) (t.ToFloat64Array() |> Array.map (fun v -> v * 2.0)) (sprintf "run %d" k)
        }
        test "reshape, broadcast to the same shape and ×1 cost no kernel call" {
            let x = input "x" [ 4 ]
            Expect.equal (compile [ exp x |> sum |> grad [ x ] |> List.head ]).Steps 1 "the gradient of sum(exp x) is exp x: one step"
            Expect.equal (compile [ (x |> reshape [ 2; 2 ] |> reshape [ 4 ]) * 1.0 ]).Steps 0 "nothing to compute"
            let s = input "s" []
            Expect.equal (compile [ x * broadcastTo [ 4 ] s ]).Steps 1 "the product reads the scalar; no broadcast copy"
            Expect.equal (compile [ x * broadcastTo [ 3; 4 ] s ]).Steps 2 "a broadcast that sets the result's shape stays"
        }
        test "results copied out by Run are not overwritten by the next run" {
            let x = input "x" [ 3 ]
            let plan = compile [ x * x ]
            let first = plan.Run [ "x", Tensor.create [ 1.0; 2.0; 3.0 ] ]
            plan.Run [ "x", Tensor.create [ 4.0; 5.0; 6.0 ] ] |> ignore
            Expect.equal (first.Head.ToFloat64Array()) [| 1.0; 4.0; 9.0 |] "the first results are the caller's"
        }
        test "an expression built again, node for node, finds the plan compiled for the first" {
            let build () =
                let x = input "x" [ 5 ]
                sum (tanh x * exp (-(x * x)) + log (1.0 + x * x))
            let first, again = build (), build ()
            Expect.isFalse (obj.ReferenceEquals(first.Node, again.Node)) "two graphs"
            let a, b = Plans.cached [ first.Node ], Plans.cached [ again.Node ]
            Expect.isTrue (obj.ReferenceEquals(a.Plan, b.Plan)) "one compiled plan"
            Expect.isFalse (obj.ReferenceEquals(a.Plan, (Plans.cached [ (build () + 1.0).Node ]).Plan)) "another expression, another plan"
        }
        test "the cache keeps a bounded number of plans" {
            let x = input "x" [ 2 ]
            for k in 1 .. Plans.capacity + 10 do eval [ "x", Tensor.create [ 1.0; 2.0 ] ] (x * float k) |> ignore
            Expect.isLessThanOrEqual (Plans.count ()) Plans.capacity "least recently used plans are dropped"
            Expect.isLessThanOrEqual (Plans.keptBytes ()) Plans.keptLimit "kept workspaces stay within their budget"
            Expect.isGreaterThanOrEqual (Plans.keptBytes ()) 0L "and their count never goes negative"
        }
    ]

let private threads =
    test "one plan run from eight threads at once gives each its own values" {
        let x = input "x" [ 1000 ]
        let f = sum (tanh x * exp (-(x * x)) + log (1.0 + x * x))
        let plan = compile (f :: grad [ x ] f)
        let inputs = [| for k in 1 .. 8 -> Tensor.randn k [ 1000 ] |]
        let expected = inputs |> Array.map (fun t -> Interpreter.evaluate (dict [ "x", t ]) [ for r in f :: grad [ x ] f -> r.Node ])
        let results = Array.zeroCreate 8
        Parallel.For(0, 8, fun k ->
            for _ in 1 .. 50 do results[k] <- plan.Run [ "x", inputs[k] ]) |> ignore
        for k in 0 .. 7 do Expect.equal results[k] expected[k] (sprintf "thread %d" k)
    }

/// The mlp workload of the performance comparison: one training step, its loss and the gradients of
/// both layers' weights and biases.
let private mlpStep (dtype: DType) =
    let x, labels = inputOf dtype "X" [ 64; 784 ], inputOf dtype "Y" [ 64; 10 ]
    let w1, b1, w2, b2 = inputOf dtype "W1" [ 784; 256 ], inputOf dtype "b1" [ 256 ], inputOf dtype "W2" [ 256; 10 ], inputOf dtype "b2" [ 10 ]
    let logits = matmul (relu (matmul x w1 + b1)) w2 + b2
    let loss = -(sum (labels * logits.LogSoftmax())) / 64.0
    let bindings =
        dict [ for name, shape in [ "X", [ 64; 784 ]; "Y", [ 64; 10 ]; "W1", [ 784; 256 ]; "b1", [ 256 ]; "W2", [ 256; 10 ]; "b2", [ 10 ] ] ->
                   name, Tensor.cast dtype (Tensor.randn name.Length shape) ]
    loss :: grad [ w1; b1; w2; b2 ] loss, bindings

/// Bytes this thread and the partner thread allocate, and gen-2 collections anywhere, over 20 runs after 5
/// to warm up.
let private costOfRuns (plan: Plan) (bindings: IReadOnlyDictionary<string, Tensor>) =
    let w = plan.CreateWorkspace()
    for _ in 1 .. 5 do plan.Run(w, bindings) |> ignore
    // A full collection that earlier tests set off may still be finishing in the background; let it
    // finish first, so the count below is this plan's alone.
    GC.Collect()
    GC.WaitForPendingFinalizers()
    let collections = GC.CollectionCount 2
    let allocated () = GC.GetAllocatedBytesForCurrentThread() + Kernels.Partner.allocatedBytes ()
    let before = allocated ()
    for _ in 1 .. 20 do plan.Run(w, bindings) |> ignore
    allocated () - before, GC.CollectionCount 2 - collections

/// Evaluates through the cache on tensors nothing else holds, read by a fused loop over two threads, a
/// view, a kernel and a root, and gives weak references to their arrays.
[<Runtime.CompilerServices.MethodImpl(Runtime.CompilerServices.MethodImplOptions.NoInlining)>]
let private evaluateOnce () =
    let x, m, s = input "x" [ 70_000 ], input "m" [ 64; 64 ], input "s" []
    let roots = [ sum (exp x * x + s); (reshape [ 700; 100 ] x).Sum(0); matmul m m; x ]
    let tensors = [ "x", Tensor.linspace -1.0 1.0 70_000; "m", Tensor.ones [ 64; 64 ]; "s", Tensor.scalar 2.0 ]
    let got = evalMany tensors roots
    Expect.equal (got[2].ToFloat64Array()[0]) 64.0 "m·m with m all ones"
    [ for _, t in tensors -> WeakReference(t.Data) ]

let private allocation =
    // Sequenced: gen-2 collections are counted process-wide, so no other test may run meanwhile.
    testSequenced <| testList "allocation" [
        for dtype in [ DType.Float64; DType.Float32 ] do
            test (sprintf "a compiled MLP training step (%O) allocates nothing after warm-up and causes no gen-2 collection" dtype) {
                let roots, bindings = mlpStep dtype
                let bytes, collections = costOfRuns (compile roots) bindings
                Expect.equal bytes 0L "bytes allocated by 20 runs"
                Expect.equal collections 0 "gen-2 collections during 20 runs"
            }
        test "a plan pushed out of the cache and still run keeps no workspace" {
            let x = input "x" [ 100_000 ]
            let pushedOut = Plans.cached [ (sum (x * 3.0)).Node ]
            for k in 1 .. Plans.capacity + 5 do eval [ "x", Tensor.zeros [ 100_000 ] ] (x * float k) |> ignore
            let before = Plans.keptBytes ()
            for _ in 1 .. 3 do pushedOut.Evaluate(dict [ "x", Tensor.zeros [ 100_000 ] ]) |> ignore
            Expect.equal (Plans.keptBytes ()) before "an evicted plan's workspaces are not counted as kept"
        }
        test "a workspace kept in the cache's pool lets go of the tensors it was given" {
            let weak = evaluateOnce ()
            GC.Collect()
            GC.WaitForPendingFinalizers()
            GC.Collect()
            Expect.equal [ for w in weak -> w.IsAlive ] [ false; false; false ] "x, m and s are collected after the evaluation"
        }
        test "a plan the caller holds keeps its workspace however many other plans pass through the cache" {
            let x = input "x" [ 100_000 ]
            let held = compile [ sum (x * 3.0) ]
            let bindings = dict [ "x", Tensor.linspace -1.0 1.0 100_000 ]
            held.Run bindings |> ignore
            for k in 1 .. Plans.capacity + 5 do eval [ "x", Tensor.zeros [ 100_000 ] ] (x * float k) |> ignore
            let before = GC.GetAllocatedBytesForCurrentThread()
            for _ in 1 .. 3 do held.Run bindings |> ignore
            // A new workspace would hold the fused group's blocks and pieces, tens of kilobytes; what remains is
            // the copied-out scalar.
            Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - before) 10_000L "three runs allocate their results only"
        }
        test "compiling the same expressions again shares the held plan's workspaces" {
            let x = input "x" [ 100_000 ]
            let bindings = dict [ "x", Tensor.linspace -1.0 1.0 100_000 ]
            let first = compile [ sum (x * 3.0) ]
            first.Run bindings |> ignore
            // As code that compiles in a loop does.
            let again = compile [ sum (x * 3.0) ]
            let before = GC.GetAllocatedBytesForCurrentThread()
            again.Run bindings |> ignore
            Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - before) 10_000L "the first compile's workspace, not a new one"
            GC.KeepAlive first
        }
        test "a plan the caller holds is found again after other plans push it out of the cache" {
            let x = input "x" [ 1_000 ]
            let bindings = dict [ "x", Tensor.linspace -1.0 1.0 1_000 ]
            let first = compile [ sum (x * 3.0) ]
            let workspace = first.CreateWorkspace()
            for k in 1 .. Plans.capacity + 5 do eval [ "x", Tensor.zeros [ 1_000 ] ] (x * float k + 0.5) |> ignore
            let again = compile [ sum (x * 3.0) ]
            let got, expected = again.Run(workspace, bindings), first.Run bindings
            Expect.equal (got[0].ToFloat64Array()) (expected.Head.ToFloat64Array()) "the held plan, which takes its workspaces"
        }
        test "a fused elementwise loss and gradient split over two threads allocates nothing after warm-up" {
            let x = input "x" [ 200_000 ]
            let f = sum (tanh x * exp (-(x * x)) + log (1.0 + x * x))
            let bytes, collections = costOfRuns (compile (f :: grad [ x ] f)) (dict [ "x", Tensor.linspace -3.0 3.0 200_000 ])
            Expect.equal bytes 0L "bytes allocated by 20 runs"
            Expect.equal collections 0 "gen-2 collections during 20 runs"
        }
    ]

let private partner =
    testList "the partner thread" [
        test "splits from several threads at once all finish, each half run once" {
            let counts: int[] = Array.zeroCreate 16
            Parallel.For(0, 8, fun k ->
                for _ in 1 .. 100 do
                    Kernels.Partner.split (Action(fun () -> Threading.Interlocked.Increment(&counts[2 * k]) |> ignore))
                                          (Action(fun () -> Threading.Interlocked.Increment(&counts[2 * k + 1]) |> ignore))) |> ignore
            Expect.allEqual counts 100 "every half of every split ran exactly once"
        }
        // Sequenced: with other tests splitting at the same time, the partner would be busy and every half
        // run here.
        testSequenced <| test "a half the partner has not started by the end of the caller's is taken back, and never run twice" {
            // Quick first halves race the partner for the second; slow ones leave it time to take it.
            let runs: int[] = Array.zeroCreate 2000
            let caller = Environment.CurrentManagedThreadId
            let here = ref 0
            for k in 0 .. 999 do
                let first = Action(fun () -> if k % 2 = 1 then Threading.Thread.SpinWait 20_000)
                let second = Action(fun () ->
                    Threading.Interlocked.Increment(&runs[k]) |> ignore
                    if Environment.CurrentManagedThreadId = caller then Threading.Interlocked.Increment(&here.contents) |> ignore)
                Kernels.Partner.split first second
            Expect.allEqual runs[0 .. 999] 1 "every second half ran exactly once"
            if Kernels.Partner.available then
                Expect.isGreaterThan here.Value 0 "some second halves were taken back by the caller"
                Expect.isLessThan here.Value 1000 "some ran on the partner"
        }
        test "a failure in either half reaches the caller after both halves are done" {
            let other: int[] = Array.zeroCreate 1
            let boom = Action(fun () -> raise (InvalidOperationException "half failed"))
            let count = Action(fun () -> Threading.Interlocked.Increment(&other[0]) |> ignore)
            Expect.throwsT<InvalidOperationException> (fun () -> Kernels.Partner.split boom count) "the caller's half"
            Expect.throwsT<InvalidOperationException> (fun () -> Kernels.Partner.split count boom) "the partner's half"
            Expect.equal other[0] 2 "the other half still ran, both times"
        }
    ]

/// Bindings of x alone that, when a run asks for x, run `meanwhile` and keep what it says.
let private whileGathering (value: Tensor) (meanwhile: unit -> string) (said: string ref) =
    let pairs = Seq.singleton (KeyValuePair("x", value))
    { new IReadOnlyDictionary<string, Tensor> with
        member _.TryGetValue(name, found: byref<Tensor>) =
            said.Value <- meanwhile ()
            found <- value
            name = "x"
        member _.Item with get _ = value
        member _.Keys = Seq.singleton "x"
        member _.Values = Seq.singleton value
        member _.ContainsKey name = name = "x"
        member _.Count = 1
        member _.GetEnumerator() : IEnumerator<KeyValuePair<string, Tensor>> = pairs.GetEnumerator()
      interface Collections.IEnumerable with
        member _.GetEnumerator() = (pairs :> Collections.IEnumerable).GetEnumerator() }

let private misuse =
    testList "what users do" [
        test "a result bound back as the next run's input is read before it is overwritten" {
            let w = input "w" [ 4 ]
            let plan = compile [ w * 2.0; w + 1.0 ]
            let ws = plan.CreateWorkspace().Bind("w", Tensor.create [ 1.0; 2.0; 3.0; 4.0 ])
            let first = plan.Run ws
            let second = plan.Run(ws.Bind("w", first[0]))
            Expect.equal (second[1].ToFloat64Array()) [| 3.0; 5.0; 7.0; 9.0 |] "w + 1 at w = [2, 4, 6, 8]"
            Expect.equal (second[0].ToFloat64Array()) [| 4.0; 8.0; 12.0; 16.0 |] "w * 2"
        }
        test "a training step that rebinds its own new weights gives the steps Run(bindings) gives" {
            let x = input "x" [ 1000 ]
            let loss = sum (square (x - 0.5) * x)
            let step = x - 0.01 * (grad [ x ] loss).Head
            let plan = compile [ step; loss ]
            let ws = plan.CreateWorkspace().Bind("x", Tensor.linspace -1.0 1.0 1000)
            let mutable expected = Tensor.linspace -1.0 1.0 1000
            for _ in 1 .. 5 do
                let r = plan.Run ws
                let e = plan.Run [ "x", expected ]
                Expect.equal (r[0]) e.Head "the new weights"
                expected <- e.Head
                ws.Bind("x", r[0]) |> ignore
        }
        test "a thread arriving while a run gathers its inputs is refused, and the run keeps its own inputs" {
            let x = input "x" [ 1000 ]
            let plan = compile [ x * 2.0 ]
            let ws = plan.CreateWorkspace()
            let mine, theirs = Tensor.linspace 0.0 1.0 1000, Tensor.linspace 5.0 6.0 1000
            let refused (attempt: unit -> unit) () = try attempt (); "went ahead" with :? FuncDiffException as e -> e.Message
            let elsewhere (f: unit -> string) () = Task.Run(f).Result
            let latecomer = ref ""
            let got = plan.Run(ws, whileGathering mine (elsewhere (refused (fun () -> plan.Run(ws, dict [ "x", theirs ]) |> ignore))) latecomer)
            Expect.stringContains latecomer.Value "already running" "the latecomer is refused"
            Expect.equal (got[0].ToFloat64Array()) (mine.ToFloat64Array() |> Array.map (fun v -> v * 2.0)) "the run computed on its own input"
            let binder = ref ""
            plan.Run(ws, whileGathering mine (elsewhere (refused (fun () -> ws.Bind("x", theirs) |> ignore))) binder) |> ignore
            Expect.stringContains binder.Value "already running" "so is a Bind from another thread meanwhile"
            // The same thread running it again from inside its run is told so.
            let again = ref ""
            plan.Run(ws, whileGathering mine (refused (fun () -> plan.Run(ws, dict [ "x", theirs ]) |> ignore)) again) |> ignore
            Expect.stringContains again.Value "a call its run made" "re-entry is named as such"
        }
        test "a view of a result bound back as an input, made a constant, keeps its value too" {
            let x = input "x" [ 3 ]
            let plan = compile [ x * 2.0; reshape [ 3; 1 ] x ]
            let ws = plan.CreateWorkspace().Bind("x", Tensor.create [ 1.0; 2.0; 3.0 ])
            let first = plan.Run ws
            // Bound back: the workspace copies it into a staging tensor, which the view then follows.
            let second = plan.Run(ws.Bind("x", first[0]))
            let c = constant second[1]
            plan.Run(ws.Bind("x", second[0])) |> ignore
            Expect.equal ((eval [] (c + 0.0)).ToFloat64Array()) [| 2.0; 4.0; 6.0 |] "the constant holds the second run's view"
        }
        test "a workspace's result made a constant keeps its value when the workspace runs again" {
            let x = input "x" [ 3 ]
            let plan = compile [ x * 2.0 ]
            let ws = plan.CreateWorkspace()
            let c = constant (plan.Run(ws, dict [ "x", Tensor.create [ 1.0; 2.0; 3.0 ] ])[0])
            plan.Run(ws, dict [ "x", Tensor.create [ 7.0; 8.0; 9.0 ] ]) |> ignore
            Expect.equal ((eval [] (c + 1.0)).ToFloat64Array()) [| 3.0; 5.0; 7.0 |] "the constant holds the first run's values"
        }
        test "one workspace run from several threads at once: the latecomers are refused, nothing else fails" {
            let x = input "x" [ 20_000 ]
            let plan = compile [ sum (tanh x * exp (-(x * x))) ]
            let t = Tensor.randn 1 [ 20_000 ]
            let expected = (plan.Run [ "x", t ]).Head
            let ws = plan.CreateWorkspace().Bind("x", t)
            let wrong = Threading.Tasks.Parallel.For(0, 200, fun _ ->
                try
                    let r = plan.Run ws
                    if not (r[0].Equals expected) then failwith "a wrong value"
                with :? FuncDiffException as e when e.Message.Contains "already running" -> ())
            Expect.isTrue wrong.IsCompleted "every run either agreed or was refused"
        }
        test "a name bound twice, a null tensor, a null workspace and a mis-shaped tensor are refused" {
            let w = input "w" [ 2 ]
            let plan = compile [ w * 2.0 ]
            let twice = Expect.throwsC (fun () -> eval [ "w", Tensor.create [ 1.0; 2.0 ]; "w", Tensor.create [ 3.0; 4.0 ] ] (w * 2.0) |> ignore) id
            Expect.isTrue (twice :? InputException && twice.Message.Contains "bound twice") twice.Message
            let nothing = Expect.throwsC (fun () -> plan.Run [ "w", Unchecked.defaultof<Tensor> ] |> ignore) id
            Expect.isTrue (nothing :? InputException && nothing.Message.Contains "bound to null") nothing.Message
            Expect.throwsT<InputException> (fun () -> plan.CreateWorkspace().Bind("w", Unchecked.defaultof<Tensor>) |> ignore) "Bind checks for null"
            Expect.throwsT<InputException> (fun () -> plan.CreateWorkspace().Bind("w", Tensor.create [ 1.0; 2.0; 3.0 ]) |> ignore) "Bind checks the shape"
            Expect.throwsT<ArgumentNullException> (fun () -> plan.Run(Unchecked.defaultof<Workspace>) |> ignore) "a null workspace"
        }
    ]

/// int32 programs over values at and near the type's limits: the plan must raise an error where the
/// interpreter does (a simplification that is exact for floats may not be for int32) and agree elsewhere.
let private intProgram : Gen<Expr * (string * Tensor) list> =
    let i, j = inputOf DType.Int32 "i" [ 6 ], inputOf DType.Int32 "j" [ 6 ]
    let one = constant (Tensor.ofArray [| 1 |])
    let operations: (Expr -> Expr -> Expr) list =
        [ fun a b -> a + b
          fun a b -> a - b
          fun a b -> a * b
          fun a _ -> -a
          fun a _ -> -(-a)
          fun a _ -> abs a
          fun a _ -> square a
          fun a _ -> a * one
          fun a _ -> a |> reshape [ 2; 3 ] |> reshape [ 6 ]
          fun a b -> a.Transpose().Transpose() + b ]
    let element = Gen.oneof [ Gen.elements [ Int32.MinValue; Int32.MinValue + 1; -46341; -1; 0; 1; 46341; 65536; Int32.MaxValue ]; Gen.choose (-9, 9) ]
    gen {
        let! f = grow [ i; j ] operations 6
        let! ti = Gen.arrayOfLength 6 element
        let! tj = Gen.arrayOfLength 6 element
        return f, [ "i", Tensor.ofArray ti; "j", Tensor.ofArray tj ]
    }

let private errors =
    testList "errors" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 300 } "int32 programs: an overflow the interpreter raises, the plan raises too"
            (Prop.forAll (Arb.fromGen intProgram) (fun (f, bindings) ->
                let outcome (run: unit -> Tensor list) =
                    try Ok [ for t in run () -> t.ToFloat64Array() ] with :? EvaluationException as e -> Error e.Message
                let roots = [ f.Node ]
                let expected = outcome (fun () -> Interpreter.evaluate (dict bindings) roots)
                let got = outcome (fun () -> Plans.Compiled(Plan.compile roots, false).Evaluate(dict bindings))
                // Two overflows in one program may be met in another order: either raising is what must agree.
                match expected, got with
                | Ok e, Ok g -> Expect.equal g e (string f)
                | Error _, Error _ -> ()
                | Ok _, Error m -> failtestf "%s: the plan raised (%s) where the interpreter gave a value" (string f) m
                | Error m, Ok _ -> failtestf "%s: the plan gave a value where the interpreter raised (%s)" (string f) m))
        test "an unbound input names itself" {
            let x = input "x" [ 2 ]
            let plan = compile [ x * 2.0 ]
            let e = Expect.throwsC (fun () -> plan.Run(plan.CreateWorkspace()) |> ignore) id
            Expect.isTrue (e :? InputException && e.Message.Contains "'x'") e.Message
        }
        test "binding a name the plan does not read suggests the closest" {
            let weights = input "weights" [ 2 ]
            let plan = compile [ weights * 2.0 ]
            let e = Expect.throwsC (fun () -> plan.CreateWorkspace().Bind("wieghts", Tensor.create [ 1.0; 2.0 ]) |> ignore) id
            Expect.stringContains e.Message "did you mean 'weights'?" e.Message
        }
        test "a workspace belongs to its plan" {
            let x = input "x" [ 2 ]
            let other = (compile [ x + 1.0 ]).CreateWorkspace()
            Expect.throwsT<FuncDiffException> (fun () -> (compile [ x * 3.0 ]).Run(other) |> ignore) "refused"
        }
        test "a kernel failure in a plan names the operation, as the interpreter's does" {
            let i = inputOf DType.Int32 "i" [ 1 ]
            let big = Tensor.cast DType.Int32 (Tensor.create [ 2e9 ])
            let e = Expect.throwsC (fun () -> eval [ "i", big ] (i + i) |> ignore) id
            Expect.isTrue (e :? EvaluationException && e.Message.StartsWith "add") e.Message
        }
    ]

/// Normal samples with every fourth element replaced by ±∞, NaNs of either sign, +0 or −0: strong zeros
/// meet non-finite factors, and NaNs that differ meet in one term (which one x86 passes on depends on
/// the operand it is).
let private poisoned (seed: int) (dims: int list) (dtype: DType) =
    let specials = [| infinity; -infinity; nan; -nan; 0.0; -0.0 |]
    let v = (Tensor.randn seed dims).ToFloat64Array() |> Array.mapi (fun i x -> if i % 4 = 1 then specials[(i / 4 + seed) % specials.Length] else x)
    Tensor.ofData (Array.ofList dims) v |> Tensor.cast dtype

/// The last two axes of a rank-r tensor swapped.
let private swapLast (r: int) = [ 0 .. r - 3 ] @ [ r - 1; r - 2 ]

let private swapDims (dims: int list) = let a = Array.ofList dims in swapLast a.Length |> List.map (fun i -> a[i])

/// The values and the vjp (with a cotangent holding exact zeros) of every product of op(a) and op(b) with
/// the operands' last two axes transposed or not, and of its transpose.
let private productCases (dtype: DType) (aDims: int list) (bDims: int list) =
    [ for ta in [ false; true ] do
          for tb in [ false; true ] do
              // A transposed operand is stored with its last two axes swapped; vectors are never transposed.
              let ta, tb = ta && aDims.Length >= 2, tb && bDims.Length >= 2
              let stored (t: bool) (dims: int list) = if t then swapDims dims else dims
              let a, b = inputOf dtype "a" (stored ta aDims), inputOf dtype "b" (stored tb bDims)
              let op (t: bool) (x: Expr) = if t then permute (swapLast x.Shape.Rank) x else x
              for name, f in [ "matmul", matmul; "matmulNoNan", matmulNoNan ] do
                  let p = f (op ta a) (op tb b)
                  let label = sprintf "%s(%s%A, %s%A) %O" name (if ta then "ᵀ" else "") aDims (if tb then "ᵀ" else "") bDims dtype
                  let bindings = dict [ "a", poisoned 1 (stored ta aDims) dtype; "b", poisoned 2 (stored tb bDims) dtype ]
                  for what, root in [ label, p; "transpose of " + label, (if p.Shape.Rank >= 2 then permute (swapLast p.Shape.Rank) p else p) ] do
                      let zerosNotNonFinite = (poisoned 3 (List.ofArray (root.Shape.ToArray())) DType.Float64).ToFloat64Array() |> Array.map (fun v -> if Double.IsFinite v then v else 0.0)
                      let cotangent = Rules.constant (Tensor.ofData (root.Shape.ToArray()) zerosNotNonFinite |> Tensor.cast dtype)
                      let roots = root.Node :: Reverse.vjp [ root.Node ] [ cotangent ] [ a.Node; b.Node ]
                      what, bindings, roots ]

let private transposeCalls (plan: Plan.Plan) =
    plan.Steps |> Array.sumBy (function Steps.Kernel c when c.Primitive.Name = "transpose" -> 1 | _ -> 0)

let private productCalls (plan: Plan.Plan) =
    plan.Steps |> Array.sumBy (function Steps.Kernel c when c.Primitive.Family = Family.LinearAlgebra -> 1 | _ -> 0)

/// The mlp workload's loss and its gradients for W1, b1, W2, b2.
let private mlp (dtype: DType) =
    let x, w1, b1 = inputOf dtype "x" [ 64; 784 ], inputOf dtype "w1" [ 784; 256 ], inputOf dtype "b1" [ 256 ]
    let w2, b2, y = inputOf dtype "w2" [ 256; 10 ], inputOf dtype "b2" [ 10 ], inputOf dtype "y" [ 64; 10 ]
    let logits = matmul (relu (matmul x w1 + b1)) w2 + b2
    let loss = -(sum (y * logSoftmax logits)) / 64.0
    [ for r in loss :: grad [ w1; b1; w2; b2 ] loss -> r.Node ]

let private products =
    testList "products with transposed operands" [
        test "values and gradients give the interpreter's bits: 2-D, batched, broadcast, 1-D, empty, SIMD-sized" {
            let shapes =
                [ [ 5; 7 ], [ 7; 4 ]; [ 20; 300 ], [ 300; 36 ]; [ 0; 3 ], [ 3; 4 ]; [ 3; 0 ], [ 0; 4 ]; [ 3; 4 ], [ 4; 0 ]
                  [ 2; 3; 9; 40 ], [ 3; 40; 17 ]; [ 1; 9; 40 ], [ 4; 40; 17 ]; [ 4; 9; 40 ], [ 40; 17 ]
                  [ 7 ], [ 7; 4 ]; [ 5; 7 ], [ 7 ]; [ 3; 5; 7 ], [ 7 ]; [ 7 ], [ 2; 7; 4 ] ]
            for dtype in [ DType.Float64; DType.Float32 ] do
                for aDims, bDims in shapes do
                    for what, bindings, roots in productCases dtype aDims bDims do
                        agree what bindings roots
        }
        test "a transpose of other axes is left to the transpose kernel, with the same values" {
            let a, b = input "a" [ 5; 3; 7 ], input "b" [ 7; 4 ]
            let p = matmul (permute [ 1; 0; 2 ] a) b
            let plan = Plan.compile [ p.Node ]
            Expect.equal (transposeCalls plan) 1 "not a swap of the last two axes"
            agree "permute [1; 0; 2]" (dict [ "a", poisoned 1 [ 5; 3; 7 ] DType.Float64; "b", poisoned 2 [ 7; 4 ] DType.Float64 ]) [ p.Node ]
        }
        test "each product with transposed operands is one call" {
            let a, b, c = input "a" [ 6; 5 ], input "b" [ 6; 4 ], input "c" [ 2; 4; 6 ]
            for what, e in [ "aᵀ·b", matmul (transpose a) b
                             "bᵀ·a", matmulNoNan (transpose b) a
                             "aᵀ·aᵀᵀ", matmul (transpose a) (transpose (transpose a))
                             "c·cᵀ batched", matmul c (permute [ 0; 2; 1 ] c)
                             "aᵀ·cᵀ broadcast", matmulNoNan (transpose a) (permute [ 0; 2; 1 ] c) ] do
                let plan = Plan.compile [ e.Node ]
                Expect.equal plan.Calls 1 what
                Expect.equal (transposeCalls plan) 0 what
        }
        test "chains of products: gradients give the interpreter's bits" {
            for dtype in [ DType.Float64; DType.Float32 ] do
                let x, w1, w2 = inputOf dtype "x" [ 9; 30 ], inputOf dtype "w1" [ 20; 30 ], inputOf dtype "w2" [ 20; 11 ]
                let h = relu (matmul x (transpose w1))
                let f = sum (matmul (transpose (tanh (matmul h w2))) h)
                let roots = [ for r in f :: grad [ x; w1; w2 ] f -> r.Node ]
                let bindings = dict [ "x", poisoned 4 [ 9; 30 ] dtype; "w1", Tensor.randn 5 [ 20; 30 ] |> Tensor.cast dtype; "w2", Tensor.randn 6 [ 20; 11 ] |> Tensor.cast dtype ]
                agree (sprintf "chain %O" dtype) bindings roots
                // Left as copies: the transposes of products, (w1ᵀ·gᵀ)ᵀ and (w2·gᵀ)ᵀ (the derivative rule's g·wᵀ), and
                // the gradient of w1 through its transpose; the third rule's (h·gᵀ)ᵀᵀ cancels.
                Expect.equal (transposeCalls (Plan.compile roots)) 3 "only transposes of products are copies"
        }
        test "the mlp gradient reads its transposed operands in place" {
            let roots = mlp DType.Float32
            let plan = Plan.compile roots
            Expect.equal (transposeCalls plan) 1 "only (W2·gᵀ)ᵀ, the gradient of the hidden layer, is copied"
            Expect.equal (productCalls plan) 5 "x·W1, h·W2, g·W2ᵀ, hᵀ·g and xᵀ·g"
        }
        test "the mlp gradient gives its interpreter's bits" {
            for dtype in [ DType.Float64; DType.Float32 ] do
                let t (seed: int) (dims: int list) = Tensor.randn seed dims |> Tensor.cast dtype
                agree (sprintf "mlp %O" dtype) (dict [ "x", t 1 [ 64; 784 ]; "w1", t 2 [ 784; 256 ]; "b1", t 3 [ 256 ]; "w2", t 4 [ 256; 10 ]; "b2", t 5 [ 10 ]; "y", t 6 [ 64; 10 ] ]) (mlp dtype)
        }
    ]

let private pairs =
    testList "sin and cos of one argument in one pass" [
        test "a gradient of sin pairs the forward sin with the cos its derivative needs, with the interpreter's bits" {
            for dtype in [ DType.Float64; DType.Float32 ] do
                for n in [ 1; 5; 1000; 1003 ] do
                    let x = inputOf dtype "x" [ n ]
                    let mutable y = x
                    for _ in 1 .. 3 do y <- y + 0.001 * sin y * y
                    let roots = [ for r in sum y :: grad [ x ] (sum y) -> r.Node ]
                    let plan = Plan.compile roots
                    let paired = plan.Steps |> Array.filter (function Steps.Pair _ -> true | _ -> false)
                    Expect.equal paired.Length 3 (sprintf "one pair per link (%O, %d elements):\n%s" dtype n (Plan.describe plan))
                    Expect.isFalse (plan.Steps |> Array.exists (function Steps.Kernel c -> c.Primitive.Name = "sin" || c.Primitive.Name = "cos" | _ -> false)) "no sin or cos left alone"
                    let values = Array.init n (fun i -> [| 0.0; -0.0; 1e300; -1e10; 3e9; Math.PI / 4.0; nan; infinity; -infinity; 2.5; -7.0 |][i % 11] + (if i % 11 = 9 then float i else 0.0))
                    agree (sprintf "%O over %d elements" dtype n) (dict [ "x", Tensor.ofData [| n |] values |> Tensor.cast dtype ]) roots
        }
        test "inside a fused group too: the interpreter's bits over blocks, tails and two threads" {
            for dtype in [ DType.Float64; DType.Float32 ] do
                for n in [ Fuse.minimumSize + 3; 100_003 ] do
                    let x = inputOf dtype "x" [ n ]
                    let y = sin x * x + cos x
                    let roots = [ for r in sum y :: y :: grad [ x ] (sum y) -> r.Node ]
                    let plan = Plan.compile roots
                    let fused = plan.Steps |> Array.sumBy (function Steps.Fused g -> g.Calls |> Array.filter (fun c -> (Steps.trigOf c.Primitive).IsSome) |> Array.length | _ -> 0)
                    Expect.isGreaterThanOrEqual fused 2 (sprintf "sin and cos inside a group:\n%s" (Plan.describe plan))
                    let values = Array.init n (fun i -> [| 0.0; -0.0; 1e300; -1e10; 3e9; nan; infinity; 2.5; -7.0 |][i % 9] + (if i % 9 = 7 then float i / 100.0 else 0.0))
                    agree (sprintf "%O over %d elements" dtype n) (dict [ "x", Tensor.ofData [| n |] values |> Tensor.cast dtype ]) roots
        }
        test "a sin and a cos of different arguments stay apart" {
            let x, y = input "x" [ 10 ], input "y" [ 10 ]
            let plan = Plan.compile [ (sin x * cos y).Node ]
            Expect.isFalse (plan.Steps |> Array.exists (function Steps.Pair _ -> true | _ -> false)) (Plan.describe plan)
        }
    ]


/// Fused sums at sum-block and thread-split boundaries, paired sin and cos, and integer powers, each
/// against the path it replaces, bit for bit.
let private edges =
    testList "edges of fused sums, pairs and powers" [
        test "fused sums agree with the interpreter at block and split boundaries, views, keepdims, -0, NaN and ±∞" {
            for dtype in [ DType.Float64; DType.Float32 ] do
                for n in [ 4096; 4097; 5119; 5120; 6143; 8192; 8193; 10239; 10240; 12287; 12288; 14336; 16384; 65535; 65536; 65537; 67583; 67584; 69632; 71679; 131072; 131073; 200_000 ] do
                    let x = inputOf dtype "x" [ n ]
                    let y = inputOf dtype "y" [ n ]
                    let m = x * y + 1.0
                    let r = if n % 2 = 0 then (reshape [ n / 2; 2 ] (x * y)).Sum(keepDims = true) else sum (reshape [ 1; n ] (x * y))
                    let roots = [ sum m; r; m; m - sum m; (x * y).Sum(axis = 0, keepDims = true) ]
                    let tx = Tensor.randn 1 [ n ] |> Tensor.cast dtype
                    let ty = Tensor.randn 2 [ n ] |> Tensor.cast dtype
                    agree (sprintf "%O %d" dtype n) (dict [ "x", tx; "y", ty ]) [ for r in roots -> r.Node ]
                    let plan = Plan.compile [ for r in roots -> r.Node ]
                    let fusedSums = plan.Steps |> Array.sumBy (function Steps.Fused g -> g.Sums.Length | _ -> 0)
                    if fusedSums < 3 then failwithf "only %d fused sums:\n%s" fusedSums (Plan.describe plan)
                    let zeros = Tensor.ofData [| n |] (Array.create n -0.0) |> Tensor.cast dtype
                    agree (sprintf "-0 %O %d" dtype n) (dict [ "x", zeros; "y", tx ]) [ (sum (x * 1.0)).Node; (sum (x + x)).Node ]
                    let special = Tensor.ofData [| n |] (Array.init n (fun i -> [| 1.0; nan; infinity; -infinity; -0.0 |][i % 5])) |> Tensor.cast dtype
                    agree (sprintf "special %O %d" dtype n) (dict [ "x", special; "y", tx ]) [ (sum (x * y)).Node; (sum (x + 0.0)).Node ]
        }
        test "paired sin and cos agree with the interpreter for roots, views, tails, empty tensors and edge values" {
            for dtype in [ DType.Float64; DType.Float32 ] do
                for n in [ 0; 1; 3; 7; 8; 9; 17; 100; 1001 ] do
                    let x = inputOf dtype "x" [ n ]
                    let values = Array.init n (fun i -> [| 0.0; -0.0; 1e300; -1e10; 3e9; 1073741824.0 * 1.5; 1048576.0 * 3.7; 1048577.0; nan; infinity; -infinity; 2.5; -7.0; 1e-310 |][i % 14] * (if i % 28 >= 14 then -1.0 else 1.0))
                    let b = dict [ "x", Tensor.ofData [| n |] values |> Tensor.cast dtype ]
                    agree "both roots" b [ (sin x).Node; (cos x).Node ]
                    agree "cos root" b [ (cos x).Node; (sin x * 2.0).Node ]
                    agree "sin only in product" b [ (sin x * cos x).Node ]
                    agree "cos reshaped" b [ (reshape [ 1; n ] (cos x)).Node; (sin x).Node ]
        }

        test "sinCos gives the bits of sin and cos for random bit patterns and magnitudes" {
            let rng = Random(7)
            for n in [ 100_003 ] do
                let a = Array.init n (fun _ -> BitConverter.Int64BitsToDouble(rng.NextInt64()))
                let b = Array.init n (fun i -> float (rng.NextDouble() - 0.5) * Math.Pow(2.0, float (rng.Next(-30, 70))))
                for xs in [ a; b ] do
                    let t = Tensor.ofData [| n |] xs
                    for tt in [ t; Tensor.cast DType.Float32 t ] do
                        let s1 = Tensor.Empty(tt.Shape, tt.DType)
                        let c1 = Tensor.Empty(tt.Shape, tt.DType)
                        let s2 = Tensor.Empty(tt.Shape, tt.DType)
                        let c2 = Tensor.Empty(tt.Shape, tt.DType)
                        Kernels.Trig.sinCos tt s1 c1
                        Kernels.Elementwise.floatUnary Kernels.Trig.sin tt s2
                        Kernels.Elementwise.floatUnary Kernels.Trig.cos tt c2
                        Expect.isTrue (s1.Equals s2) "sin"
                        Expect.isTrue (c1.Equals c2) "cos"
        }
        test "integer powers: span-scalar lanes equal the span-span element rule for random bit patterns" {
            let rng = Random(8)
            let n = 20_011
            let a = Array.init n (fun i -> if i % 2 = 0 then BitConverter.Int64BitsToDouble(rng.NextInt64()) else float (rng.NextDouble() * 4.0 - 2.0) * Math.Pow(2.0, float (rng.Next(-80, 80))))
            let f32 = Array.init n (fun i -> if i % 2 = 0 then BitConverter.Int32BitsToSingle(rng.Next() ^^^ (rng.Next(2) <<< 31)) else float32 a[i])
            for k in -16 .. 16 do
                let check (tx: Tensor) =
                    let ex = Tensor.ofData [||] [| float k |] |> Tensor.cast tx.DType
                    let ey = Tensor.ofData [| n |] (Array.create n (float k)) |> Tensor.cast tx.DType
                    let o1 = Tensor.Empty(tx.Shape, tx.DType)
                    let o2 = Tensor.Empty(tx.Shape, tx.DType)
                    Kernels.Elementwise.floatBinary Kernels.Power.kernel tx ex o1
                    Kernels.Elementwise.floatBinary Kernels.Power.kernel tx ey o2
                    if not (o1.Equals o2) then
                        let u, v, w = o1.ToFloat64Array(), o2.ToFloat64Array(), tx.ToFloat64Array()
                        let i = Seq.find (fun i -> BitConverter.DoubleToInt64Bits u[i] <> BitConverter.DoubleToInt64Bits v[i]) (seq { 0 .. n - 1 })
                        failwithf "%O n=%d x=%.17g: span-scalar %.17g span-span %.17g" tx.DType k w[i] u[i] v[i]
                check (Tensor.ofData [| n |] a)
                check (Tensor.ofArray f32)
        }

        test "int32 sums are exact or refused at every length around the vector and block sizes" {
            for n in [ 0; 1; 3; 4; 5; 15; 16; 17; 4095; 4096; 4097; 8193; 12289; 100_000 ] do
                let xs = Array.init n (fun i -> if i % 3 = 0 then 2_000_000_000 - i else -(1_999_999_000 + i % 7))
                let expected = xs |> Array.sumBy int64
                let x = inputOf DType.Int32 "x" [ n ]
                let b = dict [ "x", Tensor.ofData [| n |] xs ]
                if expected >= int64 Int32.MinValue && expected <= int64 Int32.MaxValue then
                    let got = (Interpreter.evaluate b [ (sum x).Node ]).Head.ToFloat64Array()[0]
                    Expect.equal got (float expected) (sprintf "n=%d" n)
                    agree "int sum" b [ (sum x).Node; (x.Sum(axis = 0, keepDims = true)).Node ]
                else
                    Expect.throws (fun () -> Interpreter.evaluate b [ (sum x).Node ] |> ignore) (sprintf "overflow n=%d" n)
            let big = Array.create 5 Int32.MaxValue
            Expect.throws (fun () -> Interpreter.evaluate (dict [ "x", Tensor.ofData [| 5 |] big ]) [ (sum (inputOf DType.Int32 "x" [ 5 ])).Node ] |> ignore) "overflow"
            let m = Array.init 6000 (fun i -> i - 2999)
            let xm = inputOf DType.Int32 "m" [ 3; 2000 ]
            let r = Interpreter.evaluate (dict [ "m", Tensor.ofData [| 3; 2000 |] m ]) [ (xm.Sum(axis = 1)).Node; (xm.Sum(axis = 0)).Node ]
            Expect.equal (r.Head.ToFloat64Array()) [| for k in 0 .. 2 -> float (Array.sum m[k * 2000 .. k * 2000 + 1999]) |] "rows"
            Expect.equal (r[1].ToFloat64Array()) [| for j in 0 .. 1999 -> float (m[j] + m[2000 + j] + m[4000 + j]) |] "cols"
        }
    ]

let tests = testList "plans" [ catalogue; programs; fusion; loops; placement; memory; threads; partner; allocation; misuse; errors; products; pairs; edges ]
