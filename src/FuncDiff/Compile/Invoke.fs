/// Prepares and runs catalogue kernels. Whatever a kernel raises reaches the caller as a FuncDiff error naming the
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

/// The primitive's kernel for a node with these attributes, read once. One that is missing or of another
/// kind (Rules.apply lets none through, so only a bug gets here) is a FuncDiff error naming the operation
/// and the attribute, raised now rather than when the kernel runs.
let prepare (p: Primitive) (attrs: Map<string, Param>) : Tensor[] -> Tensor -> unit =
    try p.Prepare attrs
    with
    | :? FuncDiffException as e when e.Message.StartsWith(p.Name + ":") -> reraise ()
    | e -> raise (EvaluationException(sprintf "%s: %s" p.Name e.Message, e))

/// Writes the result of `p`'s prepared kernel for `args` into `out`, a tensor of the node's shape and dtype.
let into (p: Primitive) (kernel: Tensor[] -> Tensor -> unit) (args: Tensor[]) (out: Tensor) =
    try
        // An empty result needs no work (and some span kernels refuse empty spans).
        if out.Size > 0 then kernel args out
    with
    | :? FuncDiffException as e when e.Message.StartsWith(p.Name + ":") -> reraise ()
    | e -> raise (failure p args (sprintf "%O%O" out.DType out.Shape) e)

/// The primitive's result for `args` in a fresh tensor of the node's shape and dtype.
let fresh (p: Primitive) (attrs: Map<string, Param>) (args: Tensor[]) (n: Node) =
    let kernel = prepare p attrs
    let out = try Tensor.Empty(n.Shape, n.DType) with e -> raise (failure p args n.TypeText e)
    into p kernel args out
    out
