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
/// dstBase + Σ i·dstStrides (index: zeroed scratch of the iteration's rank). Transpose, slice and pad
/// are all this one loop.
let private stridedTyped<'T> (src: 'T[]) (dst: 'T[]) (iter: int[]) (r: int) (srcBase: int) (srcStrides: int[]) (dstBase: int) (dstStrides: int[]) (index: int[]) =
    let mutable total = 1
    for i in 0 .. r - 1 do total <- total * iter[i]
    if total > 0 then
        if r = 0 then dst[dstBase] <- src[srcBase]
        else
            let len = iter[r - 1]
            let ss, ds = srcStrides[r - 1], dstStrides[r - 1]
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
                    else carry <- false

let private stridedRank (src: Array) (dst: Array) (iter: int[]) (r: int) (srcBase: int) (srcStrides: int[]) (dstBase: int) (dstStrides: int[]) (index: int[]) =
    match src, dst with
    | (:? (float[]) as s), (:? (float[]) as d) -> stridedTyped s d iter r srcBase srcStrides dstBase dstStrides index
    | (:? (float32[]) as s), (:? (float32[]) as d) -> stridedTyped s d iter r srcBase srcStrides dstBase dstStrides index
    | (:? (int[]) as s), (:? (int[]) as d) -> stridedTyped s d iter r srcBase srcStrides dstBase dstStrides index
    | (:? (bool[]) as s), (:? (bool[]) as d) -> stridedTyped s d iter r srcBase srcStrides dstBase dstStrides index
    | _ -> invalidOp "source and destination storage differ"

let private strided (src: Array) (dst: Array) (iter: int[]) (srcBase: int) (srcStrides: int[]) (dstBase: int) (dstStrides: int[]) (index: int[]) =
    stridedRank src dst iter iter.Length srcBase srcStrides dstBase dstStrides index

/// Row-major strides of dims written into the first dims.Length elements of s.
let private stridesInto (dims: int[]) (s: int[]) =
    let mutable acc = 1
    for i in dims.Length - 1 .. -1 .. 0 do
        s[i] <- acc
        acc <- acc * dims[i]

/// Runs f with three zeroed scratch arrays of at least rank elements, from the shared pool.
let inline private withScratch (rank: int) ([<InlineIfLambda>] f: int[] -> int[] -> int[] -> unit) =
    let pool = Buffers.ArrayPool<int>.Shared
    let a, b, c = pool.Rent(max 1 rank), pool.Rent(max 1 rank), pool.Rent(max 1 rank)
    try
        Array.Clear a
        Array.Clear b
        Array.Clear c
        f a b c
    finally
        pool.Return a
        pool.Return b
        pool.Return c

/// dst[b, j, i] = src[b, i, j] for a batch of rows × cols matrices, 16 × 16 tiles at a time, so that
/// both the rows read and the columns written stay in cache (element by element, the column writes of
/// a long row would each touch another cache line).
let private tiles<'T> (src: 'T[]) (dst: 'T[]) (batch: int) (rows: int) (cols: int) =
    let t = 16
    for b in 0 .. batch - 1 do
        let o = b * rows * cols
        let mutable i0 = 0
        while i0 < rows do
            let mutable j0 = 0
            while j0 < cols do
                for i in i0 .. min (i0 + t) rows - 1 do
                    for j in j0 .. min (j0 + t) cols - 1 do
                        dst[o + j * rows + i] <- src[o + i * cols + j]
                j0 <- j0 + t
            i0 <- i0 + t

/// True for a permutation that swaps the last two axes and keeps the others.
let swapsLastTwo (perm: int[]) =
    let r = perm.Length
    let mutable swaps = r >= 2 && perm[r - 2] = r - 1 && perm[r - 1] = r - 2
    for i in 0 .. r - 3 do swaps <- swaps && perm[i] = i
    swaps

/// out = x with axes permuted: out axis i is x axis perm[i].
let transpose (x: Tensor) (perm: int[]) (out: Tensor) =
    let r = perm.Length
    if swapsLastTwo perm then
        let rows, cols = x.Shape.Dims[r - 2], x.Shape.Dims[r - 1]
        let batch = if rows * cols = 0 then 0 else x.Shape.Size / (rows * cols)
        match x.Data, out.Data with
        | (:? (float[]) as s), (:? (float[]) as d) -> tiles s d batch rows cols
        | (:? (float32[]) as s), (:? (float32[]) as d) -> tiles s d batch rows cols
        | (:? (int[]) as s), (:? (int[]) as d) -> tiles s d batch rows cols
        | (:? (bool[]) as s), (:? (bool[]) as d) -> tiles s d batch rows cols
        | _ -> invalidOp "source and destination storage differ"
    else
        withScratch x.Shape.Rank (fun xs ss ds ->
            stridesInto x.Shape.Dims xs
            for i in 0 .. perm.Length - 1 do ss[i] <- xs[perm[i]]
            stridesInto out.Shape.Dims ds
            Array.Clear xs
            strided x.Data out.Data out.Shape.Dims 0 ss 0 ds xs)

/// The first x.Size elements of dst (scratch of x's storage type) = x with axes permuted by the first
/// x.Shape.Rank elements of perm.
let transposeInto (x: Tensor) (perm: int[]) (dst: Array) =
    let r = x.Shape.Rank
    let pool = Buffers.ArrayPool<int>.Shared
    let iter = pool.Rent(max 1 r)
    try
        withScratch r (fun xs ss ds ->
            let dims = x.Shape.Dims
            stridesInto dims xs
            for i in 0 .. r - 1 do
                ss[i] <- xs[perm[i]]
                iter[i] <- dims[perm[i]]
            let mutable acc = 1
            for i in r - 1 .. -1 .. 0 do
                ds[i] <- acc
                acc <- acc * iter[i]
            Array.Clear xs
            stridedRank x.Data dst iter r 0 ss 0 ds xs)
    finally
        pool.Return iter

/// out = x[start:stop:step] per axis (start, step already normalised; out's shape gives the counts).
let slice (x: Tensor) (start: int[]) (step: int[]) (out: Tensor) =
    withScratch x.Shape.Rank (fun ss ds index ->
        stridesInto x.Shape.Dims ss
        let mutable origin = 0
        for i in 0 .. start.Length - 1 do
            origin <- origin + start[i] * ss[i]
            ss[i] <- ss[i] * step[i]
        stridesInto out.Shape.Dims ds
        strided x.Data out.Data out.Shape.Dims origin ss 0 ds index)

/// out = zeros with x placed at lo + i·(interior + 1) along each axis.
let pad (x: Tensor) (lo: int[]) (interior: int[]) (out: Tensor) =
    Array.Clear out.Data
    withScratch x.Shape.Rank (fun ss ds index ->
        stridesInto out.Shape.Dims ds
        let mutable origin = 0
        for i in 0 .. lo.Length - 1 do
            origin <- origin + lo[i] * ds[i]
            ds[i] <- ds[i] * (interior[i] + 1)
        stridesInto x.Shape.Dims ss
        strided x.Data out.Data x.Shape.Dims 0 ss origin ds index)

/// out = the inputs joined along axis; each input is [outer, width_i] around that axis.
/// Stacking is the same with a width of one row per input.
let concat (inputs: Tensor[]) (axis: int) (out: Tensor) =
    let struct (outer, _, inner) = Reduction.around out.Shape.Dims axis
    let total = out.Shape[axis] * inner
    let mutable offset = 0
    for x in inputs do
        let width = x.Size / max 1 outer
        for o in 0 .. outer - 1 do Array.Copy(x.Data, o * width, out.Data, o * total + offset, width)
        offset <- offset + width

/// The indices as non-negative positions along an axis of size n (negative ones count from the end),
/// in pooled scratch of at least their length: return it to ArrayPool<int>.Shared.
let private checkedIndices (op: string) (indices: Tensor) (n: int) (axis: int) =
    let given = indices.As<int>()
    let idx = Buffers.ArrayPool<int>.Shared.Rent given.Length
    for pos in 0 .. given.Length - 1 do
        let i = given[pos]
        let j = if i < 0 then i + n else i
        if j < 0 || j >= n then
            Buffers.ArrayPool<int>.Shared.Return idx
            raise (EvaluationException(sprintf "%s: index %d at position %d of the indices is out of range for axis %d of size %d" op i pos axis n))
        idx[pos] <- j
    idx

let private gatherTyped<'T> (src: 'T[]) (dst: 'T[]) (idx: int[]) (m: int) (outer: int) (n: int) (inner: int) =
    for o in 0 .. outer - 1 do
        for j in 0 .. m - 1 do
            let s = (o * n + idx[j]) * inner
            let d = (o * m + j) * inner
            if inner = 1 then dst[d] <- src[s] else Array.Copy(src, s, dst, d, inner)

/// out = x taken at indices along axis: shape x[..axis) ++ indices ++ x(axis..].
let gather (x: Tensor) (indices: Tensor) (axis: int) (out: Tensor) =
    let struct (outer, n, inner) = Reduction.around x.Shape.Dims axis
    let idx = checkedIndices "gather" indices n axis
    let m = indices.Size
    try
        match x.Data, out.Data with
        | (:? (float[]) as s), (:? (float[]) as d) -> gatherTyped s d idx m outer n inner
        | (:? (float32[]) as s), (:? (float32[]) as d) -> gatherTyped s d idx m outer n inner
        | (:? (int[]) as s), (:? (int[]) as d) -> gatherTyped s d idx m outer n inner
        | (:? (bool[]) as s), (:? (bool[]) as d) -> gatherTyped s d idx m outer n inner
        | _ -> invalidOp "source and destination storage differ"
    finally
        Buffers.ArrayPool<int>.Shared.Return idx

let private scatterTyped<'T when 'T :> INumber<'T>> (u: 'T[]) (idx: int[]) (m: int) (outer: int) (n: int) (inner: int) (dst: 'T[]) =
    for o in 0 .. outer - 1 do
        for j in 0 .. m - 1 do
            let d = Span(dst, (o * n + idx[j]) * inner, inner)
            TensorPrimitives.Add(Span.op_Implicit d, ReadOnlySpan(u, (o * m + j) * inner, inner), d)

/// out = zeros of out's shape with updates added at indices along axis (the adjoint of gather).
let scatterAdd (indices: Tensor) (updates: Tensor) (axis: int) (out: Tensor) =
    let struct (outer, n, inner) = Reduction.around out.Shape.Dims axis
    let idx = checkedIndices "scatterAdd" indices n axis
    let m = indices.Size
    try
        Array.Clear out.Data
        match updates.Data, out.Data with
        | (:? (float[]) as u), (:? (float[]) as d) -> scatterTyped u idx m outer n inner d
        | (:? (float32[]) as u), (:? (float32[]) as d) -> scatterTyped u idx m outer n inner d
        | (:? (int[]) as u), (:? (int[]) as d) ->
            let wide = Array.zeroCreate<int64> d.Length
            scatterTyped (Array.map int64 u) idx m outer n inner wide
            Elementwise.narrowInt32 out.Shape.Dims (ReadOnlySpan wide) d
        | _ -> invalidOp (sprintf "scatterAdd of %O is not supported" updates.DType)
    finally
        Buffers.ArrayPool<int>.Shared.Return idx

/// out[..., k] = 1 where indices[...] = k, else 0; an index outside [0, depth) gives a row of zeros.
let oneHot (indices: Tensor) (depth: int) (out: Tensor) =
    let idx = indices.As<int>()
    Array.Clear out.Data
    for i in 0 .. idx.Length - 1 do
        if idx[i] >= 0 && idx[i] < depth then
            let at = i * depth + idx[i]
            match out.Data with
            | :? (float[]) as d -> d[at] <- 1.0
            | :? (float32[]) as d -> d[at] <- 1.0f
            | :? (int[]) as d -> d[at] <- 1
            | :? (bool[]) as d -> d[at] <- true
            | _ -> invalidOp (sprintf "oneHot to %O is not supported" out.DType)
