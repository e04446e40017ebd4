/// Functions that create and read tensors.
[<AutoOpen>]
module FuncDiff.TensorFunctions

open System
open System.Collections
open FuncDiff.Core

/// Creating and reading tensors. Every function copies its input: a tensor never shares storage
/// with an array the caller can still change.
[<RequireQualifiedAccess; CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Tensor =

    let private shapeOf (dims: seq<int>) = Shape.Of dims

    /// A tensor of the given shape from row-major data; 'T is float, float32, int or bool.
    let ofData<'T> (shape: seq<int>) (data: 'T[]) : Tensor =
        let shape = shapeOf shape
        if data.Length <> shape.Size then
            raise (FuncDiffException(sprintf "%d values do not fill shape %O (%d elements)" data.Length shape shape.Size))
        Tensor(shape, Tensor.DTypeOf<'T>(), Array.copy data)

    /// A 1-D tensor from an array; 'T is float, float32, int or bool.
    let ofArray<'T> (data: 'T[]) = ofData [ data.Length ] data

    /// A 2-D tensor from a rectangular array.
    let ofArray2D<'T> (data: 'T[,]) =
        let rows, cols = Array2D.length1 data, Array2D.length2 data
        ofData [ rows; cols ] (Array.init (rows * cols) (fun i -> data[i / cols, i % cols]))

    /// A rank-0 float64 tensor.
    let scalar (value: float) = ofData [] [| value |]

    /// A tensor from nested arrays, lists or sequences of numbers or booleans, e.g.
    /// <c>Tensor.create [[1.0; 2.0]; [3.0; 4.0]]</c>. The dtype follows the elements: float gives
    /// float64, float32 gives float32, int gives int32, bool gives bool; ints mixed with floats give float64.
    /// Ragged nesting is an error naming the path where lengths differ.
    let create (values: obj) : Tensor =
        let (|Leaf|Items|) (v: obj) =
            match v with
            | :? float | :? float32 | :? int | :? bool -> Leaf v
            | :? string -> raise (FuncDiffException(sprintf "cannot make a tensor from the string %A" v))
            | :? IEnumerable as items -> Items [ for x in items -> x ]
            | null -> raise (FuncDiffException "cannot make a tensor from null")
            | _ -> raise (FuncDiffException(sprintf "cannot make a tensor from a value of type %s" (v.GetType().Name)))
        // The first path to a leaf fixes the shape; every other path is checked against it.
        let rec dimsOf v =
            match v with
            | Leaf _ -> []
            | Items items -> items.Length :: (match items with first :: _ -> dimsOf first | [] -> [])
        let dims = dimsOf values
        let leaves = ResizeArray<obj>()
        let rec flatten (path: int list) (expected: int list) v =
            let at () = "[" + String.Join(", ", List.rev path) + "]"
            match expected, v with
            | [], Leaf x -> leaves.Add x
            | n :: rest, Items items when items.Length = n -> items |> List.iteri (fun i x -> flatten (i :: path) rest x)
            | n :: _, Items items -> raise (FuncDiffException(sprintf "ragged nesting: %d elements at %s where %d were expected" items.Length (at ()) n))
            | [], Items _ -> raise (FuncDiffException(sprintf "ragged nesting: a sequence at %s where a number was expected" (at ())))
            | _ :: _, Leaf _ -> raise (FuncDiffException(sprintf "ragged nesting: a number at %s where a sequence was expected" (at ())))
        flatten [] dims values
        let all f = leaves.Count > 0 && leaves |> Seq.forall f
        if all (fun v -> v :? bool) then ofData dims [| for v in leaves -> v :?> bool |]
        elif all (fun v -> v :? int) then ofData dims [| for v in leaves -> v :?> int |]
        elif all (fun v -> v :? float32) then ofData dims [| for v in leaves -> v :?> float32 |]
        elif leaves |> Seq.exists (fun v -> v :? bool) then raise (FuncDiffException "cannot mix booleans and numbers in one tensor")
        else ofData dims [| for v in leaves -> Convert.ToDouble v |]

    /// A float64 tensor filled with value.
    let full (shape: seq<int>) (value: float) =
        let shape = shapeOf shape
        Tensor(shape, DType.Float64, Array.create shape.Size value)

    /// A float64 tensor of zeros.
    let zeros (shape: seq<int>) = full shape 0.0

    /// A float64 tensor of ones.
    let ones (shape: seq<int>) = full shape 1.0

    /// The element count of a range, refused past what a tensor can hold (not left to Array.init).
    let private rangeCount (what: string) (n: float) =
        if n > float Shape.MaxElements then
            raise (FuncDiffException(sprintf "%s: %.17g elements, more than a tensor can hold (at most %d)" what n Shape.MaxElements))
        max 0 (int n)

    /// Evenly spaced float64 values start, start + step, … below stop (NumPy arange).
    let arange (start: float) (stop: float) (step: float) =
        let what = sprintf "arange(%s, %s, %s)" (Format.number start) (Format.number stop) (Format.number step)
        if step = 0.0 || not (Double.IsFinite step) then raise (FuncDiffException(what + ": step must be finite and non-zero"))
        if not (Double.IsFinite start && Double.IsFinite stop) then raise (FuncDiffException(what + ": start and stop must be finite"))
        let n = rangeCount what (ceil ((stop - start) / step))
        ofArray (Array.init n (fun i -> start + float i * step))

    /// n evenly spaced float64 values from start to stop inclusive, as libtorch computes them: the first
    /// half counted from start, the second from stop, so both ends are exact and a range symmetric about 0
    /// gives values symmetric to the bit but for the middle point of an odd count (NumPy counts every
    /// value from start).
    let linspace (start: float) (stop: float) (n: int) =
        if n < 0 then raise (FuncDiffException(sprintf "linspace: count %d is negative" n))
        let n = rangeCount (sprintf "linspace(%s, %s, %d)" (Format.number start) (Format.number stop) n) (float n)
        if n = 1 then ofArray [| start |]
        else
            let step = (stop - start) / float (n - 1)
            ofArray (Array.init n (fun i -> if i < n / 2 then start + float i * step else stop - float (n - 1 - i) * step))

    /// Float64 samples of the standard normal distribution, reproducible from the seed.
    let randn (seed: int) (shape: seq<int>) =
        let shape = shapeOf shape
        let g = Random.Generator(int64 seed)
        Tensor(shape, DType.Float64, Array.init shape.Size (fun _ -> g.NextNormal()))

    /// Float64 samples uniform on [0, 1), reproducible from the seed.
    let rand (seed: int) (shape: seq<int>) =
        let shape = shapeOf shape
        let g = Random.Generator(int64 seed)
        Tensor(shape, DType.Float64, Array.init shape.Size (fun _ -> g.NextUniform()))

    /// The elements converted to another dtype: float to int32 truncates toward zero and saturates
    /// (NaN gives 0); numbers to bool test for non-zero (NaN gives true); bool to numbers gives 1 or 0.
    let cast (dtype: DType) (t: Tensor) : Tensor =
        if dtype = t.DType then t
        else
            let out = Tensor.Empty(t.Shape, dtype)
            Kernels.Elementwise.cast t out
            out

    /// True when a and b have one shape and every pair of elements is close, as NumPy's allclose:
    /// |a - b| ≤ atol + rtol·|b| (so not symmetric in a and b), compared in float64 whatever the dtypes.
    /// Equal infinities are close; NaN is close to nothing (NaN and NaN too). Different shapes are an
    /// error naming both, not false, so a shape mistake is not read as a numerical one.
    let allClose (rtol: float) (atol: float) (a: Tensor) (b: Tensor) =
        if not (a.Shape.Equals b.Shape) then
            raise (FuncDiffException(sprintf "allClose: shapes differ: %O and %O" a.Shape b.Shape))
        if not (rtol >= 0.0 && atol >= 0.0) then
            raise (FuncDiffException(sprintf "allClose: tolerances must be non-negative numbers, got rtol=%g, atol=%g" rtol atol))
        // An infinity is close only to itself: atol + rtol·∞ would make every finite number close to it.
        Array.forall2 (fun (x: float) y -> x = y || (Double.IsFinite x && Double.IsFinite y && abs (x - y) <= atol + rtol * abs y)) (a.ToFloat64Array()) (b.ToFloat64Array())

    /// A copy of the elements as float64, row-major.
    let toArray (t: Tensor) = t.ToFloat64Array()
