/// Runs one catalogue kernel. Whatever a kernel raises reaches the caller as a FuncDiff error naming the
/// operation: an int32 overflow, an allocation that does not fit, or a bug. The interpreter, constant
/// folding and plans all run kernels through here, so they fail the same way.
module internal FuncDiff.Core.Invoke

open System
open FuncDiff

let private failure (p: Primitive) (args: Tensor[]) (result: string) (e: exn) : exn =
    match e with
    | :? OverflowException -> EvaluationException(sprintf "%s: %s" p.Name e.Message, e)
    | _ ->
        let inputs = String.Join(", ", args |> Array.map (fun t -> sprintf "%O%O" t.DType t.Shape))
        EvaluationException(sprintf "%s failed on %s giving %s: %s" p.Name inputs result e.Message, e)

/// Writes the primitive's result for `args` into `out`, a tensor of the node's shape and dtype.
let into (p: Primitive) (attrs: Map<string, Param>) (args: Tensor[]) (out: Tensor) =
    try
        // An empty result needs no work (and some span kernels refuse empty spans).
        if out.Size > 0 then p.Forward attrs args out
    with
    | :? FuncDiffException as e when e.Message.StartsWith(p.Name + ":") -> reraise ()
    | e -> raise (failure p args (sprintf "%O%O" out.DType out.Shape) e)

/// The primitive's result for `args` in a fresh tensor of the node's shape and dtype.
let fresh (p: Primitive) (attrs: Map<string, Param>) (args: Tensor[]) (n: Node) =
    let out = try Tensor.Empty(n.Shape, n.DType) with e -> raise (failure p args n.TypeText e)
    into p attrs args out
    out
