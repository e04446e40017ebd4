/// Comparisons, boolean logic, selection and the dtype and gradient switches. Comparisons give bool
/// expressions, never a .NET bool: branching on values happens inside the graph, with where.
module internal rec FuncDiff.Core.Primitives.Logic

// Entries refer to each other only inside their rules (closures run after initialisation).
#nowarn "40"

open System
open System.Numerics
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Rules
open FuncDiff.Core.Kernels
open FuncDiff.Core.Primitives.Structural
open FuncDiff.Core.Primitives.Arithmetic

// ---- Builders -----------------------------------------------------------------------------------

let lt (a: Node) (b: Node) = apply ltP [] [ a; b ]
let le (a: Node) (b: Node) = apply leP [] [ a; b ]
let gt (a: Node) (b: Node) = apply gtP [] [ a; b ]
let ge (a: Node) (b: Node) = apply geP [] [ a; b ]
let eq (a: Node) (b: Node) = apply eqP [] [ a; b ]
let ne (a: Node) (b: Node) = apply neP [] [ a; b ]
let logicalAnd (a: Node) (b: Node) = apply logicalAndP [] [ a; b ]
let logicalOr (a: Node) (b: Node) = apply logicalOrP [] [ a; b ]
let logicalNot (a: Node) = apply logicalNotP [] [ a ]
let where (cond: Node) (a: Node) (b: Node) = apply whereP [] [ cond; a; b ]
let cast (dtype: DType) (x: Node) = if x.DType = dtype then x else apply castP [ "dtype", Param.DType dtype ] [ x ]
let stopGradient (x: Node) = apply stopGradientP [] [ x ]
/// True where x is NaN (never for int32).
let isNan (x: Node) = ne x x
/// a = b, with NaN counting as equal to NaN: how max, min, maximum and minimum find the element
/// they selected, since NaN propagates and is the selected element.
let sameValue (a: Node) (b: Node) = logicalOr (eq a b) (logicalAnd (isNan a) (isNan b))

// ---- Entries ------------------------------------------------------------------------------------

let private comparison (name: string) (symbol: string) (test: Elementwise.Comparison) =
    let nan = if name = "ne" then "true where either is NaN" else "false where either is NaN"
    { primitive name Family.Elementwise (sprintf "x %s y elementwise, as bool (%s). Piecewise constant." symbol nan) with
        Differentiability = Differentiability.PiecewiseConstant
        Inputs = [ "x"; "y" ]
        Notation = Infix(symbol, 1)
        Infer = fun _ xs ->
            requireNumeric "x" xs[0]
            requireNumeric "y" xs[1]
            sameDType xs[0] xs[1] |> ignore
            Map.empty, broadcast [ xs[0].Shape; xs[1].Shape ], DType.Bool
        Prepare = withoutAttributes (fun xs out -> Elementwise.compare test xs[0] xs[1] out)
        Vjp = noDerivative }

let ltP = comparison "lt" "<" Elementwise.Comparison.Lt
let leP = comparison "le" "<=" Elementwise.Comparison.Le
let gtP = comparison "gt" ">" Elementwise.Comparison.Gt
let geP = comparison "ge" ">=" Elementwise.Comparison.Ge
let eqP = comparison "eq" "==" Elementwise.Comparison.Eq
let neP = comparison "ne" "!=" Elementwise.Comparison.Ne

let private logical (name: string) (doc: string) (f: Elementwise.Connective) =
    { primitive name Family.Elementwise doc with
        Differentiability = Differentiability.PiecewiseConstant
        Inputs = [ "x"; "y" ]
        Infer = fun _ xs ->
            requireBool "x" xs[0]
            requireBool "y" xs[1]
            Map.empty, broadcast [ xs[0].Shape; xs[1].Shape ], DType.Bool
        Prepare = withoutAttributes (fun xs out -> Elementwise.logical f xs[0] xs[1] out)
        Vjp = noDerivative }

let logicalAndP = logical "logicalAnd" "x and y elementwise, for bool tensors." Elementwise.Connective.And
let logicalOrP = logical "logicalOr" "x or y elementwise, for bool tensors." Elementwise.Connective.Or

let logicalNotP =
    { primitive "logicalNot" Family.Elementwise "not x elementwise, for a bool tensor." with
        Differentiability = Differentiability.PiecewiseConstant
        Infer = fun _ xs ->
            requireBool "the input" xs[0]
            Map.empty, xs[0].Shape, DType.Bool
        Prepare = withoutAttributes (fun xs out -> Elementwise.logicalNot xs[0] out)
        Vjp = noDerivative }

let whereP =
    { primitive "where" Family.Elementwise "a where cond is true, else b; all three broadcast. The derivative routes the cotangent to the selected side only: the other side receives an exact zero, even where its own derivative is infinite or NaN." with
        Inputs = [ "cond"; "a"; "b" ]
        Infer = fun _ xs ->
            requireBool "cond" xs[0]
            let dtype = sameDType xs[1] xs[2]
            Map.empty, broadcast [ xs[0].Shape; xs[1].Shape; xs[2].Shape ], dtype
        Prepare = withoutAttributes (fun xs out -> Elementwise.where xs[0] xs[1] xs[2] out)
        Vjp = fun v ->
            let cond, a, b, g = v.Inputs[0], v.Inputs[1], v.Inputs[2], v.Cotangent
            let zero = scalarLike g 0.0
            [ None; Some (sumTo a.Shape (where cond g zero)); Some (sumTo b.Shape (where cond zero g)) ] }

let castP =
    { primitive "cast" Family.Elementwise "x converted to another dtype: floats to int32 truncate toward zero and saturate (NaN gives 0); numbers to bool test for non-zero; bool gives 1 or 0. Between float dtypes the derivative is the identity; a cast to int32 or bool is piecewise constant (derivative zero)." with
        Attributes = [ attribute "dtype" ParamKind.DType Required "the target dtype" ]
        Infer = fun a xs -> a, xs[0].Shape, dtype "dtype" a
        Prepare = withoutAttributes (fun xs out -> Elementwise.cast xs[0] out)
        Vjp = fun v ->
            let x = v.Inputs[0]
            if x.DType.IsFloat && v.Output.DType.IsFloat then [ Some (cast x.DType v.Cotangent) ] else [ None ] }

let stopGradientP =
    { primitive "stopGradient" Family.Elementwise "x unchanged; its derivative is zero by request, so no cotangent passes through." with
        Differentiability = Differentiability.StopsGradient
        Infer = fun _ xs -> Map.empty, xs[0].Shape, xs[0].DType
        Prepare = copyForward
        Vjp = noDerivative }

/// This family's entries.
let entries () =
    [ ltP; leP; gtP; geP; eqP; neP; logicalAndP; logicalOrP; logicalNotP; whereP; castP; stopGradientP ]
