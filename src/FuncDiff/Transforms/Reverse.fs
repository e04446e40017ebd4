/// Reverse mode as a pure transformation: cotangents of outputs become expressions for the cotangents
/// of chosen nodes. One generic pass over a topological order; the derivative of each primitive comes
/// from its catalogue entry; nothing is mutated and no tape exists.
module internal FuncDiff.Core.Reverse

open System.Collections.Generic
open FuncDiff
open FuncDiff.Core.Primitives

let private describe (n: Node) =
    match n.Op with
    | Input name -> sprintf "input '%s'" name
    | Const _ -> "a constant"
    | Apply (p, _) -> sprintf "a %s node" p.Name

let private checkDifferentiable (n: Node) =
    if not n.DType.IsFloat then
        raise (GradientException(sprintf "cannot differentiate with respect to %s of dtype %O: only float64 and float32 nodes have derivatives" (describe n) n.DType))

/// vjp outputs cotangents wrt: for each node of wrt, Σ over outputs of (∂output/∂node)ᵀ · cotangent,
/// as an expression of the node's shape. A node the outputs do not depend on gets explicit zeros.
/// Each node of the original graph is visited once, so the result grows linearly with the graph.
let vjp (outputs: Node list) (cotangents: Node list) (wrt: Node list) : Node list =
    if outputs.Length <> cotangents.Length then
        raise (GradientException(sprintf "vjp needs one cotangent per output: %d outputs, %d cotangents" outputs.Length cotangents.Length))
    List.iteri2 (fun i (o: Node) (c: Node) ->
        if not (c.Shape.Equals o.Shape) || c.DType <> o.DType then
            raise (GradientException(sprintf "cotangent %d is %s but output %d is %s; they must match" i c.TypeText i o.TypeText)))
        outputs cotangents
    wrt |> List.iter checkDifferentiable
    let canon = (Graph.canonicalize (outputs @ cotangents @ wrt)).Of
    let outputs, cotangents, wrt = List.map canon outputs, List.map canon cotangents, List.map canon wrt
    let order = Graph.reachable outputs
    // A node is relevant when some wrt node is among its ancestors (or is the node itself).
    let targets = HashSet<int64>(wrt |> Seq.map (fun w -> w.Id))
    let relevant = HashSet<int64>()
    for n in order do
        if targets.Contains n.Id || n.Inputs |> Array.exists (fun i -> relevant.Contains i.Id) then relevant.Add n.Id |> ignore
    let flows (n: Node) = n.DType.IsFloat && relevant.Contains n.Id
    let contributions = Dictionary<int64, ResizeArray<Node>>()
    let contribute (n: Node) (c: Node) =
        match contributions.TryGetValue n.Id with
        | true, cs -> cs.Add c
        | _ -> contributions[n.Id] <- ResizeArray [ c ]
    List.iter2 (fun (o: Node) c -> if flows o then contribute o c) outputs cotangents
    let adjoints = Dictionary<int64, Node>()
    for k in order.Length - 1 .. -1 .. 0 do
        let n = order[k]
        match contributions.TryGetValue n.Id with
        | true, cs ->
            let total = cs |> Seq.reduce Arithmetic.add
            adjoints[n.Id] <- total
            contributions.Remove n.Id |> ignore
            match n.Op with
            | Apply (p, attrs) when n.Inputs |> Array.exists flows ->
                let slots = p.Vjp { Cotangent = total; Output = n; Inputs = n.Inputs; Attributes = attrs }
                if slots.Length <> n.Inputs.Length then
                    raise (GradientException(sprintf "the derivative rule of %s gave %d cotangents for %d inputs" p.Name slots.Length n.Inputs.Length))
                List.iteri (fun i slot ->
                    let input = n.Inputs[i]
                    match slot with
                    | Some (c: Node) when flows input ->
                        if not (c.Shape.Equals input.Shape) || c.DType <> input.DType then
                            raise (GradientException(sprintf "the derivative rule of %s gave %s for input %d, which is %s" p.Name c.TypeText i input.TypeText))
                        contribute input c
                    | _ -> ()) slots
            | _ -> ()
        | _ -> ()
    wrt |> List.map (fun w ->
        match adjoints.TryGetValue w.Id with
        | true, a -> a
        | _ -> Structural.zeros w.Shape w.DType)

/// The gradient of a scalar output with respect to each node of wrt.
let grad (output: Node) (wrt: Node list) : Node list =
    if output.Shape.Rank <> 0 then
        raise (GradientException(
            sprintf "grad needs a scalar output, but the output has shape %O. A gradient belongs to a scalar function; for this output use jacobian (every partial derivative, shape %O + the input's shape) or vjp with an explicit cotangent. If you want the gradient of the sum, take sum(output) first: FuncDiff never sums for you." output.Shape output.Shape))
    wrt |> List.iter checkDifferentiable
    if output.DType.IsFloat then vjp [ output ] [ Rules.scalarLike output 1.0 ] wrt
    else
        // An integer or boolean output is piecewise constant in every input: its derivative is zero.
        wrt |> List.map (fun w -> Structural.zeros w.Shape w.DType)
