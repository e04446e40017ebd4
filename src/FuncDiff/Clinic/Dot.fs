/// Expression graphs as Graphviz DOT. Each node is labelled with its op (an input's name, a small
/// constant's value), shape and dtype; a run of four or more single-use steps of one shape is drawn as
/// one node, so a million-node chain is a handful of nodes; labels are capped in length, and past
/// maxNodes drawn nodes the ones farthest from the roots are left out, with a note saying how many:
/// roots, inputs and marked nodes always stay, and the forward graph keeps at least half of the rest.
module internal FuncDiff.Core.Clinic.Dot

open System
open System.Collections.Generic
open System.Text
open FuncDiff
open FuncDiff.Core

/// How a node is drawn beyond its label: a fill colour, a border colour and a note (a cause).
type Mark =
    { Fill: string option
      Border: string option
      Note: string option }

/// How an edge is drawn: a colour, dashed or not, and a short label.
type EdgeMark =
    { Colour: string
      Dashed: bool
      Label: string option }

type Options =
    { /// Named roots (the output, gradients), drawn with a double border and their name.
      Roots: (string * Node) list
      /// Nodes of the original expression; the others (gradient steps) are drawn as boxes.
      Forward: HashSet<int64>
      Mark: Node -> Mark option
      Edge: Node -> Node -> EdgeMark option
      /// Nodes drawn at most; the rest are summarised.
      MaxNodes: int
      /// Label lines are cut to this many characters.
      MaxLabel: int }

let private cut (limit: int) (s: string) = if s.Length <= limit then s else s.Substring(0, limit - 1) + "…"

let private quote (s: string) = "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\""

let private label (limit: int) (n: Node) =
    let head =
        match n.Op with
        | Input name -> name
        | Const t when t.Size <= 4 -> Elements.short t
        | Const _ -> "constant"
        | Apply (p, _) -> p.Name
    cut limit head + "\n" + cut limit n.TypeText

/// The DOT text of the graph of the roots.
let render (o: Options) =
    let canonical = Graph.canonicalize (o.Roots |> List.map snd)
    let roots = o.Roots |> List.map (fun (name, n) -> name, canonical.Of n)
    let order = canonical.Order
    let uses = Graph.useCounts order
    let rootIds = HashSet<int64>(roots |> Seq.map (fun (_, n) -> n.Id))
    let marked (n: Node) = (o.Mark n).IsSome || rootIds.Contains n.Id
    // The single non-constant input of a step, when it has no other consumer and the same type.
    let chainInput (n: Node) =
        match n.Op with
        | Apply _ when not (marked n) ->
            match n.Inputs |> Array.filter (fun i -> match i.Op with Const _ -> false | _ -> true) with
            | [| m |] when (match m.Op with Apply _ -> true | _ -> false) && uses[m.Id] = 1 && not (marked m)
                           && m.Shape.Equals n.Shape && m.DType = n.DType && o.Forward.Contains m.Id = o.Forward.Contains n.Id -> Some m
            | _ -> None
        | _ -> None
    // Chains: each node's chain head, and each head's members in order.
    let head = Dictionary<int64, Node>()
    let members = Dictionary<int64, ResizeArray<Node>>()
    for n in order do
        match chainInput n with
        | Some m ->
            let h = head[m.Id]
            head[n.Id] <- h
            members[h.Id].Add n
        | None ->
            head[n.Id] <- n
            members[n.Id] <- ResizeArray [ n ]
    // Short chains are drawn node by node.
    for KeyValue (_, ms) in List.ofSeq members do
        if ms.Count < 4 then
            for m in List.ofSeq ms do
                head[m.Id] <- m
                members[m.Id] <- ResizeArray [ m ]
    let units = order |> Array.filter (fun n -> obj.ReferenceEquals(head[n.Id], n))
    let shown =
        if units.Length <= o.MaxNodes then units
        else
            // Roots, inputs and marked nodes always; the rest of the budget is shared between the
            // forward graph and the gradient graph, each keeping the units nearest its end, so a large
            // gradient graph cannot push the expression itself out of the picture.
            let must (u: Node) =
                let last = members[u.Id][members[u.Id].Count - 1]
                marked last || (match u.Op with Input _ -> true | _ -> false)
            let kept = HashSet<int64>(units |> Seq.filter must |> Seq.map (fun u -> u.Id))
            let budget = max 0 (o.MaxNodes - kept.Count)
            let forwardRest = units |> Array.filter (fun u -> not (kept.Contains u.Id) && o.Forward.Contains u.Id)
            let gradientRest = units |> Array.filter (fun u -> not (kept.Contains u.Id) && not (o.Forward.Contains u.Id))
            let forwardShare = min forwardRest.Length (if gradientRest.Length = 0 then budget else max (budget / 2) (budget - gradientRest.Length))
            let gradientShare = min gradientRest.Length (budget - forwardShare)
            for u in forwardRest[forwardRest.Length - forwardShare ..] do kept.Add u.Id |> ignore
            for u in gradientRest[gradientRest.Length - gradientShare ..] do kept.Add u.Id |> ignore
            units |> Array.filter (fun u -> kept.Contains u.Id)
    let shownIds = HashSet<int64>(shown |> Seq.map (fun n -> n.Id))
    let hidden = units.Length - shown.Length
    let sb = StringBuilder()
    let line (s: string) = sb.Append(s).Append('\n') |> ignore
    line "digraph funcdiff {"
    line "  rankdir=TB;"
    line "  node [fontname=\"Helvetica\", fontsize=10, shape=ellipse];"
    line "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];"
    let id (n: Node) = sprintf "n%d" n.Id
    for u in shown do
        let ms = members[u.Id]
        let last = ms[ms.Count - 1]
        let text =
            if ms.Count = 1 then label o.MaxLabel u
            else
                let ops =
                    ms |> Seq.countBy (fun m -> m.Name) |> Seq.map (fun (op, k) -> sprintf "%s ×%d" op k) |> Seq.truncate 3
                cut o.MaxLabel (sprintf "%d steps: %s" ms.Count (String.Join(", ", ops))) + "\n" + cut o.MaxLabel u.TypeText
        let names = roots |> List.filter (fun (_, r) -> r.Id = last.Id) |> List.map fst
        let text = if names.IsEmpty then text else cut o.MaxLabel (String.Join(", ", names)) + "\n" + text
        let mark = o.Mark last
        let text = match mark with Some { Note = Some note } -> text + "\n" + cut o.MaxLabel note | _ -> text
        let attrs = ResizeArray<string>([ "label=" + quote text ])
        let fill =
            match mark with
            | Some { Fill = Some f } -> Some f
            | _ -> if o.Forward.Contains u.Id then None else Some "#e8f0fe"
        if not (o.Forward.Contains u.Id) then attrs.Add "shape=box"
        match fill with
        | Some f ->
            attrs.Add(if o.Forward.Contains u.Id then "style=filled" else "style=\"rounded,filled\"")
            attrs.Add(sprintf "fillcolor=%s" (quote f))
        | None -> ()
        match mark with
        | Some { Border = Some border } ->
            attrs.Add(sprintf "color=%s" (quote border))
            attrs.Add "penwidth=2"
        | _ -> ()
        if rootIds.Contains last.Id then attrs.Add "peripheries=2"
        line (sprintf "  %s [%s];" (id u) (String.Join(", ", attrs)))
    if hidden > 0 then
        line (sprintf "  more [label=%s, shape=note];" (quote (sprintf "%d more nodes not shown" hidden)))
    let drawn = HashSet<struct (int64 * int64)>()
    for u in shown do
        let ms = members[u.Id]
        let inChain = HashSet<int64>(ms |> Seq.map (fun m -> m.Id))
        for m in ms do
            for i in m.Inputs do
                if not (inChain.Contains i.Id) then
                    let source = head[i.Id]
                    let from = if shownIds.Contains source.Id then id source else "more"
                    if drawn.Add(struct ((if from = "more" then -1L else source.Id), u.Id)) then
                        let attrs =
                            match o.Edge i m with
                            | Some e ->
                                [ yield sprintf "color=%s" (quote e.Colour)
                                  if e.Dashed then yield "style=dashed"
                                  match e.Label with
                                  | Some l -> yield sprintf "label=%s" (quote (cut o.MaxLabel l))
                                  | None -> () ]
                            | None -> []
                        let suffix = if attrs.IsEmpty then "" else " [" + String.Join(", ", attrs) + "]"
                        line (sprintf "  %s -> %s%s;" from (id u) suffix)
    line "}"
    sb.ToString()
