/// Runs compiled plans. A workspace holds one run's buffers and the tensors that view them; it is made
/// once and reused, so a run allocates nothing on the managed heap once the workspace exists. A
/// workspace serves one run at a time; a plan hands each concurrent caller its own.
module internal FuncDiff.Core.Execute

open System
open System.Collections.Generic
open FuncDiff
open FuncDiff.Core.Steps
open FuncDiff.Core.Plan

/// The kernel of a sin and a cos computed together: it writes one of them into the tensor it is given and
/// the other into `other` (sines first when sinesFirst), both from one pass over the argument.
let private sinCosWith (sinesFirst: bool) (other: Tensor) =
    fun (xs: Tensor[]) (out: Tensor) -> if sinesFirst then Kernels.Trig.sinCos xs[0] out other else Kernels.Trig.sinCos xs[0] other out

/// A fused group's sum of one member, fed block by block.
type private IBlockSum =
    /// Takes the member's elements offset .. offset + length - 1, held at the start of piece.
    abstract Add: thread: int * offset: int * piece: Array * length: int -> unit
    /// Writes the sum into the single-element tensor out, once every block has been added.
    abstract Finish: out: Tensor -> unit

/// Each thread copies its pieces into a scratch block of Summation.Block elements and sums every block
/// once it is complete (or the tensor ends), as Summation.sum sums it; the totals add in sum's pairwise
/// tree at the end, so the result is Summation.sum's, bit for bit. Threads start on block boundaries.
[<Sealed>]
type private BlockSum<'T when 'T :> Numerics.INumber<'T>>(size: int, threads: int) =
    let block = Kernels.Summation.Block
    let totals = Array.zeroCreate<'T> ((size + block - 1) / block)
    let scratch = Array.init threads (fun _ -> Array.zeroCreate<'T> block)
    interface IBlockSum with
        member _.Add(thread, offset, piece, length) =
            let piece = piece :?> 'T[]
            let s = scratch[thread]
            let mutable i = 0
            while i < length do
                let at = offset + i
                let start = at / block * block
                let stop = min (start + block) size
                let take = min (length - i) (stop - at)
                Array.Copy(piece, i, s, at - start, take)
                i <- i + take
                if at + take = stop then totals[start / block] <- Kernels.Summation.block (ReadOnlySpan(s, 0, stop - start))
        member _.Finish(out) = (out.Data :?> 'T[])[0] <- Kernels.Summation.ofBlocks (ReadOnlySpan totals)

/// A fused group's loop over registers (Compile/Loops.fs) and the arrays it reads and writes.
[<AllowNullLiteral>]
type private ILoopRun =
    /// Takes the arrays of this run's values (bound inputs change between runs).
    abstract Refresh: unit -> unit
    /// Lets go of the bound inputs' arrays until the next Refresh.
    abstract Release: unit -> unit
    abstract Run: thread: int * offset: int * length: int -> unit
    /// The block of sum s's member that thread's last Run left, from index 0.
    abstract Piece: thread: int * s: int -> Array

/// The arrays of values bound to the plan's inputs change between runs (they are re-read at each run);
/// the workspace's buffers and constants do not.
[<Sealed>]
type private LoopRun<'T>(loop: Loops.Loop<'T>, group: Group, values: Tensor[], isBound: int -> bool, threads: int, longest: int) =
    let arrayOf (v: int) = values[v].Data :?> 'T[]
    let reads = group.Imports |> Array.map (fun v -> if isBound v then null else arrayOf v)
    let boundReads = group.Imports |> Array.indexed |> Array.filter (fun (_, v) -> isBound v) |> Array.map fst
    let writes = group.Exports |> Array.map arrayOf
    let scalarArrays = group.Scalars |> Array.map (fun v -> if isBound v then null else arrayOf v)
    let scalars = Array.zeroCreate<'T> group.Scalars.Length
    let pieces = Array.init threads (fun _ -> Array.init group.Sums.Length (fun _ -> Array.zeroCreate<'T> longest))
    interface ILoopRun with
        member _.Refresh() =
            for j in boundReads do reads[j] <- arrayOf group.Imports[j]
            for k in 0 .. scalars.Length - 1 do
                scalars[k] <- (if isNull scalarArrays[k] then arrayOf group.Scalars[k] else scalarArrays[k])[0]
        member _.Release() = for j in boundReads do reads[j] <- null
        member _.Run(thread, offset, length) =
            // The loop reads and writes without bounds checks: every array must hold the elements it touches.
            let mutable fits = offset >= 0
            for a in reads do fits <- fits && length <= a.Length - offset
            for a in writes do fits <- fits && length <= a.Length - offset
            for p in pieces[thread] do fits <- fits && length <= p.Length
            if not fits then invalidOp (sprintf "a fused loop over elements %d to %d reaches past an array" offset (offset + length - 1))
            loop.Invoke(reads, writes, pieces[thread], scalars, offset, length)
        member _.Piece(thread, s) = pieces[thread][s]

/// One fused group's block tensors and argument arrays, per thread and per block length.
[<Sealed>]
type private GroupRun(group: Group, plan: Plan, values: Tensor[]) =
    inherit Kernels.Partner.Halves()
    let owner (v: int) = match plan.Storage[v] with Storage.View o -> o | _ -> v
    let blocks = max 1 (group.Size / Fuse.blockSize)
    // The last block takes the remainder too, so no block is shorter than blockSize (or than the group).
    let lengths = [| Fuse.blockSize; group.Size - (blocks - 1) * Fuse.blockSize |]
    let threads = if group.Size >= Fuse.parallelMinimum && Kernels.Partner.available && blocks > 1 then 2 else 1
    let fresh (d: DType) (length: int) = Tensor(Shape.Of [| length |], d, Tensor.Allocate(d, length))
    let memberIndex = group.Calls |> Array.mapi (fun i c -> c.Output, i) |> dict
    // The group's loop over registers when it has one; otherwise kernel calls on block buffers.
    let loop =
        // Inputs and views of them; everything else keeps its storage from run to run.
        let isBound (v: int) = match plan.Storage[owner v] with Storage.Bound _ -> true | _ -> false
        match group.Loop with
        | Some (:? Loops.Loop<float> as l) -> LoopRun(l, group, values, isBound, threads, lengths[1]) :> ILoopRun
        | Some (:? Loops.Loop<float32> as l) -> LoopRun(l, group, values, isBound, threads, lengths[1]) :> ILoopRun
        | _ -> null
    // A sin and a cos of one argument in the group run as one pass where the first of them stands (their
    // argument is ready there, and nothing reads the second before its own place): partner[i] is the
    // other call for the first, -2 for the second (already computed), -1 for every other call.
    let partner = Steps.trigPartners group.Calls |> Array.mapi (fun i j -> if j > i then j elif j >= 0 then -2 else -1)
    let exportMember = group.Exports |> Array.map (fun v -> memberIndex[v])
    let sumMember = group.Sums |> Array.map (fun c -> memberIndex[owner c.Args[0]])
    // Members share block buffers by liveness, so a block's working set stays small (in L1 for the
    // blocks of most groups): slotOf[m] is member m's buffer, free for a later member of its dtype once
    // every call reading m has run (never for a call that reads it); exported and summed members keep
    // theirs to the end of the block, and the second call of a sin and cos pair takes its buffer where the
    // first runs (the pair writes both there).
    let slotOf, slotTypes =
        let n = group.Calls.Length
        let lastUse = Array.init n id
        for j in 0 .. n - 1 do
            for a in group.Calls[j].Args do
                match memberIndex.TryGetValue(owner a) with
                | true, m -> lastUse[m] <- max lastUse[m] j
                | _ -> ()
        for m in Array.append exportMember sumMember do lastUse[m] <- n
        let slotOf = Array.create n -1
        let types = ResizeArray<DType>()
        let dtypeOf (m: int) = plan.Values[group.Calls[m].Output].DType
        let free = Dictionary<DType, Stack<int>>()
        // releasedAt[p]: the members whose last reader runs just before p (released in linear time).
        let releasedAt = Array.init (n + 1) (fun _ -> ResizeArray<int>())
        let take (m: int) =
            match free.TryGetValue(dtypeOf m) with
            | true, stack when stack.Count > 0 -> slotOf[m] <- stack.Pop()
            | _ ->
                slotOf[m] <- types.Count
                types.Add(dtypeOf m)
            if lastUse[m] < n then releasedAt[lastUse[m] + 1].Add m
        for p in 0 .. n - 1 do
            for m in releasedAt[p] do
                if not (free.ContainsKey(dtypeOf m)) then free[dtypeOf m] <- Stack()
                free[dtypeOf m].Push slotOf[m]
            if partner[p] <> -2 then take p
            if partner[p] >= 0 then take partner[p]
        slotOf, types.ToArray()
    // lanes[thread][variant]: (member blocks, import blocks, args per call)
    let lanes =
        Array.init (if isNull loop then threads else 0) (fun _ ->
            lengths |> Array.map (fun length ->
                let buffers = slotTypes |> Array.map (fun d -> fresh d length)
                let outs = slotOf |> Array.map (fun slot -> buffers[slot])
                let imports = group.Imports |> Array.map (fun v -> fresh plan.Values[v].DType length)
                let args =
                    group.Calls |> Array.map (fun c ->
                        c.Args |> Array.map (fun a ->
                            match memberIndex.TryGetValue(owner a) with
                            | true, m -> outs[m]
                            | _ ->
                                match Array.tryFindIndex ((=) a) group.Imports with
                                | Some j -> imports[j]
                                | None -> Unchecked.defaultof<Tensor>))
                // The paired calls' kernel: sines into one member's block, cosines into the other's.
                let pairs =
                    partner |> Array.mapi (fun i j ->
                        if j < 0 then Unchecked.defaultof<_>
                        else sinCosWith (Steps.trigOf group.Calls[i].Primitive = ValueSome false) outs[j])
                struct (outs, imports, args, pairs)))
    // Argument slots that read a single-element value from outside: refreshed each run, since an input's
    // tensor changes between runs.
    let scalarSlots =
        [| for lane in lanes do
               for struct (_, _, args, _) in lane do
                   for i in 0 .. group.Calls.Length - 1 do
                       for k in 0 .. group.Calls[i].Args.Length - 1 do
                           if obj.ReferenceEquals(args[i][k], null) then struct (args[i], k, group.Calls[i].Args[k]) |]
    let sums =
        group.Sums |> Array.map (fun c ->
            match plan.Values[c.Output].DType with
            | DType.Float64 -> BlockSum<float>(group.Size, threads) :> IBlockSum
            | DType.Float32 -> BlockSum<float32>(group.Size, threads) :> IBlockSum
            | d -> invalidOp (sprintf "a fused sum of %O" d))

    /// Block k through kernel calls on the thread's block buffers.
    let callsOn (thread: int) (k: int) (offset: int) (length: int) =
        let struct (outs, imports, args, pairs) = lanes[thread][if k = blocks - 1 then 1 else 0]
        for j in 0 .. imports.Length - 1 do Array.Copy(values[group.Imports[j]].Data, offset, imports[j].Data, 0, length)
        for i in 0 .. group.Calls.Length - 1 do
            let c = group.Calls[i]
            match partner[i] with
            | -1 -> Invoke.into c.Primitive c.Run args[i] outs[i]
            | -2 -> ()
            | _ -> Invoke.into c.Primitive pairs[i] args[i] outs[i]
        for e in 0 .. exportMember.Length - 1 do
            Array.Copy(outs[exportMember[e]].Data, 0, values[group.Exports[e]].Data, offset, length)
        for j in 0 .. sums.Length - 1 do sums[j].Add(thread, offset, outs[sumMember[j]].Data, length)

    let run (thread: int) (first: int) (last: int) =
        for k in first .. last - 1 do
            let offset = k * Fuse.blockSize
            let length = lengths[if k = blocks - 1 then 1 else 0]
            if isNull loop then callsOn thread k offset length
            else
                loop.Run(thread, offset, length)
                for j in 0 .. sums.Length - 1 do sums[j].Add(thread, offset, loop.Piece(thread, j), length)

    // The second thread starts on a boundary of Summation's blocks (a whole number of fused blocks).
    let perSumBlock = max 1 (Kernels.Summation.Block / Fuse.blockSize)
    let half = blocks / 2 / perSumBlock * perSumBlock

    /// The blocks before half on the calling thread, the rest on the second.
    override _.RunPart(part) = if part = 0 then run 0 0 half else run 1 half blocks

    member _.Run() =
        for struct (args, k, v) in scalarSlots do args[k] <- values[v]
        if not (isNull loop) then loop.Refresh()
        if threads = 2 then base.Split()
        else run 0 0 blocks
        for j in 0 .. sums.Length - 1 do sums[j].Finish values[group.Sums[j].Output]

    /// Lets go of what the run read from outside the workspace (taken again by the next Run).
    member _.Release() =
        for struct (args, k, _) in scalarSlots do args[k] <- Unchecked.defaultof<Tensor>
        if not (isNull loop) then loop.Release()

/// The buffers, value tensors and argument arrays of one run of a plan.
[<Sealed; AllowNullLiteral>]
type Workspace(plan: Plan) =
    let buffers = plan.Buffers |> Array.map (fun (struct (dtype, size)) -> Tensor.Allocate(dtype, size))
    let storageOf (v: int) = match plan.Storage[v] with Storage.View o -> o | _ -> v
    let tensorOver (v: int) (data: Array) = let n = plan.Values[v] in Tensor(n.Shape, n.DType, data)
    // Values whose tensors follow the bound inputs: the inputs themselves and views of them.
    let followers = Array.init plan.Inputs.Length (fun _ -> ResizeArray<int>())
    let values =
        plan.Values |> Array.mapi (fun v _ ->
            match plan.Storage[storageOf v] with
            | Storage.Bound i -> followers[i].Add v; Unchecked.defaultof<Tensor>
            | Storage.Fixed t -> if v = storageOf v then t else tensorOver v t.Data
            | Storage.Buffer b -> let t = tensorOver v buffers[b] in t.Lent <- true; t
            | Storage.Block -> Unchecked.defaultof<Tensor>
            | Storage.View _ -> invalidOp "a view of a view")
    let args = plan.Steps |> Array.map (function Kernel c | Pair (c, _) -> c.Args |> Array.map (fun a -> values[a]) | Fused _ -> [||])
    // A pair's kernel writes the sines into the step's output and the cosines into the second one.
    let pairs = plan.Steps |> Array.map (function Pair (_, c) -> sinCosWith true values[c.Output] | _ -> Unchecked.defaultof<_>)
    let groups = plan.Steps |> Array.map (function Fused g -> GroupRun(g, plan, values) | _ -> Unchecked.defaultof<_>)
    // Where each value is read by a kernel step, so that a newly bound input reaches its readers.
    let readers = Array.init plan.Values.Length (fun _ -> ResizeArray<struct (int * int)>())
    do plan.Steps |> Array.iteri (fun s step ->
        match step with
        | Kernel c | Pair (c, _) -> c.Args |> Array.iteri (fun k a -> readers[a].Add(struct (s, k)))
        | Fused _ -> ())
    let bound: Tensor[] = Array.zeroCreate plan.Inputs.Length
    // A result of this workspace bound as an input (w' = step(w), rebound each step) would be overwritten
    // while the run still reads it: such an input is copied into a staging tensor first.
    let own = HashSet<obj>(buffers |> Seq.cast<obj>, HashIdentity.Reference)
    let staging: Tensor[] = Array.zeroCreate plan.Inputs.Length
    let mutable running = 0
    // The thread that holds the claim (0 between runs), so a refusal can say whether it is re-entry.
    let mutable runner = 0
    let results: Tensor[] = Array.zeroCreate plan.Roots.Length
    let isBound (v: int) = match plan.Storage[v] with Storage.Bound _ -> true | _ -> false

    member _.Plan = plan
    /// The bytes its buffers hold.
    member _.Bytes = plan.Bytes
    /// Scratch for the bound inputs in the plan's input order.
    member val Inputs: Tensor[] = Array.zeroCreate plan.Inputs.Length

    /// Fills every buffer with values no kernel should leave behind (NaN, -1, true), so tests can see a
    /// kernel that relies on its result being zeroed.
    member internal _.Scribble() =
        for b in buffers do
            match b with
            | :? (float[]) as a -> Array.fill a 0 a.Length nan
            | :? (float32[]) as a -> Array.fill a 0 a.Length nanf
            | :? (int[]) as a -> Array.fill a 0 a.Length -1
            | :? (bool[]) as a -> Array.fill a 0 a.Length true
            | _ -> ()

    /// Binds input i; views of it are remade only when its storage changes.
    member private _.Bind(i: int, t: Tensor) =
        if not (obj.ReferenceEquals(bound[i], t)) then
            let storageChanged = obj.ReferenceEquals(bound[i], null) || not (obj.ReferenceEquals(bound[i].Data, t.Data))
            bound[i] <- t
            for v in followers[i] do
                if storageChanged || isBound v then
                    values[v] <- (if isBound v then t else let view = tensorOver v t.Data in view.Lent <- t.Lent; view)
                    for struct (s, k) in readers[v] do args[s][k] <- values[v]

    /// Claims the workspace for one run, from gathering its inputs to its last step: a second thread
    /// meanwhile gets an error instead of changing the inputs of the run under way.
    member internal _.Enter() =
        if Threading.Interlocked.Exchange(&running, 1) = 1 then
            raise (FuncDiffException(
                    if Threading.Volatile.Read &runner = Environment.CurrentManagedThreadId then
                        "this workspace is already running: a call its run made (reading the inputs) runs it again; give that call a workspace of its own (plan.CreateWorkspace())"
                    else "this workspace is already running on another thread; give each thread its own (plan.CreateWorkspace())"))
        Threading.Volatile.Write(&runner, Environment.CurrentManagedThreadId)

    member internal _.Leave() =
        Threading.Volatile.Write(&runner, 0)
        Threading.Volatile.Write(&running, 0)

    /// Runs the plan on the bound tensors (already checked, in the workspace's claim) and gives the
    /// roots' values. They are this workspace's tensors, overwritten by its next run.
    member internal w.RunSteps(inputs: Tensor[]) : Tensor[] =
        w.BindAll inputs
        for s in 0 .. plan.Steps.Length - 1 do w.Step s
        for r in 0 .. plan.Roots.Length - 1 do results[r] <- values[plan.Roots[r]]
        results

    /// Binds the inputs of a run (already checked), copying those this workspace's own buffers hold.
    member internal w.BindAll(inputs: Tensor[]) =
        for i in 0 .. inputs.Length - 1 do
            let t = inputs[i]
            if own.Contains t.Data then
                if obj.ReferenceEquals(staging[i], null) then
                    staging[i] <- Tensor(t.Shape, t.DType, Tensor.Allocate(t.DType, t.Size))
                    staging[i].Lent <- true
                Array.Copy(t.Data, staging[i].Data, t.Size)
                w.Bind(i, staging[i])
            else w.Bind(i, t)

    /// Lets go of the bound inputs and the results, so a workspace kept in a pool does not keep a
    /// caller's tensors alive; the next run binds its inputs again.
    member internal w.Release() =
        for i in 0 .. bound.Length - 1 do
            if not (obj.ReferenceEquals(bound[i], null)) then
                bound[i] <- Unchecked.defaultof<Tensor>
                for v in followers[i] do
                    values[v] <- Unchecked.defaultof<Tensor>
                    for struct (s, k) in readers[v] do args[s][k] <- Unchecked.defaultof<Tensor>
        Array.Clear w.Inputs
        Array.Clear results
        for g in groups do if not (obj.ReferenceEquals(g, null)) then g.Release()

    /// Runs step s of the plan on what the earlier steps left (a profiler times them one by one).
    member internal _.Step(s: int) =
        match plan.Steps[s] with
        | Kernel c -> Invoke.into c.Primitive c.Run args[s] values[c.Output]
        | Fused _ -> groups[s].Run()
        | Pair (c, _) -> Invoke.into c.Primitive pairs[s] args[s] values[c.Output]
