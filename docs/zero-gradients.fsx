// "Why is my gradient zero (or None, or NaN)?" The usual answers, and what FuncDiff does instead.
// Run from the repository root after `dotnet pack src/FuncDiff -c Release -o artifacts`:
//     dotnet fsi docs/zero-gradients.fsx
#r "nuget: FuncDiff, 0.1.0"

open FuncDiff

let show (title: string) (value: Tensor) = printfn "%s\n    %O" title value

/// Stops the script (and CI) when a value is not the one the text claims.
let claim (what: string) (value: Tensor) (expected: float list) =
    if value.ToFloat64Array() |> List.ofArray <> expected then failwithf "%s: expected %A, got %O" what expected value

let x = input "x" [ 4 ]
let at = [ ("x", Tensor.ofArray [| 1.0; 2.0; 3.0; 4.0 |]) ]
let gradAt (output: Expr) = output |> grad [ x ] |> List.head |> eval at

// 1. x - mean(x) "has a zero gradient". Other systems silently differentiate the *sum* of a vector
//    output. The sum of x - mean(x) is constant, so that gradient is zero; the Jacobian is not.
let centred = x - mean x
try centred |> grad [ x ] |> ignore with :? GradientException as e -> printfn "1. grad of a vector is refused:\n    %s" e.Message
claim "Σ(x - mean x)" (gradAt (sum centred)) [ 0.0; 0.0; 0.0; 0.0 ]
show "   the Jacobian, exactly I - 1/N:" (centred |> jacobian [ x ] |> List.head |> eval at)

// 2. Dead ReLUs and constant masks: the gradient is exact; it is zero where nothing flows.
let r = relu (x - 2.5)
claim "relu" (gradAt (sum r)) [ 0.0; 0.0; 1.0; 1.0 ]
show "2. relu(x - 2.5) passes the cotangent only where x > 2.5:" (gradAt (sum r))

// 3. Piecewise-constant operations (round, argmax, casts to integers) have derivative zero by
//    definition. That is an answer, not a missing gradient.
claim "round" (gradAt (sum (round x))) [ 0.0; 0.0; 0.0; 0.0 ]
claim "argmax" (gradAt (cast DType.Float64 (argmax x))) [ 0.0; 0.0; 0.0; 0.0 ]
show "3. d/dx Σ round(x), d/dx argmax(x):" (gradAt (sum (round x)))

// 4. "Only watched variables get gradients": there is no tape. Differentiate with respect to any
//    node, a constant included; a node the output does not depend on gets zeros of its shape.
let w = constant (Tensor.scalar 2.0)
let unused = input "unused" [ 2 ]
let gs = sum (w * x) |> grad [ w; x; unused ] |> evalMany (("unused", Tensor.zeros [ 2 ]) :: at)
claim "d/dw" gs[0] [ 10.0 ]
claim "d/dunused" gs[2] [ 0.0; 0.0 ]
printfn "4. d/dw Σ w·x = %O; d/dunused = %O" gs[0] gs[2]

// 5. NaN from the branch that was not taken: where(x > 2, log(x - 2), 0). The unselected log has an
//    infinite derivative at x = 2; its cotangent is exactly zero, and zero times anything is zero here.
let guarded = where (x .> 2.0) (log (x - 2.0)) (scalar 0.0)
claim "guarded log" (gradAt (sum guarded)) [ 0.0; 0.0; 1.0; 0.5 ]
show "5. d/dx Σ where(x > 2, log(x - 2), 0), no NaN:" (gradAt (sum guarded))

// 6. A Python `if` on a tensor is a branch outside the graph. Here x .> 0.0 is an expression and the
//    branch is where, inside the graph, so both sides are differentiated correctly.
claim "branch" (gradAt (sum (where (x .> 2.0) (x * x) x))) [ 1.0; 1.0; 6.0; 8.0 ]
// 7. explain says why, for each input: a status and its causes, each naming its node.
let deadLayer = sum (relu (x - 100.0))
let report = deadLayer |> explain at [ x ]
printfn "7. explain sum(relu(x - 100)):\n%s" report.Report
if (List.exactlyOne report.Diagnoses).Causes |> List.map (fun c -> c.Kind) <> [ CauseKind.Masked ] then
    failwithf "explain: expected one masked cause, got %s" report.Report
printfn "all claims hold"
