/// Matrix products that read transposed operands in place. The derivative rule of matmul multiplies by
/// transposes (g @ bᵀ as (b @ gᵀ)ᵀ, and aᵀ @ g); run as written, each transpose is a copy of a matrix.
/// Here a product whose operand transposes its last two axes becomes one call of `transposedP`, which
/// reads that operand with its strides swapped. The values are bit-identical, NaN payloads included:
/// element (i, j) is the same chain of fused multiply-adds, each with the same factors in the same
/// places, as the materialised transpose gives.
module internal FuncDiff.Core.Products

open FuncDiff
open FuncDiff.Core.Kernels.MatMul
open FuncDiff.Core.Primitives

/// Plan-internal, not in the catalogue (nothing prints, parses or differentiates it).
let transposedP =
    { Rules.primitive "matmulTransposed" Family.LinearAlgebra "Plan-internal product, not in the catalogue: op(x) @ op(y) as matmul computes it (matmulNoNan when noNan is set), where op swaps the last two axes of x when transX is set (of y when transY is set), read in place instead of copied. Plans put it where matmul or matmulNoNan reads a transpose; its values equal theirs bit for bit." with
        Inputs = [ "x"; "y" ]
        Prepare = fun attrs ->
            let zero = if Rules.bool "noNan" attrs then StrongZero.Right else StrongZero.Neither
            let transX, transY = Rules.bool "transX" attrs, Rules.bool "transY" attrs
            fun xs out -> matmulTransposed zero transX xs[0] xs[0].Shape.Dims transY xs[1] xs[1].Shape.Dims out }

/// Whether the node is a product of the catalogue, and if so whether it is matmulNoNan.
let private product (n: Node) =
    match n.Op with
    | Apply (p, _) when obj.ReferenceEquals(p, LinearAlgebra.matmulP) -> Some false
    | Apply (p, _) when obj.ReferenceEquals(p, LinearAlgebra.matmulNoNanP) -> Some true
    | _ -> None

/// True for a transpose that swaps the last two axes and keeps the others.
let private swapsLast (n: Node) =
    match n.Op with
    | Apply (p, attrs) when obj.ReferenceEquals(p, Structural.transposeP) -> Kernels.Movement.swapsLastTwo (Rules.ints "perm" attrs)
    | _ -> false

/// The operand to read, and whether to read it transposed.
let private absorb (x: Node) = if swapsLast x then x.Inputs[0], true else x, false

/// The node, or, for a product that reads a transpose of its operand's last two axes, one call that reads
/// that operand in place. Its inputs are already rewritten.
///
/// A transpose of a product stays a copy: computed as Bᵀ·Aᵀ, each term would be fma(b, a, c) instead of
/// fma(a, b, c), the same number, but where both factors are NaNs the one x86 passes on depends on
/// which operand it is, so a NaN's sign and payload could differ from the interpreter's.
let rewrite (n: Node) : Node =
    match product n with
    | Some noNan when swapsLast n.Inputs[0] || swapsLast n.Inputs[1] ->
        let (x, transX), (y, transY) = absorb n.Inputs[0], absorb n.Inputs[1]
        let attrs = Map [ "transX", Param.Bool transX; "transY", Param.Bool transY; "noNan", Param.Bool noNan ]
        Node(Apply(transposedP, attrs), [| x; y |], n.Shape, n.DType)
    | _ -> n
