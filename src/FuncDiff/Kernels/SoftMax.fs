/// Softmax, log-softmax and log-sum-exp. All subtract the maximum first, so inputs of ±1000 neither
/// overflow nor underflow to NaN. Around the axis the data is [outer, n, inner]: with inner = 1 each
/// outer index is one contiguous row of n; otherwise the n "rows" of length inner are combined
/// elementwise. Either way every step is a call on a whole row (exp is Kernels/Exponential.fs).
module internal FuncDiff.Core.Kernels.SoftMax

open System
open System.Buffers
open System.Numerics
open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core

let inline private ro (s: Span<'T>) : ReadOnlySpan<'T> = Span.op_Implicit s

/// The shift: the maximum, or 0 where that is not finite (all -inf, or +inf present), so that
/// x - shift is never inf - inf.
let inline private finiteOrZero<'T when 'T :> IFloatingPointIeee754<'T>> (m: 'T) = if 'T.IsFinite m then m else 'T.Zero

/// For the block of x at base': shift[j] and total[j] = Σ_k exp(x[k, j] - shift[j]); y (at yBase)
/// receives x - shift, or exp of it unless keepLogits.
let private accumulate<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T[], base': int, n: int, inner: int, shift: Span<'T>, total: Span<'T>, y: 'T[], yBase: int, keepLogits: bool, scratch: Span<'T>) =
    if inner = 1 then
        let row = ReadOnlySpan(x, base', n)
        let s = finiteOrZero (TensorPrimitives.Max row)
        shift[0] <- s
        let dst = Span(y, yBase, n)
        TensorPrimitives.Subtract(row, s, dst)
        if keepLogits then
            Exponential.exp (ro dst) (scratch.Slice(0, n))
            total[0] <- Summation.sum (ro (scratch.Slice(0, n)))
        else
            Exponential.exp (ro dst) dst
            total[0] <- Summation.sum (ro dst)
    else
        ReadOnlySpan(x, base', inner).CopyTo shift
        for k in 1 .. n - 1 do TensorPrimitives.Max(ro shift, ReadOnlySpan(x, base' + k * inner, inner), shift)
        for j in 0 .. inner - 1 do shift[j] <- finiteOrZero shift[j]
        total.Clear()
        for k in 0 .. n - 1 do
            let dst = Span(y, yBase + k * inner, inner)
            TensorPrimitives.Subtract(ReadOnlySpan(x, base' + k * inner, inner), ro shift, dst)
            if keepLogits then
                Exponential.exp (ro dst) scratch
                TensorPrimitives.Add(ro total, ro scratch, total)
            else
                Exponential.exp (ro dst) dst
                TensorPrimitives.Add(ro total, ro dst, total)

let private run<'T when 'T :> IFloatingPointIeee754<'T>> (log: bool) (x: 'T[]) (outer: int) (n: int) (inner: int) (y: 'T[]) =
    let pool = ArrayPool<'T>.Shared
    let shift = pool.Rent inner
    let total = pool.Rent inner
    let width = if inner = 1 then n else inner
    let scratch = pool.Rent width
    try
        if n > 0 then
            for o in 0 .. outer - 1 do
                let base' = o * n * inner
                accumulate (x, base', n, inner, Span(shift, 0, inner), Span(total, 0, inner), y, base', log, Span(scratch, 0, width))
                if log then Logarithm.log (ReadOnlySpan(total, 0, inner)) (Span(total, 0, inner))
                if inner = 1 then
                    let row = Span(y, base', n)
                    if log then TensorPrimitives.Subtract(ro row, total[0], row)
                    else TensorPrimitives.Divide(ro row, total[0], row)
                else
                    for k in 0 .. n - 1 do
                        let row = Span(y, base' + k * inner, inner)
                        if log then TensorPrimitives.Subtract(ro row, ReadOnlySpan(total, 0, inner), row)
                        else TensorPrimitives.Divide(ro row, ReadOnlySpan(total, 0, inner), row)
    finally
        pool.Return shift
        pool.Return total
        pool.Return scratch

/// out = softmax (or log-softmax) of x along axis.
let softmax (log: bool) (x: Tensor) (axis: int) (out: Tensor) =
    let struct (outer, n, inner) = Reduction.around x.Shape.Dims axis
    match x.Data, out.Data with
    | (:? (float[]) as a), (:? (float[]) as d) -> run log a outer n inner d
    | (:? (float32[]) as a), (:? (float32[]) as d) -> run log a outer n inner d
    | _ -> invalidOp (sprintf "softmax of %O is not supported" x.DType)

let private lse<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T[]) (outer: int) (n: int) (y: 'T[]) =
    let pool = ArrayPool<'T>.Shared
    let logits = pool.Rent n
    let scratch = pool.Rent n
    let shift = pool.Rent 1
    let total = pool.Rent 1
    try
        for o in 0 .. outer - 1 do
            if n = 0 then y[o] <- 'T.NegativeInfinity
            else
                // logits is a scratch copy of x - shift; only the total is kept.
                accumulate (x, o * n, n, 1, Span(shift, 0, 1), Span(total, 0, 1), logits, 0, true, Span(scratch, 0, n))
                Logarithm.log (ReadOnlySpan(total, 0, 1)) (Span(total, 0, 1))
                y[o] <- total[0] + shift[0]
    finally
        pool.Return logits
        pool.Return scratch
        pool.Return shift
        pool.Return total

let private lseMoved<'T when 'T :> IFloatingPointIeee754<'T>> (x: Tensor) (perm: int[]) (identity: bool) (outer: int) (n: int) (y: 'T[]) =
    if identity then lse (x.As<'T>()) outer n y
    else
        let moved = ArrayPool<'T>.Shared.Rent x.Size
        try
            Movement.transposeInto x perm moved
            lse moved outer n y
        finally
            ArrayPool<'T>.Shared.Return moved

/// out = log Σ exp x over the given axes (out's layout is that of the kept axes).
/// The reduced axes (sorted) are first moved last by a transpose into pooled scratch, so each output
/// is one contiguous row.
let logsumexp (x: Tensor) (axes: int[]) (out: Tensor) =
    let dims = x.Shape.Dims
    let r = dims.Length
    let ints = ArrayPool<int>.Shared
    let perm = ints.Rent(max 1 r)
    try
        // The kept axes in order, then the reduced ones in ascending order.
        let mutable j = 0
        let mutable outer = 1
        let mutable n = 1
        for i in 0 .. r - 1 do
            if not (Array.contains i axes) then
                perm[j] <- i
                j <- j + 1
                outer <- outer * dims[i]
        for i in 0 .. r - 1 do
            if Array.contains i axes then
                perm[j] <- i
                j <- j + 1
                n <- n * dims[i]
        let mutable identity = true
        for i in 0 .. r - 1 do
            if perm[i] <> i then identity <- false
        match out.Data with
        | :? (float[]) as d -> lseMoved x perm identity outer n d
        | :? (float32[]) as d -> lseMoved x perm identity outer n d
        | _ -> invalidOp (sprintf "logsumexp of %O is not supported" x.DType)
    finally
        ints.Return perm
