/// Reductions over any set of axes. Adjacent axes of the same kind (kept or reduced) are merged, and
/// each block of reduced axes becomes [outer, reduced, inner]: contiguous rows when inner = 1
/// (Summation.sum, TensorPrimitives.Max, …), else a SIMD accumulation of whole inner rows.
module internal FuncDiff.Core.Kernels.Reduction

open System
open System.Buffers
open System.Numerics
open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core

/// The reductions with an identity-free SIMD row form.
type Reducer =
    | Sum
    | Prod
    | Max
    | Min

/// The reduction of src[offset .. offset + n).
let private rowReduce<'T when 'T :> INumber<'T>> (r: Reducer) (src: 'T[]) (offset: int) (n: int) : 'T =
    match r with
    | Sum -> Summation.sumOf src offset n
    | Prod -> Aligned.product (ReadOnlySpan(src, offset, n))
    | Max -> TensorPrimitives.Max(ReadOnlySpan(src, offset, n))
    | Min -> TensorPrimitives.Min(ReadOnlySpan(src, offset, n))

let private accumulate<'T when 'T :> INumber<'T>> (r: Reducer, acc: Span<'T>, row: ReadOnlySpan<'T>) =
    let a = Span.op_Implicit acc : ReadOnlySpan<'T>
    match r with
    | Sum -> TensorPrimitives.Add(a, row, acc)
    | Prod -> TensorPrimitives.Multiply(a, row, acc)
    | Max -> TensorPrimitives.Max(a, row, acc)
    | Min -> TensorPrimitives.Min(a, row, acc)

let private identity<'T when 'T :> INumber<'T>> (r: Reducer) =
    match r with
    | Sum -> 'T.Zero
    | Prod -> 'T.One
    | Max | Min -> invalidOp "max and min of an empty set have no value (the shape rule refuses them)"

/// Reduces [outer, n, inner] to [outer, inner].
let private block<'T when 'T :> INumber<'T>> (r: Reducer) (src: 'T[]) (outer: int) (n: int) (inner: int) (dst: 'T[]) =
    if n = 0 then Array.fill dst 0 (outer * inner) (identity<'T> r)
    elif inner = 1 then
        for o in 0 .. outer - 1 do dst[o] <- rowReduce r src (o * n) n
    else
        for o in 0 .. outer - 1 do
            let acc = Span(dst, o * inner, inner)
            ReadOnlySpan(src, o * n * inner, inner).CopyTo acc
            for k in 1 .. n - 1 do accumulate (r, acc, ReadOnlySpan(src, (o * n + k) * inner, inner))

/// True when the first count groups of g (g[2j] = size, g[2j + 1] = 1 where reduced) hold a reduced
/// one; the index of the last of them, else -1.
let private lastReduced (g: int[]) (count: int) =
    let mutable j = count - 1
    while j >= 0 && g[2 * j + 1] = 0 do j <- j - 1
    j

let private reduceTyped<'T when 'T :> INumber<'T>> (r: Reducer) (x: 'T[]) (dims: int[]) (axes: int[]) (out: 'T[]) =
    // Groups of adjacent axes after dropping size-1 axes, neighbours of one kind (kept or reduced)
    // merged, in pooled scratch: g[2j] is a group's size, g[2j + 1] is 1 when it is reduced.
    let ints = ArrayPool<int>.Shared
    let g = ints.Rent(2 * max 1 dims.Length)
    try
        let mutable count = 0
        for i in 0 .. dims.Length - 1 do
            if dims[i] <> 1 then
                let k = if Array.contains i axes then 1 else 0
                if count > 0 && g[2 * count - 1] = k then g[2 * count - 2] <- g[2 * count - 2] * dims[i]
                else
                    g[2 * count] <- dims[i]
                    g[2 * count + 1] <- k
                    count <- count + 1
        let mutable emptied = false
        for j in 0 .. count - 1 do
            if g[2 * j + 1] = 1 && g[2 * j] = 0 then emptied <- true
        // A reduced axis of size 0 empties everything: the result is the identity.
        if emptied then Array.fill out 0 out.Length (identity<'T> r)
        elif out.Length = 0 then ()
        else
            // Reduce the innermost reduced block first, then the next one out, until none is left.
            let mutable idx = lastReduced g count
            if idx < 0 then Array.blit x 0 out 0 out.Length
            let mutable current = x
            while idx >= 0 do
                let mutable outer = 1
                for j in 0 .. idx - 1 do outer <- outer * g[2 * j]
                let n = g[2 * idx]
                let mutable inner = 1
                for j in idx + 1 .. count - 1 do inner <- inner * g[2 * j]
                Array.Copy(g, 2 * idx + 2, g, 2 * idx, 2 * (count - idx - 1))
                count <- count - 1
                let next = lastReduced g count
                let dst = if next < 0 then out else ArrayPool<'T>.Shared.Rent(outer * inner)
                block r current outer n inner dst
                if not (obj.ReferenceEquals(current, x)) then ArrayPool<'T>.Shared.Return current
                current <- dst
                idx <- next
    finally
        ints.Return g

/// out = reduction of x over axes (kept as size-1 axes or dropped: out's layout is the same).
let reduce (r: Reducer) (x: Tensor) (axes: int[]) (out: Tensor) =
    let dims = x.Shape.Dims
    match x.Data, out.Data with
    | (:? (float[]) as a), (:? (float[]) as d) -> reduceTyped r a dims axes d
    | (:? (float32[]) as a), (:? (float32[]) as d) -> reduceTyped r a dims axes d
    | (:? (int[]) as a), (:? (int[]) as d) ->
        match r with
        | Max | Min -> reduceTyped r a dims axes d
        | Sum | Prod ->
            let wide = Array.zeroCreate<int64> d.Length
            reduceTyped r (Array.map int64 a) dims axes wide
            if r = Prod then
                // Partial products of non-zero integers never shrink, so a product that fits in int32 is
                // exact in int64, and one with a zero factor is 0 there too; one that does not fit may
                // have wrapped in int64, so the float64 product tells it.
                let approx = Array.zeroCreate<float> d.Length
                reduceTyped r (Array.map float a) dims axes approx
                approx |> Array.iteri (fun i v ->
                    if v > float Int32.MaxValue || v < float Int32.MinValue then
                        raise (OverflowException(sprintf "int32 overflow: the product at %s would be about %.6g, outside the int32 range [%d, %d]; cast to float64 first for a wider range" (ShapeMath.indexText out.Shape.Dims i) v Int32.MinValue Int32.MaxValue)))
            Elementwise.narrowInt32 out.Shape.Dims (ReadOnlySpan wide) d
    | _ -> invalidOp (sprintf "reduction of %O is not supported" x.DType)

/// The number of elements each output element of a reduction summarises.
let count (dims: int[]) (axes: int[]) =
    let mutable n = 1
    for a in axes do n <- n * dims[a]
    n

/// (outer, n, inner) around one axis of dims.
let around (dims: int[]) (axis: int) =
    let mutable outer = 1
    for i in 0 .. axis - 1 do outer <- outer * dims[i]
    let mutable inner = 1
    for i in axis + 1 .. dims.Length - 1 do inner <- inner * dims[i]
    struct (outer, dims[axis], inner)

/// The index of the first maximum (or minimum) of n elements at start, start + stride, …; the first NaN
/// wins, and -0 ties with +0 (as in max and min), so the first of them is the one.
let private firstExtreme<'T when 'T :> INumber<'T>> (isMax: bool) (x: 'T[]) (start: int) (stride: int) (n: int) =
    let mutable best = 0
    let mutable b = x[start]
    let mutable k = 1
    while k < n && not ('T.IsNaN b) do
        let v = x[start + k * stride]
        if 'T.IsNaN v || (if isMax then 'T.op_GreaterThan(v, b) else 'T.op_LessThan(v, b)) then
            best <- k
            b <- v
        k <- k + 1
    best

let private argTyped<'T when 'T :> INumber<'T>> (isMax: bool) (x: 'T[]) (outer: int) (n: int) (inner: int) (out: int[]) =
    for o in 0 .. outer - 1 do
        for j in 0 .. inner - 1 do
            out[o * inner + j] <- firstExtreme isMax x (o * n * inner + j) inner n

/// out (int32) = index of the first maximum (or minimum) along axis; the first NaN wins if there is one.
/// axis = -1 searches the flattened tensor.
let argExtreme (isMax: bool) (x: Tensor) (axis: int) (out: Tensor) =
    let struct (outer, n, inner) = if axis >= 0 then around x.Shape.Dims axis else struct (1, x.Size, 1)
    let d = out.As<int>()
    match x.Data with
    | :? (float[]) as a -> argTyped isMax a outer n inner d
    | :? (float32[]) as a -> argTyped isMax a outer n inner d
    | :? (int[]) as a -> argTyped isMax a outer n inner d
    | _ -> invalidOp (sprintf "argmax of %O is not supported" x.DType)
