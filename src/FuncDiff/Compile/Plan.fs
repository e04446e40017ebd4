/// A compiled plan: the work of evaluating a set of roots, decided once. The graph is simplified and
/// deduplicated, scheduled in topological order with elementwise runs fused, and every value computed is
/// given a workspace buffer chosen by liveness, so a buffer is reused as soon as its last reader has run.
/// Views (reshape, squeeze, unsqueeze, stopGradient) share their input's storage instead of copying it.
module internal FuncDiff.Core.Plan

open System.Collections.Generic
open FuncDiff
open FuncDiff.Core.Steps

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
      /// The bytes a workspace's buffers hold.
      Bytes: int64
      /// The value of each root, in the order the roots were given.
      Roots: int[] }

    /// The number of kernel calls a run makes.
    member p.Calls = p.Steps |> Array.sumBy (function Kernel _ -> 1 | Fused g -> g.Calls.Length + g.Sums.Length | Pair _ -> 2)

/// The plan for the roots: simplified, deduplicated, scheduled, with buffers assigned by liveness.
let compile (roots: Node list) : Plan =
    let simplified = Simplify.roots roots
    let canonical = Graph.canonicalize simplified
    let roots = simplified |> List.map canonical.Of
    let values = canonical.Order
    let index = Dictionary<int64, int>()
    values |> Array.iteri (fun i n -> index[n.Id] <- i)
    let inputs = ResizeArray<Node>()
    // Each value's storage owner: itself, or for a view the value whose storage it reads.
    let owner = Array.init values.Length id
    let storage =
        values |> Array.mapi (fun i n ->
            match n.Op with
            | Input _ -> inputs.Add n; Storage.Bound (inputs.Count - 1)
            | Const t -> Storage.Fixed t
            | Apply (p, _) when Simplify.isView p ->
                owner[i] <- owner[index[n.Inputs[0].Id]]
                Storage.View owner[i]
            | Apply _ -> Storage.Block)
    let calls =
        [| for i in 0 .. values.Length - 1 do
               match values[i].Op, storage[i] with
               | Apply (p, attrs), Storage.Block ->
                   { Primitive = p; Run = Invoke.prepare p attrs; Output = i; Args = values[i].Inputs |> Array.map (fun x -> index[x.Id]) }
               | _ -> () |]
    let rooted = HashSet<int>(roots |> Seq.map (fun r -> owner[index[r.Id]]))
    let steps = Fuse.schedule values owner rooted calls
    // The last step that reads each storage owner, directly or through a view; roots are never released.
    let lastRead = Array.create values.Length -1
    steps |> Array.iteri (fun s step -> for a in step.Reads do lastRead[owner[a]] <- s)
    for r in rooted do lastRead[r] <- System.Int32.MaxValue
    let buffers = ResizeArray<struct (DType * int)>()
    let free = Dictionary<struct (DType * int), Stack<int>>()
    let release (v: int) =
        match storage[v] with
        | Storage.Buffer b ->
            match free.TryGetValue buffers[b] with
            | true, s -> s.Push b
            | _ -> free[buffers[b]] <- Stack [ b ]
        | _ -> ()
    steps |> Array.iteri (fun s step ->
        for v in step.Writes do
            let key = struct (values[v].DType, values[v].Shape.Size)
            let b =
                match free.TryGetValue key with
                | true, s when s.Count > 0 -> s.Pop()
                | _ -> buffers.Add key; buffers.Count - 1
            storage[v] <- Storage.Buffer b
        // Released after the outputs are chosen: a kernel never writes over its own arguments.
        for o in step.Reads |> Array.map (fun a -> owner[a]) |> Array.distinct do
            if lastRead[o] = s then release o
        for v in step.Writes do
            if lastRead[v] = -1 then release v)
    { Inputs = inputs.ToArray()
      Values = values
      Storage = storage
      Steps = steps
      Buffers = buffers.ToArray()
      Bytes = buffers |> Seq.sumBy (fun (struct (dtype, size)) -> int64 size * int64 dtype.ByteSize)
      Roots = roots |> List.map (fun r -> index[r.Id]) |> Array.ofList }

/// The schedule as text, one step per line: what each kernel call computes, and each fused group's calls.
let describe (plan: Plan) =
    let lines =
        plan.Steps |> Array.mapi (fun i step ->
            match step with
            | Kernel c -> sprintf "%4d  %s -> %s" (i + 1) c.Primitive.Name plan.Values[c.Output].TypeText
            | Pair (s, _) -> sprintf "%4d  sin and cos in one pass -> %s twice" (i + 1) plan.Values[s.Output].TypeText
            | Fused g ->
                let names = Array.append g.Calls g.Sums |> Array.map (fun c -> c.Primitive.Name)
                let how = if g.Loop.IsSome then "one loop" else "in blocks"
                sprintf "%4d  fused over %d elements, %s: %s -> %d written out" (i + 1) g.Size how (System.String.Join(" ", names)) (g.Exports.Length + g.Sums.Length))
    let count (n: int) (what: string) = sprintf "%d %s%s" n what (if n = 1 then "" else "s")
    let names = plan.Inputs |> Array.map (fun n -> match n.Op with Input name -> name + " " + n.TypeText | _ -> "")
    sprintf "plan: %s in %s, %s (%s), %s (%d bytes)\n%s"
        (count plan.Calls "kernel call") (count plan.Steps.Length "step") (count plan.Inputs.Length "input") (System.String.Join(", ", names))
        (count plan.Buffers.Length "buffer") plan.Bytes (System.String.Join("\n", lines))
