/// softmax and logSoftmax along one axis (default: the last), and logsumexp, the reduction whose
/// derivative is softmax. All shift by the maximum first, so inputs of ±1000 give exact results instead of NaN.
module internal rec FuncDiff.Core.Primitives.Normalization

// Entries refer to each other only inside their rules (closures run after initialisation).
#nowarn "40"

open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Rules
open FuncDiff.Core.Kernels
open FuncDiff.Core.Primitives.Structural
open FuncDiff.Core.Primitives.Arithmetic
open FuncDiff.Core.Primitives.Elementary
open FuncDiff.Core.Primitives.Reductions

// ---- Builders -----------------------------------------------------------------------------------

let softmax (axis: int) (x: Node) = apply softmaxP [ "axis", Param.Int axis ] [ x ]
let logSoftmax (axis: int) (x: Node) = apply logSoftmaxP [ "axis", Param.Int axis ] [ x ]
let logsumexp axes keepDims x = reduceWith logsumexpP axes keepDims x

// ---- Entries ------------------------------------------------------------------------------------

let private along (name: string) (doc: string) (log: bool) (vjp: VjpArgs -> int -> Node) =
    { primitive name Family.Normalization doc with
        Attributes = [ attribute "axis" ParamKind.Int (Derived (fun xs -> Param.Int (xs[0].Shape.Rank - 1))) "the axis to normalise along (default: the last)" ]
        Infer = fun a xs ->
            let x = xs[0]
            requireFloat "the input" x
            if x.Shape.Rank = 0 then invalid "needs an input with at least one axis, got a scalar"
            attrs [ "axis", Param.Int (axis x.Shape.Rank (int "axis" a)) ], x.Shape, x.DType
        Prepare = fun a ->
            let ax = int "axis" a
            fun xs out -> SoftMax.softmax log xs[0] ax out
        Vjp = fun v -> [ Some (vjp v (int "axis" v.Attributes)) ] }

/// Σ over one axis, kept and broadcast back to the input's shape.
let private totalAlong (axis: int) (like: Node) (t: Node) = sum (Some [| axis |]) true t |> broadcastTo like.Shape.Dims

let softmaxP =
    along "softmax" "eˣ / Σ eˣ along an axis." false (fun v axis ->
        let y, g = v.Output, v.Cotangent
        mulNoNan y (sub g (totalAlong axis y (mulNoNan y g))))

let logSoftmaxP =
    along "logSoftmax" "x - log Σ eˣ along an axis." true (fun v axis ->
        let g = v.Cotangent
        sub g (mulNoNan (exp v.Output) (totalAlong axis g g)))

let logsumexpP =
    { primitive "logsumexp" Family.Reduction "log Σ eˣ over the axes (all by default), shifted by the maximum so it neither overflows nor underflows; -∞ for no elements. The derivative is the softmax of x over the axes, computed as softmax (not as e^(x - logsumexp x), whose rounding gives 0.5000000000000275 for [1000, 1000])." with
        Attributes = reductionAttributes
        Infer = reductionInfer requireFloat false
        Prepare = fun a ->
            let reduced = ints "axis" a
            fun xs out -> SoftMax.logsumexp xs[0] reduced out
        Vjp = fun v ->
            let weights = v.Inputs[0] |> alongRows (ints "axis" v.Attributes) (softmax -1)
            [ Some (mulNoNan weights (spread v v.Cotangent)) ] }

/// This family's entries.
let entries () = [ softmaxP; logSoftmaxP; logsumexpP ]
