/// softmax and logSoftmax along one axis (default: the last). Both shift by the maximum first, so
/// inputs of ±1000 give exact results instead of NaN.
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

// ---- Builders -----------------------------------------------------------------------------------

let softmax (axis: int) (x: Node) = apply softmaxP [ "axis", Param.Int axis ] [ x ]
let logSoftmax (axis: int) (x: Node) = apply logSoftmaxP [ "axis", Param.Int axis ] [ x ]

// ---- Entries ------------------------------------------------------------------------------------

let private along (name: string) (doc: string) (log: bool) (vjp: VjpArgs -> int -> Node) =
    { primitive name Family.Normalization doc with
        Attributes = [ attribute "axis" ParamKind.Int (Derived (fun xs -> Param.Int (xs[0].Shape.Rank - 1))) "the axis to normalise along (default: the last)" ]
        Infer = fun a xs ->
            let x = xs[0]
            requireFloat "the input" x
            if x.Shape.Rank = 0 then invalid "needs an input with at least one axis, got a scalar"
            attrs [ "axis", Param.Int (axis x.Shape.Rank (int "axis" a)) ], x.Shape, x.DType
        Forward = fun a xs out -> SoftMax.softmax log xs[0] (int "axis" a) out
        Vjp = fun v -> [ Some (vjp v (int "axis" v.Attributes)) ] }

/// Σ over one axis, kept and broadcast back to the input's shape.
let private totalAlong (axis: int) (like: Node) (t: Node) = sum (Some [| axis |]) true t |> broadcastTo like.Shape.Dims

let softmaxP =
    along "softmax" "eˣ / Σ eˣ along an axis." false (fun v axis ->
        let y, g = v.Output, v.Cotangent
        mulNoNan y (sub g (totalAlong axis y (mul g y))))

let logSoftmaxP =
    along "logSoftmax" "x - log Σ eˣ along an axis." true (fun v axis ->
        let g = v.Cotangent
        sub g (mul (exp v.Output) (totalAlong axis g g)))

/// This family's entries.
let entries () = [ softmaxP; logSoftmaxP ]
