/// FsCheck generators for FuncDiff: shapes (with broadcasting partners and, on request, empty axes),
/// tensors of a dtype over a value domain, and bindings for every input of an expression.
module FuncDiff.Testing.Generate

open System
open FsCheck
open FsCheck.FSharp
open FuncDiff

/// A dimension: mostly 2 or 3, sometimes 1 (so broadcasting is exercised), and 0 only when allowEmpty.
let dim (allowEmpty: bool) =
    Gen.frequency [ (if allowEmpty then 1 else 0), Gen.constant 0; 3, Gen.constant 1; 12, Gen.choose (2, 3) ]

/// A shape of rank lo to hi, without empty axes.
let shape (lo: int) (hi: int) : Gen<int list> =
    Gen.choose (lo, hi) |> Gen.bind (fun r -> Gen.listOfLength r (dim false))

/// A shape of rank lo to hi whose axes may be empty (size 0).
let shapeWithEmpty (lo: int) (hi: int) : Gen<int list> =
    Gen.choose (lo, hi) |> Gen.bind (fun r -> Gen.listOfLength r (dim true))

/// A shape that broadcasts to dims (NumPy rules): some leading axes dropped, some axes replaced by 1.
let broadcastableTo (dims: int list) : Gen<int list> =
    gen {
        let! drop = Gen.choose (0, dims.Length)
        return! dims |> List.skip drop |> List.map (fun d -> Gen.frequency [ 3, Gen.constant d; 1, Gen.constant 1 ]) |> Gen.sequenceToList
    }

/// Two shapes that broadcast together, each of rank at most hi.
let broadcastPair (hi: int) : Gen<int list * int list> =
    gen {
        let! out = shape 0 hi
        let! a = broadcastableTo out
        let! b = broadcastableTo out
        return a, b
    }

/// count values of a domain, reproducible from FsCheck's seed.
let values (domain: Domain) (count: int) : Gen<float[]> =
    Gen.choose (0, Int32.MaxValue) |> Gen.map (fun seed -> let r = Random seed in domain.Draw(count, r.NextDouble))

/// A float64 tensor of the shape with values from the domain.
let tensor (domain: Domain) (dims: int list) : Gen<Tensor> =
    values domain (List.fold (*) 1 dims) |> Gen.map (Tensor.ofData dims)

/// A tensor of the dtype and shape: floats from the domain (float32 rounded from them), int32 values
/// rounded from the domain, bools at random.
let tensorOf (dtype: DType) (domain: Domain) (dims: int list) : Gen<Tensor> =
    match dtype with
    | DType.Float64 -> tensor domain dims
    | DType.Float32 -> tensor domain dims |> Gen.map (Tensor.cast DType.Float32)
    | DType.Int32 -> values domain (List.fold (*) 1 dims) |> Gen.map (Array.map (fun v -> int (Math.Round v)) >> Tensor.ofData dims)
    | DType.Bool -> Gen.listOfLength (List.fold (*) 1 dims) (Gen.elements [ true; false ]) |> Gen.map (Array.ofList >> Tensor.ofData dims)

/// Bindings for every input of output (by name), each of its declared shape and dtype, values from the domain.
let bindings (domain: Domain) (output: Expr) : Gen<(string * Tensor) list> =
    inputsOf output
    |> List.map (fun x -> tensorOf x.DType domain (x.Shape.ToList()) |> Gen.map (fun t -> string x, t))
    |> Gen.sequenceToList
