/// Elementwise fusion: elementwise calls over the same element count, scheduled back to back, become one
/// group, which runs as one loop over SIMD registers where its calls allow (Compile/Loops.fs) and block by
/// block otherwise. A block is never shorter than a SIMD kernel's widest vector, so every element goes
/// through the same code path as in a whole-tensor call, and the values are bit-identical to the
/// interpreter's. Large groups form from minimumSize elements, loops of cheap calls from minimumLoopSize;
/// a lone call is a group of its own only as a loop over parallelMinimum elements or more (for two threads).
/// A sum of all of a member's elements joins a large group too, taken block by block in the order
/// Kernels/Summation.fs fixes, so the member need not be written out whole.
module internal FuncDiff.Core.Fuse

open System.Collections.Generic
open FuncDiff
open FuncDiff.Core.Steps

/// Elements per block (1024): with the members' block buffers shared by liveness (Evaluation/Execute.fs),
/// a group's live blocks fit in the L1 cache, and a block starts at a multiple of the chunk through which
/// position-sensitive kernels run (Kernels/Aligned.fs).
let blockSize = 4 * Kernels.Aligned.Chunk

/// Groups of kernel calls smaller than this run as plain calls: their tensors already fit in cache, and
/// a group's copies in and out of blocks would cost more than it saves.
let minimumSize = 4 * blockSize

/// Groups at least this large split their blocks between two threads. Elementwise results do not depend
/// on the split, so the values are the same whoever runs which block.
let parallelMinimum = 1 <<< 16

/// Groups of calls with light lane forms run as loops over registers (Compile/Loops.fs), which copy nothing,
/// from this size on. Heavy ones (exp, log, tanh, sin, cos) stay span kernels below minimumSize: alone in
/// their loop they keep many vectors in flight, and sin and cos of one argument still pair.
let minimumLoopSize = 64

/// A call that can run on blocks: an elementwise built-in whose inputs are either as large as its result
/// (read element for element) or a single element, over at least minimumSize elements, or over at least
/// minimumLoopSize if it has a light lane form (so that its group is a loop). int32 results stay out: their
/// overflow errors name the element, which a block would misplace.
let private fusible (values: Node[]) (c: Call) =
    let out = values[c.Output]
    let size = out.Shape.Size
    c.Primitive.Family = Family.Elementwise && not (Simplify.isView c.Primitive)
    && (size >= minimumSize || (size >= minimumLoopSize && (match c.Primitive.Lanes with Some l -> not l.Heavy | None -> false) && out.DType.IsFloat && Loops.available ()))
    && out.DType <> DType.Int32
    && c.Args |> Array.forall (fun a -> let s = values[a].Shape in s.Size = size || (s.Size = 1 && s.Rank <= 1))

/// A sum of every element of a float value large enough to fuse: a group can take it block by block.
let private blockSum (values: Node[]) (c: Call) =
    let x = values[c.Args[0]]
    obj.ReferenceEquals(c.Primitive, Primitives.Structural.sumP) && values[c.Output].Shape.Size = 1
    && x.Shape.Size >= minimumSize && (x.DType = DType.Float64 || x.DType = DType.Float32)

/// The schedule with fused groups. `owner` maps a value to the value whose storage it uses (itself, or
/// the source of a view); `rooted` says which owners the roots need.
let schedule (values: Node[]) (owner: int[]) (rooted: HashSet<int>) (calls: Call[]) : Step[] =
    // Calls are reordered (any topological order computes the same values) so that fusible calls over
    // one element count run back to back: a loss's backward pass then joins its forward pass instead of
    // waiting behind the reduction between them. Ties go to the original order.
    let producer = Dictionary<int, int>()
    calls |> Array.iteri (fun i c -> producer[c.Output] <- i)
    let waiting = Array.zeroCreate calls.Length
    let consumers = Array.init calls.Length (fun _ -> ResizeArray<int>())
    calls |> Array.iteri (fun i c ->
        for a in c.Args |> Array.map (fun a -> owner[a]) |> Array.distinct do
            match producer.TryGetValue a with
            | true, p -> waiting[i] <- waiting[i] + 1; consumers[p].Add i
            | _ -> ())
    let isFusible = calls |> Array.map (fusible values)
    let sizeOf (i: int) = values[calls[i].Output].Shape.Size
    let ready = SortedSet<int>()
    let readyFusible = Dictionary<int, SortedSet<int>>()
    let readyTrig = Dictionary<struct (int * bool), int>()
    let trig (i: int) = if isFusible[i] then ValueNone else trigOf calls[i].Primitive
    // Ready fusible sin and cos calls by argument, so that a run takes the two of one argument together
    // (a loop then reduces the argument once for both).
    let readyFusibleTrig = Dictionary<struct (int * bool), int>()
    let isBlockSum = calls |> Array.map (blockSum values)
    let readyBlockSums = SortedSet<int>()
    let makeReady (i: int) =
        ready.Add i |> ignore
        if isBlockSum[i] then readyBlockSums.Add i |> ignore
        match trig i with
        | ValueSome cosine -> readyTrig[struct (calls[i].Args[0], cosine)] <- i
        | ValueNone -> ()
        if isFusible[i] then
            match trigOf calls[i].Primitive with
            | ValueSome cosine -> readyFusibleTrig[struct (calls[i].Args[0], cosine)] <- i
            | ValueNone -> ()
            match readyFusible.TryGetValue(sizeOf i) with
            | true, set -> set.Add i |> ignore
            | _ -> readyFusible[sizeOf i] <- SortedSet [ i ]
    for i in 0 .. calls.Length - 1 do
        if waiting[i] = 0 then makeReady i
    // Runs of calls, each with the sums it takes of its members.
    let runs = ResizeArray<struct (ResizeArray<Call> * ResizeArray<Call> * bool)>()
    let mutable current = ResizeArray<Call>()
    let mutable sums = ResizeArray<Call>()
    let mutable currentSize = -1
    let members = HashSet<int>()
    let close () =
        if current.Count > 0 then runs.Add(struct (current, sums, false))
        current <- ResizeArray<Call>()
        sums <- ResizeArray<Call>()
        members.Clear()
        currentSize <- -1
    let join (i: int) =
        current.Add calls[i]
        members.Add calls[i].Output |> ignore
    // A sin or cos joining a run brings the ready cos or sin of its argument along.
    let partnerOf (i: int) =
        let mutable other = -1
        match trigOf calls[i].Primitive with
        | ValueSome cosine when isFusible[i] && readyFusibleTrig.TryGetValue(struct (calls[i].Args[0], not cosine), &other) && sizeOf other = sizeOf i -> other
        | _ -> -1
    let scheduled (i: int) =
        ready.Remove i |> ignore
        readyBlockSums.Remove i |> ignore
        match trig i with
        | ValueSome cosine -> readyTrig.Remove(struct (calls[i].Args[0], cosine)) |> ignore
        | ValueNone -> ()
        if isFusible[i] then
            match trigOf calls[i].Primitive with
            | ValueSome cosine -> readyFusibleTrig.Remove(struct (calls[i].Args[0], cosine)) |> ignore
            | ValueNone -> ()
        for c in consumers[i] do
            waiting[c] <- waiting[c] - 1
            if waiting[c] = 0 then makeReady c
    // Joins a ready fusible call to the run, with its sin or cos partner if that is ready.
    let take (i: int) =
        let other = partnerOf i
        let add (j: int) =
            readyFusible[sizeOf j].Remove j |> ignore
            join j
            scheduled j
        add i
        if other >= 0 then add other
    while ready.Count > 0 do
        match readyFusible.TryGetValue currentSize with
        | true, set when set.Count > 0 ->
            take set.Min
            // A small group must stay short enough to be a loop.
            if currentSize < minimumSize && current.Count >= Loops.maximumCalls then close ()
        | _ ->
            // Sums of the run's members come last and end the run: what reads a sum needs all its blocks.
            let taken = readyBlockSums |> Seq.filter (fun i -> members.Contains owner[calls[i].Args[0]]) |> Array.ofSeq
            if taken.Length > 0 then
                for i in taken do
                    sums.Add calls[i]
                    scheduled i
                close ()
            else
                close ()
                let next = ready.Min
                if isFusible[next] then
                    currentSize <- sizeOf next
                    take next
                else
                    // A sin whose argument's cos is ready too (or the other way round) runs with it.
                    let mutable other = -1
                    match trig next with
                    | ValueSome cosine when readyTrig.TryGetValue(struct (calls[next].Args[0], not cosine), &other) ->
                        let sine, cos = (if cosine then other, next else next, other)
                        runs.Add(struct (ResizeArray [ calls[sine]; calls[cos] ], ResizeArray(), true))
                        scheduled other
                    | _ -> runs.Add(struct (ResizeArray [ calls[next] ], ResizeArray(), false))
                    scheduled next
    close ()
    let runOf = Dictionary<int, int>()
    runs |> Seq.iteri (fun r (struct (run, sums, _)) -> for c in Seq.append run sums do runOf[c.Output] <- r)
    // Which owners are read by a call outside their own run.
    let readOutside = HashSet<int>()
    runs |> Seq.iteri (fun r (struct (run, sums, _)) ->
        for c in Seq.append run sums do
            for a in c.Args do
                match runOf.TryGetValue owner[a] with
                | true, r' when r' = r -> ()
                | _ -> readOutside.Add owner[a] |> ignore)
    [| for struct (run, sums, paired) in runs do
           let alone = run.Count = 1 && sums.Count = 0
           let size = values[run[0].Output].Shape.Size
           if paired then Pair(run[0], run[1])
           // A group of one is worth it only as a loop over enough elements for both threads (and only for
           // a call that could fuse: a lone run also takes calls whose operands broadcast along an axis).
           elif alone && (size < parallelMinimum || not Kernels.Partner.available || not (fusible values run[0])) then Kernel run[0]
           else
               let members = HashSet<int>(run |> Seq.map (fun c -> c.Output))
               let outside = run |> Seq.collect (fun c -> c.Args) |> Seq.filter (fun a -> not (members.Contains owner[a])) |> Seq.distinct |> Array.ofSeq
               let group =
                   { Calls = run.ToArray()
                     Size = size
                     Imports = outside |> Array.filter (fun a -> values[a].Shape.Size = size)
                     Scalars = outside |> Array.filter (fun a -> values[a].Shape.Size <> size)
                     Exports = run |> Seq.map (fun c -> c.Output) |> Seq.filter (fun v -> readOutside.Contains v || rooted.Contains v) |> Array.ofSeq
                     Sums = sums.ToArray()
                     Loop = None }
               match Loops.compile values owner group with
               | Some loop -> Fused { group with Loop = Some loop }
               // A small group is worth it only as a loop (it may mix float types, or the loop may fail),
               // and so is a group of one, which would only add copies.
               | None when size < minimumSize || alone -> for c in run do Kernel c
               | None -> Fused group |]
