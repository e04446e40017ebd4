/// Movement, indexing and sum: the linear maps of one tensor. Each one's derivative rule is another
/// entry of this file (its adjoint: broadcastTo ↔ sum, slice ↔ pad, gather ↔ scatterAdd), hence one
/// recursive module.
module internal rec FuncDiff.Core.Primitives.Structural

// Entries refer to each other only inside their rules (closures run after initialisation).
#nowarn "40"

open System
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Rules
open FuncDiff.Core.Kernels

let private listOf (a: int[]) = Param.Ints (List.ofArray a)

// ---- Builders used by rules and surfaces ------------------------------------------------------

/// x with a new shape of the same size; returns x itself when the shape is unchanged.
let reshape (shape: int[]) (x: Node) =
    if x.Shape.Dims = shape then x else apply reshapeP [ "shape", listOf shape ] [ x ]

/// x broadcast to a shape; returns x itself when the shape is unchanged.
let broadcastTo (shape: int[]) (x: Node) =
    if x.Shape.Dims = shape then x else apply broadcastToP [ "shape", listOf shape ] [ x ]

/// Sum over the given axes (all axes when None).
let sum (axes: int[] option) (keepDims: bool) (x: Node) =
    let given = match axes with Some a -> [ "axis", listOf a ] | None -> []
    apply sumP (("keepdims", Param.Bool keepDims) :: given) [ x ]

/// The adjoint of broadcasting: sums g over the axes along which a tensor of `target` shape was
/// broadcast, giving exactly that shape.
let sumTo (target: Shape) (g: Node) =
    if g.Shape.Equals target then g
    else
        let lead = g.Shape.Rank - target.Rank
        let axes =
            [| for i in 0 .. g.Shape.Rank - 1 do
                   if i < lead || (target[i - lead] = 1 && g.Shape[i] <> 1) then i |]
        let summed = if axes.Length = 0 then g else sum (Some axes) false g
        reshape target.Dims summed

/// t, a reduction of a tensor of shape `full` over the `reduced` axes, broadcast back to `full`: the
/// adjoint of sum. A scalar broadcasts as it is; otherwise the reduced axes come back as size 1 first.
let unreduce (full: Shape) (reduced: int[]) (t: Node) =
    let kept = if t.Shape.Rank = 0 then t else reshape (reducedShape full.Dims reduced true).Dims t
    broadcastTo full.Dims kept

/// Zeros of a shape and dtype: a broadcast scalar, so no tensor of that size is built.
let zeros (shape: Shape) (dtype: DType) = broadcastTo shape.Dims (scalarOf dtype 0.0)

let transpose (perm: int[]) (x: Node) = apply transposeP [ "perm", listOf perm ] [ x ]

/// The permutation that undoes perm: transposing by perm, then by its inverse, gives x back.
let inversePermutation (perm: int[]) =
    let inverse = Array.zeroCreate perm.Length
    perm |> Array.iteri (fun i p -> inverse[p] <- i)
    inverse

/// f applied to x with the `reduced` axes moved last and flattened into one, so that each group of
/// elements a reduction over those axes combines is one row; f keeps the shape, and its result comes
/// back in x's layout. For derivative rules that work row by row (prod's, logsumexp's).
let alongRows (reduced: int[]) (f: Node -> Node) (x: Node) =
    let dims = x.Shape.Dims
    let kept = [| for i in 0 .. dims.Length - 1 do if not (Array.contains i reduced) then i |]
    let perm = Array.append kept reduced
    let moved (y: Node) = if perm = Array.init dims.Length id then y else transpose perm y
    let back (y: Node) = if perm = Array.init dims.Length id then y else transpose (inversePermutation perm) y
    let rows = Array.append (kept |> Array.map (fun i -> dims[i])) [| reduced |> Array.fold (fun n a -> n * dims[a]) 1 |]
    moved x |> reshape rows |> f |> reshape (perm |> Array.map (fun p -> dims[p])) |> back

let slice (start: int[]) (stop: int[]) (step: int[]) (x: Node) =
    apply sliceP [ "start", listOf start; "stop", listOf stop; "step", listOf step ] [ x ]

/// x[start:stop] along one axis, everything along the others.
let sliceAxis (axis: int) (start: int) (stop: int) (x: Node) =
    let dims = x.Shape.Dims
    slice (Array.init dims.Length (fun i -> if i = axis then start else 0))
          (Array.init dims.Length (fun i -> if i = axis then stop else dims[i]))
          (Array.create dims.Length 1) x

let pad (lo: int[]) (hi: int[]) (interior: int[]) (x: Node) =
    apply padP [ "lo", listOf lo; "hi", listOf hi; "interior", listOf interior ] [ x ]

let gather (axis: int) (x: Node) (indices: Node) = apply gatherP [ "axis", Param.Int axis ] [ x; indices ]

let scatterAdd (axis: int) (size: int) (indices: Node) (updates: Node) =
    apply scatterAddP [ "axis", Param.Int axis; "size", Param.Int size ] [ indices; updates ]

// ---- Entries ------------------------------------------------------------------------------------

let reshapeP =
    { primitive "reshape" Family.Movement "The elements of x in row-major order with a new shape of the same size; one dimension may be -1 and is inferred." with
        Attributes = [ attribute "shape" ParamKind.Ints Required "the new shape; one entry may be -1" ]
        Infer = fun a xs ->
            let x = xs[0]
            let wanted = ints "shape" a
            let unknown = wanted |> Array.filter (fun d -> d = -1) |> Array.length
            if unknown > 1 then invalid "only one dimension of %O may be -1" (listOf wanted)
            if wanted |> Array.exists (fun d -> d < -1) then invalid "dimensions must be non-negative, got %O" (listOf wanted)
            let known = wanted |> Array.filter (fun d -> d <> -1) |> Shape.TryCount
            let size = int64 x.Shape.Size
            let dims =
                match known with
                | Some k when unknown = 0 && k = size -> wanted
                | Some k when unknown = 1 && k <> 0L && size % k = 0L -> wanted |> Array.map (fun d -> if d = -1 then int32 (size / k) else d)
                | Some k when unknown = 0 -> invalid "cannot reshape %O (%d elements) to %O (%d elements)" x.Shape size (listOf wanted) k
                | _ -> invalid "cannot reshape %O (%d elements) to %O" x.Shape size (listOf wanted)
            let shape = Shape.Of dims
            attrs [ "shape", listOf dims ], shape, x.DType
        Prepare = copyForward
        Vjp = fun v -> [ Some (reshape v.Inputs[0].Shape.Dims v.Cotangent) ] }

let broadcastToP =
    { primitive "broadcastTo" Family.Movement "x repeated along new leading axes and along its size-1 axes to the given shape (NumPy rules)." with
        Attributes = [ attribute "shape" ParamKind.Ints Required "the target shape" ]
        Infer = fun a xs ->
            let x = xs[0]
            let target = Shape.Of(ints "shape" a)
            if not (ShapeMath.broadcastsTo x.Shape target) then invalid "cannot broadcast %O to %O" x.Shape target
            a, target, x.DType
        Prepare = withoutAttributes (fun xs out -> Elementwise.broadcastInto xs[0] out)
        Vjp = fun v -> [ Some (sumTo v.Inputs[0].Shape v.Cotangent) ] }

let sumP =
    { primitive "sum" Family.Reduction "Σ x over the axes (all by default); the sum of no elements is 0." with
        Attributes =
            [ attribute "axis" ParamKind.Axes allAxes "the axes to sum over (default: all)"
              attribute "keepdims" ParamKind.Bool (Fixed (Param.Bool false)) "keep reduced axes as size 1" ]
        Infer = fun a xs ->
            let x = xs[0]
            requireNumeric "the input" x
            let reduced = axes x.Shape.Rank (ints "axis" a)
            let keep = bool "keepdims" a
            attrs [ "axis", listOf reduced; "keepdims", Param.Bool keep ], reducedShape x.Shape.Dims reduced keep, x.DType
        Prepare = fun a ->
            let reduced = ints "axis" a
            fun xs out -> Reduction.reduce Reduction.Sum xs[0] reduced out
        Vjp = fun v -> [ Some (unreduce v.Inputs[0].Shape (ints "axis" v.Attributes) v.Cotangent) ] }

let transposeP =
    { primitive "transpose" Family.Movement "x with its axes permuted: axis i of the result is axis perm[i] of x (default: reversed)." with
        Attributes = [ attribute "perm" ParamKind.Ints (Derived (fun xs -> Param.Ints (List.rev [ 0 .. xs[0].Shape.Rank - 1 ]))) "the permutation (default: reverse the axes)" ]
        Infer = fun a xs ->
            let x = xs[0]
            let perm = ints "perm" a |> Array.map (axis x.Shape.Rank)
            if Array.sort perm <> Array.init x.Shape.Rank id then
                invalid "%O is not a permutation of the %d axes of %O" (listOf perm) x.Shape.Rank x.Shape
            attrs [ "perm", listOf perm ], Shape.Of(perm |> Array.map (fun p -> x.Shape[p])), x.DType
        Prepare = fun a ->
            let perm = ints "perm" a
            fun xs out -> Movement.transpose xs[0] perm out
        Vjp = fun v -> [ Some (transpose (inversePermutation (ints "perm" v.Attributes)) v.Cotangent) ] }

let squeezeP =
    { primitive "squeeze" Family.Movement "x without the given size-1 axes (default: every size-1 axis)." with
        Attributes =
            [ attribute "axis" ParamKind.Axes (Derived (fun xs -> Param.Ints [ for i in 0 .. xs[0].Shape.Rank - 1 do if xs[0].Shape[i] = 1 then i ])) "the size-1 axes to drop (default: all of them)" ]
        Infer = fun a xs ->
            let x = xs[0]
            let dropped = axes x.Shape.Rank (ints "axis" a)
            for d in dropped do
                if x.Shape[d] <> 1 then invalid "cannot squeeze axis %d of %O: its size is %d, not 1" d x.Shape x.Shape[d]
            attrs [ "axis", listOf dropped ], reducedShape x.Shape.Dims dropped false, x.DType
        Prepare = copyForward
        Vjp = fun v -> [ Some (reshape v.Inputs[0].Shape.Dims v.Cotangent) ] }

let unsqueezeP =
    { primitive "unsqueeze" Family.Movement "x with new size-1 axes at the given positions of the result." with
        Attributes = [ attribute "axis" ParamKind.Axes Required "positions of the new axes in the result" ]
        Infer = fun a xs ->
            let x = xs[0]
            let given = ints "axis" a
            let rank = x.Shape.Rank + given.Length
            let added = axes rank given
            let mutable rest = List.ofArray x.Shape.Dims
            let dims =
                Array.init rank (fun i ->
                    if Array.contains i added then 1
                    else
                        let d = List.head rest
                        rest <- List.tail rest
                        d)
            attrs [ "axis", listOf added ], Shape.Of dims, x.DType
        Prepare = copyForward
        Vjp = fun v -> [ Some (reshape v.Inputs[0].Shape.Dims v.Cotangent) ] }

let sliceP =
    { primitive "slice" Family.Movement "x[start:stop:step] along each axis (Python rules: negative positions count from the end, out-of-range bounds are clipped; steps must be positive). Lists shorter than the rank cover the leading axes." with
        Attributes =
            [ attribute "start" ParamKind.Ints (Derived (fun xs -> Param.Ints (List.replicate xs[0].Shape.Rank 0))) "first position per axis (default 0)"
              attribute "stop" ParamKind.Ints (Derived (fun xs -> Param.Ints (List.ofArray xs[0].Shape.Dims))) "end position per axis, exclusive (default: the size)"
              attribute "step" ParamKind.Ints (Derived (fun xs -> Param.Ints (List.replicate xs[0].Shape.Rank 1))) "stride per axis (default 1)" ]
        Infer = fun a xs ->
            let x = xs[0]
            let dims = x.Shape.Dims
            let r = dims.Length
            let start, stop, step = ints "start" a, ints "stop" a, ints "step" a
            for name, l in [ "start", start; "stop", stop; "step", step ] do
                if l.Length > r then invalid "%s has %d entries but %O has rank %d" name l.Length x.Shape r
            let pick (l: int[]) i fallback = if i < l.Length then l[i] else fallback
            let starts, stops, steps, counts = Array.zeroCreate r, Array.zeroCreate r, Array.zeroCreate r, Array.zeroCreate r
            for i in 0 .. r - 1 do
                let n = dims[i]
                let k = pick step i 1
                if k <= 0 then invalid "step must be positive, got %d for axis %d" k i
                let clip p = if p < 0 then max 0 (p + n) else min p n
                let s, e = clip (pick start i 0), clip (pick stop i n)
                let count = if e > s then (e - s + k - 1) / k else 0
                // Canonical bounds, so equal slices are equal expressions.
                starts[i] <- (if count = 0 then 0 else s)
                stops[i] <- (if count = 0 then 0 else s + (count - 1) * k + 1)
                steps[i] <- (if count <= 1 then 1 else k)
                counts[i] <- count
            attrs [ "start", listOf starts; "stop", listOf stops; "step", listOf steps ], Shape.Of counts, x.DType
        Prepare = fun a ->
            let start, step = ints "start" a, ints "step" a
            fun xs out -> Movement.slice xs[0] start step out
        Vjp = fun v ->
            let dims = v.Inputs[0].Shape.Dims
            let start, step = ints "start" v.Attributes, ints "step" v.Attributes
            let counts = v.Output.Shape.Dims
            let lo = Array.init dims.Length (fun i -> if counts[i] = 0 then 0 else start[i])
            let hi = Array.init dims.Length (fun i -> if counts[i] = 0 then dims[i] else dims[i] - start[i] - (counts[i] - 1) * step[i] - 1)
            [ Some (pad lo hi (step |> Array.map (fun k -> k - 1)) v.Cotangent) ] }

let padP =
    { primitive "pad" Family.Movement "x with lo zeros before and hi zeros after each axis and interior zeros between neighbours." with
        Attributes =
            [ attribute "lo" ParamKind.Ints Required "zeros before each axis"
              attribute "hi" ParamKind.Ints Required "zeros after each axis"
              attribute "interior" ParamKind.Ints (Derived (fun xs -> Param.Ints (List.replicate xs[0].Shape.Rank 0))) "zeros between neighbours (default 0)" ]
        Infer = fun a xs ->
            let x = xs[0]
            let r = x.Shape.Rank
            let lo, hi, interior = ints "lo" a, ints "hi" a, ints "interior" a
            for name, l in [ "lo", lo; "hi", hi; "interior", interior ] do
                if l.Length <> r then invalid "%s needs %d entries for %O, got %d" name r x.Shape l.Length
                if l |> Array.exists (fun v -> v < 0) then invalid "%s must be non-negative, got %O" name (listOf l)
            let size i = let n = int64 x.Shape[i] in int64 lo[i] + int64 hi[i] + n + int64 interior[i] * max 0L (n - 1L)
            let sizes = Array.init r size
            a, Shape.OfLarge sizes, x.DType
        Prepare = fun a ->
            let lo, interior = ints "lo" a, ints "interior" a
            fun xs out -> Movement.pad xs[0] lo interior out
        Vjp = fun v ->
            let dims = v.Inputs[0].Shape.Dims
            let lo, interior = ints "lo" v.Attributes, ints "interior" v.Attributes
            let stop = Array.init dims.Length (fun i -> if dims[i] = 0 then lo[i] else lo[i] + (dims[i] - 1) * (interior[i] + 1) + 1)
            [ Some (slice lo stop (interior |> Array.map (fun k -> k + 1)) v.Cotangent) ] }

/// Shape rule shared by concat and stack: same dtype, same shape except along the joined axis.
let private joined (what: string) (xs: Node[]) (except: int option) =
    let first = xs[0]
    for i in 1 .. xs.Length - 1 do
        let x = xs[i]
        if x.DType <> first.DType then invalid "input %d is %O but input 0 is %O" i x.DType first.DType
        let fits =
            x.Shape.Rank = first.Shape.Rank
            && Seq.forall (fun k -> Some k = except || x.Shape[k] = first.Shape[k]) [ 0 .. x.Shape.Rank - 1 ]
        if not fits then
            match except with
            | Some a -> invalid "input %d has shape %O, input 0 has %O; %s needs equal shapes except along axis %d" i x.Shape first.Shape what a
            | None -> invalid "input %d has shape %O, input 0 has %O; %s needs equal shapes" i x.Shape first.Shape what

let concatP =
    { primitive "concat" Family.Movement "The inputs joined end to end along an existing axis." with
        Inputs = [ "x" ]
        Variadic = true
        Attributes = [ attribute "axis" ParamKind.Int (Fixed (Param.Int 0)) "the axis to join along (default 0)" ]
        Infer = fun a xs ->
            if xs[0].Shape.Rank = 0 then invalid "cannot concatenate scalars; use stack"
            let ax = axis xs[0].Shape.Rank (int "axis" a)
            joined "concat" xs (Some ax)
            let dims = Array.map int64 xs[0].Shape.Dims
            dims[ax] <- xs |> Array.sumBy (fun x -> int64 x.Shape[ax])
            attrs [ "axis", Param.Int ax ], Shape.OfLarge dims, xs[0].DType
        Prepare = fun a ->
            let ax = int "axis" a
            fun xs out -> Movement.concat xs ax out
        Vjp = fun v ->
            let ax = int "axis" v.Attributes
            let mutable offset = 0
            [ for x in v.Inputs ->
                  let d = x.Shape[ax]
                  offset <- offset + d
                  Some (sliceAxis ax (offset - d) offset v.Cotangent) ] }

let stackP =
    { primitive "stack" Family.Movement "The inputs (all of one shape) joined along a new axis." with
        Inputs = [ "x" ]
        Variadic = true
        Attributes = [ attribute "axis" ParamKind.Int (Fixed (Param.Int 0)) "position of the new axis in the result (default 0)" ]
        Infer = fun a xs ->
            let ax = axis (xs[0].Shape.Rank + 1) (int "axis" a)
            joined "stack" xs None
            let dims = Array.insertAt ax xs.Length xs[0].Shape.Dims
            attrs [ "axis", Param.Int ax ], Shape.Of dims, xs[0].DType
        Prepare = fun a ->
            let ax = int "axis" a
            fun xs out -> Movement.concat xs ax out
        Vjp = fun v ->
            let ax = int "axis" v.Attributes
            [ for i, x in Array.indexed v.Inputs -> Some (sliceAxis ax i (i + 1) v.Cotangent |> reshape x.Shape.Dims) ] }

let gatherP =
    { primitive "gather" Family.Indexing "x taken at int32 indices along an axis (NumPy take): the result's shape is x's with that axis replaced by the indices' shape. Negative indices count from the end; an index out of range is an evaluation error." with
        Inputs = [ "x"; "indices" ]
        Attributes = [ attribute "axis" ParamKind.Int (Fixed (Param.Int 0)) "the axis to index (default 0)" ]
        Infer = fun a xs ->
            let x, indices = xs[0], xs[1]
            requireInt "indices" indices
            if x.Shape.Rank = 0 then invalid "cannot index a scalar"
            let ax = axis x.Shape.Rank (int "axis" a)
            let dims = Array.concat [ x.Shape.Dims[.. ax - 1]; indices.Shape.Dims; x.Shape.Dims[ax + 1 ..] ]
            attrs [ "axis", Param.Int ax ], Shape.Of dims, x.DType
        Prepare = fun a ->
            let ax = int "axis" a
            fun xs out -> Movement.gather xs[0] xs[1] ax out
        Vjp = fun v ->
            let ax = int "axis" v.Attributes
            [ Some (scatterAdd ax v.Inputs[0].Shape[ax] v.Inputs[1] v.Cotangent); None ] }

let scatterAddP =
    { primitive "scatterAdd" Family.Indexing "Zeros with the updates added at int32 indices along an axis of the given size: the adjoint of gather. Repeated indices accumulate." with
        Inputs = [ "indices"; "updates" ]
        Attributes =
            [ attribute "axis" ParamKind.Int (Fixed (Param.Int 0)) "the axis of the result the indices point into (default 0)"
              attribute "size" ParamKind.Int Required "the size of that axis" ]
        Infer = fun a xs ->
            let indices, updates = xs[0], xs[1]
            requireInt "indices" indices
            requireNumeric "updates" updates
            let size = int "size" a
            if size < 0 then invalid "size must be non-negative, got %d" size
            let rank = updates.Shape.Rank - indices.Shape.Rank + 1
            if rank < 1 then invalid "updates %O have fewer axes than indices %O" updates.Shape indices.Shape
            let ax = axis rank (int "axis" a)
            let middle = updates.Shape.Dims[ax .. ax + indices.Shape.Rank - 1]
            if middle <> indices.Shape.Dims then
                invalid "updates %O do not hold indices %O at axis %d" updates.Shape indices.Shape ax
            let dims = Array.concat [ updates.Shape.Dims[.. ax - 1]; [| size |]; updates.Shape.Dims[ax + indices.Shape.Rank ..] ]
            attrs [ "axis", Param.Int ax; "size", Param.Int size ], Shape.Of dims, updates.DType
        Prepare = fun a ->
            let ax = int "axis" a
            fun xs out -> Movement.scatterAdd xs[0] xs[1] ax out
        Vjp = fun v -> [ None; Some (gather (int "axis" v.Attributes) v.Cotangent v.Inputs[0]) ] }

let oneHotP =
    { primitive "oneHot" Family.Indexing "For int32 indices, a tensor with a new last axis of length depth holding 1 at the index and 0 elsewhere; an index outside [0, depth) gives a row of zeros." with
        Differentiability = Differentiability.PiecewiseConstant
        Inputs = [ "indices" ]
        Attributes =
            [ attribute "depth" ParamKind.Int Required "the length of the new axis"
              attribute "dtype" ParamKind.DType (Fixed (Param.DType DType.Float64)) "the result's dtype (default float64)" ]
        Infer = fun a xs ->
            requireInt "indices" xs[0]
            let depth = int "depth" a
            if depth < 0 then invalid "depth must be non-negative, got %d" depth
            a, Shape.Of(Array.append xs[0].Shape.Dims [| depth |]), dtype "dtype" a
        Prepare = fun a ->
            let depth = int "depth" a
            fun xs out -> Movement.oneHot xs[0] depth out
        Vjp = noDerivative }

/// This family's entries.
let entries () =
    [ reshapeP; broadcastToP; sumP; transposeP; squeezeP; unsqueezeP; sliceP; padP; concatP; stackP; gatherP; scatterAddP; oneHotP ]
