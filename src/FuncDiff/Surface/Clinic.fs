/// The gradient clinic for F#: why a gradient is zero, tiny, NaN or infinite (explain), evaluation that
/// stops at the first non-finite value (evalChecked, gradChecked), pictures of graphs (Graphviz), and
/// opt-in capture of where nodes are created in your code (CreationSites).
[<AutoOpen>]
module FuncDiff.GradientClinic

open System
open System.Collections.Generic
open System.Text
open FuncDiff.Core
open FuncDiff.Core.Clinic

/// One cause of a gradient's status.
type Cause =
    { Kind: CauseKind
      /// The node the cause is about.
      Node: Expr
      /// The node as text, subexpressions below a few levels written "…", at most 60 characters.
      NodeText: string
      /// What happens there, in plain words, with the elements and values involved.
      Message: string
      /// The share of the node's (or its input's) elements affected, where that applies.
      Fraction: float option
      /// Where the node was created: its position in parsed text, or the caller's file and line when
      /// creation-site capture was on (see CreationSites).
      Site: CreationSite option }

/// The status of the gradient with respect to one node, and its causes (none when the status is Ok).
type GradientDiagnosis =
    { Wrt: Expr
      /// The node as text (an input's name).
      WrtText: string
      Status: GradientStatus
      Causes: Cause list }

/// What explain found: the value, the gradients (bit for bit those grad gives) and a diagnosis per node.
type Explanation =
    { Value: Tensor
      Gradients: Tensor list
      Diagnoses: GradientDiagnosis list }

    /// One paragraph per node: its status, then one line per cause.
    member e.Report =
        let sb = StringBuilder()
        List.iter2 (fun (d: GradientDiagnosis) (g: Tensor) ->
            let values = g.ToFloat64Array()
            let count f = values |> Array.filter f |> Array.length
            let status =
                match d.Status with
                | GradientStatus.Ok -> "ok"
                | GradientStatus.Zero -> "zero: every element is exactly 0"
                | GradientStatus.PartlyZero -> sprintf "partly zero: %s are exactly 0" (Elements.share (count ((=) 0.0)) values.Length)
                | GradientStatus.Tiny -> "tiny: a step as large as the input changes the value by less than its rounding error"
                | GradientStatus.NaN -> sprintf "NaN at %s" (Elements.share (count Double.IsNaN) values.Length)
                | GradientStatus.Inf -> sprintf "infinite at %s" (Elements.share (count Double.IsInfinity) values.Length)
            sb.AppendFormat("{0}: {1}\n", d.WrtText, status) |> ignore
            for c in d.Causes do
                let site = match c.Site with Some s -> sprintf " [%O]" s | None -> ""
                sb.AppendFormat("  {0}{1}: {2}\n", c.Kind.Name, site, c.Message) |> ignore) e.Diagnoses e.Gradients
        sb.ToString().TrimEnd('\n')

    override e.ToString() = e.Report

let private plain (n: Node) = (NodeText.show n).Trim('`')

/// Every floating-point input of an expression, in the order the graph reaches them.
let private floatInputs (output: Expr) =
    [ for n in Graph.reachable [ output.Node ] do
          match n.Op with
          | Input _ when n.DType.IsFloat -> Expr n
          | _ -> () ]

/// The value, the gradients of a scalar output with respect to each of wrt (empty: every floating-point
/// input of the output, as the command line does), and for each a status and, unless it is ok, its
/// causes: why the gradient is zero, partly zero, tiny, NaN or infinite. The rules are in
/// docs/gradient-clinic.md. Errors as grad and eval: GradientException for a non-scalar output or a
/// non-float wrt, InputException for a missing input.
let explainWith (bindings: IReadOnlyDictionary<string, Tensor>) (wrt: Expr list) (output: Expr) : Explanation =
    Sites.paused (fun () ->
    let wrt = if wrt.IsEmpty then floatInputs output else wrt
    let t = Trace.run bindings output.Node [ for w in wrt -> w.Node ]
    let diagnoses =
        wrt |> List.mapi (fun k w ->
            let d = Diagnose.diagnose t NodeText.show k
            { Wrt = w
              WrtText = plain w.Node
              Status = d.Status
              Causes =
                [ for f in d.Findings ->
                      { Kind = f.Kind
                        Node = Expr f.Node
                        NodeText = plain f.Node
                        Message = f.Message
                        Fraction = f.Fraction
                        Site = t.Site f.Node } ] })
    { Value = t.Values[t.Output.Id]; Gradients = t.Gradients; Diagnoses = diagnoses })

/// explainWith, with the inputs' tensors by name: `loss |> explain [ "x", tx ] [ w; b ]` (`[]`: every
/// floating-point input).
let explain (bindings: (string * Tensor) list) (wrt: Expr list) (output: Expr) = explainWith (bindingsOf bindings) wrt output

/// The values of several expressions, stopping at the first node whose value holds a NaN or ±∞ with a
/// NonFiniteException naming the node, where it was created, the element and its inputs' values there.
let evalManyChecked (bindings: (string * Tensor) list) (xs: Expr list) =
    Checked.evaluate NodeText.show (bindingsOf bindings) [ for x in xs -> x.Node ]

/// The value of an expression, checked: see evalManyChecked.
let evalChecked (bindings: (string * Tensor) list) (x: Expr) = evalManyChecked bindings [ x ] |> List.head

/// The value of a scalar output and its gradients with respect to wrt, checked forward and backward: the
/// first NaN or ±∞ raises NonFiniteException; in the backward pass it names the step of the derivative
/// rule and the forward node whose rule it is (like anomaly detection, pointing at the forward node).
let gradChecked (bindings: (string * Tensor) list) (wrt: Expr list) (output: Expr) : Tensor * Tensor list =
    Checked.grad NodeText.show (bindingsOf bindings) output.Node [ for w in wrt -> w.Node ]

/// Pictures of expression graphs in Graphviz's DOT language (`dot -Tsvg` draws them).
[<RequireQualifiedAccess>]
module Graphviz =

    /// What to draw.
    type Options =
        { /// Also draw the gradient graph (boxes) of the output with respect to Wrt.
          Gradient: bool
          /// Draw the diagnosis at these inputs: nodes with causes get a coloured border and the cause,
          /// non-finite values a red fill, edges into nodes whose cotangent is all zero are dashed grey.
          ExplainAt: IReadOnlyDictionary<string, Tensor> option
          /// The nodes to differentiate with respect to (default: every float input of the output).
          Wrt: Expr list
          /// Drawn nodes at most; chains of single-use steps count as one.
          MaxNodes: int }

    /// Just the expression, every float input as wrt, at most 300 nodes.
    let defaults = { Gradient = false; ExplainAt = None; Wrt = []; MaxNodes = 300 }

    let private colour (k: CauseKind) =
        match k with
        | CauseKind.Disconnected | CauseKind.StopGradient | CauseKind.PiecewiseConstant -> "#6f42c1"
        | CauseKind.Masked -> "#fd7e14"
        | CauseKind.Cancellation -> "#0d6efd"
        | CauseKind.Underflow | CauseKind.Saturation -> "#b8860b"
        | CauseKind.NanOrigin | CauseKind.InfOrigin -> "#dc3545"

    /// The DOT text of the output's graph as the options say.
    let render (options: Options) (output: Expr) =
        Sites.paused (fun () ->
        let wrt = if options.Wrt.IsEmpty then floatInputs output else options.Wrt
        let gradients = if options.Gradient && output.Rank = 0 then grad wrt output else []
        // One canonical graph for the picture, the trace and the forward set, so their node ids agree
        // (canonicalizing twice gives a node merged from duplicates two different ids).
        let canonical = Graph.canonicalize (output.Node :: [ for g in gradients -> g.Node ] @ [ for w in wrt -> w.Node ])
        let out = canonical.Of output.Node
        let forward = HashSet<int64>(Graph.reachable [ out ] |> Seq.map (fun n -> n.Id))
        let roots = ("output", out) :: List.map2 (fun (w: Expr) (g: Expr) -> sprintf "∂/∂%s" (plain w.Node), canonical.Of g.Node) (List.truncate gradients.Length wrt) gradients
        let marks = Dictionary<int64, Dot.Mark>()
        let edge =
            match options.ExplainAt with
            | Some at when output.Rank = 0 && output.DType.IsFloat ->
                let t = Trace.run at out [ for w in wrt -> canonical.Of w.Node ]
                for k in 0 .. wrt.Length - 1 do
                    for f in (Diagnose.diagnose t NodeText.show k).Findings do
                        let note =
                            match f.Fraction with
                            | Some share -> sprintf "%s %s" f.Kind.Name (Elements.percent share)
                            | None -> f.Kind.Name
                        let previous = match marks.TryGetValue f.Node.Id with | true, m -> m.Note | _ -> None
                        let note = match previous with Some p when p <> note -> p + ", " + note | Some p -> p | None -> note
                        marks[f.Node.Id] <- { Fill = None; Border = Some (colour f.Kind); Note = Some note }
                for KeyValue (id, v) in t.Values do
                    if v.DType.IsFloat && v.ToFloat64Array() |> Array.exists (Double.IsFinite >> not) then
                        let m = match marks.TryGetValue id with | true, m -> m | _ -> { Fill = None; Border = None; Note = None }
                        marks[id] <- { m with Fill = Some "#f8d7da" }
                fun (input: Node) (consumer: Node) ->
                    match t.Cotangents.TryGetValue input.Id with
                    | true, c when forward.Contains consumer.Id ->
                        let cs = c.ToFloat64Array()
                        if cs |> Array.exists (Double.IsFinite >> not) then Some { Dot.Colour = "#dc3545"; Dot.Dashed = false; Dot.Label = Some "non-finite" }
                        elif cs.Length > 0 && cs |> Array.forall ((=) 0.0) then Some { Dot.Colour = "#999999"; Dot.Dashed = true; Dot.Label = Some "zero" }
                        else None
                    | _ -> None
            | _ -> fun _ _ -> None
        Dot.render
            { Roots = roots
              Forward = forward
              Mark = fun n -> match marks.TryGetValue n.Id with | true, m -> Some m | _ -> None
              Edge = edge
              MaxNodes = options.MaxNodes
              MaxLabel = 40 })

    /// The DOT text of an expression's graph.
    let ofExpr (output: Expr) = render defaults output

/// Opt-in capture of where expressions are created in your code. Caller information cannot reach F#
/// operators or let-bound functions, so inside an Enable scope every node a FuncDiff operation builds
/// records the first stack frame outside FuncDiff (file, line, column with debug symbols), and explain
/// and checked evaluation name it. It costs a stack walk per node built (see docs/gradient-clinic.md
/// for a measurement) and nothing outside the scope; values are never affected. Parsed text always
/// records positions.
[<RequireQualifiedAccess>]
module CreationSites =
    /// Captures sites until disposed, on this thread and the async work it starts: `use _ = CreationSites.enable ()`.
    let enable () : IDisposable = Sites.enable ()

    /// Builds with capture on: `let loss = CreationSites.capture (fun () -> model x)`.
    let capture (build: unit -> 'T) : 'T =
        use _ = Sites.enable ()
        build ()

    /// Where an expression was created, if recorded.
    let tryFind (x: Expr) = Sites.tryFind x.Node
