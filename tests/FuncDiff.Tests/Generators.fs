/// FsCheck generators for shapes and tensors: scalars, broadcasting pairs, size-0 axes, and values
/// drawn from a primitive's own domain.
module FuncDiff.Tests.Generators

open System
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Testing

let private size (dims: int[]) = Array.fold (*) 1 dims

/// n values from one generator.
let arrayOfLength (n: int) (g: Gen<'T>) : Gen<'T[]> = Gen.sequenceToArray (Array.replicate n g)

/// A float64 tensor of the shape with values from the domain (FuncDiff.Testing's generator, as users get it).
let tensor (d: Domain) (dims: int[]) : Gen<Tensor> = Generate.tensor d (List.ofArray dims)

/// An int32 tensor with values in [lo, hi].
let ints (lo: int) (hi: int) (dims: int[]) : Gen<Tensor> =
    arrayOfLength (size dims) (Gen.choose (lo, hi)) |> Gen.map (Tensor.ofData dims)

/// A bool tensor.
let bools (dims: int[]) : Gen<Tensor> =
    arrayOfLength (size dims) (Gen.elements [ true; false ]) |> Gen.map (Tensor.ofData dims)

/// A dimension: mostly 2 or 3, sometimes 1 (broadcasting) and occasionally 0 (empty tensors).
let dim = Generate.dim true

/// A dimension of at least 1.
let positiveDim = Gen.frequency [ 1, Gen.constant 1; 4, Gen.choose (2, 3) ]

/// A shape of rank lo to hi.
let shapeOfRank (lo: int) (hi: int) : Gen<int[]> = Generate.shapeWithEmpty lo hi |> Gen.map Array.ofList

/// A shape of rank 0 to 3.
let shape = shapeOfRank 0 3

/// A shape that broadcasts to dims: some leading axes dropped, some axes replaced by 1.
let broadcastableTo (dims: int[]) : Gen<int[]> = Generate.broadcastableTo (List.ofArray dims) |> Gen.map Array.ofList

/// A subset of the axes of a rank, in random order.
let axesOf (rank: int) : Gen<int list> =
    Gen.subListOf [ 0 .. rank - 1 ] |> Gen.bind Gen.shuffle |> Gen.map List.ofSeq

/// Float64 values of every kind: ±0, ±∞, nan and -nan, subnormals, the extremes, and random bit patterns
/// (so every exponent). A NaN is one of the two that literals write: payloads are not kept by text.
let anyFloat64 : Gen<float> =
    let specials = [ 0.0; -0.0; infinity; -infinity; nan; -nan; 5e-324; -5e-324; 2.2250738585072009e-308; 1e-310
                     Double.MaxValue; -Double.MaxValue; Double.MinValue; 0.1; 1.0 / 3.0; 1e21; 123456.789 ]
    let bits = Gen.choose64 (Int64.MinValue, Int64.MaxValue) |> Gen.map BitConverter.Int64BitsToDouble
    Gen.frequency [ 1, Gen.elements specials; 2, bits ]
    |> Gen.map (fun v -> if Double.IsNaN v then (if Double.IsNegative v = Double.IsNegative nan then nan else -nan) else v)

/// Float32 values of every kind, as anyFloat64.
let anyFloat32 : Gen<float32> =
    let specials = [ 0.0f; -0.0f; infinityf; -infinityf; nanf; -nanf; 1e-45f; -1e-45f; 1.17549435e-38f; 1e-40f
                     Single.MaxValue; Single.MinValue; 0.1f; 1.0f / 3.0f; 16777217.0f ]
    let bits = Gen.choose (Int32.MinValue, Int32.MaxValue) |> Gen.map BitConverter.Int32BitsToSingle
    Gen.frequency [ 1, Gen.elements specials; 2, bits ]
    |> Gen.map (fun v -> if Single.IsNaN v then (if Single.IsNegative v = Single.IsNegative nanf then nanf else -nanf) else v)

/// A tensor of any dtype and shape (scalars, empty axes) holding any values of its dtype, int32 limits included.
let anyTensor : Gen<Tensor> =
    gen {
        let! dims = shape
        let n = size dims
        let! dtype = Gen.elements DType.all
        match dtype with
        | DType.Float64 -> return! arrayOfLength n anyFloat64 |> Gen.map (Tensor.ofData dims)
        | DType.Float32 -> return! arrayOfLength n anyFloat32 |> Gen.map (Tensor.ofData dims)
        | DType.Int32 ->
            let ints = Gen.frequency [ 1, Gen.elements [ Int32.MinValue; Int32.MaxValue; 0; -1 ]; 3, Gen.choose (Int32.MinValue, Int32.MaxValue) ]
            return! arrayOfLength n ints |> Gen.map (Tensor.ofData dims)
        | DType.Bool -> return! bools dims
    }
