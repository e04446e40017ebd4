/// Kernels that move elements without arithmetic (transpose, slice, pad, concat, gather) plus the
/// two index-driven ones that do add (scatterAdd) or write ones (oneHot).
module internal FuncDiff.Core.Kernels.Movement

open System
open System.Numerics
open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core

/// A storage-generic action on a source and a destination array of the same element type.
type private Mover =
    abstract Run<'T> : 'T[] * 'T[] -> unit

let private dispatch (m: Mover) (src: Array) (dst: Array) =
    match src, dst with
    | (:? (float[]) as s), (:? (float[]) as d) -> m.Run(s, d)
    | (:? (float32[]) as s), (:? (float32[]) as d) -> m.Run(s, d)
    | (:? (int[]) as s), (:? (int[]) as d) -> m.Run(s, d)
    | (:? (bool[]) as s), (:? (bool[]) as d) -> m.Run(s, d)
    | _ -> invalidOp "source and destination storage differ"

/// Copies over an iteration shape, reading src at srcBase + Σ i·srcStrides and writing dst at
/// dstBase + Σ i·dstStrides. Transpose, slice and pad are all this one loop.
let private strided (iter: int[]) (srcBase: int) (srcStrides: int[]) (dstBase: int) (dstStrides: int[]) =
    { new Mover with
        member _.Run(src, dst) =
            let total = Array.fold (*) 1 iter
            if total > 0 then
                let r = iter.Length
                if r = 0 then dst[dstBase] <- src[srcBase]
                else
                    let len = iter[r - 1]
                    let ss, ds = srcStrides[r - 1], dstStrides[r - 1]
                    let index = Array.zeroCreate r
                    let mutable s = srcBase
                    let mutable d = dstBase
                    for _ in 1 .. total / len do
                        if ss = 1 && ds = 1 then Array.Copy(src, s, dst, d, len)
                        else
                            for k in 0 .. len - 1 do dst[d + k * ds] <- src[s + k * ss]
                        let mutable axis = r - 2
                        let mutable carry = true
                        while carry && axis >= 0 do
                            index[axis] <- index[axis] + 1
                            s <- s + srcStrides[axis]
                            d <- d + dstStrides[axis]
                            if index[axis] = iter[axis] then
                                s <- s - srcStrides[axis] * iter[axis]
                                d <- d - dstStrides[axis] * iter[axis]
                                index[axis] <- 0
                                axis <- axis - 1
                            else carry <- false }

/// out = x with axes permuted: out axis i is x axis perm[i].
let transpose (x: Tensor) (perm: int[]) (out: Tensor) =
    let s = ShapeMath.strides x.Shape.Dims
    dispatch (strided out.Shape.Dims 0 (perm |> Array.map (fun p -> s[p])) 0 (ShapeMath.strides out.Shape.Dims)) x.Data out.Data

/// out = x[start:stop:step] per axis (start, step already normalised; out's shape gives the counts).
let slice (x: Tensor) (start: int[]) (step: int[]) (out: Tensor) =
    let s = ShapeMath.strides x.Shape.Dims
    let origin = Array.fold2 (fun acc a b -> acc + a * b) 0 start s
    dispatch (strided out.Shape.Dims origin (Array.map2 (*) s step) 0 (ShapeMath.strides out.Shape.Dims)) x.Data out.Data

/// out = zeros with x placed at lo + i·(interior + 1) along each axis.
let pad (x: Tensor) (lo: int[]) (interior: int[]) (out: Tensor) =
    Array.Clear out.Data
    let s = ShapeMath.strides out.Shape.Dims
    let origin = Array.fold2 (fun acc a b -> acc + a * b) 0 lo s
    dispatch (strided x.Shape.Dims 0 (ShapeMath.strides x.Shape.Dims) origin (Array.map2 (fun a i -> a * (i + 1)) s interior)) x.Data out.Data

/// out = the inputs joined along axis; each input is [outer, width_i] around that axis.
/// Stacking is the same with a width of one row per input.
let concat (inputs: Tensor[]) (axis: int) (out: Tensor) =
    let outer, _, inner = Reduction.around out.Shape.Dims axis
    let total = out.Shape[axis] * inner
    let mutable offset = 0
    for x in inputs do
        let width = x.Size / max 1 outer
        for o in 0 .. outer - 1 do Array.Copy(x.Data, o * width, out.Data, o * total + offset, width)
        offset <- offset + width

/// The indices as non-negative positions along an axis of size n; negative ones count from the end.
let private checkedIndices (op: string) (indices: Tensor) (n: int) (axis: int) =
    indices.As<int>() |> Array.mapi (fun pos i ->
        let j = if i < 0 then i + n else i
        if j < 0 || j >= n then
            raise (EvaluationException(sprintf "%s: index %d at position %d of the indices is out of range for axis %d of size %d" op i pos axis n))
        j)

/// out = x taken at indices along axis: shape x[..axis) ++ indices ++ x(axis..].
let gather (x: Tensor) (indices: Tensor) (axis: int) (out: Tensor) =
    let outer, n, inner = Reduction.around x.Shape.Dims axis
    let idx = checkedIndices "gather" indices n axis
    let m = idx.Length
    dispatch
        { new Mover with
            member _.Run(src, dst) =
                for o in 0 .. outer - 1 do
                    for j in 0 .. m - 1 do
                        let s = (o * n + idx[j]) * inner
                        let d = (o * m + j) * inner
                        if inner = 1 then dst[d] <- src[s] else Array.Copy(src, s, dst, d, inner) }
        x.Data out.Data

let private scatterTyped<'T when 'T :> INumber<'T>> (u: 'T[]) (idx: int[]) (outer: int) (n: int) (inner: int) (dst: 'T[]) =
    let m = idx.Length
    for o in 0 .. outer - 1 do
        for j in 0 .. m - 1 do
            let d = Span(dst, (o * n + idx[j]) * inner, inner)
            TensorPrimitives.Add(Span.op_Implicit d, ReadOnlySpan(u, (o * m + j) * inner, inner), d)

/// out = zeros of out's shape with updates added at indices along axis (the adjoint of gather).
let scatterAdd (indices: Tensor) (updates: Tensor) (axis: int) (out: Tensor) =
    let outer, n, inner = Reduction.around out.Shape.Dims axis
    let idx = checkedIndices "scatterAdd" indices n axis
    Array.Clear out.Data
    match updates.Data, out.Data with
    | (:? (float[]) as u), (:? (float[]) as d) -> scatterTyped u idx outer n inner d
    | (:? (float32[]) as u), (:? (float32[]) as d) -> scatterTyped u idx outer n inner d
    | (:? (int[]) as u), (:? (int[]) as d) ->
        let wide = Array.zeroCreate<int64> d.Length
        scatterTyped (Array.map int64 u) idx outer n inner wide
        Elementwise.narrowInt32 out.Shape.Dims wide d
    | _ -> invalidOp (sprintf "scatterAdd of %O is not supported" updates.DType)

/// out[..., k] = 1 where indices[...] = k, else 0; an index outside [0, depth) gives a row of zeros.
let oneHot (indices: Tensor) (depth: int) (out: Tensor) =
    let idx = indices.As<int>()
    let one = Tensor.Empty(Shape.Scalar, out.DType)
    Elementwise.cast (Tensor(Shape.Scalar, DType.Bool, [| true |])) one
    Array.Clear out.Data
    for i in 0 .. idx.Length - 1 do
        if idx[i] >= 0 && idx[i] < depth then Array.Copy(one.Data, 0, out.Data, i * depth + idx[i], 1)
