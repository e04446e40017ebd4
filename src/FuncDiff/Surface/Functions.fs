/// FuncDiff for F#: `open FuncDiff`, then build with functions, pipelines and operators,
/// e.g. `x |> exp |> sum |> grad [x]`. Options (axes, keepDims) are optional arguments of the Expr
/// members: `x.Sum(axis = 1, keepDims = true)`.
[<AutoOpen>]
module FuncDiff.Functions

open System.Collections.Generic
open FuncDiff.Core
open FuncDiff.Core.Primitives

let private lift (f: Node -> Node) (x: Expr) = Expr(f x.Node)
let private lift2 (f: Node -> Node -> Node) (a: Expr) (b: Expr) = Expr(f a.Node b.Node)
let private nodes (xs: seq<Expr>) = [ for x in xs -> x.Node ]
let private exprs (ns: Node list) = ns |> List.map (fun n -> Expr n)

// ---- Leaves -------------------------------------------------------------------------------------

/// A float64 input with a name and a shape.
let input (name: string) (shape: int list) = Expr.Input(name, shape)
/// An input of the given dtype.
let inputOf (dtype: DType) (name: string) (shape: int list) = Expr.Input(name, shape, dtype)
/// A constant tensor.
let constant (value: Tensor) = Expr.Constant value
/// A float64 scalar constant.
let scalar (value: float) = Expr.Scalar value
/// The expression a text describes, over the declared inputs: `parse [ x; y ] "sum(x * y, axis=0)"`.
/// The language is the one printing writes (see Expr.Parse); errors are ParseException with a position.
let parse (inputs: Expr list) (text: string) = Expr.Parse(text, inputs)

/// The tensor a tensor literal describes, as the expression language writes constants:
/// `parseTensor "[[1, 2], [3, 4]]"`. Numbers (2, -0.5, 1e-3, nan, -nan, inf, -inf) give float64,
/// true/false give bool; nested brackets must be rectangular and [] has shape [0]. A number that
/// float64 would read as ±∞ (1e400) or as 0 (1e-400) is an error, as is anything but one literal;
/// errors are ParseException with the line and column.
let parseTensor (text: string) : Tensor =
    if isNull text then nullArg "text"
    Literal.parse None text

/// The tensor a tensor literal describes, of exactly the given dtype: numbers are read directly at
/// float32's or float64's width and refused when out of its range (1e39 for float32), int32 takes only
/// whole numbers in its range, bool only true and false. Errors are ParseException with the line and column.
let parseTensorOf (dtype: DType) (text: string) : Tensor =
    if isNull text then nullArg "text"
    Literal.parse (Some dtype) text

/// The candidate a misspelt name most likely stands for, if one is close enough: the rule behind
/// every "did you mean …?" of the parser (case is ignored; at most 1 edit for names of up to 3
/// letters, 2 up to 6, 3 beyond, and fewer edits than letters; ties go to the earlier candidate).
let closestName (name: string) (candidates: seq<string>) : string option =
    if isNull (box candidates) then nullArg "candidates"
    Names.closest name candidates

// ---- Elementwise ----------------------------------------------------------------------------------

/// eˣ - 1, accurate near 0.
let expm1 x = lift Elementary.expm1 x
/// log(1 + x), accurate near 0.
let log1p x = lift Elementary.log1p x
/// x².
let square x = lift Elementary.square x
/// 1 / x.
let reciprocal x = lift Elementary.reciprocal x
/// -1, 0 or 1 by the sign of x (FSharp.Core's sign returns an int, so this has its own name).
let signum x = lift Elementary.sign x
/// 1 / (1 + e⁻ˣ).
let sigmoid x = lift Elementary.sigmoid x
/// max(x, 0); the subgradient at 0 is 0.
let relu x = lift Elementary.relu x
/// log(1 + eˣ), computed stably.
let softplus x = lift Elementary.softplus x
/// xʸ elementwise.
let pow x y = lift2 Elementary.pow x y
/// x · y, except that where y is exactly zero the result is exactly zero, even where x is ±∞ or NaN
/// (one-sided: 0 · ∞ with the zero in x is NaN).
let mulNoNan x y = lift2 Arithmetic.mulNoNan x y
/// Elementwise maximum; ties split the cotangent evenly.
let maximum x y = lift2 Elementary.maximum x y
/// Elementwise minimum; ties split the cotangent evenly.
let minimum x y = lift2 Elementary.minimum x y
/// x &lt; y as bool.
let lt x y = lift2 Logic.lt x y
/// x &lt;= y as bool.
let le x y = lift2 Logic.le x y
/// x &gt; y as bool.
let gt x y = lift2 Logic.gt x y
/// x &gt;= y as bool.
let ge x y = lift2 Logic.ge x y
/// x = y elementwise as bool.
let eq x y = lift2 Logic.eq x y
/// x ≠ y elementwise as bool.
let ne x y = lift2 Logic.ne x y
/// Elementwise and of bool expressions.
let logicalAnd x y = lift2 Logic.logicalAnd x y
/// Elementwise or of bool expressions.
let logicalOr x y = lift2 Logic.logicalOr x y
/// Elementwise not of a bool expression.
let logicalNot x = lift Logic.logicalNot x
/// a where cond holds, else b (broadcasting); only the selected side receives a cotangent.
let where (cond: Expr) (a: Expr) (b: Expr) = Expr(Logic.where cond.Node a.Node b.Node)
/// The values in another dtype.
let cast (dtype: DType) (x: Expr) = lift (Logic.cast dtype) x
/// x, with a derivative of zero by request.
let stopGradient x = lift Logic.stopGradient x

// ---- Reductions over all axes (members take axis and keepDims) -------------------------------------

/// Σ of all elements.
let sum (x: Expr) = x.Sum()
/// Mean of all elements.
let mean (x: Expr) = x.Mean()
/// Maximum of all elements (FSharp.Core's max compares two values, so this is amax).
let amax (x: Expr) = x.Max()
/// Minimum of all elements.
let amin (x: Expr) = x.Min()
/// Product of all elements.
let prod (x: Expr) = x.Prod()
/// log Σ exp of all elements, computed stably.
let logsumexp (x: Expr) = x.LogSumExp()
/// Index of the first maximum of the flattened tensor (int32).
let argmax (x: Expr) = x.ArgMax()
/// Index of the first minimum of the flattened tensor (int32).
let argmin (x: Expr) = x.ArgMin()
/// softmax along the last axis.
let softmax (x: Expr) = x.Softmax()
/// log-softmax along the last axis.
let logSoftmax (x: Expr) = x.LogSoftmax()

// ---- Shapes -------------------------------------------------------------------------------------

/// The same elements with a new shape (one entry may be -1).
let reshape (shape: int list) (x: Expr) = lift (fun n -> Rules.apply Structural.reshapeP [ "shape", Param.Ints shape ] [ n ]) x
/// The axes reversed.
let transpose (x: Expr) = x.Transpose()
/// The axes permuted: axis i of the result is axis perm[i] of x.
let permute (perm: int list) (x: Expr) = x.Transpose perm
/// Broadcast to a shape.
let broadcastTo (shape: int list) (x: Expr) = lift (fun n -> Rules.apply Structural.broadcastToP [ "shape", Param.Ints shape ] [ n ]) x
/// Without its size-1 axes.
let squeeze (x: Expr) = x.Squeeze()
/// With a new size-1 axis at this position of the result.
let unsqueeze (axis: int) (x: Expr) = x.Unsqueeze axis
/// Joined along an existing axis.
let concat (axis: int) (xs: Expr list) = Expr(Rules.apply Structural.concatP [ "axis", Param.Int axis ] (nodes xs))
/// Joined along a new axis.
let stack (axis: int) (xs: Expr list) = Expr(Rules.apply Structural.stackP [ "axis", Param.Int axis ] (nodes xs))
/// x taken at int32 indices along an axis.
let gather (axis: int) (indices: Expr) (x: Expr) = x.Gather(indices, axis)
/// One-hot float64 rows of length depth for int32 indices.
let oneHot (depth: int) (indices: Expr) = lift (fun n -> Rules.apply Structural.oneHotP [ "depth", Param.Int depth ] [ n ]) indices
/// One-hot rows of length depth for int32 indices, in the given dtype.
let oneHotOf (dtype: DType) (depth: int) (indices: Expr) =
    lift (fun n -> Rules.apply Structural.oneHotP [ "depth", Param.Int depth; "dtype", Param.DType dtype ] [ n ]) indices
/// Zeros with an axis of this size, the updates added at int32 indices along it (repeats accumulate):
/// the adjoint of gather.
let scatterAdd (axis: int) (size: int) (indices: Expr) (updates: Expr) = Expr(Structural.scatterAdd axis size indices.Node updates.Node)

// ---- Linear algebra -----------------------------------------------------------------------------

/// Matrix product with NumPy broadcasting of batch axes.
let matmul x y = lift2 LinearAlgebra.matmul x y
/// x @ y, except that a product term whose y factor is exactly zero contributes exactly zero, even where
/// its x factor is ±∞ or NaN: the matrix form of mulNoNan.
let matmulNoNan x y = lift2 LinearAlgebra.matmulNoNan x y
/// Inner product of two vectors.
let dot x y = lift2 LinearAlgebra.dot x y
/// Outer product of two vectors.
let outer x y = lift2 LinearAlgebra.outer x y

// ---- Derivatives (pure: every result is an expression) ------------------------------------------

/// The gradient of a scalar output with respect to each of wrt (any nodes: inputs, constants,
/// intermediates). A non-scalar output is an error that names its shape and points to jacobian and vjp.
let grad (wrt: Expr list) (output: Expr) = Reverse.grad output.Node (nodes wrt) |> exprs

/// Σ over outputs of (∂output/∂w)ᵀ·cotangent, for each w of wrt.
let vjp (wrt: Expr list) (cotangents: Expr list) (outputs: Expr list) = Reverse.vjp (nodes outputs) (nodes cotangents) (nodes wrt) |> exprs

/// For each w of wrt, ∂output/∂w with shape output.shape ++ w.shape (one reverse pass per output element).
let jacobian (wrt: Expr list) (output: Expr) = Jacobian.jacobian output.Node (nodes wrt) |> exprs

/// For each w of wrt, the Hessian block ∂²output/∂w² of a scalar output (shape w.shape ++ w.shape).
let hessian (wrt: Expr list) (output: Expr) = Jacobian.hessian output.Node (nodes wrt) |> exprs

/// The inputs an expression depends on, each once, in order of first appearance from the leaves.
let inputsOf (x: Expr) =
    Graph.reachable [ x.Node ]
    |> Array.filter (fun n -> match n.Op with Input _ -> true | _ -> false)
    |> Array.distinctBy (fun n -> match n.Op with Input name -> name | _ -> "")
    |> Array.map (fun n -> Expr n)
    |> List.ofArray

// ---- Evaluation ---------------------------------------------------------------------------------

/// Bindings by name; a name given twice is an InputException (taking either would hide a slip).
let internal bindingsOf (bindings: (string * Tensor) list) : IReadOnlyDictionary<string, Tensor> =
    let d = Dictionary<string, Tensor>()
    for name, t in bindings do
        if d.ContainsKey name then raise (InputException(name, sprintf "input '%s' is bound twice" name))
        d[name] <- t
    d

/// The values of several expressions, sharing common subexpressions, given tensors for the inputs.
let evalMany (bindings: (string * Tensor) list) (xs: Expr list) = Plans.evaluate (bindingsOf bindings) (nodes xs)

/// The value of an expression given tensors for its inputs, by name.
let eval (bindings: (string * Tensor) list) (x: Expr) = evalMany bindings [ x ] |> List.head

/// The name of an input expression; any other expression is an error naming what it is.
let private inputName (e: Expr) =
    match e.Node.Op with
    | Input name -> name
    | _ -> raise (InputException(string e, sprintf "only inputs can be bound to tensors, and %O is not an input" e))

/// The values of several expressions, with tensors bound to the input expressions themselves.
let evalManyAt (bindings: (Expr * Tensor) list) (xs: Expr list) = evalMany [ for e, t in bindings -> inputName e, t ] xs

/// The value of an expression, with tensors bound to the input expressions themselves.
let evalAt (bindings: (Expr * Tensor) list) (x: Expr) = evalManyAt bindings [ x ] |> List.head
