/// Evaluates expression DAGs: each distinct node once (after common-subexpression elimination), in
/// topological order, releasing intermediate results as soon as their last consumer has run.
module internal FuncDiff.Core.Interpreter

open System
open System.Collections.Generic
open FuncDiff

/// Checks that a tensor bound to the input node n (named name) has its declared shape and dtype.
let checkInput (name: string) (n: Node) (t: Tensor) =
    if obj.ReferenceEquals(t, null) then raise (InputException(name, sprintf "input '%s' (%s) is bound to null" name n.TypeText))
    if t.DType <> n.DType then
        let article = if t.DType = DType.Int32 then "an" else "a"
        raise (InputException(name, sprintf "input '%s' is declared %s but bound to %s %O tensor of shape %O (cast it or declare it %O)" name n.TypeText article t.DType t.Shape t.DType))
    if not (t.Shape.Equals n.Shape) then
        raise (InputException(name, sprintf "input '%s' is declared with shape %O but bound to a tensor of shape %O" name n.Shape t.Shape))

/// Checks that every input of the graph is bound to a tensor of its declared shape and dtype.
let checkInputs (bindings: IReadOnlyDictionary<string, Tensor>) (order: Node[]) =
    for n in order do
        match n.Op with
        | Input name ->
            match bindings.TryGetValue name with
            | false, _ ->
                let bound = if bindings.Count = 0 then "nothing is bound" else "bound: " + String.Join(", ", bindings.Keys |> Seq.sort)
                raise (InputException(name, sprintf "input '%s' (%s) is missing; %s" name n.TypeText bound))
            | true, t -> checkInput name n t
        | _ -> ()

/// The values of the roots given tensors for the inputs, by name. Extra bindings are ignored.
/// `observe` sees every distinct node once, in evaluation order, with its inputs' values and its own
/// (the clinic keeps values and stops at non-finite ones through it).
let evaluateObserved (observe: Node -> Tensor[] -> Tensor -> unit) (bindings: IReadOnlyDictionary<string, Tensor>) (roots: Node list) : Tensor list =
    let canonical = Graph.canonicalize roots
    let roots = roots |> List.map canonical.Of
    let order = canonical.Order
    checkInputs bindings order
    let remaining = Graph.useCounts order
    let keep = HashSet<int64>(roots |> Seq.map (fun r -> r.Id))
    let values = Dictionary<int64, Tensor>()
    for n in order do
        let args = n.Inputs |> Array.map (fun i -> values[i.Id])
        let value =
            match n.Op with
            | Input name -> bindings[name]
            | Const t -> t
            | Apply (p, attrs) -> Invoke.fresh p attrs args n
        observe n args value
        values[n.Id] <- value
        for i in n.Inputs do
            let left = remaining[i.Id] - 1
            remaining[i.Id] <- left
            if left = 0 && not (keep.Contains i.Id) then values.Remove i.Id |> ignore
    roots |> List.map (fun r -> values[r.Id])

/// The values of the roots given tensors for the inputs, by name. Extra bindings are ignored.
let evaluate (bindings: IReadOnlyDictionary<string, Tensor>) (roots: Node list) : Tensor list =
    evaluateObserved (fun _ _ _ -> ()) bindings roots
