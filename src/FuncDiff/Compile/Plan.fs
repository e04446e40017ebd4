/// A compiled plan: the work of evaluating a set of roots, decided once. The graph is simplified and
/// deduplicated, scheduled in topological order, and every intermediate value is given a workspace
/// buffer chosen by liveness, so a buffer is reused as soon as its last reader has run. Views (reshape,
/// squeeze, unsqueeze, stopGradient) share their input's storage instead of copying it.
module internal FuncDiff.Core.Plan

open System.Collections.Generic
open FuncDiff

/// Where a value lives while a plan runs.
[<RequireQualifiedAccess>]
type Storage =
    /// The tensor bound to the plan's input with this index.
    | Bound of input: int
    /// A constant the plan owns.
    | Fixed of Tensor
    /// A workspace buffer, written by the value's step.
    | Buffer of buffer: int
    /// The storage of another value (never itself a view), read in this value's shape.
    | View of value: int

/// One kernel call: the output value is computed from the argument values.
type Step =
    { Primitive: Primitive
      Attributes: Map<string, Param>
      Args: int[]
      Output: int }

/// The plan for a list of roots.
type Plan =
    { /// The input nodes, one per name (shape and dtype as declared).
      Inputs: Node[]
      /// The node of each value (its shape and dtype), in schedule order.
      Values: Node[]
      Storage: Storage[]
      Steps: Step[]
      /// The dtype and element count of each workspace buffer.
      Buffers: struct (DType * int)[]
      /// The value of each root, in the order the roots were given.
      Roots: int[] }

/// The plan for the roots: simplified, deduplicated, scheduled, with buffers assigned by liveness.
let compile (roots: Node list) : Plan =
    let simplified = Simplify.roots roots
    let canonical = Graph.canonicalize simplified
    let roots = simplified |> List.map canonical.Of
    let values = canonical.Order
    let index = Dictionary<int64, int>()
    values |> Array.iteri (fun i n -> index[n.Id] <- i)
    let inputs = ResizeArray<Node>()
    // Storage before buffers are assigned: a view points at the value whose storage it shares.
    let storage =
        values |> Array.map (fun n ->
            match n.Op with
            | Input _ -> inputs.Add n; Storage.Bound (inputs.Count - 1)
            | Const t -> Storage.Fixed t
            | Apply (p, _) when Simplify.isView p -> Storage.View -1
            | Apply _ -> Storage.Buffer -1)
    let owner = Array.init values.Length id
    for i in 0 .. values.Length - 1 do
        match storage[i] with
        | Storage.View _ ->
            let source = owner[index[values[i].Inputs[0].Id]]
            owner[i] <- source
            storage[i] <- Storage.View source
        | _ -> ()
    let steps =
        [| for i in 0 .. values.Length - 1 do
               match values[i].Op, storage[i] with
               | Apply (p, attrs), Storage.Buffer _ ->
                   { Primitive = p; Attributes = attrs; Output = i
                     Args = values[i].Inputs |> Array.map (fun x -> index[x.Id]) }
               | _ -> () |]
    // The last step that reads each storage owner, directly or through a view; roots are never released.
    let lastRead = Array.create values.Length -1
    steps |> Array.iteri (fun s step -> for a in step.Args do lastRead[owner[a]] <- s)
    for r in roots do lastRead[owner[index[r.Id]]] <- System.Int32.MaxValue
    let buffers = ResizeArray<struct (DType * int)>()
    let free = Dictionary<struct (DType * int), Stack<int>>()
    let release (v: int) =
        match storage[v] with
        | Storage.Buffer b ->
            let key = buffers[b]
            match free.TryGetValue key with
            | true, s -> s.Push b
            | _ -> free[key] <- Stack [ b ]
        | _ -> ()
    steps |> Array.iteri (fun s step ->
        let n = values[step.Output]
        let key = struct (n.DType, n.Shape.Size)
        let b =
            match free.TryGetValue key with
            | true, s when s.Count > 0 -> s.Pop()
            | _ -> buffers.Add key; buffers.Count - 1
        storage[step.Output] <- Storage.Buffer b
        // Released after the output is chosen: a kernel never writes over its own arguments.
        for o in step.Args |> Array.map (fun a -> owner[a]) |> Array.distinct do
            if lastRead[o] = s then release o
        if lastRead[step.Output] = -1 then release step.Output)
    { Inputs = inputs.ToArray()
      Values = values
      Storage = storage
      Steps = steps
      Buffers = buffers.ToArray()
      Roots = roots |> List.map (fun r -> index[r.Id]) |> Array.ofList }
