/// Reductions over any set of axes (sum lives with broadcastTo, its adjoint, in Structural).
/// Every reduction takes `axis` (one or several; default all) and `keepdims`.
module internal rec FuncDiff.Core.Primitives.Reductions

// Entries refer to each other only inside their rules (closures run after initialisation).
#nowarn "40"

open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Rules
open FuncDiff.Core.Kernels
open FuncDiff.Core.Primitives.Structural
open FuncDiff.Core.Primitives.Arithmetic
open FuncDiff.Core.Primitives.Logic
open FuncDiff.Core.Primitives.Elementary

let private axesParam (axes: int[] option) =
    match axes with
    | Some a -> [ "axis", Param.Ints (List.ofArray a) ]
    | None -> []

let reduceWith (p: Primitive) (axes: int[] option) (keepDims: bool) (x: Node) =
    apply p (("keepdims", Param.Bool keepDims) :: axesParam axes) [ x ]

// ---- Builders -----------------------------------------------------------------------------------

let mean axes keepDims x = reduceWith meanP axes keepDims x
let max axes keepDims x = reduceWith maxP axes keepDims x
let min axes keepDims x = reduceWith minP axes keepDims x
let prod axes keepDims x = reduceWith prodP axes keepDims x

let private arg (p: Primitive) (axis: int option) (keepDims: bool) (x: Node) =
    let given = match axis with Some a -> [ "axis", Param.Int a ] | None -> []
    apply p (("keepdims", Param.Bool keepDims) :: given) [ x ]

let argmax axis keepDims x = arg argmaxP axis keepDims x
let argmin axis keepDims x = arg argminP axis keepDims x

// ---- Shared rules -------------------------------------------------------------------------------

let reductionAttributes =
    [ attribute "axis" ParamKind.Axes allAxes "the axes to reduce (default: all)"
      attribute "keepdims" ParamKind.Bool (Fixed (Param.Bool false)) "keep reduced axes as size 1" ]

/// Normalises the axes; `nonEmpty` refuses reducing an axis of size 0 (max and min have no value there).
let reductionInfer (require: string -> Node -> unit) (nonEmpty: bool) =
    fun (a: Map<string, Param>) (xs: Node[]) ->
        let x = xs[0]
        require "the input" x
        let reduced = axes x.Shape.Rank (ints "axis" a)
        if nonEmpty then
            for i in reduced do
                if x.Shape[i] = 0 then invalid "axis %d of %O has size 0, and an empty set has no maximum or minimum" i x.Shape
        let keep = bool "keepdims" a
        attrs [ "axis", Param.Ints (List.ofArray reduced); "keepdims", Param.Bool keep ], reducedShape x.Shape.Dims reduced keep, x.DType

/// For a VJP: t (shaped like the output) reshaped with the reduced axes kept, then broadcast to x.
let spread (v: VjpArgs) (t: Node) = unreduce v.Inputs[0].Shape (ints "axis" v.Attributes) t

let private reduceForward (r: Reduction.Reducer) (a: Map<string, Param>) =
    let reduced = ints "axis" a
    fun (xs: Tensor[]) out -> Reduction.reduce r xs[0] reduced out

// ---- Entries ------------------------------------------------------------------------------------

let meanP =
    { primitive "mean" Family.Reduction "Σ x / n over the axes (all by default); the mean of no elements is NaN. Floating point only." with
        Attributes = reductionAttributes
        Infer = reductionInfer requireFloat false
        Prepare = fun a ->
            let reduced = ints "axis" a
            fun xs out ->
                Reduction.reduce Reduction.Sum xs[0] reduced out
                let n = Reduction.count xs[0].Shape.Dims reduced
                match out.Data with
                | :? (float[]) as d -> TensorPrimitives.Divide(System.ReadOnlySpan d, float n, System.Span d)
                | :? (float32[]) as d -> TensorPrimitives.Divide(System.ReadOnlySpan d, float32 n, System.Span d)
                | _ -> invalidOp "mean of a non-float tensor"
        Vjp = fun v ->
            let n = Reduction.count v.Inputs[0].Shape.Dims (ints "axis" v.Attributes)
            [ Some (div (spread v v.Cotangent) (scalarLike v.Cotangent (float n))) ] }

/// max and min: the cotangent goes to the elements equal to the result, split evenly among ties.
let private extreme (name: string) (reducer: Reduction.Reducer) =
    { primitive name Family.Reduction (sprintf "The %s over the axes (all by default); an axis of size 0 is an error. NaN propagates: the %s of a set holding NaN is NaN, and the NaN elements are the ones selected. The cotangent is shared evenly among the selected elements (those equal to the result, or all NaN elements when it is NaN)." name name) with
        Differentiability = Differentiability.NonSmooth "ties share the cotangent evenly"
        Attributes = reductionAttributes
        Infer = reductionInfer requireNumeric true
        Prepare = reduceForward reducer
        Vjp = fun v ->
            let x = v.Inputs[0]
            let hits = cast x.DType (sameValue x (spread v v.Output))
            let count = sum (Some (ints "axis" v.Attributes)) true hits
            [ Some (mulNoNan (div hits (broadcastTo x.Shape.Dims count)) (spread v v.Cotangent)) ] }

let maxP = extreme "max" Reduction.Max
let minP = extreme "min" Reduction.Min

/// Products of all elements before (prefix) and after (suffix) each position along the last axis,
/// by a Hillis–Steele scan: ⌈log₂ n⌉ shifted multiplications, no division. Built only from mul, slice
/// and concat, so it is exact with zeros and differentiable to any order.
let private exclusiveProducts (x: Node) =
    let dims = x.Shape.Dims
    let last = dims.Length - 1
    let n = dims[last]
    let ones (count: int) = broadcastTo (Array.updateAt last count dims) (scalarLike x 1.0)
    // y shifted by s along the last axis toward higher (forward) or lower positions, filled with ones.
    let shift (forward: bool) (s: int) (y: Node) =
        if s >= n then ones n
        elif forward then Rules.apply concatP [ "axis", Param.Int last ] [ ones s; sliceAxis last 0 (n - s) y ]
        else Rules.apply concatP [ "axis", Param.Int last ] [ sliceAxis last s n y; ones s ]
    let scan forward =
        let mutable y = x
        let mutable s = 1
        while s < n do
            y <- mul y (shift forward s y)
            s <- s * 2
        shift forward 1 y
    scan true, scan false

let prodP =
    { primitive "prod" Family.Reduction "Π x over the axes (all by default); the product of no elements is 1. The derivative Π_{j≠i} x_j comes from prefix and suffix products, never from dividing by x, so it is exact where x has zeros, and so are higher derivatives." with
        Attributes = reductionAttributes
        Infer = reductionInfer requireNumeric false
        Prepare = reduceForward Reduction.Prod
        Vjp = fun v ->
            let others = v.Inputs[0] |> alongRows (ints "axis" v.Attributes) (fun rows -> exclusiveProducts rows ||> mul)
            [ Some (mulNoNan others (spread v v.Cotangent)) ] }

let private argExtreme (name: string) (isMax: bool) =
    { primitive name Family.Reduction (sprintf "The int32 index of the first %s along an axis (of the flattened tensor when no axis is given). NaN propagates as in max and min: the first NaN is the %s. Piecewise constant." (if isMax then "maximum" else "minimum") (if isMax then "maximum" else "minimum")) with
        Differentiability = Differentiability.PiecewiseConstant
        Attributes =
            [ attribute "axis" ParamKind.Int Optional "the axis to search (default: the flattened tensor)"
              attribute "keepdims" ParamKind.Bool (Fixed (Param.Bool false)) "keep the searched axis as size 1" ]
        Infer = fun a xs ->
            let x = xs[0]
            requireNumeric "the input" x
            let keep = bool "keepdims" a
            match tryInt "axis" a with
            | Some given ->
                let ax = axis x.Shape.Rank given
                if x.Shape[ax] = 0 then invalid "axis %d of %O has size 0: there is no %s" ax x.Shape name
                attrs [ "axis", Param.Int ax; "keepdims", Param.Bool keep ], reducedShape x.Shape.Dims [| ax |] keep, DType.Int32
            | None ->
                if x.Shape.Size = 0 then invalid "%O has no elements: there is no %s" x.Shape name
                let shape = if keep then Shape.Of(Array.create x.Shape.Rank 1) else Shape.Scalar
                a, shape, DType.Int32
        Prepare = fun a ->
            // -1: the flattened tensor.
            let ax = if a.ContainsKey "axis" then int "axis" a else -1
            fun xs out -> Reduction.argExtreme isMax xs[0] ax out
        Vjp = noDerivative }

let argmaxP = argExtreme "argmax" true
let argminP = argExtreme "argmin" false

/// This family's entries.
let entries () = [ meanP; maxP; minP; prodP; argmaxP; argminP ]
