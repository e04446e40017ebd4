/// Elementwise mathematical functions. A smooth function's rule gives its derivative f'(x) (often from
/// the output: exp' = exp, tanh' = 1 - tanh²), and the cotangent is scaled with mulNoNan, so an exact
/// zero cotangent stays zero where f' is infinite or NaN (log at 0, sqrt at 0).
module internal rec FuncDiff.Core.Primitives.Elementary

// Entries refer to each other only inside their rules (closures run after initialisation).
#nowarn "40"

open System
open System.Numerics
open System.Linq.Expressions
open System.Numerics.Tensors
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Rules
open FuncDiff.Core.Kernels
open FuncDiff.Core.Kernels.Elementwise
open FuncDiff.Core.Primitives.Structural
open FuncDiff.Core.Primitives.Arithmetic
open FuncDiff.Core.Primitives.Logic

// ---- Builders -----------------------------------------------------------------------------------

let private un (p: Primitive) (x: Node) = apply p [] [ x ]
let exp x = un expP x
let expm1 x = un expm1P x
let log x = un logP x
let log1p x = un log1pP x
let sqrt x = un sqrtP x
let square x = un squareP x
let reciprocal x = un reciprocalP x
let abs x = un absP x
let sign x = un signP x
let sin x = un sinP x
let cos x = un cosP x
let tan x = un tanP x
let tanh x = un tanhP x
let sigmoid x = un sigmoidP x
let relu x = un reluP x
let softplus x = un softplusP x
let floor x = un floorP x
let ceil x = un ceilP x
let round x = un roundP x
let pow (x: Node) (y: Node) = apply powP [] [ x; y ]
let maximum (x: Node) (y: Node) = apply maximumP [] [ x; y ]
let minimum (x: Node) (y: Node) = apply minimumP [] [ x; y ]

// ---- Entry helpers ------------------------------------------------------------------------------

/// A smooth float function with derivative f'(x, out).
let private smooth (name: string) (doc: string) (kernel: FloatUnary) (derivative: Node -> Node -> Node) =
    { primitive name Family.Elementwise doc with
        Infer = unaryInfer requireFloat
        Prepare = withoutAttributes (fun xs out -> floatUnary kernel xs[0] out)
        Vjp = fun v -> [ Some (mulNoNan (derivative v.Inputs[0] v.Output) v.Cotangent) ] }

/// A float function that is constant between jumps: its derivative is zero by definition.
let private steps (name: string) (doc: string) (kernel: FloatUnary) =
    { primitive name Family.Elementwise doc with
        Differentiability = Differentiability.PiecewiseConstant
        Infer = unaryInfer requireFloat
        Prepare = withoutAttributes (fun xs out -> floatUnary kernel xs[0] out)
        Vjp = noDerivative }

let private one (x: Node) = scalarLike x 1.0

/// The entry with the lane form of Kernels/OneVector.fs's method of this name, heavy for a polynomial kernel.
let private withLanes (name: string) (heavy: bool) (p: Primitive) = { p with Lanes = oneVector name heavy }

// ---- Entries ------------------------------------------------------------------------------------

/// eˣ - 1 and log(1 + x) to full relative accuracy near 0, where exp(x) - 1 and log(1 + x) lose it
/// (TensorPrimitives' ExpM1 and LogP1 compute exactly those): Kahan's and Goldberg's corrections, which
/// divide out the rounding of 1 + x. expm1From takes u = eᵛ.
let private expm1From<'T when 'T :> IFloatingPointIeee754<'T>> (v: 'T) (u: 'T) : 'T =
    let m = u - 'T.One
    // The product is bound first: F# cannot generalise a chain of two generic-math operators.
    let scaled = m * v
    if 'T.IsZero m then v elif 'T.IsInfinity u || 'T.IsZero u then m else scaled / 'T.Log(u)

let private log1pOf<'T when 'T :> IFloatingPointIeee754<'T>> (v: 'T) : 'T =
    let u = 'T.One + v
    let m = u - 'T.One
    let scaled = 'T.Log(u) * v
    if 'T.IsZero m then v elif 'T.IsInfinity u then 'T.Log(u) else scaled / m

let private expm1Kernel =
    { new FloatUnary with
        member _.Run(x, y) =
            Exponential.exp x y
            for i in 0 .. y.Length - 1 do y[i] <- expm1From x[i] y[i] }
let private log1pKernel = { new FloatUnary with member _.Run(x, y) = for i in 0 .. y.Length - 1 do y[i] <- log1pOf x[i] }

let private logKernel = { new FloatUnary with member _.Run(x, y) = Logarithm.log x y }

// exp has its own kernel (Kernels/Exponential.fs) for the reason sin and cos have theirs (below).
let expP =
    smooth "exp" "eˣ. Within 1 ulp of the exact value (at most 0.87 ulp measured in float64, over random x from -745 to 710, x next to the overflow and underflow thresholds and subnormal results); float32 is computed in float32 lanes (at most 0.90 ulp, measured over every float32 from -104 to 89). Bit-identical on every call and however a span is cut into blocks. exp(±0) = 1 and exp 1 = Math.E exactly; overflows to +∞ above ln(Double.MaxValue) ≈ 709.78 (88.72 in float32); underflows gradually through the subnormals, to +0 below about -745.13 (-103.97 in float32); +∞ gives +∞, -∞ gives +0, NaN gives NaN."
        { new FloatUnary with member _.Run(x, y) = Exponential.exp x y }
        (fun _ out -> out)
    |> withLanes "Exp" true
let expm1P = smooth "expm1" "eˣ - 1, accurate near 0." expm1Kernel (fun _ out -> add out (one out))
let logP = smooth "log" "Natural logarithm. Within 1 ulp of the exact value, down to the subnormals (float32 in float32 lanes: at most 0.75 ulp, measured over every positive float32); log 1 = +0, log(±0) = -∞, NaN below 0, log ∞ = ∞, NaN gives NaN. Bit-identical on every call and however a span is cut into blocks." logKernel (fun x _ -> reciprocal x) |> withLanes "Log" true
let log1pP = smooth "log1p" "log(1 + x), accurate near 0." log1pKernel (fun x _ -> reciprocal (add (one x) x))
let sqrtP = smooth "sqrt" "√x: NaN below 0; the derivative 1/(2√x) is ∞ at 0." { new FloatUnary with member _.Run(x, y) = TensorPrimitives.Sqrt(x, y) } (fun _ out -> div (scalarLike out 0.5) out) |> withLanes "Sqrt" false
let reciprocalP = smooth "reciprocal" "1/x: ±∞ at ±0." { new FloatUnary with member _.Run(x, y) = TensorPrimitives.Reciprocal(x, y) } (fun _ out -> neg (square out)) |> withLanes "Reciprocal" false
// sin and cos have their own kernels (Kernels/Trig.fs), not TensorPrimitives.Sin and Cos: those gave
// float64 results that changed in the last bits when the JIT recompiled them (a fused multiply-add in
// one tier, not in the other), and the same inputs must give bit-identical results on every call.
let private trigDoc (name: string) (library: string) (atZero: string) =
    sprintf "%s x (radians). Within 1 ulp of the exact value for |x| ≤ 2³⁰ (at most 0.72 ulp measured in float64, over random x up to 2³⁰ and x next to multiples of π/2); float32 is computed in float32 lanes for |x| ≤ 2²⁰ (at most 0.63 ulp, measured over every float32 below 2²¹) and is the float64 result rounded once above. Bit-identical on every call and however a span is cut into blocks. Above 2³⁰ it is %s's value; NaN and ±∞ give NaN; %s." name library atZero
let sinP = smooth "sin" (trigDoc "sin" "Math.Sin" "sin(±0) = ±0") Trig.sin (fun x _ -> cos x) |> withLanes "Sin" true
let cosP = smooth "cos" (trigDoc "cos" "Math.Cos" "cos(±0) = 1") Trig.cos (fun x _ -> neg (sin x)) |> withLanes "Cos" true
let tanP = smooth "tan" "tan x (radians)." Aligned.tan (fun _ out -> add (one out) (square out))
let private tanhKernel = { new FloatUnary with member _.Run(x, y) = Hyperbolic.tanh x y }

let tanhP = smooth "tanh" "Hyperbolic tangent; saturates to ±1. Within 1 ulp of the exact value (float64; float32 in float32 lanes: at most 0.65 ulp, measured over every float32), ±0 and the sign kept, tanh x = x for |x| below 2⁻²⁷; NaN gives NaN." tanhKernel (fun _ out -> sub (one out) (square out)) |> withLanes "Tanh" true
let sigmoidP =
    smooth "sigmoid" "1 / (1 + e⁻ˣ) on exp's kernel (within 2 ulps); saturates to 0 and 1 without overflow."
        { new FloatUnary with
            member _.Run<'T when 'T :> IFloatingPointIeee754<'T>>(x: ReadOnlySpan<'T>, y: Span<'T>) =
                TensorPrimitives.Negate(x, y)
                Exponential.exp (Span.op_Implicit y) y
                TensorPrimitives.Add(Span.op_Implicit y, 'T.One, y)
                TensorPrimitives.Divide('T.One, Span.op_Implicit y, y) }
        (fun _ out -> mul out (sub (one out) out))

let softplusP =
    smooth "softplus" "log(1 + eˣ), computed as max(x, 0) + log1p(e^-|x|) so it neither overflows nor loses small values."
        { new FloatUnary with
            member _.Run<'T when 'T :> IFloatingPointIeee754<'T>>(x: ReadOnlySpan<'T>, y: Span<'T>) =
                TensorPrimitives.Abs(x, y)
                TensorPrimitives.Negate(Span.op_Implicit y, y)
                Exponential.exp (Span.op_Implicit y) y
                log1pKernel.Run(Span.op_Implicit y, y)
                for i in 0 .. y.Length - 1 do y[i] <- y[i] + 'T.Max(x[i], 'T.Zero) }
        (fun x _ -> sigmoid x)

let private squareKernel = { new NumericUnary with member _.Run(x, y) = TensorPrimitives.Multiply(x, x, y) }
let private absKernel = { new NumericUnary with member _.Run(x, y) = TensorPrimitives.Abs(x, y) }

let private signKernel =
    { new NumericUnary with
        member _.Run<'T when 'T :> INumber<'T>>(x: ReadOnlySpan<'T>, y: Span<'T>) =
            for i in 0 .. y.Length - 1 do
                let v = x[i]
                y[i] <- if 'T.op_GreaterThan(v, 'T.Zero) then 'T.One elif 'T.op_LessThan(v, 'T.Zero) then -'T.One elif 'T.IsZero v then 'T.Zero else v }

let private reluKernel = { new NumericUnary with member _.Run<'T when 'T :> INumber<'T>>(x: ReadOnlySpan<'T>, y: Span<'T>) = TensorPrimitives.Max(x, 'T.Zero, y) }

let squareP =
    { primitive "square" Family.Elementwise "x²." with
        Infer = unaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericUnary squareKernel xs[0] out)
        Lanes = operator (fun xs -> Expression.Multiply(xs[0], xs[0]))
        Vjp = fun v -> [ Some (mulNoNan (mul (scalarLike v.Inputs[0] 2.0) v.Inputs[0]) v.Cotangent) ] }

let absP =
    { primitive "abs" Family.Elementwise "|x|. Not differentiable at 0, where the subgradient 0 is used (the derivative is sign x)." with
        Differentiability = Differentiability.NonSmooth "abs'(0) = 0"
        Infer = unaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericUnary absKernel xs[0] out)
        Lanes = oneVector "Abs" false
        Vjp = fun v -> [ Some (mulNoNan (sign v.Inputs[0]) v.Cotangent) ] }

let signP =
    { primitive "sign" Family.Elementwise "-1, 0 or 1 by the sign of x (NaN stays NaN); piecewise constant." with
        Differentiability = Differentiability.PiecewiseConstant
        Infer = unaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericUnary signKernel xs[0] out)
        Lanes = oneVector "Sign" false
        Vjp = noDerivative }

let reluP =
    { primitive "relu" Family.Elementwise "max(x, 0). Not differentiable at 0, where the subgradient 0 is used: the cotangent passes only where x > 0, and where x is NaN (NaN propagates and is the selected element, as in maximum)." with
        Differentiability = Differentiability.NonSmooth "relu'(0) = 0"
        Infer = unaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericUnary reluKernel xs[0] out)
        Vjp = fun v ->
            let x, g = v.Inputs[0], v.Cotangent
            [ Some (where (logicalOr (gt x (scalarLike x 0.0)) (isNan x)) g (scalarLike g 0.0)) ] }

let floorP = steps "floor" "The largest integer ≤ x; piecewise constant." { new FloatUnary with member _.Run(x, y) = TensorPrimitives.Floor(x, y) }
let ceilP = steps "ceil" "The smallest integer ≥ x; piecewise constant." { new FloatUnary with member _.Run(x, y) = TensorPrimitives.Ceiling(x, y) }
let roundP = steps "round" "x rounded to the nearest integer, halves to even (as NumPy); piecewise constant." { new FloatUnary with member _.Run(x, y) = TensorPrimitives.Round(x, y) }

let powP =
    { primitive "pow" Family.Elementwise "xʸ with broadcasting (IEEE pow: x⁰ = 1 for every x, NaN for negative x and non-integer y). An integer y with |y| ≤ 16 is computed by multiplication: in float64 in double-word arithmetic, within 0.5 ulp plus a few units in 2⁻¹⁰⁰ of the exact power (so correctly rounded unless the power lies that close to a midpoint), and the library pow's value at ±0, ±∞, NaN and wherever the result overflows, is subnormal or is below 2⁻⁹¹⁶; in float32 by float64 products rounded once, within 0.5 ulp plus 2⁻⁵⁰ relative. d/dx = y·xʸ⁻¹, taken as 0 where y = 0 (x⁰ is constant, so 0⁰'s derivative and every higher derivative of x¹ at 0 are 0, not 0·∞); d/dy = xʸ·log x, taken as 0 where x = 0." with
        Inputs = [ "x"; "y" ]
        Notation = Infix("^", 5)
        Infer = binaryInfer requireFloat
        Prepare = withoutAttributes (fun xs out -> floatBinary Power.kernel xs[0] xs[1] out)
        Vjp = fun v ->
            let x, y, g = v.Inputs[0], v.Inputs[1], v.Cotangent
            let zero = scalarLike x 0.0
            // The exponent of this pow is y - 1, so its own rule zeroes the derivative where y = 1:
            // every order of derivative of xⁿ at 0 comes out exact.
            let dx = where (eq y zero) zero (mul y (pow x (sub y (one y))))
            let dy = where (eq x zero) zero (mul v.Output (log x))
            unbroadcast v (mulNoNan dx g) (mulNoNan dy g) }

/// maximum and minimum: the cotangent goes to the winning side, split evenly on ties. NaN propagates
/// (NumPy) and is the selected side: it wins against a number, and two NaNs tie.
let private extremum (name: string) (beats: Node -> Node -> Node) (kernel: NumericBinary) =
    { primitive name Family.Elementwise (sprintf "The elementwise %s of x and y. NaN propagates: if either is NaN the result is NaN and that side receives the cotangent (both halves of it when both are NaN). At ties the cotangent is split evenly between x and y." name) with
        Differentiability = Differentiability.NonSmooth "at x = y each side receives half the cotangent"
        Inputs = [ "x"; "y" ]
        Infer = binaryInfer requireNumeric
        Prepare = withoutAttributes (fun xs out -> numericBinary kernel xs[0] xs[1] out)
        Vjp = fun v ->
            let a, b, g = v.Inputs[0], v.Inputs[1], v.Cotangent
            let zero = scalarLike g 0.0
            let wins x y = logicalOr (beats x y) (logicalAnd (isNan x) (logicalNot (isNan y)))
            let tie = where (sameValue a b) (mul g (scalarLike g 0.5)) zero
            unbroadcast v (where (wins a b) g tie) (where (wins b a) g tie) }

let maximumP =
    extremum "maximum" gt
        { new NumericBinary with
            member _.SS(a, b, d) = TensorPrimitives.Max(a, b, d)
            member _.ST(a, b, d) = TensorPrimitives.Max(a, b, d)
            member _.TS(a, b, d) = TensorPrimitives.Max(b, a, d) }

let minimumP =
    extremum "minimum" lt
        { new NumericBinary with
            member _.SS(a, b, d) = TensorPrimitives.Min(a, b, d)
            member _.ST(a, b, d) = TensorPrimitives.Min(a, b, d)
            member _.TS(a, b, d) = TensorPrimitives.Min(b, a, d) }

/// This family's entries.
let entries () =
    [ expP; expm1P; logP; log1pP; sqrtP; squareP; reciprocalP; absP; signP; sinP; cosP; tanP; tanhP
      sigmoidP; reluP; softplusP; floorP; ceilP; roundP; powP; maximumP; minimumP ]
