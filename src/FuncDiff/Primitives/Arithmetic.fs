/// The four operations, negation and the zero-preserving product that derivative rules scale
/// cotangents with. Binary entries broadcast (NumPy rules) and need operands of one dtype.
module internal rec FuncDiff.Core.Primitives.Arithmetic

// Entries refer to each other only inside their rules (closures run after initialisation).
#nowarn "40"

open System.Linq.Expressions
open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Rules
open FuncDiff.Core.Kernels
open FuncDiff.Core.Kernels.Elementwise
open FuncDiff.Core.Primitives.Structural

// ---- Builders -----------------------------------------------------------------------------------

let neg (x: Node) = apply negP [] [ x ]
let add (a: Node) (b: Node) = apply addP [] [ a; b ]
let sub (a: Node) (b: Node) = apply subP [] [ a; b ]
let mul (a: Node) (b: Node) = apply mulP [] [ a; b ]
let div (a: Node) (b: Node) = apply divP [] [ a; b ]
/// a·b where an exact zero in either factor gives an exact zero.
let mulNoNan (a: Node) (b: Node) = apply mulNoNanP [] [ a; b ]

// ---- Shared rules -------------------------------------------------------------------------------

/// Two operands of one dtype accepted by `require`, broadcast together.
let binaryInfer (require: string -> Node -> unit) =
    fun (_: Map<string, Param>) (xs: Node[]) ->
        require "x" xs[0]
        require "y" xs[1]
        let dtype = sameDType xs[0] xs[1]
        Map.empty, broadcast [ xs[0].Shape; xs[1].Shape ], dtype

/// Same shape and dtype as the one operand, which `require` accepts.
let unaryInfer (require: string -> Node -> unit) =
    fun (_: Map<string, Param>) (xs: Node[]) ->
        require "the input" xs[0]
        Map.empty, xs[0].Shape, xs[0].DType

/// The cotangents of a broadcasting binary op, each summed back to its operand's shape.
let unbroadcast (v: VjpArgs) (da: Node) (db: Node) =
    [ Some (sumTo v.Inputs[0].Shape da); Some (sumTo v.Inputs[1].Shape db) ]

// ---- Kernels (values, so a forward call builds nothing) -----------------------------------------

let private negKernel = { new NumericUnary with member _.Run(x, y) = TensorPrimitives.Negate(x, y) }

let private addKernel =
    { new NumericBinary with
        member _.SS(a, b, d) = TensorPrimitives.Add(a, b, d)
        member _.ST(a, b, d) = TensorPrimitives.Add(a, b, d)
        member _.TS(a, b, d) = TensorPrimitives.Add(b, a, d) }

let private subKernel =
    { new NumericBinary with
        member _.SS(a, b, d) = TensorPrimitives.Subtract(a, b, d)
        member _.ST(a, b, d) = TensorPrimitives.Subtract(a, b, d)
        member _.TS(a, b, d) = TensorPrimitives.Subtract(a, b, d) }

let private mulKernel =
    { new NumericBinary with
        member _.SS(a, b, d) = TensorPrimitives.Multiply(a, b, d)
        member _.ST(a, b, d) = TensorPrimitives.Multiply(a, b, d)
        member _.TS(a, b, d) = TensorPrimitives.Multiply(b, a, d) }

let private divKernel =
    { new FloatBinary with
        member _.SS(a, b, d) = TensorPrimitives.Divide(a, b, d)
        member _.ST(a, b, d) = TensorPrimitives.Divide(a, b, d)
        member _.TS(a, b, d) = TensorPrimitives.Divide(a, b, d) }

// ---- Entries ------------------------------------------------------------------------------------

let negP =
    { primitive "neg" Family.Elementwise "-x." with
        Notation = Prefix("-", 4)
        Infer = unaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericUnary negKernel xs[0] out)
        Lanes = operator (fun xs -> Expression.Negate xs[0])
        Vjp = fun v -> [ Some (neg v.Cotangent) ] }

let addP =
    { primitive "add" Family.Elementwise "x + y." with
        Inputs = [ "x"; "y" ]
        Notation = Infix("+", 2)
        Infer = binaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericBinary addKernel xs[0] xs[1] out)
        Lanes = operator (fun xs -> Expression.Add(xs[0], xs[1]))
        Vjp = fun v -> unbroadcast v v.Cotangent v.Cotangent }

let subP =
    { primitive "sub" Family.Elementwise "x - y." with
        Inputs = [ "x"; "y" ]
        Notation = Infix("-", 2)
        Infer = binaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericBinary subKernel xs[0] xs[1] out)
        Lanes = operator (fun xs -> Expression.Subtract(xs[0], xs[1]))
        Vjp = fun v -> unbroadcast v v.Cotangent (neg v.Cotangent) }

let mulP =
    { primitive "mul" Family.Elementwise "x · y." with
        Inputs = [ "x"; "y" ]
        Notation = Infix("*", 3)
        Infer = binaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericBinary mulKernel xs[0] xs[1] out)
        Lanes = operator (fun xs -> Expression.Multiply(xs[0], xs[1]))
        Vjp = fun v ->
            let a, b = v.Inputs[0], v.Inputs[1]
            unbroadcast v (mulNoNan b v.Cotangent) (mulNoNan a v.Cotangent) }

let divP =
    { primitive "div" Family.Elementwise "x / y (IEEE: x/0 is ±∞, 0/0 is NaN). Floating point only." with
        Inputs = [ "x"; "y" ]
        Notation = Infix("/", 3)
        Infer = binaryInfer requireFloat
        Prepare = withoutAttributes (fun xs out -> floatBinary divKernel xs[0] xs[1] out)
        Lanes = operator (fun xs -> Expression.Divide(xs[0], xs[1]))
        // d/dx = 1/y, d/dy = -out/y
        Vjp = fun v ->
            let b = v.Inputs[1]
            unbroadcast v (mulNoNan (div (scalarLike b 1.0) b) v.Cotangent) (mulNoNan (neg (div v.Output b)) v.Cotangent) }

let mulNoNanP =
    { primitive "mulNoNan" Family.Elementwise "x · y, except that where y is exactly zero the result is exactly zero, even where x is ±∞ or NaN. One-sided: a zero x times a non-finite y is NaN, as in IEEE arithmetic. Derivative rules scale the cotangent y by the local derivative x with it, so an exactly-zero cotangent (an unselected where branch, a masked element) contributes exactly zero even where the local derivative is infinite or NaN, while a zero local derivative never hides an infinite or NaN cotangent." with
        Inputs = [ "x"; "y" ]
        Infer = binaryInfer requireFloat
        Prepare = withoutAttributes (fun xs out -> floatBinary Elementwise.mulNoNan xs[0] xs[1] out)
        Lanes = oneVector "MulNoNan" false
        // Where y = 0 the result is 0 for every x, and x·y's derivatives (y and x) give exactly that
        // contribution there when scaled the same one-sided way.
        Vjp = fun v ->
            let a, b = v.Inputs[0], v.Inputs[1]
            unbroadcast v (mulNoNan b v.Cotangent) (mulNoNan a v.Cotangent) }

/// This family's entries.
let entries () = [ negP; addP; subP; mulP; divP; mulNoNanP ]
