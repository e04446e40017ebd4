/// Tensor shapes.
[<AutoOpen>]
module FuncDiff.Shapes

open System
open System.Collections.Generic

/// The dimensions of a tensor, outermost first (row-major). Immutable; equal when the dimensions are.
/// A shape of rank 0 is a scalar; a dimension may be 0 (an empty tensor).
[<Sealed; AllowNullLiteral(false)>]
type Shape private (dims: int[]) =
    static let scalar = Shape([||])

    /// The raw dimensions. Never mutated: every Shape owns its array.
    member internal _.Dims = dims

    /// Number of dimensions.
    member _.Rank = dims.Length

    /// The size of dimension i.
    member _.Item with get (i: int) = dims[i]

    /// Number of elements: the product of the dimensions (1 for a scalar).
    member _.Size =
        let mutable n = 1
        for d in dims do n <- n * d
        n

    /// True for rank 0.
    member _.IsScalar = dims.Length = 0

    /// A copy of the dimensions.
    member _.ToArray() = Array.copy dims

    /// The dimensions as an F# list.
    member _.ToList() = List.ofArray dims

    /// The shape of a scalar.
    static member Scalar = scalar

    /// The most elements a tensor can hold: the longest array .NET allocates.
    static member MaxElements = int64 Array.MaxLength

    /// The element count of dims as a 64-bit product that cannot overflow: dimensions are at most
    /// 2³¹ - 1, so the running product is checked against MaxElements before it could pass 2⁶³.
    /// None when the count exceeds MaxElements.
    static member internal TryCount(dims: int[]) =
        if Array.contains 0 dims then Some 0L
        else
            let mutable n = 1L
            let mutable fits = true
            for d in dims do
                if fits then
                    n <- n * int64 d
                    fits <- n <= Shape.MaxElements
            if fits then Some n else None

    /// A shape from its dimensions: the one constructor every shape goes through. Each dimension must
    /// be non-negative and the element count at most MaxElements.
    static member Of(dims: seq<int>) =
        let dims = Seq.toArray dims
        for i in 0 .. dims.Length - 1 do
            if dims[i] < 0 then
                raise (ExprException(sprintf "shape %s: dimension %d is negative" (Shape.Text dims) i))
        match Shape.TryCount dims with
        | Some _ -> Shape(dims)
        | None ->
            let count = dims |> Array.fold (fun acc d -> acc * bigint d) 1I
            raise (ExprException(sprintf "shape %s has %O elements, more than a tensor can hold (at most %d)" (Shape.Text dims) count Shape.MaxElements))

    /// A shape from dimensions computed in 64 bits (sums and products of sizes), refusing a dimension
    /// past Int32.MaxValue instead of letting it wrap.
    static member internal OfLarge(dims: int64[]) =
        match dims |> Array.tryFindIndex (fun d -> d > int64 Int32.MaxValue) with
        | Some i ->
            raise (ExprException(sprintf "shape [%s]: dimension %d has size %d, more than a tensor can hold" (String.Join(", ", dims)) i dims[i]))
        | None -> Shape.Of(dims |> Array.map int)

    static member internal Text(dims: int[]) = "[" + String.Join(", ", dims) + "]"

    /// "[2, 3]"; "[]" for a scalar.
    override _.ToString() = Shape.Text dims

    override _.Equals(other: obj) =
        match other with
        | :? Shape as s -> obj.ReferenceEquals(s.Dims, dims) || s.Dims.AsSpan().SequenceEqual(ReadOnlySpan dims)
        | _ -> false

    override _.GetHashCode() =
        let mutable h = HashCode()
        for d in dims do h.Add d
        h.ToHashCode()

    interface IEquatable<Shape> with
        member s.Equals(other: Shape) = s.Equals(box other)

    interface IReadOnlyList<int> with
        member _.Count = dims.Length
        member _.Item with get (i: int) = dims[i]
        member _.GetEnumerator() : IEnumerator<int> = (dims :> seq<int>).GetEnumerator()
        member _.GetEnumerator() : Collections.IEnumerator = dims.GetEnumerator()

/// Shape arithmetic shared by shape rules and kernels.
module internal ShapeMath =

    /// Row-major strides of dims (in elements).
    let strides (dims: int[]) =
        let s = Array.zeroCreate dims.Length
        let mutable acc = 1
        for i in dims.Length - 1 .. -1 .. 0 do
            s[i] <- acc
            acc <- acc * dims[i]
        s

    /// The multi-index of a row-major flat position, as messages write it: "[1, 0, 2]".
    let indexText (dims: int[]) (flat: int) =
        let index = Array.zeroCreate dims.Length
        let mutable rest = flat
        for i in dims.Length - 1 .. -1 .. 0 do
            if dims[i] > 0 then
                index[i] <- rest % dims[i]
                rest <- rest / dims[i]
        "[" + String.Join(", ", index) + "]"

    /// NumPy broadcasting of two shapes, or a message saying where they disagree.
    let tryBroadcast (a: Shape) (b: Shape) : Result<Shape, string> =
        let ad, bd = a.Dims, b.Dims
        let rank = max ad.Length bd.Length
        let out = Array.zeroCreate rank
        let mutable error = None
        for i in 0 .. rank - 1 do
            let da = if i < rank - ad.Length then 1 else ad[i - (rank - ad.Length)]
            let db = if i < rank - bd.Length then 1 else bd[i - (rank - bd.Length)]
            if da = db || db = 1 then out[i] <- da
            elif da = 1 then out[i] <- db
            elif error.IsNone then
                error <- Some (sprintf "cannot broadcast shapes %O and %O (axis %d of the result: %d vs %d)" a b (i - rank) da db)
        match error with
        | Some e -> Error e
        | None -> Ok (Shape.Of out)

    /// True when a broadcasts to target under NumPy rules.
    let broadcastsTo (a: Shape) (target: Shape) =
        match tryBroadcast a target with
        | Ok s -> s = target
        | Error _ -> false

    /// An axis in [-rank, rank) as a non-negative index, or a message.
    let tryNormalizeAxis (rank: int) (axis: int) =
        if axis >= -rank && axis < rank then Ok (if axis < 0 then axis + rank else axis)
        else Error (sprintf "axis %d is out of range for rank %d (valid: %d to %d)" axis rank -rank (rank - 1))
