/// The heart of the test suite: one generic property, driven by the catalogue, checks every
/// primitive's derivative rule against central finite differences in float64, on generated shapes
/// (scalars, broadcasting, size 0) and values from the primitive's own domain; and the same for the
/// derivative of the derivative rule of every smooth primitive.
module internal FuncDiff.Tests.GradientProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives
open FuncDiff.Tests.Specs

let private config = { FsCheckConfig.defaultConfig with maxTest = 200 }
let private secondOrderConfig = { FsCheckConfig.defaultConfig with maxTest = 60 }

/// The primitive applied to named inputs a0, a1, … standing for the case's tensors.
type private Application =
    { Inputs: Node list
      Output: Node
      Bindings: Tensor list -> System.Collections.Generic.IReadOnlyDictionary<string, Tensor> }

let private apply (name: string) (case: Case) =
    let p = (Registry.tryFind name).Value
    let inputs = case.Inputs |> List.mapi (fun i t -> Rules.input (sprintf "a%d" i) t.Shape t.DType)
    let bindings (ts: Tensor list) = readOnlyDict [ for i, t in List.indexed ts -> sprintf "a%d" i, t ]
    { Inputs = inputs; Output = Rules.apply p case.Attributes inputs; Bindings = bindings }

let private eval (app: Application) (ts: Tensor list) (nodes: Node list) = Interpreter.evaluate (app.Bindings ts) nodes

/// The float inputs: the ones derivatives are taken with respect to.
let private differentiable (case: Case) = case.Inputs |> List.indexed |> List.filter (fun (_, t) -> t.DType.IsFloat) |> List.map fst

/// The output as float64, so bool and int32 results (piecewise constant) are checked the same way.
let private asFloat (n: Node) = if n.DType = DType.Float64 then n else Logic.cast DType.Float64 n

/// vjp with a random cotangent r against finite differences of x ↦ Σ f(x)·r.
let firstOrder (spec: Spec) (case: Case) =
    let app = apply spec.Name case
    let out = asFloat app.Output
    let r = Tensor.randn 7 (out.Shape.ToArray())
    let wrt = differentiable case
    let wrtNodes = wrt |> List.map (fun k -> app.Inputs[k])
    let analytic = eval app case.Inputs (Reverse.vjp [ out ] [ Rules.constant r ] wrtNodes)
    match spec.Check with
    | ZeroByRequest ->
        for a in analytic do
            if a.ToFloat64Array() |> Array.exists (fun v -> v <> 0.0) then failwithf "%s: derivative should be exactly zero, got %O" spec.Name a
    | FiniteDifferences ->
        let f ts = FiniteDifferences.dot (eval app ts [ out ]).Head r
        let scale = FiniteDifferences.dotScale (eval app case.Inputs [ out ]).Head r
        FiniteDifferences.expectMatch spec.Name f scale case.Inputs wrt analytic

/// The derivative rule differentiated again: G(x) = Σₖ vjpₖ(x)·sₖ against finite differences.
let secondOrder (spec: Spec) (case: Case) =
    let app = apply spec.Name case
    let out = asFloat app.Output
    let r = Rules.constant (Tensor.randn 7 (out.Shape.ToArray()))
    let wrt = differentiable case
    let wrtNodes = wrt |> List.map (fun k -> app.Inputs[k])
    let cotangents = Reverse.vjp [ out ] [ r ] wrtNodes
    let weighted =
        cotangents |> List.mapi (fun i c ->
            let s = Rules.constant (Tensor.randn (11 + i) (c.Shape.ToArray()))
            Structural.sum None false (Arithmetic.mul c s))
    let g = weighted |> List.fold Arithmetic.add (Rules.scalarOf DType.Float64 0.0)
    let analytic = eval app case.Inputs (Reverse.grad g wrtNodes)
    let f ts = (eval app ts [ g ]).Head.ToScalar()
    // The terms of G are bounded by the sum of their magnitudes; use the first-order scale as a proxy.
    let terms = eval app case.Inputs cotangents |> List.sumBy (fun t -> t.ToFloat64Array() |> Array.sumBy abs)
    FiniteDifferences.expectMatch (spec.Name + " (second order)") f terms case.Inputs wrt analytic

/// The case in float32 (float inputs converted) gives the float64 results within float32 precision,
/// for the value and for the vjp.
let float32MatchesFloat64 (spec: Spec) (case: Case) =
    let single = { case with Inputs = case.Inputs |> List.map (fun t -> if t.DType = DType.Float64 then Tensor.cast DType.Float32 t else t) }
    let results (c: Case) =
        let app = apply spec.Name c
        let out = app.Output
        let r = Rules.constant (Tensor.randn 7 (out.Shape.ToArray()) |> Tensor.cast (if out.DType.IsFloat then out.DType else DType.Float64))
        let wrtNodes = differentiable c |> List.map (fun k -> app.Inputs[k])
        let grads = if out.DType.IsFloat then Reverse.vjp [ out ] [ r ] wrtNodes else []
        eval app c.Inputs (out :: grads) |> List.map (fun t -> t.ToFloat64Array())
    List.iteri2 (fun i (a: float[]) (b: float[]) ->
        let scale = 1.0 + (if b.Length = 0 then 0.0 else b |> Array.map abs |> Array.max)
        Array.iteri2 (fun j x y ->
            let same = x = y || (System.Double.IsNaN x && System.Double.IsNaN y) // infinities too
            if not same && not (abs (x - y) <= 1e-4 * scale) then
                failwithf "%s: result %d element %d is %.9g in float32 but %.9g in float64" spec.Name i j x y) a b)
        (results single) (results case)

let private property (cfg: FsCheckConfig) (check: Spec -> Case -> unit) (spec: Spec) =
    testPropertyWithConfig cfg spec.Label (Prop.forAll (Arb.fromGen spec.Case) (check spec))

let private smooth (spec: Spec) =
    spec.Check = FiniteDifferences && spec.SecondOrder
    && (Registry.tryFind spec.Name).Value.Differentiability = Differentiability.Smooth

let tests =
    testList "Gradients" [
        test "every catalogue primitive has a generator row" {
            let covered = Specs.all |> List.map (fun s -> s.Name) |> Set.ofList
            let missing = Registry.all |> List.map (fun p -> p.Name) |> List.filter (fun n -> not (covered.Contains n))
            Expect.isEmpty missing "primitives without a row in Specs.all"
            let unknown = covered |> Set.filter (fun n -> (Registry.tryFind n).IsNone)
            Expect.isEmpty unknown "rows for names that are not primitives"
        }
        testList "vjp matches central differences" [ for spec in Specs.all -> property config firstOrder spec ]
        testList "vjp of the vjp matches central differences" [ for spec in Specs.all do if smooth spec then property secondOrderConfig secondOrder spec ]
        testList "float32 matches float64" [ for spec in Specs.all -> property secondOrderConfig float32MatchesFloat64 spec ]
    ]
