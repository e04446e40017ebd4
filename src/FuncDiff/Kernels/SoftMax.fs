/// Softmax, log-softmax and log-sum-exp. All subtract the maximum first, so inputs of ±1000 neither
/// overflow nor underflow to NaN. Around the axis the data is [outer, n, inner]: with inner = 1 each
/// outer index is one contiguous row of n; otherwise the n "rows" of length inner are combined
/// elementwise. Either way every step is a TensorPrimitives call on a whole row.
module internal FuncDiff.Core.Kernels.SoftMax

open System
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
            TensorPrimitives.Exp(ro dst, scratch.Slice(0, n))
            total[0] <- TensorPrimitives.Sum(ro (scratch.Slice(0, n)))
        else
            TensorPrimitives.Exp(ro dst, dst)
            total[0] <- TensorPrimitives.Sum(ro dst)
    else
        ReadOnlySpan(x, base', inner).CopyTo shift
        for k in 1 .. n - 1 do TensorPrimitives.Max(ro shift, ReadOnlySpan(x, base' + k * inner, inner), shift)
        for j in 0 .. inner - 1 do shift[j] <- finiteOrZero shift[j]
        total.Clear()
        for k in 0 .. n - 1 do
            let dst = Span(y, yBase + k * inner, inner)
            TensorPrimitives.Subtract(ReadOnlySpan(x, base' + k * inner, inner), ro shift, dst)
            if keepLogits then
                TensorPrimitives.Exp(ro dst, scratch)
                TensorPrimitives.Add(ro total, ro scratch, total)
            else
                TensorPrimitives.Exp(ro dst, dst)
                TensorPrimitives.Add(ro total, ro dst, total)

let private run<'T when 'T :> IFloatingPointIeee754<'T>> (log: bool) (x: 'T[]) (outer: int) (n: int) (inner: int) (y: 'T[]) =
    let shift = Array.zeroCreate<'T> inner
    let total = Array.zeroCreate<'T> inner
    let scratch = Array.zeroCreate<'T> (if inner = 1 then n else inner)
    if n > 0 then
        for o in 0 .. outer - 1 do
            let base' = o * n * inner
            accumulate (x, base', n, inner, Span shift, Span total, y, base', log, Span scratch)
            if log then TensorPrimitives.Log(ReadOnlySpan total, Span total)
            if inner = 1 then
                let row = Span(y, base', n)
                if log then TensorPrimitives.Subtract(ro row, total[0], row)
                else TensorPrimitives.Divide(ro row, total[0], row)
            else
                for k in 0 .. n - 1 do
                    let row = Span(y, base' + k * inner, inner)
                    if log then TensorPrimitives.Subtract(ro row, ReadOnlySpan total, row)
                    else TensorPrimitives.Divide(ro row, ReadOnlySpan total, row)

/// out = softmax (or log-softmax) of x along axis.
let softmax (log: bool) (x: Tensor) (axis: int) (out: Tensor) =
    let outer, n, inner = Reduction.around x.Shape.Dims axis
    match x.Data, out.Data with
    | (:? (float[]) as a), (:? (float[]) as d) -> run log a outer n inner d
    | (:? (float32[]) as a), (:? (float32[]) as d) -> run log a outer n inner d
    | _ -> invalidOp (sprintf "softmax of %O is not supported" x.DType)

let private lse<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T[]) (outer: int) (n: int) (y: 'T[]) =
    let logits = Array.zeroCreate<'T> n
    let scratch = Array.zeroCreate<'T> n
    let shift = [| 'T.Zero |]
    let total = [| 'T.Zero |]
    for o in 0 .. outer - 1 do
        if n = 0 then y[o] <- 'T.NegativeInfinity
        else
            // logits is a scratch copy of x - shift; only the total is kept.
            accumulate (x, o * n, n, 1, Span shift, Span total, logits, 0, true, Span scratch)
            y[o] <- 'T.Log total[0] + shift[0]

/// out = log Σ exp x over the given axes (out's layout is that of the kept axes).
/// The reduced axes are first moved last by a transpose, so each output is one contiguous row.
let logsumexp (x: Tensor) (axes: int[]) (out: Tensor) =
    let dims = x.Shape.Dims
    let kept = [| for i in 0 .. dims.Length - 1 do if not (Array.contains i axes) then i |]
    let perm = Array.append kept (Array.sort axes)
    let moved =
        if perm = Array.init dims.Length id then x
        else
            let t = Tensor.Empty(Shape.Of(perm |> Array.map (fun p -> dims[p])), x.DType)
            Movement.transpose x perm t
            t
    let outer = kept |> Array.fold (fun acc i -> acc * dims[i]) 1
    let n = axes |> Array.fold (fun acc i -> acc * dims[i]) 1
    match moved.Data, out.Data with
    | (:? (float[]) as a), (:? (float[]) as d) -> lse a outer n d
    | (:? (float32[]) as a), (:? (float32[]) as d) -> lse a outer n d
    | _ -> invalidOp (sprintf "logsumexp of %O is not supported" x.DType)
