/// Full derivatives built from reverse mode: one vjp per output element, stacked.
/// Cost grows with the output's size; for large outputs prefer vjp with the cotangent you need.
module internal FuncDiff.Core.Jacobian

open FuncDiff
open FuncDiff.Core.Primitives

/// For each node x of wrt, ∂output/∂x with shape output.shape ++ x.shape.
let jacobian (output: Node) (wrt: Node list) : Node list =
    let outDims = output.Shape.Dims
    let m = output.Shape.Size
    let full (x: Node) = Array.append outDims x.Shape.Dims
    if m = 0 || not output.DType.IsFloat then
        wrt |> List.map (fun x -> Structural.zeros (Shape.Of(full x)) x.DType)
    else
        // Row i is the vjp with the i-th basis cotangent (a one-hot of a scalar index: no m×m constant).
        let rows =
            [ for i in 0 .. m - 1 ->
                  let basis =
                      Structural.oneHotP
                      |> fun p -> Rules.apply p [ "depth", Param.Int m; "dtype", Param.DType output.DType ] [ Rules.scalarOf DType.Int32 (float i) ]
                      |> Structural.reshape outDims
                  Reverse.vjp [ output ] [ basis ] wrt ]
        wrt |> List.mapi (fun k x ->
            let stacked = Rules.apply Structural.stackP [] [ for row in rows -> row[k] ]
            Structural.reshape (full x) stacked)

/// For each node x of wrt, the Hessian block ∂²output/∂x² with shape x.shape ++ x.shape.
let hessian (output: Node) (wrt: Node list) : Node list =
    if output.Shape.Rank <> 0 then
        raise (GradientException(sprintf "hessian needs a scalar output, but the output has shape %O; take the jacobian of its gradient instead" output.Shape))
    wrt |> List.map (fun x -> jacobian (Reverse.grad output [ x ] |> List.head) [ x ] |> List.head)
