/// The numbers the clinic reasons about: the value of every node of an expression and the cotangent
/// reaching every node on a path from the inputs asked about, computed by the interpreter and by reverse
/// mode themselves, so the gradients are bit for bit the ones grad gives. A rule's derivative can also be
/// replayed at one node with any cotangent, to see what it passes to each input.
module internal FuncDiff.Core.Clinic.Trace

open System
open System.Collections.Generic
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives

type Trace =
    { /// The output, canonical.
      Output: Node
      /// The nodes the output depends on, canonical, inputs before consumers.
      Order: Node[]
      /// The value of every node of Order, by id.
      Values: Dictionary<int64, Tensor>
      /// The cotangent of every float node on an open path from a node of Wrt (see openFrom), by id.
      Cotangents: Dictionary<int64, Tensor>
      /// The consumers of each node within Order, by id.
      Consumers: Dictionary<int64, ResizeArray<Node>>
      /// The nodes asked about, canonical.
      Wrt: Node list
      /// The gradient with respect to each of Wrt.
      Gradients: Tensor list
      /// Where a canonical node (or the first node it stands for) was created.
      Site: Node -> CreationSite option }

/// A node that passes no cotangent to any input, by its catalogue classification or its result's dtype.
let blocks (n: Node) =
    match n.Op with
    | Apply (p, _) ->
        match p.Differentiability with
        | Differentiability.PiecewiseConstant | Differentiability.StopsGradient -> true
        | _ -> not n.DType.IsFloat
    | _ -> false

/// The nodes reachable from w along paths that pass no blocking node, and the blocking nodes those
/// paths reach first.
let openFrom (order: Node[]) (w: Node) =
    let reached = HashSet<int64>([ w.Id ])
    let blockers = ResizeArray<Node>()
    for n in order do
        if n.Id <> w.Id && n.Inputs |> Array.exists (fun i -> reached.Contains i.Id) then
            if blocks n then blockers.Add n
            elif n.DType.IsFloat then reached.Add n.Id |> ignore
    reached, blockers

/// Evaluates the output and, for a scalar float output, the cotangent of every float node on a path
/// from a node of wrt. Raises as grad does: GradientException for a non-scalar output or a non-float wrt.
let run (bindings: IReadOnlyDictionary<string, Tensor>) (output: Node) (wrt: Node list) : Trace =
    // grad's own checks, with grad's messages.
    Reverse.grad output [] |> ignore
    Reverse.vjp [] [] wrt |> ignore
    let originals = Graph.reachable (output :: wrt)
    let canonical = Graph.canonicalize (output :: wrt)
    let sites = Dictionary<int64, CreationSite>()
    for n in originals do
        match Sites.tryFind n with
        | Some s -> sites.TryAdd((canonical.Of n).Id, s) |> ignore
        | None -> ()
    let out = canonical.Of output
    let wrt = wrt |> List.map canonical.Of
    let order = Graph.reachable [ out ]
    let consumers = Dictionary<int64, ResizeArray<Node>>()
    for n in order do
        for i in n.Inputs do
            match consumers.TryGetValue i.Id with
            // A node using i twice (x * x) is one consumer; its uses are adjacent in this loop.
            | true, cs -> if not (obj.ReferenceEquals(cs[cs.Count - 1], n)) then cs.Add n
            | _ -> consumers[i.Id] <- ResizeArray [ n ]
    // Cotangents are needed only where one can flow: on paths that pass no blocking node.
    let onPath = HashSet<int64>()
    for w in wrt do onPath.UnionWith(fst (openFrom order w))
    let pathNodes = [ for n in order do if n.DType.IsFloat && onPath.Contains n.Id then n ]
    let adjoints =
        if out.DType.IsFloat && not pathNodes.IsEmpty then Reverse.vjp [ out ] [ Rules.scalarLike out 1.0 ] pathNodes else []
    let forward = HashSet<int64>(order |> Seq.map (fun n -> n.Id))
    let values = Dictionary<int64, Tensor>()
    let results = Interpreter.evaluateObserved (fun n _ v -> if forward.Contains n.Id then values[n.Id] <- v) bindings (out :: adjoints)
    let cotangents = Dictionary<int64, Tensor>()
    List.iter2 (fun (n: Node) t -> cotangents[n.Id] <- t) pathNodes results.Tail
    let gradients =
        wrt |> List.map (fun w ->
            match cotangents.TryGetValue w.Id with
            | true, g -> g
            | _ -> Tensor.cast w.DType (Tensor.zeros (w.Shape.ToArray())))
    { Output = out
      Order = order
      Values = values
      Cotangents = cotangents
      Consumers = consumers
      Wrt = wrt
      Gradients = gradients
      Site = fun n -> match sites.TryGetValue n.Id with | true, s -> Some s | _ -> None }

/// The value of a node the trace evaluated: its recorded value, or for a node outside the output's graph
/// (a wrt the output does not use), nothing.
let tryValue (t: Trace) (n: Node) =
    match t.Values.TryGetValue n.Id with
    | true, v -> Some v
    | _ -> None

/// The cotangent of a node, zeros when none reaches it.
let cotangent (t: Trace) (n: Node) =
    match t.Cotangents.TryGetValue n.Id with
    | true, c -> c
    | _ -> Tensor.cast n.DType (Tensor.zeros (n.Shape.ToArray()))

/// An observer for replay that looks at nothing.
let unobserved (_: Node) (_: Tensor[]) (_: Tensor) = ()

/// What a node's derivative rule passes to each input (None where no cotangent flows) at the recorded
/// values, given the cotangent of its output. The rule is applied to named placeholders for the node's
/// inputs and output (named by `name`) and the cotangent ("cotangent"), so `observe` sees each step of
/// the rule as an expression over those names, with its inputs' values.
let replay (t: Trace) (name: Node -> string) (observe: Node -> Tensor[] -> Tensor -> unit) (c: Node) (cot: Tensor) : Tensor option list =
    match c.Op with
    | Apply (p, attrs) ->
        let bindings = Dictionary<string, Tensor>()
        // The cotangent's name is taken first, so an input that prints as "cotangent" gets another.
        let taken = Dictionary<string, int64>()
        taken["cotangent"] <- -1L
        let placeholder (n: Node) (value: Tensor) (wanted: string) =
            let mutable label = wanted
            while taken.ContainsKey label && taken[label] <> n.Id do label <- label + "'"
            taken[label] <- n.Id
            bindings[label] <- value
            Node(Input label, [||], n.Shape, n.DType)
        // Names are node texts, which may come quoted for messages.
        let named (n: Node) = (name n).Trim('`')
        let inputs = c.Inputs |> Array.map (fun i -> placeholder i t.Values[i.Id] (named i))
        let output = placeholder c t.Values[c.Id] (named c)
        let g = Node(Input "cotangent", [||], c.Shape, c.DType)
        bindings["cotangent"] <- cot
        let slots = p.Vjp { Cotangent = g; Output = output; Inputs = inputs; Attributes = attrs }
        let wanted = slots |> List.choose id
        let values = if wanted.IsEmpty then [] else Interpreter.evaluateObserved observe bindings wanted
        let mutable rest = values
        slots |> List.map (fun slot ->
            match slot with
            | Some _ ->
                let v = List.head rest
                rest <- List.tail rest
                Some v
            | None -> None)
    | _ -> c.Inputs |> Array.map (fun _ -> None) |> List.ofArray

/// A tensor of ones of a node's shape and dtype.
let ones (n: Node) = Tensor.cast n.DType (Tensor.ones (n.Shape.ToArray()))
