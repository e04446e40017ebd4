/// Matrix products. Each matrix pair is a row-major GEMM: row i of C accumulates a_ip · row p of B
/// (TensorPrimitives.MultiplyAdd), or, when C is narrow, dot products against a transposed B.
module internal FuncDiff.Core.Kernels.MatMul

open System
open System.Numerics
open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core

/// Below this many columns of C the dot-product form beats the row-update form.
let private narrow = 16

let private gemm<'T when 'T :> IFloatingPointIeee754<'T>> (a: 'T[]) (aOff: int) (b: 'T[]) (bOff: int) (c: 'T[]) (cOff: int) (n: int) (k: int) (m: int) (bt: 'T[]) =
    if m < narrow then
        // Bᵀ makes every column of B contiguous for TensorPrimitives.Dot.
        for p in 0 .. k - 1 do
            for j in 0 .. m - 1 do bt[j * k + p] <- b[bOff + p * m + j]
        for i in 0 .. n - 1 do
            let row = ReadOnlySpan(a, aOff + i * k, k)
            for j in 0 .. m - 1 do c[cOff + i * m + j] <- TensorPrimitives.Dot(row, ReadOnlySpan(bt, j * k, k))
    else
        for i in 0 .. n - 1 do
            let crow = Span(c, cOff + i * m, m)
            crow.Clear()
            for p in 0 .. k - 1 do
                TensorPrimitives.MultiplyAdd(ReadOnlySpan(b, bOff + p * m, m), a[aOff + i * k + p], Span.op_Implicit crow, crow)

/// The row-update GEMM in which a term whose b factor is exactly zero adds nothing, even where the a
/// factor is ±∞ or NaN (the matrix form of mulNoNan). Only used when a has non-finite elements.
let private gemmNoNan<'T when 'T :> IFloatingPointIeee754<'T>> (a: 'T[]) (aOff: int) (b: 'T[]) (bOff: int) (c: 'T[]) (cOff: int) (n: int) (k: int) (m: int) =
    for i in 0 .. n - 1 do
        let crow = Span(c, cOff + i * m, m)
        crow.Clear()
        for p in 0 .. k - 1 do
            let aip = a[aOff + i * k + p]
            for j in 0 .. m - 1 do
                let bpj = b[bOff + p * m + j]
                if not ('T.IsZero bpj) then crow[j] <- crow[j] + aip * bpj

let private batched<'T when 'T :> IFloatingPointIeee754<'T>> (noNan: bool) (a: 'T[]) (aBatch: int[]) (b: 'T[]) (bBatch: int[]) (c: 'T[]) (cBatch: int[]) (n: int) (k: int) (m: int) =
    // Where a is all finite, IEEE arithmetic already makes a zero b factor contribute zero.
    let noNan = noNan && not (TensorPrimitives.IsFiniteAll(ReadOnlySpan a))
    let bt = if m < narrow && not noNan then Array.zeroCreate<'T> (k * m) else [||]
    if c.Length > 0 then
        Broadcast.rows cBatch [| aBatch; bBatch |] (fun o offs len inner ->
            for t in 0 .. len - 1 do
                let aOff, bOff, cOff = (offs[0] + t * inner[0]) * n * k, (offs[1] + t * inner[1]) * k * m, (o + t) * n * m
                if noNan then gemmNoNan a aOff b bOff c cOff n k m
                else gemm a aOff b bOff c cOff n k m bt)

let private product (noNan: bool) (a: Tensor) (aDims: int[]) (b: Tensor) (bDims: int[]) (out: Tensor) =
    let ra, rb = aDims.Length, bDims.Length
    let n, k, m = aDims[ra - 2], aDims[ra - 1], bDims[rb - 1]
    let aBatch, bBatch = aDims[.. ra - 3], bDims[.. rb - 3]
    let cBatch =
        match ShapeMath.tryBroadcast (Shape.Of aBatch) (Shape.Of bBatch) with
        | Ok s -> s.Dims
        | Error e -> invalidOp e
    match a.Data, b.Data, out.Data with
    | (:? (float[]) as x), (:? (float[]) as y), (:? (float[]) as z) -> batched noNan x aBatch y bBatch z cBatch n k m
    | (:? (float32[]) as x), (:? (float32[]) as y), (:? (float32[]) as z) -> batched noNan x aBatch y bBatch z cBatch n k m
    | _ -> invalidOp (sprintf "matmul of %O is not supported" a.DType)

/// out = a @ b for float tensors already viewed as [...batch, n, k] and [...batch, k, m] (1-D operands
/// are given as [1, k] and [k, 1] by the caller); batch dimensions broadcast.
let matmul a aDims b bDims out = product false a aDims b bDims out

/// matmul, except that a product term whose b factor is exactly zero contributes exactly zero even
/// where its a factor is ±∞ or NaN: derivative rules put the cotangent in b.
let matmulNoNan a aDims b bDims out = product true a aDims b bDims out
