/// The tensor type.
[<AutoOpen>]
module FuncDiff.Tensors

open System
open System.Runtime.InteropServices
open FuncDiff.Core

/// A dense row-major tensor of float64, float32, bool or int32 elements.
/// Immutable to users: no public member changes a tensor once it has been handed out. The one exception
/// is a result a workspace lends (IsLent): its next run overwrites it; Copy keeps its values.
/// Two tensors are equal when shape, dtype and every element agree bit for bit (so NaN equals NaN).
[<Sealed; AllowNullLiteral(false)>]
type Tensor internal (shape: Shape, dtype: DType, data: Array) =

    /// The storage for a dtype: float[], float32[], bool[] or int[].
    static member internal Allocate(dtype: DType, size: int) : Array =
        try
            match dtype with
            | DType.Float64 -> Array.zeroCreate<float> size
            | DType.Float32 -> Array.zeroCreate<float32> size
            | DType.Bool -> Array.zeroCreate<bool> size
            | DType.Int32 -> Array.zeroCreate<int> size
        with :? OutOfMemoryException as e ->
            raise (EvaluationException(sprintf "out of memory allocating a %O tensor of %d elements (%d MiB)" dtype size (int64 size * int64 dtype.ByteSize / 1048576L), e))

    /// The dtype whose storage is 'T.
    static member internal DTypeOf<'T>() =
        if typeof<'T> = typeof<float> then DType.Float64
        elif typeof<'T> = typeof<float32> then DType.Float32
        elif typeof<'T> = typeof<bool> then DType.Bool
        elif typeof<'T> = typeof<int> then DType.Int32
        else raise (ArgumentException(sprintf "%s is not a tensor element type (use float, float32, bool or int)" typeof<'T>.Name))

    /// A zero-filled tensor, written once by a kernel before anyone else sees it.
    static member internal Empty(shape: Shape, dtype: DType) = Tensor(shape, dtype, Tensor.Allocate(dtype, shape.Size))

    /// The shape.
    member _.Shape = shape
    /// The element type.
    member _.DType = dtype
    /// Number of dimensions.
    member _.Rank = shape.Rank
    /// Number of elements.
    member _.Size = data.Length

    /// The storage array; kernels read it and write it only while building a fresh tensor.
    member internal _.Data = data
    /// Set on a workspace's tensors, which its next run overwrites: whatever keeps a tensor (a constant
    /// in a graph) copies such a one first.
    member val internal Lent = false with get, set
    /// True for a result a compiled plan's workspace lends: its next run overwrites the elements (and so this
    /// tensor's value equality and hash). Copy gives a tensor of one's own.
    member t.IsLent = t.Lent
    /// A tensor of its own with the same shape, dtype and elements.
    member _.Copy() = Tensor(shape, dtype, data.Clone() :?> Array)
    /// The storage as 'T[]; 'T must match the dtype.
    member internal _.As<'T>() = data :?> 'T[]

    /// A copy of the elements in row-major order; 'T must be the storage type of the dtype
    /// (float for float64, float32, bool, int for int32).
    member t.ToArray<'T>() : 'T[] =
        match data with
        | :? ('T[]) as a -> Array.copy a
        | _ -> raise (FuncDiffException(sprintf "cannot read a %O tensor as %s[]; read it as its own element type or cast it first" dtype typeof<'T>.Name))

    /// The elements in row-major order converted to float64 (true = 1, false = 0).
    member _.ToFloat64Array() : float[] =
        match data with
        | :? (float[]) as a -> Array.copy a
        | :? (float32[]) as a -> Array.map float a
        | :? (int[]) as a -> Array.map float a
        | :? (bool[]) as a -> Array.map (fun b -> if b then 1.0 else 0.0) a
        | _ -> invalidOp "unsupported tensor storage"

    /// The single element of a tensor with one element, as float64.
    member t.ToScalar() : float =
        if data.Length <> 1 then
            raise (FuncDiffException(sprintf "ToScalar needs a tensor with one element, this one has shape %O" shape))
        t.ToFloat64Array()[0]

    /// The element at a multi-index, as float64.
    member t.Item
        with get (indices: int[]) : float =
            if indices.Length <> shape.Rank then
                raise (FuncDiffException(sprintf "index of length %d for a tensor of shape %O" indices.Length shape))
            let mutable flat = 0
            for i in 0 .. indices.Length - 1 do
                let d = shape[i]
                let k = indices[i]
                if k < 0 || k >= d then
                    raise (FuncDiffException(sprintf "index %d is out of range for axis %d of shape %O" k i shape))
                flat <- flat * d + k
            match data with
            | :? (float[]) as a -> a[flat]
            | :? (float32[]) as a -> float a[flat]
            | :? (int[]) as a -> float a[flat]
            | :? (bool[]) as a -> if a[flat] then 1.0 else 0.0
            | _ -> invalidOp "unsupported tensor storage"

    /// NumPy-like text, e.g. tensor([[1., 2.], [3., 4.]]); a dtype note follows unless float64.
    override _.ToString() = Format.tensor shape.Dims dtype.Name data

    override _.Equals(other: obj) =
        match other with
        | :? Tensor as t ->
            t.DType = dtype && t.Shape = shape
            && (match data, t.Data with
                // Bitwise, so NaN equals NaN and a constant always equals itself.
                | (:? (float[]) as a), (:? (float[]) as b) ->
                    MemoryExtensions.SequenceEqual(MemoryMarshal.Cast<float, int64>(ReadOnlySpan a), MemoryMarshal.Cast<float, int64>(ReadOnlySpan b))
                | (:? (float32[]) as a), (:? (float32[]) as b) ->
                    MemoryExtensions.SequenceEqual(MemoryMarshal.Cast<float32, int>(ReadOnlySpan a), MemoryMarshal.Cast<float32, int>(ReadOnlySpan b))
                | (:? (int[]) as a), (:? (int[]) as b) -> MemoryExtensions.SequenceEqual(ReadOnlySpan a, ReadOnlySpan b)
                | (:? (bool[]) as a), (:? (bool[]) as b) -> MemoryExtensions.SequenceEqual(ReadOnlySpan a, ReadOnlySpan b)
                | _ -> false)
        | _ -> false

    override _.GetHashCode() =
        let mutable h = HashCode()
        h.Add(shape.GetHashCode())
        h.Add(dtype.GetHashCode())
        match data with
        | :? (float[]) as a -> for v in a do h.Add(BitConverter.DoubleToInt64Bits v)
        | :? (float32[]) as a -> for v in a do h.Add(BitConverter.SingleToInt32Bits v)
        | :? (int[]) as a -> for v in a do h.Add v
        | :? (bool[]) as a -> for v in a do h.Add v
        | _ -> ()
        h.ToHashCode()

    interface IEquatable<Tensor> with
        member t.Equals(other: Tensor) = t.Equals(box other)
