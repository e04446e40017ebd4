// FuncDiff from an F# script: build expressions, differentiate them, evaluate them.
// Run from the repository root after `dotnet pack src/FuncDiff -c Release -o artifacts`:
//     dotnet fsi docs/quickstart.fsx
#r "nuget: FuncDiff, 0.1.0"

open FuncDiff

/// Stops the script (and CI) when a result is not what the comment says.
let expect (what: string) (actual: float[]) (expected: float[]) =
    let close = Array.length actual = Array.length expected && Array.forall2 (fun a e -> abs (a - e) <= 1e-12 * (1.0 + abs e)) actual expected
    printfn "%s %s: %A" (if close then "ok  " else "FAIL") what actual
    if not close then failwithf "%s: expected %A" what expected

// Expressions are values: inputs have a name and a shape; shapes are checked as you build.
let x = input "x" [ 4 ]
let at = [ ("x", Tensor.ofArray [| 1.0; 2.0; 3.0; 4.0 |]) ]

// Pipelines and operators; exp, log, sqrt, tanh … from FSharp.Core work on expressions.
let f = x |> exp |> sum
let df = f |> grad [ x ] |> List.head          // a gradient is an expression too
printfn "f = %O\ndf = %O" f df
expect "d/dx Σ exp x = exp x" ((eval at df).ToFloat64Array()) (Array.map exp [| 1.0; 2.0; 3.0; 4.0 |])

// Centring: the gradient of the sum is exactly zero, and the jacobian says why (I - 1/N).
let centred = x - mean x
expect "grad Σ(x - mean x)" ((eval at (centred |> sum |> grad [ x ] |> List.head)).ToFloat64Array()) [| 0.0; 0.0; 0.0; 0.0 |]
let j = centred |> jacobian [ x ] |> List.head |> eval at
printfn "jacobian of x - mean(x):\n%O" j
expect "jacobian diagonal" [| for i in 0 .. 3 -> j[[| i; i |]] |] [| 0.75; 0.75; 0.75; 0.75 |]

// grad of a non-scalar never sums for you: it says what to use instead.
try
    centred |> grad [ x ] |> ignore
    failwith "grad of a vector should have failed"
with :? GradientException as e -> printfn "as expected: %s" e.Message

// Branches live in the graph (x .> 0.0 is an expression), and unselected branches contribute exact zeros.
let safeLog = where (x .> 2.5) (log x) (scalar 0.0) |> sum
expect "grad Σ where(x > 2.5, log x, 0)" ((eval at (safeLog |> grad [ x ] |> List.head)).ToFloat64Array()) [| 0.0; 0.0; 1.0 / 3.0; 0.25 |]

// Derivatives of derivatives: the Hessian of Σ x³ is diag(6x).
let h = sum (x * x * x) |> hessian [ x ] |> List.head |> eval at
expect "Hessian diagonal" [| for i in 0 .. 3 -> h[[| i; i |]] |] [| 6.0; 12.0; 18.0; 24.0 |]

// Options are named arguments of members; text parses back to the same expression.
let m = input "m" [ 2; 3 ]
let rowsSoftmax = m.Softmax(axis = 1).Sum(axis = 0, keepDims = true)
let text = string rowsSoftmax
printfn "%s" text
if parse [ m ] text <> rowsSoftmax then failwith "parse (print e) should give e back"
let rows = Tensor.create [ [ 1000.0; 0.0; -1000.0 ]; [ 1.0; 2.0; 3.0 ] ]
expect "softmax rows sum to one, columns summed" ((eval [ ("m", rows) ] (rowsSoftmax.Sum())).ToFloat64Array()) [| 2.0 |]
// eval compiles what it evaluates into a plan and reuses it; compile holds the plan (simplified, fused,
// its buffers reused), and a workspace runs it again and again without allocating.
let loss = sum (tanh x * exp (-(x * x)))
let plan = compile (loss :: grad [ x ] loss)
printfn "%O" plan
let workspace = plan.CreateWorkspace().Bind("x", snd at.Head)
let results = plan.Run(workspace)
expect "a plan gives eval's gradient" (results[1].ToFloat64Array()) ((eval at (loss |> grad [ x ] |> List.head)).ToFloat64Array())
printfn "quickstart: all results as expected"
