namespace FuncDiff

open System
open System.Collections.Generic
open FuncDiff.Core
open FuncDiff.Core.Clinic

/// Checked evaluation met a NaN or ±∞: the node that produced it, where it was created, the element
/// and the values that produced it. In the backward pass, ForwardNode is the node whose derivative rule
/// produced it.
type NonFiniteException(message: string, pass: string, node: string, site: CreationSite option, index: string, inputs: string list, forwardNode: string option) =
    inherit EvaluationException(message)
    /// "forward" or "backward".
    member _.Pass = pass
    /// The node whose value is non-finite (in the backward pass, a step of a derivative rule).
    member _.Node = node
    /// Where the node (in the backward pass, the forward node) was created, if known.
    member _.Site = site
    /// Site as text ("1:5", "Model.cs:12:9"), or null when unknown.
    member _.SiteText = match site with Some s -> string s | None -> null
    /// The element, as "[i, j]".
    member _.Index = index
    /// "name = value" for each input of the node at that element.
    member _.Inputs = inputs
    /// In the backward pass, the forward node whose derivative rule produced the value; null in the forward pass.
    member _.ForwardNode: string = Option.toObj forwardNode

/// Evaluation that stops at the first non-finite value, forward or backward.
module internal Checked =

    let private firstNonFinite (t: Tensor) =
        match t.Data with
        | :? (float[]) as a -> Array.tryFindIndex (Double.IsFinite >> not) a
        | :? (float32[]) as a -> Array.tryFindIndex (Single.IsFinite >> not) a
        | _ -> None

    let private siteText (site: CreationSite option) =
        match site with
        | Some s -> sprintf " (created at %O)" s
        | None -> ""

    /// Site lookup for the canonical nodes of roots.
    let private sitesOf (roots: Node list) =
        let canonical = Graph.canonicalize roots
        let sites = Dictionary<int64, CreationSite>()
        for n in Graph.reachable roots do
            match Sites.tryFind n with
            | Some s -> sites.TryAdd((canonical.Of n).Id, s) |> ignore
            | None -> ()
        canonical, (fun (n: Node) -> match sites.TryGetValue n.Id with | true, s -> Some s | _ -> None)

    let private forwardFailure (show: Node -> string) (site: Node -> CreationSite option) (n: Node) (args: Tensor[]) (v: Tensor) (e: int) =
        let index = Elements.indexText n.Shape e
        let inputs = Diagnose.inputsAt show n args e
        let what =
            match n.Op with
            | Input _ -> sprintf "the input %s holds %s at %s" (show n) (Elements.element v e) index
            | Const _ -> sprintf "the constant %s holds %s at %s" (show n) (Elements.element v e) index
            | Apply _ -> sprintf "%s is %s at %s%s" (show n) (Elements.element v e) index (if inputs.IsEmpty then "" else " (" + String.Join(", ", inputs) + ")")
        NonFiniteException(sprintf "checked evaluation, forward: %s%s" what (siteText (site n)), "forward", show n, site n, index, inputs, None)

    /// The values of the roots, stopping at the first node whose value has a NaN or ±∞ element.
    let evaluate (show: Node -> string) (bindings: IReadOnlyDictionary<string, Tensor>) (roots: Node list) =
        let canonical, site = sitesOf roots
        let check (n: Node) (args: Tensor[]) (v: Tensor) =
            match firstNonFinite v with
            | Some e -> raise (forwardFailure show site n args v e)
            | None -> ()
        Interpreter.evaluateObserved check bindings (roots |> List.map canonical.Of)

    /// The value and the gradients, checked forward, then backward from the output: the first derivative
    /// rule that turns a finite cotangent into a non-finite one stops it, naming the step of the rule and
    /// the forward node it belongs to.
    let grad (show: Node -> string) (bindings: IReadOnlyDictionary<string, Tensor>) (output: Node) (wrt: Node list) =
        let value = evaluate show bindings [ output ] |> List.head
        let t = Trace.run bindings output wrt
        let within = HashSet<int64>(t.Cotangents.Keys)
        match Diagnose.backwardOrigin t show Diagnose.NonFinite within with
        | Some (c, _, _, _) ->
            let fail (b: Node) (args: Tensor[]) (v: Tensor) =
                match b.Op, firstNonFinite v with
                | Apply _, Some e ->
                    let index = Elements.indexText b.Shape e
                    let inputs = Diagnose.inputsAt show b args e
                    let message =
                        sprintf "checked evaluation, backward: in the derivative of %s%s, %s is %s at %s (%s)"
                            (show c) (siteText (t.Site c)) (show b) (Elements.element v e) index (String.Join(", ", inputs))
                    raise (NonFiniteException(message, "backward", show b, t.Site c, index, inputs, Some (show c)))
                | _ -> ()
            Trace.replay t show fail c (Trace.cotangent t c) |> ignore
            // The rule's steps were finite but their sum is not (∞ - ∞ across two paths): the node itself.
            raise (NonFiniteException(sprintf "checked evaluation, backward: the cotangents reaching the inputs of %s%s are not finite" (show c) (siteText (t.Site c)), "backward", show c, t.Site c, "", [], Some (show c)))
        | None -> value, t.Gradients
