/// Shrinkers: a failing case becomes a smaller shape and simpler values that still fail, so the
/// counterexample FsCheck prints is one a person can check by hand.
module FuncDiff.Testing.Shrink

open FsCheck
open FsCheck.FSharp
open FuncDiff

/// Smaller shapes: an axis dropped, or a dimension made 1 (or 0 → kept).
let shape (dims: int list) : seq<int list> =
    seq {
        for i in 0 .. dims.Length - 1 do yield List.removeAt i dims
        for i in 0 .. dims.Length - 1 do if dims[i] > 1 then yield List.updateAt i 1 dims
    }

/// The tensor with one element made simpler (Domain.Simpler), one candidate at a time.
let tensor (domain: Domain) (t: Tensor) : seq<Tensor> =
    let values = t.ToFloat64Array()
    let dims = t.Shape.ToList()
    seq {
        for i in 0 .. values.Length - 1 do
            for simpler in domain.Simpler values[i] do
                let changed = Array.updateAt i simpler values
                yield (match t.DType with
                       | DType.Float64 -> Tensor.ofData dims changed
                       | other -> Tensor.cast other (Tensor.ofData dims changed))
    }

/// Bindings with one tensor's values made simpler (shapes are the expression's, so they stay).
let bindings (domain: Domain) (bound: (string * Tensor) list) : seq<(string * Tensor) list> =
    seq {
        for k, (name, t) in List.indexed bound do
            if t.DType.IsFloat then
                for simpler in tensor domain t do yield List.updateAt k (name, simpler) bound
    }

/// Bindings for every input of output, generated from the domain and shrunk toward simpler values.
let arbitraryBindings (domain: Domain) (output: Expr) : Arbitrary<(string * Tensor) list> =
    Arb.fromGenShrink (Generate.bindings domain output, bindings domain)

/// Shapes of rank lo to hi, shrunk toward rank 0 and dimensions of 1.
let arbitraryShape (lo: int) (hi: int) : Arbitrary<int list> =
    Arb.fromGenShrink (Generate.shape lo hi, fun dims -> shape dims |> Seq.filter (fun d -> d.Length >= lo))
