/// Rewrites a graph into a cheaper one with bit-identical values: constant folding and the algebraic
/// identities that reverse mode leaves behind (a cotangent of ones times a local derivative, reshapes and
/// broadcasts to the same shape, a transpose of a transpose, a transpose copied only to be multiplied).
/// Every rule is exact in IEEE arithmetic for every operand, NaN and signed zeros included, which is why
/// x + 0 is not among them (−0 + 0 = +0).
module internal FuncDiff.Core.Simplify

open System
open System.Collections.Generic
open FuncDiff
open FuncDiff.Core.Primitives

/// Folded constants larger than this stay steps: a plan should not hold a gigabyte of broadcast ones.
let private foldLimit = 1 <<< 22

/// Entries whose result is their input's elements unchanged in another shape.
let isView (p: Primitive) =
    obj.ReferenceEquals(p, Structural.reshapeP) || obj.ReferenceEquals(p, Structural.squeezeP)
    || obj.ReferenceEquals(p, Structural.unsqueezeP) || obj.ReferenceEquals(p, Logic.stopGradientP)

let private is (entry: Primitive) (n: Node) =
    match n.Op with
    | Apply (p, _) -> obj.ReferenceEquals(p, entry)
    | _ -> false

/// True when every element of the node's value is exactly 1 (a constant, or a broadcast or view of one).
let rec private isOne (n: Node) =
    match n.Op with
    | Const t ->
        match t.Data with
        | :? (float[]) as a -> Array.forall (fun v -> v = 1.0) a
        | :? (float32[]) as a -> Array.forall (fun v -> v = 1.0f) a
        | _ -> false
    | Apply (p, _) when isView p || obj.ReferenceEquals(p, Structural.broadcastToP) -> isOne n.Inputs[0]
    | _ -> false

/// The operand that makes the node redundant, if one does.
let private identity (n: Node) (ins: Node[]) : Node option =
    let sameType (x: Node) = x.DType = n.DType && x.Shape.Equals n.Shape
    match n.Op with
    | Apply (p, _) when (isView p || obj.ReferenceEquals(p, Structural.broadcastToP)) && sameType ins[0] -> Some ins[0]
    // Not for int32: there neg(Int32.MinValue) is an error the plan must still raise.
    | Apply (p, _) when obj.ReferenceEquals(p, Arithmetic.negP) && n.DType.IsFloat && is Arithmetic.negP ins[0] -> Some ins[0].Inputs[0]
    | Apply (p, _) when obj.ReferenceEquals(p, Arithmetic.mulP) ->
        if isOne ins[1] && sameType ins[0] then Some ins[0]
        elif isOne ins[0] && sameType ins[1] then Some ins[1]
        else None
    // mulNoNan(x, 1) = x·1; a ones *first* operand is not an identity: mulNoNan(1, −0) is +0.
    | Apply (p, _) when (obj.ReferenceEquals(p, Arithmetic.mulNoNanP) || obj.ReferenceEquals(p, Arithmetic.divP))
                        && isOne ins[1] && sameType ins[0] -> Some ins[0]
    | _ -> None

/// The node with its inputs replaced, merging a view of a view and a transpose of a transpose.
let private rebuild (n: Node) (ins: Node[]) =
    match n.Op with
    | Apply (p, _) when isView p && (match ins[0].Op with Apply (q, _) -> isView q | _ -> false) ->
        // Both only relabel the shape: one reshape of the innermost storage does it.
        Node(Apply(Structural.reshapeP, Map [ "shape", Param.Ints (n.Shape.ToList()) ]), [| ins[0].Inputs[0] |], n.Shape, n.DType)
    | Apply (p, attrs) when obj.ReferenceEquals(p, Structural.transposeP) && is Structural.transposeP ins[0] ->
        let outer = Rules.ints "perm" attrs
        let inner = match ins[0].Op with Apply (_, a) -> Rules.ints "perm" a | _ -> [||]
        // Axis i of the result is axis outer[i] of the inner transpose, which is axis inner[outer[i]] of x.
        let perm = outer |> Array.map (fun i -> inner[i])
        let x = ins[0].Inputs[0]
        if perm = Array.init perm.Length id then x
        else Node(Apply(p, Map [ "perm", Param.Ints (List.ofArray perm) ]), [| x |], n.Shape, n.DType)
    | Apply (p, _) when p.Family = Family.Elementwise && ins |> Array.exists (is Structural.broadcastToP) ->
        // An elementwise kernel broadcasts its operands itself: reading the source of a broadcast gives the
        // same elements without the copy, as long as the operands still broadcast to the same shape.
        let direct = Array.copy ins
        for i in 0 .. direct.Length - 1 do
            if is Structural.broadcastToP direct[i] then
                let candidate = Array.copy direct
                candidate[i] <- direct[i].Inputs[0]
                let joint =
                    candidate |> Array.fold (fun acc x ->
                        match acc with
                        | Some a -> (match ShapeMath.tryBroadcast a x.Shape with Ok s -> Some s | Error _ -> None)
                        | None -> None) (Some Shape.Scalar)
                if joint = Some n.Shape then direct[i] <- candidate[i]
        Node(n.Op, direct, n.Shape, n.DType)
    | _ when Array.forall2 (fun (a: Node) (b: Node) -> obj.ReferenceEquals(a, b)) ins n.Inputs -> n
    | _ -> Node(n.Op, ins, n.Shape, n.DType)

let private foldable (n: Node) =
    match n.Op with
    | Apply (p, _) ->
        p.Family <> Family.UserDefined && n.Shape.Size <= foldLimit
        && n.Inputs |> Array.forall (fun i -> match i.Op with Const _ -> true | _ -> false)
    | _ -> false

/// The simplified roots, in order. Nodes are visited once, inputs first, without recursion.
let roots (roots: Node list) : Node list =
    let canonical = Graph.canonicalize roots
    let simplified = Dictionary<int64, Node>()
    for n in canonical.Order do
        let ins = n.Inputs |> Array.map (fun i -> simplified[i.Id])
        let result =
            match identity n ins with
            | Some x -> x
            | None ->
                let m = rebuild n ins
                match m.Op with
                | Apply (p, attrs) when foldable m ->
                    let values = m.Inputs |> Array.map (fun i -> match i.Op with Const t -> t | _ -> invalidOp "folding a non-constant")
                    Rules.constant (Invoke.fresh p attrs values m)
                | _ -> Products.rewrite m
        simplified[n.Id] <- result
    roots |> List.map (fun r -> simplified[(canonical.Of r).Id])
