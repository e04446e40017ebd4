/// Kernels are prepared with their attributes once: a plan reads every call's attributes when it compiles,
/// so a run looks none up, and an attribute that is missing or of another kind is an error then, naming
/// the operation and the attribute.
module FuncDiff.Tests.PreparedCallTests

open System
open System.Collections.Generic
open System.Reflection
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives

/// True when an attribute map is reachable from the object through the fields of closures and of
/// FuncDiff's own objects: a kernel that still holds its node's map could read it on every call.
let private holdsAttributes (kernel: obj) =
    let seen = HashSet<obj>(HashIdentity.Reference)
    let lineage (t: Type) = Seq.unfold (fun (t: Type) -> if isNull t then None else Some (t, t.BaseType)) t
    let isClosure (t: Type) =
        lineage t |> Seq.exists (fun b -> b.IsGenericType && b.GetGenericTypeDefinition() = typedefof<FSharpFunc<int, int>>)
    let fields (t: Type) =
        lineage t |> Seq.collect (fun b -> b.GetFields(BindingFlags.Instance ||| BindingFlags.Public ||| BindingFlags.NonPublic ||| BindingFlags.DeclaredOnly))
    let pending = Stack<obj>([ kernel ])
    let mutable found = false
    while not found && pending.Count > 0 do
        let o = pending.Pop()
        if not (isNull o) && seen.Add o then
            match o with
            | :? Map<string, Param> -> found <- true
            | :? Tensor | :? Array | :? string -> ()
            | _ ->
                let t = o.GetType()
                if isClosure t || t.Assembly = typeof<Node>.Assembly then
                    for f in fields t do
                        if not f.FieldType.IsValueType then pending.Push(f.GetValue o)
    found

/// A test primitive over float64: x times the int attribute k, counting how often it is prepared.
let private scaledBy (family: Family) =
    let prepared = ref 0
    let p =
        { Rules.primitive "scaledBy" family "x·k, counting its preparations." with
            Attributes = [ Rules.attribute "k" ParamKind.Int Required "the factor" ]
            Infer = fun a xs -> a, xs[0].Shape, xs[0].DType
            Prepare = fun a ->
                Threading.Interlocked.Increment prepared |> ignore
                let k = float (Rules.int "k" a)
                fun xs out ->
                    let x, y = xs[0].Data :?> float[], out.Data :?> float[]
                    for i in 0 .. out.Size - 1 do y[i] <- k * x[i] }
    (fun (k: int) (x: Node) -> Rules.apply p [ "k", Param.Int k ] [ x ]), prepared

let private bind (pairs: (string * Tensor) list) =
    let d = Dictionary<string, Tensor>()
    for k, v in pairs do d[k] <- v
    d :> IReadOnlyDictionary<string, Tensor>

/// The values of the last of `runs` runs of a plan in one workspace.
let private runMany (plan: Plan.Plan) (bindings: IReadOnlyDictionary<string, Tensor>) (runs: int) =
    let compiled = Plans.Compiled(plan, false)
    let w = compiled.Rent()
    let mutable last = [||]
    for _ in 1 .. runs do last <- compiled.RunIn(w, bindings)
    last

let private staging =
    testList "prepared once" [
        test "no catalogue entry's prepared kernel holds its attribute map" {
            let offenders =
                [ for spec in Specs.all do
                      let p = (Registry.tryFind spec.Name).Value
                      for case in Gen.sampleWithSeed (Rnd(777UL)) 6 6 spec.Case do
                          match (try Some (Rules.apply p case.Attributes (case.Inputs |> List.map Rules.constant)) with :? FuncDiffException -> None) with
                          | Some node ->
                              match node.Op with
                              | Apply (_, attrs) when holdsAttributes (p.Prepare attrs) -> sprintf "%s %O" p.Name attrs
                              | _ -> ()
                          | None -> ()
                  let transposed = Map [ "transX", Param.Bool true; "transY", Param.Bool false; "noNan", Param.Bool true ]
                  if holdsAttributes (Products.transposedP.Prepare transposed) then Products.transposedP.Name ]
            if not offenders.IsEmpty then
                failtestf "kernels that hold their attributes, so could read them on every call:\n%s" (String.Join("\n", offenders |> List.distinct))
        }
        test "the check sees a kernel that reads its attributes when it runs" {
            // The curried form does not stage: applying it to the map keeps the map for every call.
            let perCall: Map<string, Param> -> Tensor[] -> Tensor -> unit =
                fun a xs out -> Kernels.Movement.transpose xs[0] (Rules.ints "perm" a) out
            Expect.isTrue (holdsAttributes (perCall (Map [ "perm", Param.Ints [ 1; 0 ] ]))) "a kernel holding its map is found"
        }
        test "a plan prepares each call once when it compiles; its runs prepare none" {
            let scaled, prepared = scaledBy Family.UserDefined
            let x = Rules.input "x" (Shape.Of [| 5 |]) DType.Float64
            // Built twice, merged into one call; a second call with another k.
            let y = Arithmetic.add (scaled 3 x) (scaled 3 x)
            let roots = [ scaled -2 y ]
            let plan = Plan.compile roots
            Expect.equal prepared.Value 2 "one preparation per distinct call, at compile time"
            let bindings = bind [ "x", Tensor.ofData [| 5 |] [| 1.0; -0.0; infinity; nan; 2.5 |] ]
            let values = runMany plan bindings 100
            Expect.equal prepared.Value 2 "100 runs prepare nothing"
            Expect.equal (values |> List.ofArray) (Interpreter.evaluate bindings roots) "the interpreter's values"
            Expect.equal prepared.Value 4 "the interpreter prepares each call once per evaluation"
            let text = Plan.describe plan
            Expect.stringContains text "scaledBy -> float64[5]" text
            Expect.stringContains text "add -> float64[5]" text
        }
        test "a fused group's calls are prepared once, not per block, run or thread" {
            let scaled, prepared = scaledBy Family.Elementwise
            let n = Fuse.parallelMinimum + 4097
            let x = Rules.input "x" (Shape.Of [| n |]) DType.Float64
            let roots = [ Arithmetic.add (scaled 5 (scaled 3 (Elementary.tanh x))) x ]
            let plan = Plan.compile roots
            let fused = plan.Steps |> Array.choose (function Steps.Fused g -> Some g | _ -> None)
            Expect.equal fused.Length 1 "one fused group"
            Expect.equal (fused[0].Calls |> Array.filter (fun c -> c.Primitive.Name = "scaledBy") |> Array.length) 2 "both calls in it"
            Expect.equal prepared.Value 2 "prepared at compile time"
            let bindings = bind [ "x", Tensor.linspace -3.0 3.0 n ]
            let values = runMany plan bindings 20
            Expect.equal prepared.Value 2 "20 runs over many blocks on two threads prepare nothing"
            Expect.equal (values |> List.ofArray) (Interpreter.evaluate bindings roots) "the interpreter's values"
            Expect.stringContains (Plan.describe plan) "fused over" "the schedule prints"
        }
    ]

let private malformed =
    let x = Rules.input "x" (Shape.Of [| 4 |]) DType.Float64
    let node (p: Primitive) (attrs: (string * Param) list) (dims: int[]) (dtype: DType) = Node(Apply(p, Map attrs), [| x |], Shape.Of dims, dtype)
    // Rules.apply lets no such node through; built directly, as a bug inside FuncDiff would build it.
    let cases =
        [ "an attribute of another kind",
          node Structural.sliceP [ "start", Param.Int 1; "stop", Param.Ints [ 4 ]; "step", Param.Ints [ 1 ] ] [| 3 |] DType.Float64,
          "slice: attribute 'start' should be a list of ints, got 1"
          "a missing attribute",
          node Structural.sumP [ "keepdims", Param.Bool false ] [||] DType.Float64,
          "sum: attribute 'axis' is missing (the node holds: keepdims=false)"
          "a missing attribute on a node with none",
          node Structural.transposeP [] [| 4 |] DType.Float64,
          "transpose: attribute 'perm' is missing (the node holds: none)"
          "an optional attribute of another kind",
          node Reductions.argmaxP [ "axis", Param.Ints [ 0 ]; "keepdims", Param.Bool false ] [||] DType.Int32,
          "argmax: attribute 'axis' should be an int, got [0]" ]
    testList "malformed attributes" [
        for what, n, message in cases do
            test (sprintf "%s: compiling fails, naming the operation and the attribute" what) {
                let e = Expect.throwsC (fun () -> Plan.compile [ Arithmetic.neg n ] |> ignore) id
                Expect.isTrue (e :? EvaluationException) (sprintf "%s: %s" (e.GetType().Name) e.Message)
                Expect.equal e.Message message "the message"
            }
            test (sprintf "%s: the interpreter gives the same error" what) {
                let e = Expect.throwsC (fun () -> Interpreter.evaluate (bind [ "x", Tensor.zeros [ 4 ] ]) [ n ] |> ignore) id
                Expect.isTrue (e :? EvaluationException) (sprintf "%s: %s" (e.GetType().Name) e.Message)
                Expect.equal e.Message message "the message"
            }
    ]

let tests = testList "prepared calls" [ staging; malformed ]
