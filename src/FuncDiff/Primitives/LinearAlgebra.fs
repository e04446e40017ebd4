/// Products of vectors and matrices. matmul follows NumPy: the last two axes multiply, leading axes
/// broadcast, and a 1-D operand is treated as a row (left) or column (right) that is then dropped.
module internal rec FuncDiff.Core.Primitives.LinearAlgebra

// Entries refer to each other only inside their rules (closures run after initialisation).
#nowarn "40"

open System
open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Rules
open FuncDiff.Core.Kernels
open FuncDiff.Core.Primitives.Structural
open FuncDiff.Core.Primitives.Arithmetic

// ---- Builders -----------------------------------------------------------------------------------

let matmul (a: Node) (b: Node) = apply matmulP [] [ a; b ]
let matmulNoNan (a: Node) (b: Node) = apply matmulNoNanP [] [ a; b ]
let dot (a: Node) (b: Node) = apply dotP [] [ a; b ]
let outer (a: Node) (b: Node) = apply outerP [] [ a; b ]

// ---- Entries ------------------------------------------------------------------------------------

/// The operands' dims as matrices: a 1-D left operand is a row [1, k], a 1-D right operand a column [k, 1].
let private asMatrices (a: int[]) (b: int[]) =
    (if a.Length = 1 then [| 1; a[0] |] else a), (if b.Length = 1 then [| b[0]; 1 |] else b)

/// x with its last two axes swapped.
let private swapLast (x: Node) =
    let r = x.Shape.Rank
    transpose (Array.init r (fun i -> if i = r - 2 then r - 1 elif i = r - 1 then r - 2 else i)) x

/// The shape rule of matmul and matmulNoNan.
let private productInfer (_: Map<string, Param>) (xs: Node[]) =
    let a, b = xs[0], xs[1]
    requireFloat "x" a
    requireFloat "y" b
    let dtype = sameDType a b
    if a.Shape.Rank = 0 || b.Shape.Rank = 0 then invalid "needs operands of rank 1 or more, got %O @ %O (use * for scalars)" a.Shape b.Shape
    let am, bm = asMatrices a.Shape.Dims b.Shape.Dims
    let ra, rb = am.Length, bm.Length
    if am[ra - 1] <> bm[rb - 2] then
        invalid "inner dimensions differ: %O @ %O (%d vs %d)" a.Shape b.Shape am[ra - 1] bm[rb - 2]
    let batch =
        match ShapeMath.tryBroadcast (Shape.Of am[.. ra - 3]) (Shape.Of bm[.. rb - 3]) with
        | Ok s -> s.Dims
        | Error _ -> invalid "batch dimensions do not broadcast: %O @ %O" a.Shape b.Shape
    let dims =
        Array.concat [ batch
                       (if a.Shape.Rank = 1 then [||] else [| am[ra - 2] |])
                       (if b.Shape.Rank = 1 then [||] else [| bm[rb - 1] |]) ]
    Map.empty, Shape.Of dims, dtype

/// The derivative rule of matmul and matmulNoNan: g @ bᵀ and aᵀ @ g, summed over broadcast batch axes.
/// The cotangent is the zero-respecting factor of each product (g @ bᵀ is computed as (b @ gᵀ)ᵀ), so an
/// exactly-zero cotangent element contributes exactly zero even where a or b holds ±∞ or NaN.
let private productVjp (v: VjpArgs) =
    let a, b = v.Inputs[0], v.Inputs[1]
    let am, bm = asMatrices a.Shape.Dims b.Shape.Dims
    let a2, b2 = reshape am a, reshape bm b
    // The cotangent with the dropped unit axes restored: [...batch, n, m].
    let r = v.Output.Shape.Rank + (if a.Shape.Rank = 1 then 1 else 0) + (if b.Shape.Rank = 1 then 1 else 0)
    let gDims = Array.init r (fun i -> if i < r - 2 then v.Output.Shape[i] elif i = r - 2 then am[am.Length - 2] else bm[bm.Length - 1])
    let g = reshape gDims v.Cotangent
    let da = matmulNoNan b2 (swapLast g) |> swapLast |> sumTo (Shape.Of am) |> reshape a.Shape.Dims
    let db = matmulNoNan (swapLast a2) g |> sumTo (Shape.Of bm) |> reshape b.Shape.Dims
    [ Some da; Some db ]

let private productForward (noNan: bool) =
    withoutAttributes (fun xs out -> (if noNan then MatMul.matmulNoNan else MatMul.matmul) xs[0] xs[0].Shape.Dims xs[1] xs[1].Shape.Dims out)

let matmulP =
    { primitive "matmul" Family.LinearAlgebra "The matrix product over the last two axes, with NumPy broadcasting of the leading (batch) axes; a 1-D operand is promoted to a row (left) or column (right) and the added axis removed from the result. Each element is one chain of fused multiply-adds in order along the inner axis, the same on every call and machine (so 1e300 · -1e300 added to ∞ gives ∞: the fma does not overflow)." with
        Inputs = [ "x"; "y" ]
        Notation = Infix("@", 3)
        Infer = productInfer
        Prepare = productForward false
        Vjp = productVjp }

let matmulNoNanP =
    { matmulP with
        Name = "matmulNoNan"
        Notation = Call
        Doc = "x @ y as matmul, except that a product term whose y factor is exactly zero contributes exactly zero, even where its x factor is ±∞ or NaN: the matrix form of mulNoNan, with which derivative rules of linear maps (matmul, outer) apply an exactly-zero cotangent."
        Prepare = productForward true }

let private vectors (name: string) (xs: Node[]) =
    let a, b = xs[0], xs[1]
    requireFloat "x" a
    requireFloat "y" b
    let dtype = sameDType a b
    if a.Shape.Rank <> 1 || b.Shape.Rank <> 1 then
        invalid "needs two 1-D vectors, got %O and %O%s" a.Shape b.Shape (if name = "dot" then " (use matmul for matrices)" else "")
    dtype

let dotP =
    { primitive "dot" Family.LinearAlgebra "Σ xᵢyᵢ for two 1-D vectors of one length." with
        Inputs = [ "x"; "y" ]
        Infer = fun _ xs ->
            let dtype = vectors "dot" xs
            if xs[0].Shape[0] <> xs[1].Shape[0] then invalid "lengths differ: %O and %O" xs[0].Shape xs[1].Shape
            Map.empty, Shape.Scalar, dtype
        Prepare = withoutAttributes (fun xs out ->
            match xs[0].Data, xs[1].Data, out.Data with
            | (:? (float[]) as a), (:? (float[]) as b), (:? (float[]) as d) -> d[0] <- Summation.dot (ReadOnlySpan a) (ReadOnlySpan b)
            | (:? (float32[]) as a), (:? (float32[]) as b), (:? (float32[]) as d) -> d[0] <- Summation.dot (ReadOnlySpan a) (ReadOnlySpan b)
            | _ -> invalidOp "dot of non-float tensors")
        Vjp = fun v -> [ Some (mulNoNan v.Inputs[1] v.Cotangent); Some (mulNoNan v.Inputs[0] v.Cotangent) ] }

let outerP =
    { primitive "outer" Family.LinearAlgebra "xᵢyⱼ for two 1-D vectors: an [n, m] matrix." with
        Inputs = [ "x"; "y" ]
        Infer = fun _ xs ->
            let dtype = vectors "outer" xs
            Map.empty, Shape.Of [| xs[0].Shape[0]; xs[1].Shape[0] |], dtype
        Prepare = withoutAttributes (fun xs out ->
            let a, b = xs[0], xs[1]
            let m = b.Size
            match a.Data, b.Data, out.Data with
            | (:? (float[]) as x), (:? (float[]) as y), (:? (float[]) as d) ->
                for i in 0 .. x.Length - 1 do TensorPrimitives.Multiply(ReadOnlySpan y, x[i], Span(d, i * m, m))
            | (:? (float32[]) as x), (:? (float32[]) as y), (:? (float32[]) as d) ->
                for i in 0 .. x.Length - 1 do TensorPrimitives.Multiply(ReadOnlySpan y, x[i], Span(d, i * m, m))
            | _ -> invalidOp "outer of non-float tensors")
        // Σⱼ gᵢⱼyⱼ and Σᵢ xᵢgᵢⱼ, with the cotangent as the zero-respecting factor.
        Vjp = fun v -> [ Some (matmulNoNan v.Inputs[1] (transpose [| 1; 0 |] v.Cotangent)); Some (matmulNoNan v.Inputs[0] v.Cotangent) ] }

/// This family's entries.
let entries () = [ matmulP; matmulNoNanP; dotP; outerP ]
