/// A catalogue entry's forward kernel, called again into the output tensor it filled before, allocates
/// nothing on the managed heap: compiled plans call them that way on every evaluation.
module FuncDiff.Tests.AllocationTests

open System
open System.Threading.Tasks
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives

/// Entries whose forward kernel still allocates, with the reason; every other entry must allocate 0
/// bytes. None of the measured cases does. Not measured, since no spec gives them int32 inputs: int32
/// sum, prod and scatterAdd still widen into fresh int64 arrays.
let private allowed: Map<string, string> = Map.empty

type private Prepared =
    { Name: string
      Forward: unit -> unit
      Case: string }

/// The entry applied to constant inputs, with its output tensor made once; None where the case is refused.
let private prepare (name: string) (inputs: Tensor list) (attributes: (string * Param) list) =
    let p = (Registry.tryFind name).Value
    match (try Some (Rules.apply p attributes (inputs |> List.map Rules.constant)) with :? FuncDiffException -> None) with
    | None -> None
    | Some node ->
        match node.Op with
        | Apply (_, attrs) ->
            let xs = Array.ofList inputs
            let out = Tensor.Empty(node.Shape, node.DType)
            // Prepared once, as a plan does: the attributes are read here, not in the measured calls.
            let kernel = p.Prepare attrs
            let run () = kernel xs out
            // A case the kernel refuses at run time (an index out of range, an int32 overflow) has nothing to measure.
            match (try run (); true with :? FuncDiffException | :? OverflowException -> false) with
            | false -> None
            | true ->
                let text = sprintf "%s %s %A" name (String.Join(" ", inputs |> List.map (fun t -> t.DType.Name + string t.Shape))) attributes
                Some { Name = name; Forward = run; Case = text }
        | _ -> None

/// Bytes the current thread and the partner thread allocate in one more call, after warming up.
let private allocated (c: Prepared) =
    for _ in 1 .. 4 do c.Forward()
    let bytes () = GC.GetAllocatedBytesForCurrentThread() + Kernels.Partner.allocatedBytes ()
    let before = bytes ()
    c.Forward()
    bytes () - before

let private random (seed: int) (dims: int[]) =
    let rng = Random(seed)
    Tensor.ofData dims (Array.init (Array.fold (*) 1 dims) (fun _ -> rng.NextDouble() * 4.0 - 2.0))

let private asFloat32 (t: Tensor) = Tensor.cast DType.Float32 t

/// Shapes large enough for the packed matrix product, the SIMD paths and strided reductions.
let private workloadCases =
    let m = random 1 [| 48; 40 |]
    let v = random 2 [| 40 |]
    let big = random 3 [| 1000 |]
    let cube = random 4 [| 6; 7; 8 |]
    let two = Tensor.scalar 2.0
    let four = Tensor.scalar 4.0
    [ for f in [ id; asFloat32 ] do
          "matmul", [ f m; f (random 5 [| 40; 36 |]) ], []
          "matmul", [ f (random 6 [| 3; 48; 40 |]); f (random 7 [| 40; 36 |]) ], []
          "matmulNoNan", [ f m; f (random 5 [| 40; 36 |]) ], []
          // Large enough to be split between two threads.
          "matmul", [ f (random 10 [| 64; 300 |]); f (random 11 [| 300; 120 |]) ], []
          "matmulNoNan", [ f (random 12 [| 300; 64 |]); f (random 13 [| 64; 120 |]) ], []
          "matmul", [ f m; f v ], []
          "matmul", [ f v; f (random 8 [| 40; 36 |]) ], []
          "transpose", [ f m ], []
          "transpose", [ f cube ], [ "perm", Param.Ints [ 2; 0; 1 ] ]
          for name in [ "add"; "sub"; "mul"; "div"; "mulNoNan"; "pow"; "maximum"; "gt" ] do
              name, [ f big; f two ], []
              name, [ f two; f big ], []
              name, [ f big; f big ], []
              name, [ f m; f v ], []
          "pow", [ f big; f four ], []
          "pow", [ f big; f (Tensor.scalar -3.0) ], []
          for name in [ "neg"; "exp"; "log"; "tanh"; "sin"; "cos"; "square"; "relu"; "sigmoid" ] do
              name, [ f big ], []
          for name in [ "sum"; "mean"; "max"; "logsumexp" ] do
              name, [ f cube ], []
              for axes in [ [ 0 ]; [ 1 ]; [ 2 ]; [ 0; 2 ]; [ 1; 2 ] ] do
                  name, [ f cube ], [ "axis", Param.Ints axes; "keepdims", Param.Bool (axes.Length = 1) ]
          for name in [ "softmax"; "logSoftmax" ] do
              for axis in 0 .. 2 do name, [ f cube ], [ "axis", Param.Int axis ]
          "broadcastTo", [ f v ], [ "shape", Param.Ints [ 48; 40 ] ]
          "broadcastTo", [ f (random 9 [| 6; 1; 8 |]) ], [ "shape", Param.Ints [ 6; 7; 8 ] ]
          "reshape", [ f cube ], [ "shape", Param.Ints [ 42; 8 ] ]
          "slice", [ f big ], [ "start", Param.Ints [ 1 ] ]
          "slice", [ f cube ], [ "start", Param.Ints [ 1; 0; 2 ]; "step", Param.Ints [ 2; 1; 3 ] ]
          "pad", [ f big ], [ "lo", Param.Ints [ 1 ]; "hi", Param.Ints [ 0 ] ]
          "where", [ Tensor.ofData [| 1000 |] (Array.init 1000 (fun i -> i % 3 = 0)); f big; f two ], [] ]

/// Every entry with a row in Specs, on cases from its own generator (seeded), plus the workload shapes.
let private cases =
    lazy
        [ for spec in Specs.all do
              for case in Gen.sampleWithSeed (Rnd(12345UL)) 8 12 spec.Case do
                  match prepare spec.Name case.Inputs case.Attributes with
                  | Some c -> c
                  | None -> ()
          for name, inputs, attributes in workloadCases do
              match prepare name inputs attributes with
              | Some c -> c
              | None -> failwithf "workload case %s %A is refused" name attributes ]

let tests =
    // Sequenced: kernels take scratch from ArrayPool.Shared, whose shared stacks other tests' threads can
    // empty meanwhile; alone, a warm call must find its arrays there.
    testSequenced <| testList "Allocation" [
        test "a second call of every forward kernel allocates nothing" {
            let offenders =
                cases.Value
                |> List.filter (fun c -> not (allowed.ContainsKey c.Name))
                |> List.choose (fun c -> match allocated c with 0L -> None | bytes -> Some (sprintf "%d bytes: %s" bytes c.Case))
            if not offenders.IsEmpty then
                failtestf "%d cases allocate on a repeated call:\n%s" offenders.Length (String.Join("\n", offenders))
        }
        test "every spec'd entry was measured" {
            let measured = cases.Value |> List.map (fun c -> c.Name) |> Set.ofList
            let missing = Specs.all |> List.map (fun s -> s.Name) |> List.filter (fun n -> not (measured.Contains n))
            Expect.isEmpty missing "entries with no accepted case"
        }
        test "forward kernels called from several threads at once give the single-thread result" {
            let workloads = cases.Value |> List.filter (fun c -> c.Case.Contains "[48, 40]" || c.Case.Contains "[6, 7, 8]" || c.Case.Contains "[1000]")
            // Each thread builds its own output tensors from the same inputs; the kernels' scratch is shared.
            let runAll () =
                workloadCases
                |> List.map (fun (name, inputs, attributes) ->
                    let p = (Registry.tryFind name).Value
                    let node = Rules.apply p attributes (inputs |> List.map Rules.constant)
                    match node.Op with
                    | Apply (_, attrs) ->
                        let out = Tensor.Empty(node.Shape, node.DType)
                        let kernel = p.Prepare attrs
                        for _ in 1 .. 3 do kernel (Array.ofList inputs) out
                        out
                    | _ -> failwith "not an application")
            Expect.isNonEmpty workloads "workload cases"
            let expected = runAll ()
            let results = Array.init 4 (fun _ -> Task.Run(fun () -> runAll ())) |> Array.map (fun t -> t.Result)
            for r in results do Expect.equal r expected "every thread's results"
        }
    ]
