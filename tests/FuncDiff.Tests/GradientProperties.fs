/// The heart of the test suite: one generic property, driven by the catalogue, checks every
/// primitive's derivative rule against central finite differences in float64 (with GradCheck, the
/// checker users get), on generated shapes
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

/// The public checker, strict: every element, the cotangent seed fixed, an absolute tolerance of 1e-7.
let private checker = { GradCheckOptions.Default with AbsoluteTolerance = 1e-7; Sample = None; Seed = 7 }

let private expectPasses (what: string) (case: Case) (report: GradCheckReport) =
    if not report.Ok then failwithf "%s: %O\nat\n%O" what report case

/// The vjp (the gradient for a scalar output) against central differences, through GradCheck.
let firstOrder (spec: Spec) (case: Case) =
    let app = apply spec.Name case
    let out = asFloat app.Output
    let wrtNodes = differentiable case |> List.map (fun k -> app.Inputs[k])
    match spec.Check with
    | ZeroByRequest ->
        let r = Rules.constant (Tensor.randn 7 (out.Shape.ToArray()))
        for a in eval app case.Inputs (Reverse.vjp [ out ] [ r ] wrtNodes) do
            if a.ToFloat64Array() |> Array.exists (fun v -> v <> 0.0) then failwithf "%s: derivative should be exactly zero, got %O" spec.Name a
    // Rows with no float input (logical ops, oneHot) have nothing to differentiate: ReferenceValues checks their values.
    | FiniteDifferences when wrtNodes.IsEmpty -> ()
    | FiniteDifferences -> GradientCheck.check checker (app.Bindings case.Inputs) out wrtNodes |> expectPasses spec.Name case

/// The derivative rule differentiated again, through GradCheck's second-order check.
let secondOrder (spec: Spec) (case: Case) =
    let app = apply spec.Name case
    let wrtNodes = differentiable case |> List.map (fun k -> app.Inputs[k])
    if not wrtNodes.IsEmpty then
        GradientCheck.checkSecondOrder checker (app.Bindings case.Inputs) (asFloat app.Output) wrtNodes
        |> expectPasses (spec.Name + " (second order)") case

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
