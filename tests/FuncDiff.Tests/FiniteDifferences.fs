/// Central finite differences in float64: the independent oracle every derivative rule is held to.
module FuncDiff.Tests.FiniteDifferences

open System
open FuncDiff

/// A copy of the tensors with element j of tensor k moved by delta.
let perturbed (tensors: Tensor list) (k: int) (j: int) (delta: float) =
    tensors |> List.mapi (fun i t ->
        if i <> k then t
        else
            let values = t.ToFloat64Array()
            values[j] <- values[j] + delta
            Tensor.ofData (t.Shape.ToArray()) values)

/// (f(x + h) - f(x - h)) / 2h for element j of input k, with h scaled to the element.
let derivative (f: Tensor list -> float) (inputs: Tensor list) (k: int) (j: int) =
    let x = inputs[k].ToFloat64Array()[j]
    let h = 1e-6 * max 1.0 (abs x)
    (f (perturbed inputs k j h) - f (perturbed inputs k j -h)) / (2.0 * h)

/// Fails, naming the element, unless every analytic derivative matches its finite difference.
/// `scale` is the magnitude of the terms summed in f, which bounds its rounding error.
let expectMatch (what: string) (f: Tensor list -> float) (scale: float) (inputs: Tensor list) (wrt: int list) (analytic: Tensor list) =
    List.iter2 (fun k (a: Tensor) ->
        let values = a.ToFloat64Array()
        for j in 0 .. values.Length - 1 do
            let fd = derivative f inputs k j
            let tolerance = 1e-7 * (1.0 + scale) + 1e-6 * abs fd
            if not (abs (values[j] - fd) <= tolerance) then
                failwithf "%s: d/d a%d[%d] is %.12g analytically but %.12g by central differences (tolerance %.3g)" what k j values[j] fd tolerance)
        wrt analytic

/// Σ aᵢ·bᵢ over two tensors of one size, in float64.
let dot (a: Tensor) (b: Tensor) =
    Array.fold2 (fun acc x y -> acc + x * y) 0.0 (a.ToFloat64Array()) (b.ToFloat64Array())

/// Σ |aᵢ·bᵢ|: the scale of a dot product's rounding error.
let dotScale (a: Tensor) (b: Tensor) =
    Array.fold2 (fun acc x y -> acc + abs (x * y)) 0.0 (a.ToFloat64Array()) (b.ToFloat64Array())
