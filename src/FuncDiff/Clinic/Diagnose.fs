/// explain's rules. Each gradient gets a status from its values alone; when the status is not ok, each
/// cause kind has its own rule over the graph, the values and the cotangents of the trace:
///   disconnected        the input is not among the nodes the output depends on;
///   stop-gradient,      the first node on a path from the input that passes no cotangent by its catalogue
///   piecewise-constant  classification (stopGradient; piecewise constant; a cast to int32 or bool);
///   masked              a routing op (relu, abs, maximum, minimum, max, min, where, gather, slice) on an
///                       open path whose rule, replayed with a cotangent of ones, gives exact zeros to its
///                       input: those elements are masked; also a product (mul, mulNoNan, matmul,
///                       matmulNoNan, dot, outer) whose other factor is exactly zero where the cotangent
///                       reaching the input is zero;
///   cancellation        a node with two or more open paths to the output whose contributions (each
///                       consumer's rule replayed with its cotangent) are non-zero but sum to at most
///                       4ε·Σ|contribution| at some element;
///   underflow,          exp, expm1, pow (base) / tanh, sigmoid, softplus on an open path whose local
///   saturation          derivative (the rule replayed with ones) is at most ε where the input is finite;
///                       softmax / logSoftmax whose probabilities are within ε of 0 or 1 where what it
///                       passes back is at most ε·max|cotangent| (one-hot saturation);
///   nan-, inf-origin    the first node, forward then backward, whose value (or whose contribution to an
///                       input's cotangent) is NaN from NaN-free inputs, or ±∞ from finite ones.
/// An open path is one from the input that passes no stop-gradient or piecewise-constant node.
module internal FuncDiff.Core.Clinic.Diagnose

open System
open System.Collections.Generic
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives
open FuncDiff.Core.Clinic.Elements

/// One cause: its kind, the node it is about, a message in plain words, the share of elements affected.
type Finding =
    { Kind: CauseKind
      Node: Node
      Message: string
      Fraction: float option }

type Diagnosis =
    { Wrt: Node
      Status: GradientStatus
      Findings: Finding list }

/// The status of gradient g of the value with respect to an input whose value is x (see GradientStatus).
let status (g: Tensor) (x: Tensor option) (value: Tensor) =
    let gs = g.ToFloat64Array()
    if gs.Length = 0 then GradientStatus.Ok
    elif Array.exists Double.IsNaN gs then GradientStatus.NaN
    elif Array.exists Double.IsInfinity gs then GradientStatus.Inf
    elif Array.forall (fun v -> v = 0.0) gs then GradientStatus.Zero
    else
        let finiteMax (t: Tensor) =
            t.ToFloat64Array() |> Array.filter Double.IsFinite |> Array.fold (fun m v -> max m (abs v)) 0.0
        let f = if value.DType.IsNumeric then finiteMax value else 0.0
        let xs = match x with Some t when t.DType.IsNumeric -> finiteMax t | _ -> 0.0
        // Relative in f and x both: scaling the function or the input never makes a gradient tiny.
        let threshold = epsilon g.DType * f / (if xs > 0.0 then xs else 1.0)
        if gs |> Array.forall (fun v -> abs v <= threshold) then GradientStatus.Tiny
        elif Array.exists (fun v -> v = 0.0) gs then GradientStatus.PartlyZero
        else GradientStatus.Ok

let private primitiveOf (n: Node) =
    match n.Op with
    | Apply (p, attrs) -> Some (p, attrs)
    | _ -> None

let private is (p: Primitive) (entry: Primitive) = obj.ReferenceEquals(p, entry)

let private anyNonZero (t: Tensor) = t.ToFloat64Array() |> Array.exists (fun v -> v <> 0.0)

/// At most this many causes of one kind per input: the first ones along the paths.
let private perKind = 3

let private finding kind node message fraction = { Kind = kind; Node = node; Message = message; Fraction = fraction }

// ---- Blocking nodes ---------------------------------------------------------------------------------

/// One blocker: "every path … passes through b" is true only of a single blocker; with several, the
/// first cause names them all once and each speaks of the paths through its own node.
let private blocking (show: Node -> string) (w: Node) (blockers: ResizeArray<Node>) =
    let kindOf (b: Node) =
        match (primitiveOf b).Value with
        | p, _ when p.Differentiability = Differentiability.StopsGradient -> CauseKind.StopGradient
        | _ -> CauseKind.PiecewiseConstant
    let shown = List.ofSeq (Seq.truncate perKind blockers)
    let all =
        let names = [ for b in shown -> sprintf "%s (%s)" (show b) (kindOf b).Name ]
        String.Join(", ", if blockers.Count > shown.Length then names @ [ "…" ] else names)
    shown |> List.mapi (fun k b ->
        let p, attrs = (primitiveOf b).Value
        let lead =
            if blockers.Count = 1 then sprintf "every path from %s to the output passes through %s" (show w) (show b)
            elif k = 0 then sprintf "every path from %s to the output passes through one of: %s; the paths through %s:" (show w) all (show b)
            else sprintf "the paths from %s through %s:" (show w) (show b)
        let why =
            if kindOf b = CauseKind.StopGradient then "it passes no gradient by request"
            elif p.Differentiability = Differentiability.PiecewiseConstant then sprintf "%s is piecewise constant, so its derivative is zero by definition" p.Name
            else
                match attrs.TryFind "dtype" with
                | Some (Param.DType d) -> sprintf "a cast to %O is piecewise constant (its dtype attribute), so its derivative is zero" d
                | _ -> sprintf "its result is %O, which has no derivative, so its derivative is zero" b.DType
        let message =
            if blockers.Count = 1 && kindOf b = CauseKind.StopGradient then lead + ", which passes no gradient by request"
            elif blockers.Count = 1 then lead + ": " + why
            else lead + " " + why
        finding (kindOf b) b message None)

// ---- Masking ----------------------------------------------------------------------------------------

/// What a routing op does to the elements of input `slot` it passes nothing to, or None for other ops.
let private maskReason (p: Primitive) (slot: int) =
    if is p Elementary.reluP then Some "passes no gradient (its input is ≤ 0: dead units)"
    elif is p Elementary.absP then Some "passes no gradient (its input is 0, where the subgradient is 0)"
    elif is p Elementary.maximumP || is p Elementary.minimumP then Some "passes no gradient (the other operand wins)"
    elif is p Reductions.maxP then Some "passes no gradient (not the maximum)"
    elif is p Reductions.minP then Some "passes no gradient (not the minimum)"
    elif is p Logic.whereP then Some (if slot = 1 then "selects its other branch" else "selects its first branch")
    elif is p Structural.gatherP || is p Structural.sliceP then Some "never reads"
    else None

let private masked (t: Trace.Trace) (show: Node -> string) (reached: HashSet<int64>) =
    [ for c in t.Order do
          match primitiveOf c with
          | Some (p, _) when reached.Contains c.Id && (maskReason p 1).IsSome && anyNonZero (Trace.cotangent t c) ->
              for slot in 0 .. c.Inputs.Length - 1 do
                  let input = c.Inputs[slot]
                  match maskReason p slot with
                  | Some reason when reached.Contains input.Id && input.Shape.Size > 0 ->
                      match (Trace.replay t show Trace.unobserved c (Trace.ones c))[slot] with
                      | Some local ->
                          let zeros = local.ToFloat64Array() |> Array.filter (fun v -> v = 0.0) |> Array.length
                          if zeros > 0 then
                              let size = input.Shape.Size
                              yield finding CauseKind.Masked c (sprintf "%s %s at %s of %s" (show c) reason (share zeros size) (show input)) (Some (float zeros / float size))
                      | None -> ()
                  | _ -> ()
          | _ -> () ]

/// A product (mul, mulNoNan, matmul, matmulNoNan, dot, outer) on an open path whose other factor is
/// exactly zero where the cotangent reaching input `slot` is zero: the elements its rule, replayed with
/// a cotangent of ones, gives exact zeros, among those whose cotangent is zero.
let private zeroFactors (t: Trace.Trace) (show: Node -> string) (reached: HashSet<int64>) =
    let isProduct (p: Primitive) =
        [ Arithmetic.mulP; Arithmetic.mulNoNanP; LinearAlgebra.matmulP; LinearAlgebra.matmulNoNanP; LinearAlgebra.dotP; LinearAlgebra.outerP ]
        |> List.exists (is p)
    [ for c in t.Order do
          match primitiveOf c with
          | Some (p, _) when reached.Contains c.Id && isProduct p && c.Inputs.Length = 2 && anyNonZero (Trace.cotangent t c) ->
              let locals = lazy (Trace.replay t show Trace.unobserved c (Trace.ones c))
              for slot in 0 .. 1 do
                  let input, factor = c.Inputs[slot], c.Inputs[1 - slot]
                  let factorValues = t.Values[factor.Id].ToFloat64Array()
                  let factorZeros = factorValues |> Array.filter (fun v -> v = 0.0) |> Array.length
                  if reached.Contains input.Id && input.Shape.Size > 0 && factorZeros > 0 then
                      match locals.Value[slot] with
                      | Some local ->
                          let cot = (Trace.cotangent t input).ToFloat64Array()
                          let zeros = Array.map2 (fun l g -> l = 0.0 && g = 0.0) (local.ToFloat64Array()) cot |> Array.filter id |> Array.length
                          if zeros > 0 then
                              let size = input.Shape.Size
                              let where =
                                  if factorValues.Length = 1 then "which is exactly 0"
                                  else sprintf "which is exactly 0 at %s" (share factorZeros factorValues.Length)
                              let dead =
                                  match primitiveOf factor with
                                  | Some (f, _) when is f Elementary.reluP -> sprintf " (dead units: the input of %s is ≤ 0 there)" (show factor)
                                  | _ -> ""
                              let message =
                                  sprintf "%s multiplies %s by %s, %s%s, so no gradient reaches %s of %s"
                                      (show c) (show input) (show factor) where dead (share zeros size) (show input)
                              yield finding CauseKind.Masked c message (Some (float zeros / float size))
                      | None -> ()
          | _ -> () ]

// ---- Cancellation -----------------------------------------------------------------------------------

let private cancellation (t: Trace.Trace) (show: Node -> string) (reached: HashSet<int64>) =
    [ for n in t.Order do
          if reached.Contains n.Id && n.DType.IsFloat && n.Shape.Size > 0 then
              let edges =
                  [ match t.Consumers.TryGetValue n.Id with
                    | true, cs ->
                        for c in cs do
                            if reached.Contains c.Id then
                                for slot in 0 .. c.Inputs.Length - 1 do
                                    if obj.ReferenceEquals(c.Inputs[slot], n) then (c, slot)
                    | _ -> () ]
              let adjoint = (Trace.cotangent t n).ToFloat64Array()
              if edges.Length >= 2 && adjoint |> Array.exists (fun v -> abs v <= epsilon n.DType) then
                  let contributions =
                      edges |> List.map (fun (c, slot) ->
                          match (Trace.replay t show Trace.unobserved c (Trace.cotangent t c))[slot] with
                          | Some v -> v.ToFloat64Array()
                          | None -> Array.zeroCreate n.Shape.Size)
                  let eps = epsilon n.DType
                  let cancels e =
                      let parts = contributions |> List.map (fun cs -> cs[e])
                      let nonZero = parts |> List.filter (fun v -> v <> 0.0) |> List.length
                      let total = List.sum parts
                      nonZero >= 2 && List.forall Double.IsFinite parts
                      && abs total <= 4.0 * eps * (parts |> List.sumBy abs)
                  let hits = [ for e in 0 .. n.Shape.Size - 1 do if cancels e then e ]
                  if not hits.IsEmpty then
                      let first = hits.Head
                      let paths =
                          List.map2 (fun (c: Node, _) (cs: float[]) -> sprintf "through %s: %s" (show c) (number cs[first])) edges contributions
                      let message =
                          sprintf "%s reaches the output by %d paths whose contributions cancel at %s: at %s, %s"
                              (show n) edges.Length (share hits.Length n.Shape.Size) (indexText n.Shape first) (String.Join(", ", paths))
                      yield finding CauseKind.Cancellation n message (Some (float hits.Length / float n.Shape.Size)) ]
    |> List.truncate perKind

// ---- Underflow and saturation ----------------------------------------------------------------------

let private vanishingKind (p: Primitive) =
    if is p Elementary.expP || is p Elementary.expm1P || is p Elementary.powP then Some CauseKind.Underflow
    elif is p Elementary.tanhP || is p Elementary.sigmoidP || is p Elementary.softplusP then Some CauseKind.Saturation
    else None

let private vanishing (t: Trace.Trace) (show: Node -> string) (reached: HashSet<int64>) =
    [ for c in t.Order do
          match primitiveOf c with
          | Some (p, _) when reached.Contains c.Id && (vanishingKind p).IsSome && anyNonZero (Trace.cotangent t c) ->
              let kind = vanishingKind p
              let input = c.Inputs[0]
              match kind with
              | Some kind when reached.Contains input.Id && input.Shape.Size > 0 ->
                  match (Trace.replay t show Trace.unobserved c (Trace.ones c))[0] with
                  | Some local ->
                      let d = local.ToFloat64Array()
                      let x = t.Values[input.Id].ToFloat64Array()
                      let eps = epsilon c.DType
                      let hits =
                          [ for e in 0 .. d.Length - 1 do
                                if abs d[e] <= eps && Double.IsFinite x[e] && (x[e] <> 0.0 || not (is p Elementary.powP)) then e ]
                      if not hits.IsEmpty then
                          let first = hits.Head
                          let what =
                              if kind = CauseKind.Underflow then sprintf "the derivative of %s underflowed" (show c)
                              else sprintf "%s is saturated" (show c)
                          let message =
                              sprintf "%s: its local derivative is at most ε = %s at %s (%s at %s, where %s = %s)"
                                  what (number eps) (share hits.Length d.Length) (number d[first]) (indexText input.Shape first) (show input) (number x[first])
                          yield finding kind c message (Some (float hits.Length / float d.Length))
                  | None -> ()
              | _ -> ()
          | _ -> () ]
    |> List.truncate perKind

/// softmax or logSoftmax on an open path whose probabilities are within ε of 0 or 1 (one-hot) where the
/// cotangent it passes back, its rule replayed with its own cotangent, is at most ε·max|cotangent|.
/// (Replaying with ones says nothing here: softmax's Jacobian sends ones to zero at every input.)
let private oneHot (t: Trace.Trace) (show: Node -> string) (reached: HashSet<int64>) =
    [ for c in t.Order do
          match primitiveOf c with
          | Some (p, _) when reached.Contains c.Id && (is p Normalization.softmaxP || is p Normalization.logSoftmaxP)
                             && reached.Contains c.Inputs[0].Id && c.Shape.Size > 0 && anyNonZero (Trace.cotangent t c) ->
              let input = c.Inputs[0]
              let cot = Trace.cotangent t c
              match (Trace.replay t show Trace.unobserved c cot)[0] with
              | Some passed ->
                  let passed = passed.ToFloat64Array()
                  let out = t.Values[c.Id].ToFloat64Array()
                  let probability = if is p Normalization.softmaxP then out else Array.map exp out
                  let eps = epsilon c.DType
                  let scale = cot.ToFloat64Array() |> Array.fold (fun m v -> max m (abs v)) 0.0
                  let hits =
                      [ for e in 0 .. out.Length - 1 do
                            let q = probability[e]
                            if (q <= eps || q >= 1.0 - eps) && abs passed[e] <= eps * scale then e ]
                  if not hits.IsEmpty then
                      let first = hits.Head
                      let x = t.Values[input.Id].ToFloat64Array()
                      let message =
                          sprintf "%s is saturated (one-hot): its probabilities are within ε = %s of 0 or 1 at %s, where it passes back at most ε·max|cotangent| (probability %s at %s, where %s = %s)"
                              (show c) (number eps) (share hits.Length out.Length) (number probability[first]) (indexText input.Shape first) (show input) (number x[first])
                      yield finding CauseKind.Saturation c message (Some (float hits.Length / float out.Length))
              | None -> ()
          | _ -> () ]

// ---- NaN and infinity origins -----------------------------------------------------------------------

/// What counts as bad for an origin: NaN (from NaN-free inputs) or ±∞ (from finite inputs).
type Bad =
    | NaNs
    | Infinities
    /// Either: what checked evaluation stops at.
    | NonFinite

let private isBad (bad: Bad) (v: float) =
    match bad with
    | NaNs -> Double.IsNaN v
    | Infinities -> Double.IsInfinity v
    | NonFinite -> not (Double.IsFinite v)

let private isBadInput (bad: Bad) (v: float) = if bad = NaNs then Double.IsNaN v else not (Double.IsFinite v)

let private isElementwise (n: Node) =
    match primitiveOf n with
    | Some (p, _) -> p.Family = Family.Elementwise
    | None -> false

/// The values of n's inputs where element `flat` of n is computed, as "name = value" texts: the
/// broadcast element for an elementwise op, a short literal of each input otherwise.
let inputsAt (show: Node -> string) (n: Node) (inputs: Tensor[]) (flat: int) =
    [ for k in 0 .. n.Inputs.Length - 1 ->
          let v = inputs[k]
          let text =
              if isElementwise n && v.Size > 0 then element v (broadcastIndex n.Shape v.Shape flat) else short v
          sprintf "%s = %s" (show n.Inputs[k]) text ]

/// The first element of n's value that is bad while n's inputs hold no bad input there.
let firstOrigin (bad: Bad) (n: Node) (inputs: Tensor[]) (value: Tensor) =
    if not value.DType.IsFloat then None
    else
        let out = value.ToFloat64Array()
        let ins = inputs |> Array.map (fun t -> t.ToFloat64Array())
        let clean e =
            if isElementwise n then
                Array.forall2 (fun (t: Tensor) (a: float[]) -> a.Length = 0 || not (isBadInput bad a[broadcastIndex n.Shape t.Shape e])) inputs ins
            else ins |> Array.forall (Array.forall (isBadInput bad >> not))
        seq { 0 .. out.Length - 1 } |> Seq.tryFind (fun e -> isBad bad out[e] && clean e)

let private badName (bad: Bad) (v: float) = if bad = NaNs then "NaN" else number v

let private forwardOrigin (t: Trace.Trace) (show: Node -> string) (bad: Bad) =
    t.Order |> Seq.tryPick (fun n ->
        let inputs = n.Inputs |> Array.map (fun i -> t.Values[i.Id])
        let value = t.Values[n.Id]
        firstOrigin bad n inputs value
        |> Option.map (fun e ->
            let kind = if bad = NaNs then CauseKind.NanOrigin else CauseKind.InfOrigin
            let message =
                match n.Op with
                | Input _ -> sprintf "the input %s holds %s at %s" (show n) (badName bad (value.ToFloat64Array()[e])) (indexText n.Shape e)
                | Const _ -> sprintf "the constant %s holds %s at %s" (show n) (badName bad (value.ToFloat64Array()[e])) (indexText n.Shape e)
                | Apply _ ->
                    sprintf "forward: %s is %s at %s from %s inputs (%s)" (show n) (badName bad (value.ToFloat64Array()[e])) (indexText n.Shape e)
                        (if bad = NaNs then "NaN-free" else "finite") (String.Join(", ", inputsAt show n inputs e))
            finding kind n message None))

/// The first node, from the output back, whose cotangent turns bad, and the consumer whose derivative
/// rule made it so: (consumer, slot, element).
let backwardOrigin (t: Trace.Trace) (show: Node -> string) (bad: Bad) (within: HashSet<int64>) =
    let candidates = t.Order |> Array.filter (fun n -> within.Contains n.Id && t.Cotangents.ContainsKey n.Id) |> Array.rev
    candidates |> Seq.tryPick (fun n ->
        let g = t.Cotangents[n.Id].ToFloat64Array()
        if not (Array.exists (isBad bad) g) then None
        else
            match t.Consumers.TryGetValue n.Id with
            | true, cs ->
                cs |> Seq.tryPick (fun c ->
                    match t.Cotangents.TryGetValue c.Id with
                    | true, gc when not (gc.ToFloat64Array() |> Array.exists (isBadInput bad)) ->
                        let slots = Trace.replay t show Trace.unobserved c gc
                        slots |> List.indexed |> List.tryPick (fun (slot, contribution) ->
                            match contribution with
                            | Some v when obj.ReferenceEquals(c.Inputs[slot], n) ->
                                v.ToFloat64Array() |> Array.tryFindIndex (isBad bad) |> Option.map (fun e -> c, slot, e, v)
                            | _ -> None)
                    | _ -> None)
            | _ -> None)

let private backwardFinding (t: Trace.Trace) (show: Node -> string) (bad: Bad) (within: HashSet<int64>) =
    backwardOrigin t show bad within
    |> Option.map (fun (c, slot, e, contribution) ->
        let input = c.Inputs[slot]
        let inputs = c.Inputs |> Array.map (fun i -> t.Values[i.Id])
        let values = inputsAt show c inputs (if c.Shape.Size = 0 then 0 else min e (c.Shape.Size - 1))
        let cot = Trace.cotangent t c
        let at = if isElementwise c && cot.Size > 0 && input.Shape.Equals c.Shape then element cot e else short cot
        let kind = if bad = NaNs then CauseKind.NanOrigin else CauseKind.InfOrigin
        let message =
            sprintf "backward: the derivative of %s passes %s to %s at %s (%s, cotangent %s)"
                (show c) (badName bad (contribution.ToFloat64Array()[e])) (show input) (indexText input.Shape e) (String.Join(", ", values)) at
        finding kind c message None)

// ---- Putting the rules together ---------------------------------------------------------------------

/// The diagnosis of the gradient with respect to wrt node k of the trace.
let diagnose (t: Trace.Trace) (show: Node -> string) (k: int) : Diagnosis =
    let w = t.Wrt[k]
    let g = t.Gradients[k]
    let value = t.Values[t.Output.Id]
    let st = status g (Trace.tryValue t w) value
    let findings =
        if st = GradientStatus.Ok then []
        elif not (t.Values.ContainsKey w.Id) then
            [ finding CauseKind.Disconnected w (sprintf "the output does not depend on %s: no path leads from it to the output" (show w)) None ]
        else
            let reached, blockers = Trace.openFrom t.Order w
            let everyPath = not (reached.Contains t.Output.Id)
            let origins =
                match st with
                | GradientStatus.NaN ->
                    List.choose id
                        [ forwardOrigin t show NaNs; forwardOrigin t show Infinities
                          backwardFinding t show Infinities reached; backwardFinding t show NaNs reached ]
                | GradientStatus.Inf -> List.choose id [ forwardOrigin t show Infinities; backwardFinding t show Infinities reached ]
                | _ -> []
            // Causes of zero (and of tiny) elements explain nothing about a gradient with none: under
            // nan or inf they would be noise.
            let zeroish = st = GradientStatus.Tiny || g.ToFloat64Array() |> Array.exists (fun v -> v = 0.0)
            // A blocked path is a cause only when every path is blocked: a comparison inside where's
            // condition blocks a path of no consequence.
            (if everyPath then blocking show w blockers else [])
            @ (if everyPath || not zeroish then []
               else List.truncate perKind (masked t show reached @ zeroFactors t show reached) @ cancellation t show reached
                 @ List.truncate perKind (vanishing t show reached @ oneHot t show reached))
            @ origins
    { Wrt = w; Status = st; Findings = findings }
