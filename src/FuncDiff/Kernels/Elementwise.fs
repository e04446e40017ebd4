/// Elementwise kernels: span operations (mostly TensorPrimitives, so SIMD) lifted to tensors,
/// with NumPy broadcasting for several inputs.
module internal FuncDiff.Core.Kernels.Elementwise

open System
open System.Buffers
open System.Numerics
open System.Numerics.Tensors
open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open System.Runtime.Intrinsics
open FuncDiff
open FuncDiff.Core

module V = FuncDiff.Core.Kernels.Vectors

/// A unary operation on contiguous spans of any float dtype.
type FloatUnary =
    abstract Run<'T when 'T :> IFloatingPointIeee754<'T>> : ReadOnlySpan<'T> * Span<'T> -> unit

/// A unary operation on contiguous spans of any numeric dtype (float64, float32, int32).
type NumericUnary =
    abstract Run<'T when 'T :> INumber<'T>> : ReadOnlySpan<'T> * Span<'T> -> unit

/// A binary operation of one element type on rows: span-span, span-scalar and scalar-span.
type Rows<'A, 'B, 'O> =
    abstract SS: ReadOnlySpan<'A> * ReadOnlySpan<'B> * Span<'O> -> unit
    abstract ST: ReadOnlySpan<'A> * 'B * Span<'O> -> unit
    abstract TS: 'A * ReadOnlySpan<'B> * Span<'O> -> unit

/// A binary operation for every float dtype.
type FloatBinary =
    abstract SS<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged> : ReadOnlySpan<'T> * ReadOnlySpan<'T> * Span<'T> -> unit
    abstract ST<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged> : ReadOnlySpan<'T> * 'T * Span<'T> -> unit
    abstract TS<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged> : 'T * ReadOnlySpan<'T> * Span<'T> -> unit

/// A binary operation for every numeric dtype.
type NumericBinary =
    abstract SS<'T when 'T :> INumber<'T>> : ReadOnlySpan<'T> * ReadOnlySpan<'T> * Span<'T> -> unit
    abstract ST<'T when 'T :> INumber<'T>> : ReadOnlySpan<'T> * 'T * Span<'T> -> unit
    abstract TS<'T when 'T :> INumber<'T>> : 'T * ReadOnlySpan<'T> * Span<'T> -> unit

/// An elementwise comparison of two numbers, giving bool.
[<RequireQualifiedAccess>]
type Comparison =
    | Lt
    | Le
    | Gt
    | Ge
    | Eq
    | Ne

// The adapters are structs, so lifting an operation to rows allocates nothing.
[<Struct>]
type private FloatRows<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged>(op: FloatBinary) =
    interface Rows<'T, 'T, 'T> with
        member _.SS(a, b, d) = op.SS(a, b, d)
        member _.ST(a, b, d) = op.ST(a, b, d)
        member _.TS(a, b, d) = op.TS(a, b, d)

[<Struct>]
type private NumericRows<'T when 'T :> INumber<'T>>(op: NumericBinary) =
    interface Rows<'T, 'T, 'T> with
        member _.SS(a, b, d) = op.SS(a, b, d)
        member _.ST(a, b, d) = op.ST(a, b, d)
        member _.TS(a, b, d) = op.TS(a, b, d)

// Rows of comparisons and of where read each operand with step 1 or, broadcast, step 0 (one element).

/// The operand's one element in every lane where it is read with step 0.
let inline private splatOf<'T when 'T: struct> (x: ReadOnlySpan<'T>) (step: int) =
    if step = 0 then Vector256.Create(x[0]) else Vector256<'T>.Zero

/// Lanes at..at+w of an operand (within the span: an unchecked load), or its splat s for step 0.
let inline private lanesAt<'T when 'T: struct> (x: ReadOnlySpan<'T>) (step: int) (s: Vector256<'T>) (at: int) =
    if step = 0 then s else Vector256.LoadUnsafe(&MemoryMarshal.GetReference x, unativeint at)

/// Lanes at..at+w of a comparison row.
let inline private laneTest<'T when 'T: struct> ([<InlineIfLambda>] lanes: Vector256<'T> -> Vector256<'T> -> Vector256<'T>) (a: ReadOnlySpan<'T>) (ia: int) (sa: Vector256<'T>) (b: ReadOnlySpan<'T>) (ib: int) (sb: Vector256<'T>) (at: int) =
    lanes (lanesAt a ia sa at) (lanesAt b ib sb at)

// One loop per comparison, specialised by the JIT for the element type (a test called through an
// interface per element would cost a virtual generic call each); 4- and 8-byte elements go 32 at a time,
// their lane masks narrowed to bool bytes.
let inline private compareRow<'T when 'T: struct> ([<InlineIfLambda>] test: 'T -> 'T -> bool) ([<InlineIfLambda>] lanes: Vector256<'T> -> Vector256<'T> -> Vector256<'T>) (a: ReadOnlySpan<'T>) (ia: int) (b: ReadOnlySpan<'T>) (ib: int) (d: Span<bool>) =
    let size = Unsafe.SizeOf<'T>()
    let mutable i = 0
    if Vector256.IsHardwareAccelerated && (size = 4 || size = 8) then
        let sa, sb = splatOf a ia, splatOf b ib
        let one = Vector256.Create(1uy)
        let out = MemoryMarshal.Cast<bool, byte> d
        while i + 32 <= d.Length do
            let bytes =
                if size = 4 then
                    let m0 = (laneTest lanes a ia sa b ib sb i).As<'T, uint32>()
                    let m1 = (laneTest lanes a ia sa b ib sb (i + 8)).As<'T, uint32>()
                    let m2 = (laneTest lanes a ia sa b ib sb (i + 16)).As<'T, uint32>()
                    let m3 = (laneTest lanes a ia sa b ib sb (i + 24)).As<'T, uint32>()
                    Vector256.Narrow(Vector256.Narrow(m0, m1), Vector256.Narrow(m2, m3))
                else
                    let m0 = (laneTest lanes a ia sa b ib sb i).As<'T, uint64>()
                    let m1 = (laneTest lanes a ia sa b ib sb (i + 4)).As<'T, uint64>()
                    let m2 = (laneTest lanes a ia sa b ib sb (i + 8)).As<'T, uint64>()
                    let m3 = (laneTest lanes a ia sa b ib sb (i + 12)).As<'T, uint64>()
                    let m4 = (laneTest lanes a ia sa b ib sb (i + 16)).As<'T, uint64>()
                    let m5 = (laneTest lanes a ia sa b ib sb (i + 20)).As<'T, uint64>()
                    let m6 = (laneTest lanes a ia sa b ib sb (i + 24)).As<'T, uint64>()
                    let m7 = (laneTest lanes a ia sa b ib sb (i + 28)).As<'T, uint64>()
                    Vector256.Narrow(Vector256.Narrow(Vector256.Narrow(m0, m1), Vector256.Narrow(m2, m3)),
                                     Vector256.Narrow(Vector256.Narrow(m4, m5), Vector256.Narrow(m6, m7)))
            Vector256.BitwiseAnd(bytes, one).StoreUnsafe(&MemoryMarshal.GetReference out, unativeint i)
            i <- i + 32
    while i < d.Length do
        d[i] <- test a[ia * i] b[ib * i]
        i <- i + 1

[<Struct>]
type private CompareRows<'T when 'T :> INumber<'T> and 'T: struct>(c: Comparison) =
    member private _.Row(a: ReadOnlySpan<'T>, ia: int, b: ReadOnlySpan<'T>, ib: int, d: Span<bool>) =
        match c with
        | Comparison.Lt -> compareRow (fun x y -> 'T.op_LessThan(x, y)) (fun x y -> Vector256.LessThan(x, y)) a ia b ib d
        | Comparison.Le -> compareRow (fun x y -> 'T.op_LessThanOrEqual(x, y)) (fun x y -> Vector256.LessThanOrEqual(x, y)) a ia b ib d
        | Comparison.Gt -> compareRow (fun x y -> 'T.op_GreaterThan(x, y)) (fun x y -> Vector256.GreaterThan(x, y)) a ia b ib d
        | Comparison.Ge -> compareRow (fun x y -> 'T.op_GreaterThanOrEqual(x, y)) (fun x y -> Vector256.GreaterThanOrEqual(x, y)) a ia b ib d
        | Comparison.Eq -> compareRow (fun x y -> 'T.op_Equality(x, y)) (fun x y -> Vector256.Equals(x, y)) a ia b ib d
        | Comparison.Ne -> compareRow (fun x y -> 'T.op_Inequality(x, y)) (fun x y -> Vector256.OnesComplement(Vector256.Equals(x, y))) a ia b ib d
    interface Rows<'T, 'T, bool> with
        member r.SS(a, b, d) = r.Row(a, 1, b, 1, d)
        member r.ST(a, b, d) =
            let mutable s = b
            r.Row(a, 1, MemoryMarshal.CreateReadOnlySpan(&s, 1), 0, d)
        member r.TS(a, b, d) =
            let mutable s = a
            r.Row(MemoryMarshal.CreateReadOnlySpan(&s, 1), 0, b, 1, d)

/// An elementwise connective of two bools.
[<RequireQualifiedAccess>]
type Connective =
    | And
    | Or

let inline private bytes (x: ReadOnlySpan<bool>) = MemoryMarshal.Cast<bool, byte> x
let inline private bytesOut (x: Span<bool>) = MemoryMarshal.Cast<bool, byte> x

// Bools that kernels write are the bytes 0 and 1, so and/or are byte-wise and/or, in SIMD.
[<Struct>]
type private LogicalRows(c: Connective) =
    interface Rows<bool, bool, bool> with
        member _.SS(x, y, d) =
            match c with
            | Connective.And -> TensorPrimitives.BitwiseAnd(bytes x, bytes y, bytesOut d)
            | Connective.Or -> TensorPrimitives.BitwiseOr(bytes x, bytes y, bytesOut d)
        member _.ST(x, y, d) =
            match c, y with
            | Connective.And, false | Connective.Or, true -> d.Fill y
            | _ -> x.CopyTo d
        member _.TS(x, y, d) =
            match c, x with
            | Connective.And, false | Connective.Or, true -> d.Fill x
            | _ -> y.CopyTo d

let private unsupported (what: string) (t: Tensor) =
    invalidOp (sprintf "%s kernel has no %O implementation (the shape rule should have refused it)" what t.DType)

/// Applies a row operation to two broadcast inputs: whole spans when the shapes allow, else row by row.
let binaryRows<'R, 'A, 'B, 'O when 'R :> Rows<'A, 'B, 'O>> (op: 'R) (a: ReadOnlySpan<'A>) (aDims: int[]) (b: ReadOnlySpan<'B>) (bDims: int[]) (out: Span<'O>) (outDims: int[]) =
    if a.Length = out.Length && b.Length = out.Length then op.SS(a, b, out)
    elif a.Length = 1 && b.Length = out.Length then op.TS(a[0], b, out)
    elif b.Length = 1 && a.Length = out.Length then op.ST(a, b[0], out)
    else
        let w = Broadcast.Rows.Rent()
        try
            w.Start(outDims, aDims, bDims, null)
            let len = w.RowLength
            let ia, ib = w.Inner 0, w.Inner 1
            for _ in 1 .. w.RowCount do
                let dst = out.Slice(w.OutOffset, len)
                let oa, ob = w.Offset 0, w.Offset 1
                if ia = 1 && ib = 1 then op.SS(a.Slice(oa, len), b.Slice(ob, len), dst)
                elif ia = 1 then op.ST(a.Slice(oa, len), b[ob], dst)
                elif ib = 1 then op.TS(a[oa], b.Slice(ob, len), dst)
                else
                    op.TS(a[oa], b.Slice(ob, 1), dst.Slice(0, 1))
                    dst.Fill dst[0]
                w.Advance()
        finally
            Broadcast.Rows.Return w

/// int32 results are computed in int64 and narrowed here, so an overflow is an error naming the
/// element, never a wrapped value (int32 × int32 and every sum of at most 2³¹ of them fit in int64).
let narrowInt32 (dims: int[]) (wide: ReadOnlySpan<int64>) (out: int[]) =
    for i in 0 .. out.Length - 1 do
        let v = wide[i]
        if v < int64 Int32.MinValue || v > int64 Int32.MaxValue then
            raise (OverflowException(sprintf "int32 overflow: the result at %s would be %d, outside the int32 range [%d, %d]; cast to float64 first for a wider range" (ShapeMath.indexText dims i) v Int32.MinValue Int32.MaxValue))
        out[i] <- int v

/// a widened into pooled scratch (return it to ArrayPool<int64>.Shared).
let private widen (a: int[]) =
    let wide = ArrayPool<int64>.Shared.Rent a.Length
    for i in 0 .. a.Length - 1 do wide[i] <- int64 a[i]
    wide

let private run2<'R, 'A, 'B, 'O when 'R :> Rows<'A, 'B, 'O>> (op: 'R) (a: Tensor) (b: Tensor) (out: Tensor) =
    binaryRows op (ReadOnlySpan(a.As<'A>())) a.Shape.Dims (ReadOnlySpan(b.As<'B>())) b.Shape.Dims (Span(out.As<'O>())) out.Shape.Dims

/// out = op(x) for a float tensor.
let floatUnary (op: FloatUnary) (x: Tensor) (out: Tensor) =
    match x.Data, out.Data with
    | (:? (float[]) as a), (:? (float[]) as d) -> op.Run(ReadOnlySpan a, Span d)
    | (:? (float32[]) as a), (:? (float32[]) as d) -> op.Run(ReadOnlySpan a, Span d)
    | _ -> unsupported "float unary" x

/// out = op(x) for a numeric tensor.
let numericUnary (op: NumericUnary) (x: Tensor) (out: Tensor) =
    match x.Data, out.Data with
    | (:? (float[]) as a), (:? (float[]) as d) -> op.Run(ReadOnlySpan a, Span d)
    | (:? (float32[]) as a), (:? (float32[]) as d) -> op.Run(ReadOnlySpan a, Span d)
    | (:? (int[]) as a), (:? (int[]) as d) ->
        let pool = ArrayPool<int64>.Shared
        let wa = widen a
        let wide = pool.Rent d.Length
        try
            op.Run(ReadOnlySpan(wa, 0, a.Length), Span(wide, 0, d.Length))
            narrowInt32 out.Shape.Dims (ReadOnlySpan(wide, 0, d.Length)) d
        finally
            pool.Return wa
            pool.Return wide
    | _ -> unsupported "numeric unary" x

/// out = op(a, b) with broadcasting, for float tensors of one dtype.
let floatBinary (op: FloatBinary) (a: Tensor) (b: Tensor) (out: Tensor) =
    match out.DType with
    | DType.Float64 -> run2 (FloatRows<float> op) a b out
    | DType.Float32 -> run2 (FloatRows<float32> op) a b out
    | _ -> unsupported "float binary" out

/// out = op(a, b) with broadcasting, for numeric tensors of one dtype.
let numericBinary (op: NumericBinary) (a: Tensor) (b: Tensor) (out: Tensor) =
    match out.DType with
    | DType.Float64 -> run2 (NumericRows<float> op) a b out
    | DType.Float32 -> run2 (NumericRows<float32> op) a b out
    | DType.Int32 ->
        let pool = ArrayPool<int64>.Shared
        let x, y = a.As<int>(), b.As<int>()
        let wa, wb = widen x, widen y
        let wide = pool.Rent out.Size
        try
            binaryRows (NumericRows<int64> op) (ReadOnlySpan(wa, 0, x.Length)) a.Shape.Dims (ReadOnlySpan(wb, 0, y.Length)) b.Shape.Dims (Span(wide, 0, out.Size)) out.Shape.Dims
            narrowInt32 out.Shape.Dims (ReadOnlySpan(wide, 0, out.Size)) (out.As<int>())
        finally
            pool.Return wa
            pool.Return wb
            pool.Return wide
    | _ -> unsupported "numeric binary" out

/// out = test(a, b) as bool with broadcasting, for numeric tensors of one dtype.
let compare (op: Comparison) (a: Tensor) (b: Tensor) (out: Tensor) =
    match a.DType with
    | DType.Float64 -> run2 (CompareRows<float> op) a b out
    | DType.Float32 -> run2 (CompareRows<float32> op) a b out
    | DType.Int32 -> run2 (CompareRows<int> op) a b out
    | _ -> unsupported "comparison" a

/// out = f(a, b) for bool tensors with broadcasting.
let logical (c: Connective) (a: Tensor) (b: Tensor) (out: Tensor) = run2 (LogicalRows c) a b out

/// out = not x for a bool tensor.
let logicalNot (x: Tensor) (out: Tensor) =
    let a, d = x.As<bool>(), out.As<bool>()
    for i in 0 .. a.Length - 1 do d[i] <- not a[i]

/// 1 for a true bool whatever non-zero byte holds it, else 0, without a branch.
let inline private bit (c: bool) = (uint32 (Unsafe.BitCast<bool, byte> c) + 255u) >>> 8

/// c ? x : y without a branch for 4- and 8-byte elements (a mask made from the bool): a relu's or max's
/// backward selects on data-dependent conditions that a branch would mispredict half the time.
let inline private choose<'T when 'T: struct> (c: bool) (x: 'T) (y: 'T) : 'T =
    if Unsafe.SizeOf<'T>() = 8 then
        let m = -(int64 (bit c))
        let a, b = Unsafe.BitCast<'T, int64> x, Unsafe.BitCast<'T, int64> y
        Unsafe.BitCast<int64, 'T>(b ^^^ ((a ^^^ b) &&& m))
    elif Unsafe.SizeOf<'T>() = 4 then
        let m = -(int (bit c))
        let a, b = Unsafe.BitCast<'T, int> x, Unsafe.BitCast<'T, int> y
        Unsafe.BitCast<int, 'T>(b ^^^ ((a ^^^ b) &&& m))
    elif c then x
    else y

/// Lanes at..at+w of a where row (an unchecked store): x where the condition's lane mask is set, else y.
let inline private selectLanes<'T when 'T: struct> (isFalse: Vector256<'T>) (x: ReadOnlySpan<'T>) (ix: int) (sx: Vector256<'T>) (y: ReadOnlySpan<'T>) (iy: int) (sy: Vector256<'T>) (d: Span<'T>) (at: int) =
    Vector256.ConditionalSelect(isFalse, lanesAt y iy sy at, lanesAt x ix sx at).StoreUnsafe(&MemoryMarshal.GetReference d, unativeint at)

/// A row of where with contiguous conditions and operands either contiguous (step 1) or one element
/// (step 0), for 4- and 8-byte elements: 32 bools at a time widened into lane masks, the rest by choose.
let private selectRow<'T when 'T: struct> (c: ReadOnlySpan<bool>) (x: ReadOnlySpan<'T>) (ix: int) (y: ReadOnlySpan<'T>) (iy: int) (d: Span<'T>) =
    let size = Unsafe.SizeOf<'T>()
    let mutable i = 0
    if Vector256.IsHardwareAccelerated && (size = 4 || size = 8) then
        let bytes = MemoryMarshal.Cast<bool, byte> c
        let sx, sy = splatOf x ix, splatOf y iy
        while i + 32 <= d.Length do
            let conditions: Vector256<byte> = Vector256.LoadUnsafe(&MemoryMarshal.GetReference bytes, unativeint i)
            let struct (low, high) = Vector256.Widen conditions
            let struct (m0, m1) = Vector256.Widen low
            let struct (m2, m3) = Vector256.Widen high
            if size = 4 then
                selectLanes (Vector256.Equals(m0, Vector256<uint32>.Zero).As<uint32, 'T>()) x ix sx y iy sy d i
                selectLanes (Vector256.Equals(m1, Vector256<uint32>.Zero).As<uint32, 'T>()) x ix sx y iy sy d (i + 8)
                selectLanes (Vector256.Equals(m2, Vector256<uint32>.Zero).As<uint32, 'T>()) x ix sx y iy sy d (i + 16)
                selectLanes (Vector256.Equals(m3, Vector256<uint32>.Zero).As<uint32, 'T>()) x ix sx y iy sy d (i + 24)
            else
                let struct (q0, q1) = Vector256.Widen m0
                let struct (q2, q3) = Vector256.Widen m1
                let struct (q4, q5) = Vector256.Widen m2
                let struct (q6, q7) = Vector256.Widen m3
                let zero = Vector256<uint64>.Zero
                selectLanes (Vector256.Equals(q0, zero).As<uint64, 'T>()) x ix sx y iy sy d i
                selectLanes (Vector256.Equals(q1, zero).As<uint64, 'T>()) x ix sx y iy sy d (i + 4)
                selectLanes (Vector256.Equals(q2, zero).As<uint64, 'T>()) x ix sx y iy sy d (i + 8)
                selectLanes (Vector256.Equals(q3, zero).As<uint64, 'T>()) x ix sx y iy sy d (i + 12)
                selectLanes (Vector256.Equals(q4, zero).As<uint64, 'T>()) x ix sx y iy sy d (i + 16)
                selectLanes (Vector256.Equals(q5, zero).As<uint64, 'T>()) x ix sx y iy sy d (i + 20)
                selectLanes (Vector256.Equals(q6, zero).As<uint64, 'T>()) x ix sx y iy sy d (i + 24)
                selectLanes (Vector256.Equals(q7, zero).As<uint64, 'T>()) x ix sx y iy sy d (i + 28)
            i <- i + 32
    while i < d.Length do
        d[i] <- choose c[i] x[ix * i] y[iy * i]
        i <- i + 1

let private select<'T when 'T: struct> (c: Tensor) (a: Tensor) (b: Tensor) (out: Tensor) =
    let cs, xs, ys, d = c.As<bool>(), a.As<'T>(), b.As<'T>(), out.As<'T>()
    let w = Broadcast.Rows.Rent()
    try
        w.Start(out.Shape.Dims, c.Shape.Dims, a.Shape.Dims, b.Shape.Dims)
        let len = w.RowLength
        let ic, ix, iy = w.Inner 0, w.Inner 1, w.Inner 2
        for _ in 1 .. w.RowCount do
            let o = w.OutOffset
            let mutable ci = w.Offset 0
            let mutable xi = w.Offset 1
            let mutable yi = w.Offset 2
            if ic = 1 && ix <= 1 && iy <= 1 then
                selectRow (ReadOnlySpan(cs, ci, len)) (ReadOnlySpan(xs, xi, (if ix = 0 then 1 else len))) ix (ReadOnlySpan(ys, yi, (if iy = 0 then 1 else len))) iy (Span(d, o, len))
            else
                for i in o .. o + len - 1 do
                    d[i] <- choose cs[ci] xs[xi] ys[yi]
                    ci <- ci + ic
                    xi <- xi + ix
                    yi <- yi + iy
            w.Advance()
    finally
        Broadcast.Rows.Return w

/// out = cond ? a : b elementwise with broadcasting over all three.
let where (c: Tensor) (a: Tensor) (b: Tensor) (out: Tensor) =
    match out.DType with
    | DType.Float64 -> select<float> c a b out
    | DType.Float32 -> select<float32> c a b out
    | DType.Int32 -> select<int> c a b out
    | DType.Bool -> select<bool> c a b out

let private broadcastCopy<'T> (src: 'T[]) (srcDims: int[]) (dst: 'T[]) (dstDims: int[]) =
    if src.Length = dst.Length then Array.blit src 0 dst 0 src.Length
    elif src.Length = 1 then Array.fill dst 0 dst.Length src[0]
    else
        let w = Broadcast.Rows.Rent()
        try
            w.Start(dstDims, srcDims, null, null)
            let len = w.RowLength
            for _ in 1 .. w.RowCount do
                if w.Inner 0 = 1 then Array.blit src (w.Offset 0) dst w.OutOffset len
                else Array.fill dst w.OutOffset len src[w.Offset 0]
                w.Advance()
        finally
            Broadcast.Rows.Return w

/// Copies x into out, broadcasting x to out's shape.
let broadcastInto (x: Tensor) (out: Tensor) =
    match x.Data, out.Data with
    | (:? (float[]) as s), (:? (float[]) as d) -> broadcastCopy s x.Shape.Dims d out.Shape.Dims
    | (:? (float32[]) as s), (:? (float32[]) as d) -> broadcastCopy s x.Shape.Dims d out.Shape.Dims
    | (:? (int[]) as s), (:? (int[]) as d) -> broadcastCopy s x.Shape.Dims d out.Shape.Dims
    | (:? (bool[]) as s), (:? (bool[]) as d) -> broadcastCopy s x.Shape.Dims d out.Shape.Dims
    | _ -> unsupported "broadcast" x

/// out = x converted to out's dtype: floats to int32 truncate toward zero and saturate (NaN gives 0),
/// numbers to bool test for non-zero (NaN gives true), bool to numbers gives 1 or 0.
let cast (x: Tensor) (out: Tensor) =
    let inline toBool (src: 'T[]) (d: bool[]) = for i in 0 .. src.Length - 1 do d[i] <- src[i] <> LanguagePrimitives.GenericZero
    let inline ofBool (src: bool[]) (d: 'T[]) = for i in 0 .. src.Length - 1 do d[i] <- if src[i] then LanguagePrimitives.GenericOne else LanguagePrimitives.GenericZero
    match x.Data, out.Data with
    | (:? (float[]) as s), (:? (float[]) as d) -> Array.blit s 0 d 0 s.Length
    | (:? (float32[]) as s), (:? (float32[]) as d) -> Array.blit s 0 d 0 s.Length
    | (:? (int[]) as s), (:? (int[]) as d) -> Array.blit s 0 d 0 s.Length
    | (:? (bool[]) as s), (:? (bool[]) as d) -> Array.blit s 0 d 0 s.Length
    | (:? (float[]) as s), (:? (float32[]) as d) -> Tensors.TensorPrimitives.ConvertTruncating<float, float32>(ReadOnlySpan s, Span d)
    | (:? (float32[]) as s), (:? (float[]) as d) -> Tensors.TensorPrimitives.ConvertTruncating<float32, float>(ReadOnlySpan s, Span d)
    | (:? (int[]) as s), (:? (float[]) as d) -> Tensors.TensorPrimitives.ConvertTruncating<int, float>(ReadOnlySpan s, Span d)
    | (:? (int[]) as s), (:? (float32[]) as d) -> Tensors.TensorPrimitives.ConvertTruncating<int, float32>(ReadOnlySpan s, Span d)
    | (:? (float[]) as s), (:? (int[]) as d) -> Tensors.TensorPrimitives.ConvertSaturating<float, int>(ReadOnlySpan s, Span d)
    | (:? (float32[]) as s), (:? (int[]) as d) -> Tensors.TensorPrimitives.ConvertSaturating<float32, int>(ReadOnlySpan s, Span d)
    | (:? (float[]) as s), (:? (bool[]) as d) -> toBool s d
    | (:? (float32[]) as s), (:? (bool[]) as d) -> toBool s d
    | (:? (int[]) as s), (:? (bool[]) as d) -> toBool s d
    | (:? (bool[]) as s), (:? (float[]) as d) -> ofBool s d
    | (:? (bool[]) as s), (:? (float32[]) as d) -> ofBool s d
    | (:? (bool[]) as s), (:? (int[]) as d) -> ofBool s d
    | _ -> unsupported "cast" x

/// mulNoNan with a span of a (aIsSpan) or the scalar aScalar, from element i on: whole vectors of like's
/// width select +0 where g is ±0 (its definition, element by element); returns where they stopped.
let inline private mulNoNanLanes (like: ^V) (a: ReadOnlySpan<'T>) (aScalar: 'T) (aIsSpan: bool) (g: ReadOnlySpan<'T>) (d: Span<'T>) (zeroT: 'T) =
    let w = V.count like
    let zero = V.splat like zeroT
    let mutable i = 0
    if aIsSpan then
        while i <= d.Length - w do
            let vg = V.load like g i
            V.store (V.select (V.equal vg zero) zero (V.load like a i * vg)) d i
            i <- i + w
    else
        let va = V.splat like aScalar
        while i <= d.Length - w do
            let vg = V.load like g i
            V.store (V.select (V.equal vg zero) zero (va * vg)) d i
            i <- i + w
    i

let inline private mulNoNanSpans (a: ReadOnlySpan< ^T >) (aScalar: ^T) (aIsSpan: bool) (g: ReadOnlySpan< ^T >) (d: Span< ^T >) (wide: ^W) (narrow: ^N) (least: ^L) (zeroT: ^T) =
    if g.Length <> d.Length || (aIsSpan && a.Length <> d.Length) then invalidArg "d" "mulNoNan kernel: spans of different lengths"
    let mutable i =
        if V.Width.Wide then mulNoNanLanes wide a aScalar aIsSpan g d zeroT
        elif V.Width.Narrow then mulNoNanLanes narrow a aScalar aIsSpan g d zeroT
        elif V.Width.Least then mulNoNanLanes least a aScalar aIsSpan g d zeroT
        else 0
    while i < d.Length do
        let x = if aIsSpan then a[i] else aScalar
        d[i] <- if g[i] = zeroT then zeroT else x * g[i]
        i <- i + 1

/// mulNoNan for float64 or float32 spans (a span of a, or the scalar aScalar).
let private mulNoNanOf<'T> (a: ReadOnlySpan<'T>) (aScalar: 'T) (aIsSpan: bool) (g: ReadOnlySpan<'T>) (d: Span<'T>) =
    let mutable scalar = aScalar
    if V.is<'T, float> then
        mulNoNanSpans (V.readAs<'T, float> a) (Unsafe.As<'T, float> &scalar) aIsSpan (V.readAs<'T, float> g) (V.writeAs<'T, float> d) Vector512<float>.Zero Vector256<float>.Zero Vector128<float>.Zero 0.0
    elif V.is<'T, float32> then
        mulNoNanSpans (V.readAs<'T, float32> a) (Unsafe.As<'T, float32> &scalar) aIsSpan (V.readAs<'T, float32> g) (V.writeAs<'T, float32> d) Vector512<float32>.Zero Vector256<float32>.Zero Vector128<float32>.Zero 0.0f
    else invalidOp (sprintf "mulNoNan kernel has no %s implementation" typeof<'T>.Name)

/// a·g, except that an exact zero g (+0 or -0) gives +0 even where a is ±∞ or NaN. One-sided: a zero
/// a times a non-finite g is IEEE's NaN, so a zero local derivative never hides a non-finite cotangent.
let mulNoNan =
    { new FloatBinary with
        member _.SS<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged>(a: ReadOnlySpan<'T>, b: ReadOnlySpan<'T>, d: Span<'T>) =
            mulNoNanOf a 'T.Zero true b d
        member _.ST<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged>(a: ReadOnlySpan<'T>, b: 'T, d: Span<'T>) =
            if 'T.IsZero b then d.Clear() else Tensors.TensorPrimitives.Multiply(a, b, d)
        member _.TS<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged>(a: 'T, b: ReadOnlySpan<'T>, d: Span<'T>) =
            mulNoNanOf ReadOnlySpan<'T>.Empty a false b d }
