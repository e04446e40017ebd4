/// Compiled plans as the way expressions are evaluated: a plan with a pool of workspaces for callers on
/// several threads, and a bounded cache so that evaluating the same expressions again reuses their plan.
module internal FuncDiff.Core.Plans

open System
open System.Collections.Generic
open FuncDiff
open FuncDiff.Core.Plan
open FuncDiff.Core.Steps
open FuncDiff.Core.Execute

/// The most bytes that workspaces kept between runs may hold, over all plans: a one-off evaluation of
/// a huge graph should not hold its memory afterwards.
let keptLimit = 512L <<< 20

/// The bytes of the workspaces kept now.
let mutable private kept = 0L

/// A plan and the workspaces it lends out, one per concurrent run. The cache's plans count what they
/// keep against keptLimit; a plan the caller holds (compile) keeps its own, released with it.
[<Sealed>]
type Compiled(plan: Plan, cached: bool) =
    let pool = Stack<Workspace>()
    // Once out of the cache, a plan someone still holds keeps no workspaces: nothing would release them.
    let mutable evicted = false

    member _.Plan = plan

    /// A workspace for one run at a time; give it back with Return.
    member _.Rent() =
        let spare = lock pool (fun () -> if pool.Count > 0 then pool.Pop() else null)
        if isNull spare then Workspace plan
        else
            if cached then Threading.Interlocked.Add(&kept, -spare.Bytes) |> ignore
            spare

    member _.Return(w: Workspace) =
        // A kept workspace must not keep the caller's inputs alive (a one-off eval of a huge tensor).
        w.Release()
        lock pool (fun () ->
            if not evicted && pool.Count < Environment.ProcessorCount then
                if not cached then pool.Push w
                elif Threading.Interlocked.Add(&kept, w.Bytes) <= keptLimit then pool.Push w
                else Threading.Interlocked.Add(&kept, -w.Bytes) |> ignore)

    /// Lets go of the kept workspaces (the plan leaves the cache).
    member _.Drain() =
        lock pool (fun () ->
            evicted <- true
            while pool.Count > 0 do Threading.Interlocked.Add(&kept, -pool.Pop().Bytes) |> ignore)

    /// Runs in the workspace on tensors bound by name: the roots' values, owned by the workspace.
    member _.RunIn(w: Workspace, bindings: IReadOnlyDictionary<string, Tensor>) : Tensor[] =
        w.Enter()
        try
            let gathered = w.Inputs
            for i in 0 .. plan.Inputs.Length - 1 do
                let n = plan.Inputs[i]
                match n.Op with
                | Input name ->
                    let mutable t = Unchecked.defaultof<Tensor>
                    // A missing input: checkInputs says which, and what is bound instead.
                    if not (bindings.TryGetValue(name, &t)) then Interpreter.checkInputs bindings plan.Inputs
                    Interpreter.checkInput name n t
                    gathered[i] <- t
                | _ -> ()
            w.RunSteps gathered
        finally
            w.Leave()

    /// The roots' values as tensors of their own (values the workspace owns are copied out).
    member c.Evaluate(bindings: IReadOnlyDictionary<string, Tensor>) : Tensor list =
        let w = c.Rent()
        let results =
            try
                c.RunIn(w, bindings) |> Array.mapi (fun r t ->
                    match plan.Storage[plan.Roots[r]] with
                    | Storage.Bound _ | Storage.Fixed _ -> t
                    | _ -> t.Copy())
            finally
                c.Return w
        List.ofArray results

/// A list of roots compared structurally, so a rebuilt but equal expression finds its plan.
[<CustomEquality; NoComparison>]
type private Key =
    { Roots: Node list
      Hash: int }
    override k.GetHashCode() = k.Hash
    override k.Equals(other: obj) =
        match other with
        | :? Key as o -> o.Hash = k.Hash && o.Roots.Length = k.Roots.Length && List.forall2 (fun a b -> Node.StructurallyEqual(a, b)) k.Roots o.Roots
        | _ -> false

/// How many plans the cache keeps (least recently used first out).
let capacity = 64

let private cache = Dictionary<Key, LinkedListNode<Key * Compiled>>()
let private recency = LinkedList<Key * Compiled>()
/// Plans callers hold (compile), by expression, so that one pushed out of the cache is found again
/// rather than compiled anew (and its held workspaces stay shared). Under the cache's lock.
let private heldPlans = Dictionary<Key, WeakReference<Plan>>()

let private keyOf (roots: Node list) = { Roots = roots; Hash = roots |> List.fold (fun h (r: Node) -> HashCode.Combine(h, r.Hash)) 17 }

/// The plan for the roots, compiled on first use and kept while it is among the most recently used.
let cached (roots: Node list) : Compiled =
    let key = keyOf roots
    let found, stillHeld =
        lock cache (fun () ->
            match cache.TryGetValue key with
            | true, entry ->
                recency.Remove entry
                recency.AddFirst entry
                Some (snd entry.Value), None
            | _ ->
                match heldPlans.TryGetValue key with
                | true, plan -> (match plan.TryGetTarget() with | true, p -> None, Some p | _ -> None, None)
                | _ -> None, None)
    match found with
    | Some c -> c
    | None ->
        // Compiled outside the lock: a slow compile must not stall other threads' evaluations.
        let compiled = Compiled((match stillHeld with Some p -> p | None -> Plan.compile roots), true)
        lock cache (fun () ->
            match cache.TryGetValue key with
            | true, entry -> snd entry.Value
            | _ ->
                cache[key] <- recency.AddFirst((key, compiled))
                if cache.Count > capacity then
                    let last = recency.Last
                    recency.RemoveLast()
                    cache.Remove(fst last.Value) |> ignore
                    (snd last.Value).Drain()
                compiled)

/// The bytes the kept workspaces hold.
let keptBytes () = Threading.Interlocked.Read &kept

/// How many plans the cache holds.
let count () = lock cache (fun () -> cache.Count)

/// Held plans' pools, one per compiled plan, kept while the plan is alive.
let private heldPools = System.Runtime.CompilerServices.ConditionalWeakTable<Plan, Compiled>()

/// The cached plan for the roots, with workspaces of its own for a caller that holds it: they stay while
/// the plan is held, whatever other evaluations push out of the cache, and every compile of the same
/// expressions shares them.
let held (roots: Node list) =
    let plan = (cached roots).Plan
    lock cache (fun () ->
        // Entries of plans no longer held go here, so the table stays as small as what is held.
        let gone = [ for KeyValue (k, w) in heldPlans do match w.TryGetTarget() with | true, _ -> () | _ -> yield k ]
        for k in gone do heldPlans.Remove k |> ignore
        heldPlans[keyOf roots] <- WeakReference<Plan>(plan))
    heldPools.GetValue(plan, fun p -> Compiled(p, false))

/// The values of the roots given tensors for the inputs, by name, through the cached plan.
let evaluate (bindings: IReadOnlyDictionary<string, Tensor>) (roots: Node list) : Tensor list =
    (cached roots).Evaluate bindings
