/// Whole-graph walks. Every one visits each node once with an explicit stack, so a chain of a
/// million nodes needs no deeper recursion than a chain of one.
module internal FuncDiff.Core.Graph

open System.Collections.Generic
open FuncDiff

/// Every node reachable from the roots, inputs before consumers (ascending id).
let reachable (roots: seq<Node>) : Node[] =
    let seen = HashSet<int64>()
    let found = ResizeArray<Node>()
    let pending = Stack<Node>()
    for r in roots do
        if seen.Add r.Id then pending.Push r
    while pending.Count > 0 do
        let n = pending.Pop()
        found.Add n
        for i in n.Inputs do
            if seen.Add i.Id then pending.Push i
    let order = found.ToArray()
    Array.sortInPlaceBy (fun (n: Node) -> n.Id) order
    order

/// How many times each node is used as an input within the given nodes (by id).
let useCounts (order: Node[]) =
    let counts = Dictionary<int64, int>()
    for n in order do
        for i in n.Inputs do
            counts[i.Id] <- (match counts.TryGetValue i.Id with | true, c -> c + 1 | _ -> 1)
    counts

/// Compares nodes whose inputs are already canonical: same op, shape, dtype and the very same inputs.
type private Shallow() =
    interface IEqualityComparer<Node> with
        member _.GetHashCode(n: Node) = n.Hash
        member _.Equals(a: Node, b: Node) =
            obj.ReferenceEquals(a, b)
            || (a.Hash = b.Hash && a.DType = b.DType && a.Shape.Equals b.Shape && a.Inputs.Length = b.Inputs.Length
                && Array.forall2 (fun (x: Node) (y: Node) -> obj.ReferenceEquals(x, y)) a.Inputs b.Inputs
                && a.Op = b.Op)

/// The result of common-subexpression elimination.
type Canonical =
    { /// The canonical node of a node reachable from the roots.
      Of: Node -> Node
      /// The distinct canonical nodes, inputs before consumers.
      Order: Node[] }

/// Common-subexpression elimination: maps every node reachable from the roots to one canonical node
/// per structurally distinct expression, so equal subexpressions are evaluated and differentiated once.
/// Also checks that an input name is used with a single shape and dtype.
let canonicalize (roots: seq<Node>) : Canonical =
    let order = reachable roots
    let distinct = ResizeArray<Node>(order.Length)
    let table = Dictionary<Node, Node>(Shallow())
    let canon = Dictionary<int64, Node>()
    let inputs = Dictionary<string, Node>()
    for n in order do
        match n.Op with
        | Input name ->
            match inputs.TryGetValue name with
            | true, other when other.DType <> n.DType || not (other.Shape.Equals n.Shape) ->
                raise (ExprException(sprintf "input '%s' is used with two types: %O%O and %O%O" name other.DType other.Shape n.DType n.Shape))
            | true, _ -> ()
            | _ -> inputs[name] <- n
        | _ -> ()
        let ins = n.Inputs |> Array.map (fun i -> canon[i.Id])
        let candidate =
            if Array.forall2 (fun (a: Node) (b: Node) -> obj.ReferenceEquals(a, b)) ins n.Inputs then n
            else Node(n.Op, ins, n.Shape, n.DType)
        match table.TryGetValue candidate with
        | true, existing -> canon[n.Id] <- existing
        | _ ->
            // First sight of this expression: its inputs are canonical and were seen before it.
            table[candidate] <- candidate
            canon[n.Id] <- candidate
            distinct.Add candidate
    { Of =
        fun n ->
            match canon.TryGetValue n.Id with
            | true, c -> c
            | _ -> invalidOp (sprintf "node %O was not reachable from the roots given to canonicalize" n)
      Order = distinct.ToArray() }
