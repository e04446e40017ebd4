/// Reductions over any set of axes. Adjacent axes of the same kind (kept or reduced) are merged, and
/// each block of reduced axes becomes [outer, reduced, inner]: contiguous rows when inner = 1
/// (TensorPrimitives.Sum, Max, …), else a SIMD accumulation of whole inner rows.
module internal FuncDiff.Core.Kernels.Reduction

open System
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

let private rowReduce<'T when 'T :> INumber<'T>> (r: Reducer, x: ReadOnlySpan<'T>) : 'T =
    match r with
    | Sum -> TensorPrimitives.Sum x
    | Prod -> TensorPrimitives.Product x
    | Max -> TensorPrimitives.Max x
    | Min -> TensorPrimitives.Min x

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
        for o in 0 .. outer - 1 do dst[o] <- rowReduce (r, ReadOnlySpan(src, o * n, n))
    else
        for o in 0 .. outer - 1 do
            let acc = Span(dst, o * inner, inner)
            ReadOnlySpan(src, o * n * inner, inner).CopyTo acc
            for k in 1 .. n - 1 do accumulate (r, acc, ReadOnlySpan(src, (o * n + k) * inner, inner))

/// Groups of adjacent axes after dropping size-1 axes: (size, reduced?) with neighbours of one kind merged.
let private groups (dims: int[]) (reduced: bool[]) =
    let gs = ResizeArray<struct (int * bool)>()
    for i in 0 .. dims.Length - 1 do
        if dims[i] <> 1 then
            if gs.Count > 0 && (let struct (_, k) = gs[gs.Count - 1] in k = reduced[i]) then
                let struct (d, k) = gs[gs.Count - 1]
                gs[gs.Count - 1] <- struct (d * dims[i], k)
            else gs.Add(struct (dims[i], reduced[i]))
    gs

let private reduceTyped<'T when 'T :> INumber<'T>> (r: Reducer) (x: 'T[]) (dims: int[]) (axes: int[]) (out: 'T[]) =
    let reduced = Array.init dims.Length (fun i -> Array.contains i axes)
    let gs = groups dims reduced
    // A reduced axis of size 0 empties everything: the result is the identity.
    if gs |> Seq.exists (fun (struct (d, k)) -> k && d = 0) then Array.fill out 0 out.Length (identity<'T> r)
    elif out.Length = 0 then ()
    else
        // Reduce the innermost reduced block first, then the next one out, until none is left.
        let mutable current = x
        let mutable shape = List.ofSeq gs
        let rec lastReduced i (l: struct (int * bool) list) acc =
            match l with
            | [] -> acc
            | struct (_, k) :: rest -> lastReduced (i + 1) rest (if k then i else acc)
        let mutable idx = lastReduced 0 shape -1
        if idx < 0 then Array.blit x 0 out 0 out.Length
        while idx >= 0 do
            let sizes = shape |> List.map (fun (struct (d, _)) -> d)
            let outer = sizes |> List.take idx |> List.fold (*) 1
            let n = sizes[idx]
            let inner = sizes |> List.skip (idx + 1) |> List.fold (*) 1
            shape <- List.removeAt idx shape
            let next = lastReduced 0 shape -1
            let dst = if next < 0 then out else Array.zeroCreate<'T> (outer * inner)
            block r current outer n inner dst
            current <- dst
            idx <- next

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
            Elementwise.narrowInt32 out.Shape.Dims wide d
    | _ -> invalidOp (sprintf "reduction of %O is not supported" x.DType)

/// The number of elements each output element of a reduction summarises.
let count (dims: int[]) (axes: int[]) = axes |> Array.fold (fun acc a -> acc * dims[a]) 1

/// (outer, n, inner) around one axis of dims.
let around (dims: int[]) (axis: int) =
    let outer = Array.fold (*) 1 dims[.. axis - 1]
    let inner = Array.fold (*) 1 dims[axis + 1 ..]
    outer, dims[axis], inner

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
/// axis = None searches the flattened tensor.
let argExtreme (isMax: bool) (x: Tensor) (axis: int option) (out: Tensor) =
    let outer, n, inner =
        match axis with
        | Some a -> around x.Shape.Dims a
        | None -> 1, x.Size, 1
    let d = out.As<int>()
    match x.Data with
    | :? (float[]) as a -> argTyped isMax a outer n inner d
    | :? (float32[]) as a -> argTyped isMax a outer n inner d
    | :? (int[]) as a -> argTyped isMax a outer n inner d
    | _ -> invalidOp (sprintf "argmax of %O is not supported" x.DType)
