/// The gradient clinic: every cause kind reported where it applies (with its node and fraction) and
/// nowhere else, healthy models are ok, checked evaluation stops where the first non-finite value
/// appears, creation sites, pictures, and graphs a million nodes deep.
module internal FuncDiff.Tests.ClinicTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff

let private vector (xs: float list) = Tensor.ofArray (Array.ofList xs)
let private values (t: Tensor) = t.ToFloat64Array() |> List.ofArray

/// explain of a text over inputs bound by name, with respect to the named inputs.
let private explainText (text: string) (bindings: (string * Tensor) list) (wrt: string list) =
    let inputs = [ for name, t in bindings -> Expr.Input(name, t.Shape.ToList(), t.DType) ]
    let output = parse inputs text
    explain bindings [ for name in wrt -> inputs |> List.find (fun i -> string i = name) ] output

let private only (e: Explanation) = List.exactlyOne e.Diagnoses

let private causesOf (kind: CauseKind) (d: GradientDiagnosis) = d.Causes |> List.filter (fun c -> c.Kind = kind)

/// The one cause of a kind.
let private cause (kind: CauseKind) (d: GradientDiagnosis) =
    match causesOf kind d with
    | [ c ] -> c
    | cs -> failtestf "expected one %O cause, got %d in:\n%A" kind cs.Length d.Causes

let private expectStatus (expected: GradientStatus) (d: GradientDiagnosis) =
    Expect.equal d.Status expected (sprintf "status of %s; causes: %A" d.WrtText d.Causes)

let private expectOk (e: Explanation) =
    for d in e.Diagnoses do
        expectStatus GradientStatus.Ok d
        Expect.isEmpty d.Causes (sprintf "a healthy gradient has no causes (%s)" d.WrtText)

let private causeTests =
    testList "each cause kind, reported with its node and fraction" [
        test "disconnected: an input the output does not use" {
            let d = (explainText "sum(x * x)" [ "x", vector [ 1.0; 2.0 ]; "y", vector [ 3.0 ] ] [ "x"; "y" ]).Diagnoses
            expectStatus GradientStatus.Ok d[0]
            expectStatus GradientStatus.Zero d[1]
            let c = cause CauseKind.Disconnected d[1]
            Expect.equal c.NodeText "y" "the input itself"
            Expect.equal d[1].Causes.Length 1 "nothing else to say"
        }
        test "stop-gradient: every path passes stopGradient, named with its position" {
            let d = only (explainText "sum(stopGradient(x) * 3)" [ "x", vector [ 1.0; 2.0 ] ] [ "x" ])
            expectStatus GradientStatus.Zero d
            let c = cause CauseKind.StopGradient d
            Expect.equal c.NodeText "stopGradient(x)" "the stopGradient node"
            Expect.equal c.Site (Some (CreationSite.Text(1, 5))) "where the text calls it"
            Expect.stringContains c.Message "every path" "every path is blocked"
        }
        for text, op in [ "sum(round(x))", "round(x)"; "sum(floor(x) + ceil(x))", "floor(x)"; "sum(sign(x))", "sign(x)"
                          "cast(argmax(x), dtype=float64)", "argmax(x)"; "sum(cast(x > 1, dtype=float64))", "x > 1"
                          "sum(cast(cast(x, dtype=int32), dtype=float64))", "cast(x, dtype=int32)" ] do
            test (sprintf "piecewise-constant: %s names %s" text op) {
                let d = only (explainText text [ "x", vector [ 1.2; 2.7; -0.4 ] ] [ "x" ])
                expectStatus GradientStatus.Zero d
                let cs = causesOf CauseKind.PiecewiseConstant d
                Expect.isNonEmpty cs "piecewise constant"
                Expect.equal cs.Head.NodeText op "the first blocking op on the path"
                Expect.isNone cs.Head.Fraction "no fraction: the whole path is blocked"
            }
        test "several blockers: every path passes one of them, and no cause claims every path for itself" {
            let d = only (explainText "sum(stopGradient(x) * 3 + round(x))" [ "x", vector [ 2.0; 5.0 ] ] [ "x" ])
            expectStatus GradientStatus.Zero d
            let s, r = cause CauseKind.StopGradient d, cause CauseKind.PiecewiseConstant d
            Expect.stringStarts s.Message "every path from `x` to the output passes through one of: `stopGradient(x)` (stop-gradient), `round(x)` (piecewise-constant);" "said once"
            Expect.stringStarts r.Message "the paths from `x` through `round(x)`:" "its own paths"
            for c in d.Causes do
                Expect.isFalse (c.Message.Contains(sprintf "every path from `x` to the output passes through %s" (sprintf "`%s`" c.NodeText))) "no false claim"
        }
        test "masked: a dead ReLU layer (bias -100) masks every unit" {
            let w = Tensor.ofArray2D (array2D [ [ 0.5; -1.0 ]; [ 2.0; 1.0 ] ])
            let e = explainText "sum(relu(w @ x + b))" [ "w", w; "x", vector [ 1.0; 2.0 ]; "b", Tensor.scalar -100.0 ] [ "w"; "b" ]
            for d in e.Diagnoses do
                expectStatus GradientStatus.Zero d
                let c = cause CauseKind.Masked d
                Expect.equal c.NodeText "relu(w @ x + b)" "the relu"
                Expect.equal c.Fraction (Some 1.0) "every unit is dead"
                Expect.equal c.Site (Some (CreationSite.Text(1, 5))) "the relu call in the text"
        }
        test "masked: relu with some dead units gives the fraction" {
            let d = only (explainText "sum(relu(x))" [ "x", vector [ -2.0; 0.0; 3.0; 1.0 ] ] [ "x" ])
            expectStatus GradientStatus.PartlyZero d
            Expect.equal (cause CauseKind.Masked d).Fraction (Some 0.5) "x ≤ 0 at two of four"
        }
        test "masked: where with a constant mask, the unselected share of the branch" {
            let d = only (explainText "sum(where([true, false, false], x, 0))" [ "x", vector [ 1.0; 2.0; 3.0 ] ] [ "x" ])
            expectStatus GradientStatus.PartlyZero d
            let c = cause CauseKind.Masked d
            Expect.equal c.NodeText "where([true, false, false], x, 0)" "the where"
            Expect.floatClose Accuracy.veryHigh c.Fraction.Value (2.0 / 3.0) "two of three unselected"
        }
        test "masked: max passes nothing to the non-maximal elements" {
            let c = cause CauseKind.Masked (only (explainText "max(x)" [ "x", vector [ 1.0; 5.0; 2.0; 3.0 ] ] [ "x" ]))
            Expect.equal c.NodeText "max(x)" "the max"
            Expect.equal c.Fraction (Some 0.75) "three of four are not the maximum"
        }
        test "masked: maximum passes nothing to the losing operand" {
            let c = cause CauseKind.Masked (only (explainText "sum(maximum(x, 2))" [ "x", vector [ 1.0; 3.0 ] ] [ "x" ]))
            Expect.equal c.Fraction (Some 0.5) "x loses at one of two"
        }
        test "masked: gather and slice never read some elements" {
            let g = cause CauseKind.Masked (only (explainText "sum(gather(x, cast([0, 0], dtype=int32)))" [ "x", vector [ 1.0; 2.0; 3.0; 4.0 ] ] [ "x" ]))
            Expect.equal g.Fraction (Some 0.75) "only element 0 is read"
            let s = cause CauseKind.Masked (only (explainText "sum(slice(x, start=[1], stop=[2]))" [ "x", vector [ 1.0; 2.0; 3.0; 4.0 ] ] [ "x" ]))
            Expect.equal s.NodeText "slice(x, start=[1], stop=[2])" "the slice"
            Expect.equal s.Fraction (Some 0.75) "one of four is read"
        }
        test "masked by a zero factor: x * 0 and x * [0, 1]" {
            let d = only (explainText "sum(x * 0)" [ "x", vector [ 1.0; 2.0 ] ] [ "x" ])
            expectStatus GradientStatus.Zero d
            let c = cause CauseKind.Masked d
            Expect.equal c.NodeText "x * 0" "the product"
            Expect.equal c.Fraction (Some 1.0) "every element"
            let d = only (explainText "sum(x * [0, 1])" [ "x", vector [ 1.0; 2.0 ] ] [ "x" ])
            expectStatus GradientStatus.PartlyZero d
            let c = cause CauseKind.Masked d
            Expect.stringContains c.Message "multiplies `x` by `[0, 1]`, which is exactly 0 at 1 of 2 elements" "the zero factor"
            Expect.equal c.Fraction (Some 0.5) "one of two"
        }
        test "masked by a zero factor: dead units starve the next layer's weights" {
            let w1 = Tensor.ofArray2D (array2D [ [ 1.0; 0.0 ]; [ 0.0; 1.0 ]; [ -1.0; 0.0 ]; [ 0.0; -1.0 ] ])
            let bindings = [ "w1", w1; "x", vector [ 1.0; 2.0 ]; "b1", vector [ 0.5; 0.5; -5.0; -5.0 ]; "w2", Tensor.ofArray2D (array2D [ [ 1.0; 1.0; 1.0; 1.0 ] ]) ]
            let d = only (explainText "sum(w2 @ relu(w1 @ x + b1))" bindings [ "w2" ])
            expectStatus GradientStatus.PartlyZero d
            let c = cause CauseKind.Masked d
            Expect.equal c.NodeText "w2 @ relu(w1 @ x + b1)" "the matmul"
            Expect.stringContains c.Message "by `relu(w1 @ x + b1)`, which is exactly 0 at 2 of 4 elements" "the zero factor"
            Expect.stringContains c.Message "dead units" "a relu's zeros are dead units"
            Expect.equal c.Fraction (Some 0.5) "two of four weights"
        }
        test "a zero factor where another path carries gradient is no cause" {
            let text = "sum(x * [0, 1, 1] - x * [0, 1, 0] + where([true, false, false], x, 0))"
            let d = only (explainText text [ "x", vector [ 1.0; 2.0; 3.0 ] ] [ "x" ])
            expectStatus GradientStatus.PartlyZero d
            Expect.equal (causesOf CauseKind.Masked d |> List.map (fun c -> c.NodeText)) [ "where([true, false, false], x, 0)" ] "the products' zeros are covered by other paths"
        }
        test "no cause of zeros for a gradient with no zero element: relu's dead unit is healed by exp, the inf has its origin" {
            let d = only (explainText "sum(relu(x) + exp(x))" [ "x", vector [ -1.0; 800.0 ] ] [ "x" ])
            expectStatus GradientStatus.Inf d
            Expect.isEmpty (causesOf CauseKind.Masked d) "no element is zero"
            Expect.isNonEmpty (causesOf CauseKind.InfOrigin d) "exp overflows"
            let d = only (explainText "sum(relu(x) + exp(x))" [ "x", vector [ -1000.0; 800.0 ] ] [ "x" ])
            expectStatus GradientStatus.Inf d
            Expect.equal (cause CauseKind.Masked d).Fraction (Some 0.5) "element 0 is exactly zero: relu and exp's underflow"
        }
        test "a share of one in a million is <0.1%, not 0%" {
            let xs = Array.init 1_000_000 (fun i -> if i = 0 then -1.0 else 1.0)
            let c = cause CauseKind.Masked (only (explainText "sum(relu(x))" [ "x", Tensor.ofArray xs ] [ "x" ]))
            Expect.stringContains c.Message "1 of 1000000 elements (<0.1%)" "the count and a share that is not 0%"
        }
        test "cancellation: sum(x - mean(x)) names both paths and their contributions" {
            let d = only (explainText "sum(x - mean(x))" [ "x", vector [ 1.0; 2.0; 3.0; 4.0 ] ] [ "x" ])
            expectStatus GradientStatus.Zero d
            let c = cause CauseKind.Cancellation d
            Expect.equal c.NodeText "x" "the node with two paths"
            Expect.equal c.Fraction (Some 1.0) "at every element"
            Expect.stringContains c.Message "through `x - mean(x)`: 1" "the direct path contributes 1"
            Expect.stringContains c.Message "through `mean(x)`: -1" "the path through the mean contributes -1"
        }
        test "cancellation after a layer: the zero reaches the weights" {
            let w = Tensor.ofArray2D (array2D [ [ 1.0; 2.0 ]; [ 3.0; -1.0 ]; [ 0.5; 0.5 ] ])
            let d = only (explainText "let h = w @ x in sum(h - mean(h))" [ "w", w; "x", vector [ 1.0; 2.0 ] ] [ "w" ])
            expectStatus GradientStatus.Zero d
            Expect.equal (cause CauseKind.Cancellation d).NodeText "w @ x" "the cancellation is at h"
        }
        test "underflow: exp(-1000 * x) at x = 1 is exactly zero, at 0.01 it is -0.045" {
            let e = explainText "sum(exp(-1000 * x))" [ "x", vector [ 0.01; 1.0 ] ] [ "x" ]
            Expect.floatClose Accuracy.high (values e.Gradients.Head).Head (-1000.0 * exp -10.0) "not tiny at 0.01"
            let d = only e
            expectStatus GradientStatus.PartlyZero d
            let c = cause CauseKind.Underflow d
            Expect.equal c.NodeText "exp(-1000 * x)" "the exp"
            Expect.equal c.Fraction (Some 0.5) "underflowed at x = 1"
        }
        test "tiny: 1 + exp(-1000 * x) at 0.5 and 1 is below the threshold, and underflow says why" {
            let d = only (explainText "1 + sum(exp(-1000 * x))" [ "x", vector [ 0.5; 1.0 ] ] [ "x" ])
            expectStatus GradientStatus.Tiny d
            Expect.equal (cause CauseKind.Underflow d).Fraction (Some 1.0) "both local derivatives are below ε"
        }
        test "tiny is scale-free: a tiny function or a tiny factor is not a tiny gradient" {
            for text in [ "1e-30 * sum(x ^ 2)"; "sum(x * 1e-20)"; "sum(exp(-1000 * x))" ] do
                let d = only (explainText text [ "x", vector [ 1.0; 2.0 ] ] [ "x" ])
                Expect.notEqual d.Status GradientStatus.Tiny text
            expectOk (explainText "1e-30 * sum(x ^ 2)" [ "x", vector [ 1.0; 2.0 ] ] [ "x" ])
            expectStatus GradientStatus.Tiny (only (explainText "1 + 1e-20 * sum(x)" [ "x", vector [ 1.0; 2.0 ] ] [ "x" ]))
            expectStatus GradientStatus.Tiny (only (explainText "1 + 1e-20 * sum(x)" [ "x", vector [ 0.0; 0.0 ] ] [ "x" ]))
        }
        test "saturation: tanh of a large argument" {
            let d = only (explainText "sum(tanh(20 * x))" [ "x", vector [ 2.0; 3.0 ] ] [ "x" ])
            expectStatus GradientStatus.Zero d
            let c = cause CauseKind.Saturation d
            Expect.equal c.NodeText "tanh(20 * x)" "the tanh"
            Expect.equal c.Fraction (Some 1.0) "saturated everywhere"
        }
        test "saturation: sigmoid and softplus" {
            for text in [ "sum(sigmoid(x))"; "sum(softplus(x))" ] do
                let d = only (explainText text [ "x", vector [ -800.0; 1.0 ] ] [ "x" ])
                expectStatus GradientStatus.PartlyZero d
                Expect.equal (cause CauseKind.Saturation d).Fraction (Some 0.5) text
        }
        test "saturation: a one-hot softmax passes back nothing" {
            let d = only (explainText "sum(softmax(z) * [1, 0, 0])" [ "z", vector [ 1000.0; 0.0; -1000.0 ] ] [ "z" ])
            expectStatus GradientStatus.Zero d
            let c = cause CauseKind.Saturation d
            Expect.equal c.NodeText "softmax(z)" "the softmax"
            Expect.equal c.Fraction (Some 1.0) "one-hot at every element"
            let d = only (explainText "sum(softmax(z) * [1, 0, 0])" [ "z", vector [ 50.0; 0.0; -50.0 ] ] [ "z" ])
            expectStatus GradientStatus.Tiny d
            Expect.equal (cause CauseKind.Saturation d).Fraction (Some 1.0) "within ε of one-hot"
            let d = only (explainText "sum(logSoftmax(z) * [1, 0, 0])" [ "z", vector [ 1000.0; 0.0; -1000.0 ] ] [ "z" ])
            expectStatus GradientStatus.Zero d
            Expect.equal (cause CauseKind.Saturation d).NodeText "logSoftmax(z)" "logSoftmax of the winner"
        }
        test "saturation: a confident wrong answer's cross-entropy is ok" {
            expectOk (explainText "-sum(logSoftmax(z) * [0, 1, 0])" [ "z", vector [ 50.0; 0.0; -50.0 ] ] [ "z" ])
        }
        test "inf-origin: log at 0, forward and backward, with the element and the input value" {
            let d = only (explainText "sum(log(x))" [ "x", vector [ 1.0; 0.0 ] ] [ "x" ])
            expectStatus GradientStatus.Inf d
            let cs = causesOf CauseKind.InfOrigin d
            Expect.equal cs.Length 2 "forward and backward"
            Expect.stringContains cs[0].Message "forward: `log(x)` is -inf at [1]" "the forward origin"
            Expect.stringContains cs[0].Message "`x` = 0" "the input value"
            Expect.stringContains cs[1].Message "backward: the derivative of `log(x)` passes inf" "the backward origin"
        }
        test "inf-origin: sqrt at 0 only in the backward pass" {
            let d = only (explainText "sum(sqrt(x))" [ "x", vector [ 0.0; 4.0 ] ] [ "x" ])
            expectStatus GradientStatus.Inf d
            let c = cause CauseKind.InfOrigin d
            Expect.stringStarts c.Message "backward: the derivative of `sqrt(x)` passes inf to `x` at [0]" "backward at element 0"
        }
        test "nan-origin: 0/0 in the forward pass" {
            let d = only (explainText "sum(x / x)" [ "x", vector [ 0.0; 2.0 ] ] [ "x" ])
            expectStatus GradientStatus.NaN d
            let c = (causesOf CauseKind.NanOrigin d).Head
            Expect.equal c.NodeText "x / x" "the division"
            Expect.stringContains c.Message "NaN at [0] from NaN-free inputs" "element 0"
        }
        test "no wrt: every floating-point input, as the command line does" {
            let x, w = input "x" [ 2 ], input "w" [ 2 ]
            let e = explain [ "x", vector [ 1.0; 0.0 ]; "w", vector [ 3.0; 4.0 ] ] [] (sum (x * w))
            Expect.equal [ for d in e.Diagnoses -> d.WrtText, d.Status ] [ "x", GradientStatus.Ok; "w", GradientStatus.PartlyZero ] "both inputs"
            Expect.equal e.Gradients (sum (x * w) |> grad [ x; w ] |> evalMany [ "x", vector [ 1.0; 0.0 ]; "w", vector [ 3.0; 4.0 ] ]) "grad's numbers"
        }
        test "nan-origin: an input that holds NaN" {
            let d = only (explainText "sum(x * 2)" [ "x", vector [ 1.0; nan ] ] [ "x" ])
            expectStatus GradientStatus.Ok d
            let d = only (explainText "sum(x * x)" [ "x", vector [ 1.0; nan ] ] [ "x" ])
            expectStatus GradientStatus.NaN d
            Expect.stringContains (causesOf CauseKind.NanOrigin d).Head.Message "the input `x` holds NaN at [1]" "the input"
        }
    ]

let private strongZeroTests =
    testList "strong zeros never hide a problem" [
        let x = vector [ 1.0; 0.001; 0.0; -1.0 ]
        test "grad(sum(log(exp(-1000*x)))) is NaN where exp underflowed, not a silent 0" {
            let xs = input "x" [ 4 ]
            let g = sum (log (exp (-1000.0 * xs))) |> grad [ xs ] |> List.head |> eval [ "x", x ] |> values
            Expect.isTrue (Double.IsNaN g[0]) "at x = 1: exp is 0, log sends ∞ back, 0·∞ is NaN"
            Expect.equal g[1..2] [ -1000.0; -1000.0 ] "the ordinary elements"
            Expect.equal g[3] 0.0 "at x = -1 the value is already +∞ and log's derivative there is an exact 0"
        }
        test "explain names the inf-origin (log's derivative at exp's 0) and the NaN it meets" {
            let d = only (explainText "sum(log(exp(-1000 * x)))" [ "x", x ] [ "x" ])
            expectStatus GradientStatus.NaN d
            let infs = causesOf CauseKind.InfOrigin d |> List.map (fun c -> c.Message)
            Expect.exists infs (fun m -> m.StartsWith "backward: the derivative of `log(exp(-1000 * x))` passes inf to `exp(-1000 * x)` at [0]") "log's derivative 1/0"
            let nans = causesOf CauseKind.NanOrigin d |> List.map (fun c -> c.Message)
            Expect.exists nans (fun m -> m.StartsWith "backward: the derivative of `exp(-1000 * x)` passes NaN") "exp's 0 meets ∞"
        }
        test "where with an unsafe branch stays exact: the unselected log contributes a strong zero" {
            let d = only (explainText "sum(where(x > 0, log(x), 0))" [ "x", vector [ 0.0; 1.0 ] ] [ "x" ])
            expectStatus GradientStatus.PartlyZero d
            Expect.equal (cause CauseKind.Masked d).NodeText "where(x > 0, log(x), 0)" "the where, not a NaN"
            Expect.isEmpty (causesOf CauseKind.PiecewiseConstant d) "the comparison in the condition is no cause"
        }
    ]

/// A small MLP, a logistic regression, Rosenbrock and softmax cross-entropy at ordinary points.
let private healthyTests =
    testList "healthy models are ok with no causes" [
        test "a small MLP" {
            let w1, b1 = Tensor.randn 1 [ 4; 3 ], Tensor.randn 2 [ 4 ]
            let w2, x = Tensor.randn 3 [ 2; 4 ], Tensor.randn 4 [ 3 ]
            expectOk (explainText "sum(tanh(w2 @ tanh(w1 @ x + b1)) ^ 2)" [ "w1", w1; "b1", b1; "w2", w2; "x", x ] [ "w1"; "b1"; "w2" ])
        }
        test "a logistic regression" {
            let x, y = Tensor.randn 5 [ 6; 3 ], Tensor.ofArray [| 1.0; 0.0; 1.0; 1.0; 0.0; 0.0 |]
            let text = "let p = sigmoid(x @ w + b) in -mean(y * log(p) + (1 - y) * log(1 - p))"
            expectOk (explainText text [ "x", x; "y", y; "w", Tensor.randn 6 [ 3 ]; "b", Tensor.scalar 0.1 ] [ "w"; "b" ])
        }
        test "Rosenbrock" {
            expectOk (explainText "(1 - a) ^ 2 + 100 * (b - a ^ 2) ^ 2" [ "a", Tensor.scalar -1.2; "b", Tensor.scalar 1.0 ] [ "a"; "b" ])
        }
        test "softmax cross-entropy" {
            let text = "-sum(y * logSoftmax(x @ w, axis=1)) / 4"
            let y = Tensor.ofArray2D (array2D [ [ 1.0; 0.0; 0.0 ]; [ 0.0; 1.0; 0.0 ]; [ 0.0; 0.0; 1.0 ]; [ 1.0; 0.0; 0.0 ] ])
            expectOk (explainText text [ "x", Tensor.randn 7 [ 4; 5 ]; "w", Tensor.randn 8 [ 5; 3 ]; "y", y ] [ "w" ])
        }
        test "a stationary point is zero, and no rule claims a cause" {
            let d = only (explainText "(1 - a) ^ 2 + 100 * (b - a ^ 2) ^ 2" [ "a", Tensor.scalar 1.0; "b", Tensor.scalar 1.0 ] [ "a" ])
            expectStatus GradientStatus.Zero d
            Expect.isEmpty d.Causes "Rosenbrock's minimum: nothing is wrong"
        }
    ]

// ---- Property: random smooth programs -----------------------------------------------------------

/// A random smooth program of x and y (vectors of 3), built from smooth ops on bounded arguments.
let private smoothProgram : Gen<Expr * Expr * Expr> =
    gen {
        let x, y = input "x" [ 3 ], input "y" [ 3 ]
        let! steps = Gen.choose (1, 6)
        let mutable e = x
        for _ in 1 .. steps do
            let! k = Gen.choose (0, 7)
            e <-
                match k with
                | 0 -> sin e + y
                | 1 -> tanh e * 1.5 + x
                | 2 -> e * y + x
                | 3 -> exp (tanh e)
                | 4 -> sigmoid e + cos y
                | 5 -> log (1.5 + sin e) * x
                | 6 -> softplus e - y
                | _ -> e * e + x
        return x, y, sum (e * e)
    }

/// explain agrees with grad bit for bit and is ok, when the gradient is finite and has no zero element.
let private okWhenHealthy ((x: Expr, y: Expr, output: Expr), (tx: Tensor, ty: Tensor)) =
    let bindings = [ "x", tx; "y", ty ]
    let expected = output |> grad [ x; y ] |> evalMany bindings
    let healthy = expected |> List.forall (fun g -> g.ToFloat64Array() |> Array.forall (fun v -> Double.IsFinite v && v <> 0.0))
    let check () =
        let e = explain bindings [ x; y ] output
        Expect.equal e.Gradients expected "bit for bit the gradients grad gives"
        expectOk e
    healthy ==> lazy (check ())

/// Scaling the output by a power of two (exact in floating point) changes no status: the rules are
/// relative to the value.
let private scaleFree (((x: Expr, y: Expr, output: Expr), (tx: Tensor, ty: Tensor)), k: int) =
    let bindings = [ "x", tx; "y", ty ]
    let scaled = output * (2.0 ** float k)
    let finite (e: Explanation) =
        Double.IsFinite (e.Value.ToFloat64Array()[0]) && e.Gradients |> List.forall (fun g -> g.ToFloat64Array() |> Array.forall Double.IsFinite)
    let plain, big = explain bindings [ x; y ] output, explain bindings [ x; y ] scaled
    (finite plain && finite big) ==> lazy (
        Expect.equal [ for d in big.Diagnoses -> d.Status ] [ for d in plain.Diagnoses -> d.Status ] (sprintf "%O scaled by 2^%d" output k))

let private propertyTests =
    let cases = Gen.zip smoothProgram (Gen.zip (Generators.tensor Domain.Any [| 3 |]) (Generators.tensor Domain.Any [| 3 |]))
    testList "property" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 100 } "on smooth programs whose gradient is finite and non-zero, explain is ok and gives grad's numbers"
            (Prop.forAll (Arb.fromGen cases) okWhenHealthy)
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 100 } "scaling a smooth program's output by a power of two changes no status"
            (Prop.forAll (Arb.fromGen (Gen.zip cases (Gen.choose (-100, 100)))) scaleFree)
    ]

// ---- Checked evaluation -------------------------------------------------------------------------

let private checkedTests =
    testList "checked evaluation" [
        test "forward: stops at log(0), naming the node, its site, the element and the input" {
            let x = input "x" [ 3 ]
            let output = parse [ x ] "sum(x * log(x))"
            let ex = Expect.throwsC (fun () -> evalChecked [ "x", vector [ 1.0; 0.0; 2.0 ] ] output |> ignore) id
            match ex with
            | :? NonFiniteException as e ->
                Expect.equal e.Pass "forward" "forward"
                Expect.equal e.Node "`log(x)`" "the log"
                Expect.equal e.Index "[1]" "element 1"
                Expect.equal e.Inputs [ "`x` = 0" ] "x is 0 there"
                Expect.equal e.Site (Some (CreationSite.Text(1, 9))) "the log's position"
                Expect.isTrue (box e :? EvaluationException) "an evaluation error"
            | e -> failtestf "expected NonFiniteException, got %O" e
        }
        test "backward: sqrt at 0 names the rule's step and the forward node" {
            let x = input "x" [ 2 ]
            let output = parse [ x ] "sum(sqrt(x))"
            let ex = Expect.throwsC (fun () -> gradChecked [ "x", vector [ 4.0; 0.0 ] ] [ x ] output |> ignore) id
            match ex with
            | :? NonFiniteException as e ->
                Expect.equal e.Pass "backward" "backward"
                Expect.equal e.ForwardNode "`sqrt(x)`" "the forward node"
                Expect.equal e.Index "[1]" "element 1"
                Expect.stringContains e.Message "is inf at [1]" "inf"
                Expect.equal e.Site (Some (CreationSite.Text(1, 5))) "the sqrt's position"
            | e -> failtestf "expected NonFiniteException, got %O" e
        }
        test "finite everywhere: the same numbers as eval and grad" {
            let x = input "x" [ 2 ]
            let output = sum (sqrt x * x)
            let at = [ "x", vector [ 4.0; 9.0 ] ]
            let value, gradients = gradChecked at [ x ] output
            Expect.equal value (eval at output) "value"
            Expect.equal gradients (output |> grad [ x ] |> evalMany at) "gradient"
            Expect.equal (evalChecked at output) (eval at output) "evalChecked"
        }
        test "an input that holds NaN stops checked evaluation at the input" {
            let x = input "x" [ 2 ]
            let ex = Expect.throwsC (fun () -> evalChecked [ "x", vector [ 1.0; nan ] ] (x * 2.0) |> ignore) id
            Expect.stringContains ex.Message "the input `x` holds nan at [1]" "names the input"
        }
    ]

// ---- Creation sites ----------------------------------------------------------------------------

let private siteTests =
    testList "creation sites" [
        test "off by default: code-built nodes have no site" {
            let x = input "x" [ 2 ]
            Expect.isNone (CreationSites.tryFind (relu x)) "no capture outside a scope"
        }
        test "captured: the file and line of the code that built the node" {
            let x = input "x" [ 2 ]
            let expectedLine = __LINE__ |> int
            let y = CreationSites.capture (fun () -> relu (x - 100.0))
            match CreationSites.tryFind y with
            | Some (CreationSite.Code (file, line, _, _)) ->
                Expect.stringEnds file "ClinicTests.fs" "this file"
                Expect.equal line (expectedLine + 1) "this line"
            | other -> failtestf "expected a code site, got %A" other
            let d = only (explain [ "x", vector [ 1.0; 2.0 ] ] [ x ] (sum y))
            Expect.equal (cause CauseKind.Masked d).Site (CreationSite.Code |> fun _ -> CreationSites.tryFind y) "explain names it"
        }
        test "explain inside a scope gives its own nodes no site" {
            let x = input "x" [ 2 ]
            let y = x * 2.0
            let output = sum (stopGradient y)
            use _ = CreationSites.enable ()
            let d = only (explain [ "x", vector [ 1.0; 2.0 ] ] [ x ] output)
            Expect.isNone (cause CauseKind.StopGradient d).Site "the stopGradient was built before the scope"
            Expect.isNone (CreationSites.tryFind y) "and explain did not give y the site of its caller"
        }
        test "a scope ends when disposed" {
            let x = input "x" [ 2 ]
            let scope = CreationSites.enable ()
            let inside = exp x
            scope.Dispose()
            let outside = sin x
            Expect.isSome (CreationSites.tryFind inside) "inside"
            Expect.isNone (CreationSites.tryFind outside) "outside"
        }
    ]

// ---- Pictures -----------------------------------------------------------------------------------

let private dotTests =
    testList "Graphviz" [
        test "nodes are labelled with op, shape and dtype" {
            let x = input "x" [ 3 ]
            let text = Graphviz.ofExpr (sum (relu x))
            Expect.stringStarts text "digraph funcdiff {" "a digraph"
            Expect.stringContains text "relu\\nfloat64[3]" "op, dtype and shape"
            Expect.stringContains text "x\\nfloat64[3]" "the input by name"
        }
        test "with the gradient and the diagnosis, causes are marked" {
            let x = input "x" [ 3 ]
            let at = readOnlyDict [ "x", vector [ -1.0; -2.0; -3.0 ] ]
            let text = Graphviz.render { Graphviz.defaults with Gradient = true; ExplainAt = Some at } (sum (relu x))
            Expect.stringContains text "masked 100%" "the dead relu is labelled with its cause"
            Expect.stringContains text "∂/∂x" "the gradient root"
            Expect.stringContains text "shape=box" "gradient steps are boxes"
            Expect.stringContains text "style=dashed" "a zero path is dashed"
        }
        test "without the gradient nothing is drawn as a gradient step, merged duplicates included" {
            let x = input "x" [ 2 ]
            for e in [ sum (exp x + exp x); sum (sin (sin (sin (sin (sin x))))) ] do
                let text = Graphviz.ofExpr e
                Expect.isFalse (text.Contains "shape=box") (sprintf "no boxes in\n%s" text)
        }
        test "a large gradient graph leaves the forward graph its share: inputs, output and half the rest" {
            let x = input "x" [ 2 ]
            let mutable y = x
            for _ in 1 .. 300 do y <- sin y * x
            let text = Graphviz.render { Graphviz.defaults with Gradient = true; MaxNodes = 60 } (sum y)
            let nodes = text.Split('\n') |> Array.filter (fun l -> l.Contains "[label=")
            Expect.isLessThanOrEqual nodes.Length 61 "the budget (and the note)"
            Expect.exists nodes (fun l -> l.Contains "label=\"x\\nfloat64[2]\"") "the input"
            Expect.exists nodes (fun l -> l.Contains "label=\"output\\n") "the output"
            Expect.exists nodes (fun l -> l.Contains "∂/∂x") "the gradient root"
            let forward = nodes |> Array.filter (fun l -> not (l.Contains "shape=box") && not (l.Contains "shape=note")) |> Array.length
            Expect.isGreaterThanOrEqual forward 29 "the forward graph keeps half the budget"
        }
    ]

// ---- A million nodes deep ----------------------------------------------------------------------

let private deepTests =
    testList "a chain of a million nodes" [
        let depth = 1_000_000
        let x = input "x" []
        let chain =
            let mutable y = x
            for i in 1 .. depth do y <- if i % 2 = 0 then -y else y + 1.0
            y
        test "explain walks it without recursion and finds the dead relu at its end" {
            let d = only (explain [ "x", Tensor.scalar 0.5 ] [ x ] (relu (chain - 1e9)))
            expectStatus GradientStatus.Zero d
            Expect.equal (cause CauseKind.Masked d).Fraction (Some 1.0) "the relu at the end is dead"
        }
        test "DOT collapses the chain into one node" {
            let text = Graphviz.ofExpr chain
            let nodes = text.Split('\n') |> Array.filter (fun l -> l.Contains "[label=") |> Array.length
            Expect.isLessThan nodes 10 "a handful of nodes"
            Expect.stringContains text "steps: " "the collapsed chain"
        }
    ]

let tests =
    testList "Clinic" [ causeTests; strongZeroTests; healthyTests; propertyTests; checkedTests; siteTests; dotTests; deepTests ]
