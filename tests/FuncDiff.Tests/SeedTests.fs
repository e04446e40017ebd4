/// Hand-derived values for the failures in the seed questions: each one is either impossible here or
/// gives the exact, explained answer.
module FuncDiff.Tests.SeedTests

open Expecto
open FuncDiff

let private vector (values: float list) = Tensor.ofArray (Array.ofList values)
let private values (t: Tensor) = t.ToFloat64Array() |> List.ofArray

/// The gradient of output with respect to x at the given value of x.
let private gradAt (x: Expr) (at: Tensor) (output: Expr) =
    let name = string x // an input prints as its name
    output |> grad [ x ] |> List.head |> eval [ name, at ] |> values

let tests =
    testList "Seeds" [
        testList "x - mean(x) (seed 000)" [
            let x = input "x" [ 4 ]
            let centred = x - mean x
            let at = vector [ 1.0; 2.0; 3.0; 4.0 ]
            test "the gradient of the sum is exactly zero" {
                Expect.equal (gradAt x at (sum centred)) [ 0.0; 0.0; 0.0; 0.0 ] "Σ(x - mean x) does not depend on x"
            }
            test "the jacobian is I - 1/N" {
                let j = jacobian [ x ] centred |> List.head |> eval [ "x", at ]
                Expect.equal (j.Shape.ToList()) [ 4; 4 ] "jacobian shape is output shape ++ input shape"
                let expected = [ for i in 0 .. 3 do for k in 0 .. 3 -> (if i = k then 1.0 else 0.0) - 0.25 ]
                Expect.equal (values j) expected "∂(xᵢ - mean x)/∂xⱼ = δᵢⱼ - 1/4"
            }
            test "grad of the non-scalar output is an error that points to jacobian and vjp" {
                let ex = Expect.throwsC (fun () -> grad [ x ] centred |> ignore) id
                Expect.isTrue (ex :? GradientException) "a GradientException"
                Expect.stringContains ex.Message "shape [4]" "names the output's shape"
                Expect.stringContains ex.Message "jacobian" "points to jacobian"
                Expect.stringContains ex.Message "vjp" "points to vjp"
            }
        ]
        testList "masking and selection (seed 001)" [
            test "relu at [-2, 0, 3]: the subgradient 0 at 0" {
                let x = input "x" [ 3 ]
                Expect.equal (gradAt x (vector [ -2.0; 0.0; 3.0 ]) (sum (relu x))) [ 0.0; 0.0; 1.0 ] "relu' = [0, 0, 1]"
            }
            test "where with a constant mask passes the cotangent to the selected elements only" {
                let x = input "x" [ 3 ]
                let mask = constant (Tensor.ofArray [| true; false; false |])
                Expect.equal (gradAt x (vector [ 1.0; 2.0; 3.0 ]) (sum (where mask x (scalar 0.0)))) [ 1.0; 0.0; 0.0 ] "only the first element is selected"
            }
            test "stopGradient is an explicit zero" {
                let x = input "x" [ 2 ]
                Expect.equal (gradAt x (vector [ 2.0; 5.0 ]) (sum (stopGradient x * 3.0))) [ 0.0; 0.0 ] "no cotangent passes stopGradient"
            }
            test "a constant can be differentiated with respect to: there is no tape to forget it" {
                let w = constant (Tensor.scalar 2.0)
                let x = input "x" []
                let g = w * x |> grad [ w ] |> List.head |> eval [ "x", Tensor.scalar 3.0 ]
                Expect.equal (g.ToScalar()) 3.0 "d(w·x)/dw = x"
            }
        ]
        testList "strong zeros (seed 002)" [
            test "where(x > 0, log x, 0) at [0, 1] gives [0, 1], not NaN" {
                let x = input "x" [ 2 ]
                Expect.equal (gradAt x (vector [ 0.0; 1.0 ]) (sum (where (x .> 0.0) (log x) (scalar 0.0)))) [ 0.0; 1.0 ] "the unselected log contributes an exact zero"
            }
            test "where(x > 0, sqrt x, 0) at [0, 4] gives [0, 0.25]" {
                let x = input "x" [ 2 ]
                Expect.equal (gradAt x (vector [ 0.0; 4.0 ]) (sum (where (x .> 0.0) (sqrt x) (scalar 0.0)))) [ 0.0; 0.25 ] "the unselected sqrt contributes an exact zero"
            }
            test "second derivatives keep the strong zero" {
                let x = input "x" [ 2 ]
                let first = sum (where (x .> 0.0) (log x) (scalar 0.0)) |> grad [ x ] |> List.head
                Expect.equal (gradAt x (vector [ 0.0; 2.0 ]) (sum first)) [ 0.0; -0.25 ] "d²/dx² log x = -1/x² where selected, 0 elsewhere"
            }
        ]
        testList "disconnected and constant paths (seeds 003, 004)" [
            test "an input the output does not depend on gets explicit zeros of its shape" {
                let x = input "x" [ 2 ]
                let y = input "y" [ 3; 2 ]
                let gs = sum (x * x) |> grad [ x; y ] |> evalMany [ "x", vector [ 1.0; 2.0 ]; "y", Tensor.zeros [ 3; 2 ] ]
                Expect.equal (values gs[0]) [ 2.0; 4.0 ] "d/dx Σx² = 2x"
                Expect.equal (gs[1].Shape.ToList()) [ 3; 2 ] "the zero gradient has y's shape"
                Expect.isTrue (values gs[1] |> List.forall ((=) 0.0)) "and is zero"
            }
            test "(x - 2)² at 0 has gradient -4 with a constant 2" {
                let x = input "x" []
                Expect.equal (gradAt x (Tensor.scalar 0.0) ((x - 2.0) ** 2.0)) [ -4.0 ] "2(x - 2) at 0"
            }
            test "a branch is where inside the graph: where(x > 0, x², 0) at 1 gives 2" {
                let x = input "x" []
                Expect.equal (gradAt x (Tensor.scalar 1.0) (where (x .> 0.0) (x * x) (scalar 0.0))) [ 2.0 ] "d/dx x² at 1"
            }
            test "a boolean mask as where: Σ where(mask, w, 0) gives the mask" {
                let w = input "w" [ 3 ]
                let mask = constant (Tensor.ofArray [| 0.0; 1.0; 0.0 |]) |> cast DType.Bool
                Expect.equal (gradAt w (vector [ 1.0; 2.0; 3.0 ]) (sum (where mask w (scalar 0.0)))) [ 0.0; 1.0; 0.0 ] "selected element only"
            }
        ]
        testList "piecewise-constant operations give zero by definition (seeds 003, 004)" [
            let x = input "x" [ 3 ]
            let at = vector [ 1.2; 2.7; -0.4 ]
            test "argmax" { Expect.equal (gradAt x at (sum (cast DType.Float64 (argmax x)))) [ 0.0; 0.0; 0.0 ] "argmax is piecewise constant" }
            test "round" { Expect.equal (gradAt x at (sum (round x))) [ 0.0; 0.0; 0.0 ] "round is piecewise constant" }
            test "cast to int32 and back" { Expect.equal (gradAt x at (sum (cast DType.Float64 (cast DType.Int32 x)))) [ 0.0; 0.0; 0.0 ] "a cast to int32 is piecewise constant" }
            test "an integer output has a zero gradient" {
                Expect.equal (gradAt x at (argmax x)) [ 0.0; 0.0; 0.0 ] "grad of an int32 scalar is zero"
            }
        ]
        testList "any node, any order" [
            test "inputs can be bound by the input expressions themselves" {
                let x = input "x" [ 2 ]
                Expect.equal (values (evalAt [ (x, vector [ 1.0; 2.0 ]) ] (x * x))) [ 1.0; 4.0 ] "x bound by node"
            }
            test "the gradient with respect to an intermediate node" {
                let x = input "x" []
                let y = x * 2.0
                let g = y * y |> grad [ y ] |> List.head |> eval [ "x", Tensor.scalar 3.0 ]
                Expect.equal (g.ToScalar()) 12.0 "d(y²)/dy = 2y = 12"
            }
            test "grad of grad of grad: d³/dx³ x⁴ = 24x" {
                let x = input "x" []
                let d1 = x ** 4.0 |> grad [ x ] |> List.head
                let d2 = d1 |> grad [ x ] |> List.head
                let d3 = d2 |> grad [ x ] |> List.head
                Expect.floatClose Accuracy.veryHigh ((eval [ "x", Tensor.scalar 1.5 ] d3).ToScalar()) 36.0 "24 · 1.5"
            }
            test "hessian of Σx³ is diag(6x)" {
                let x = input "x" [ 3 ]
                let h = sum (x * x * x) |> hessian [ x ] |> List.head |> eval [ "x", vector [ 1.0; -2.0; 0.5 ] ]
                Expect.equal (values h) [ 6.0; 0.0; 0.0; 0.0; -12.0; 0.0; 0.0; 0.0; 3.0 ] "diag(6x)"
            }
        ]
    ]
