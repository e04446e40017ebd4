/// Runs compiled plans. A workspace holds one run's buffers and the tensors that view them; it is made
/// once and reused, so a run allocates nothing on the managed heap once the workspace exists. A
/// workspace serves one run at a time; a plan hands each concurrent caller its own.
module internal FuncDiff.Core.Execute

open System
open FuncDiff
open FuncDiff.Core.Plan

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
            | Storage.Buffer b -> tensorOver v buffers[b]
            | Storage.View _ -> invalidOp "a view of a view")
    let args = plan.Steps |> Array.map (fun s -> s.Args |> Array.map (fun a -> values[a]))
    // Where each value is read, so that a newly bound input reaches its readers.
    let readers = Array.init plan.Values.Length (fun _ -> ResizeArray<struct (int * int)>())
    do plan.Steps |> Array.iteri (fun s step -> step.Args |> Array.iteri (fun k a -> readers[a].Add(struct (s, k))))
    let bound: Tensor[] = Array.zeroCreate plan.Inputs.Length
    let results: Tensor[] = Array.zeroCreate plan.Roots.Length

    let isBound (v: int) = match plan.Storage[v] with Storage.Bound _ -> true | _ -> false

    member _.Plan = plan
    /// The bytes its buffers hold.
    member _.Bytes = plan.Buffers |> Array.sumBy (fun (struct (dtype, size)) -> int64 size * int64 dtype.ByteSize)
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
                    values[v] <- (if isBound v then t else tensorOver v t.Data)
                    for struct (s, k) in readers[v] do args[s][k] <- values[v]

    /// Runs the plan on the bound tensors (already checked) and gives the roots' values. They are this
    /// workspace's tensors, overwritten by its next run.
    member w.Run(inputs: Tensor[]) : Tensor[] =
        for i in 0 .. inputs.Length - 1 do w.Bind(i, inputs[i])
        for s in 0 .. plan.Steps.Length - 1 do
            let step = plan.Steps[s]
            Invoke.into step.Primitive step.Attributes args[s] values[step.Output]
        for r in 0 .. plan.Roots.Length - 1 do results[r] <- values[plan.Roots[r]]
        results
