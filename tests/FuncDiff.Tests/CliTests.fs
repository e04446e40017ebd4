/// The funcdiff command line, run as a user runs it: the built executable in its own process, its JSON
/// read back with System.Text.Json, its exit code and stderr checked on every path.
module FuncDiff.Tests.CliTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto

// ---- Running the executable --------------------------------------------------------------------

type private Marker = class end

/// The CLI's build output for this configuration and framework. The test project references the CLI
/// project without its assembly, so building the tests builds it; its output mirrors this project's
/// (bin/<configuration>/<framework>) under src/FuncDiff.Cli.
let internal cli =
    lazy
        let here = Path.GetDirectoryName(typeof<Marker>.Assembly.Location)
        let rec projectDir (dir: DirectoryInfo) =
            if isNull dir then failtestf "no FuncDiff.Tests.fsproj above %s" here
            elif File.Exists(Path.Combine(dir.FullName, "FuncDiff.Tests.fsproj")) then dir
            else projectDir dir.Parent
        let project = projectDir (DirectoryInfo here)
        let layout = Path.GetRelativePath(project.FullName, here)
        let dll = Path.Combine(project.Parent.Parent.FullName, "src", "FuncDiff.Cli", layout, "FuncDiff.Cli.dll")
        if not (File.Exists dll) then failtestf "the CLI is not built at %s (build the test project, which builds it)" dll
        dll

/// The dotnet host running these tests, so the CLI runs on the same runtime.
let internal host =
    match Environment.GetEnvironmentVariable "DOTNET_HOST_PATH" with
    | null | "" ->
        let self = Environment.ProcessPath
        if not (isNull self) && Path.GetFileNameWithoutExtension(self) = "dotnet" then self else "dotnet"
    | path -> path

type internal Run =
    { Code: int
      Out: string
      Err: string }

let internal run (args: string list) : Run =
    let start = ProcessStartInfo(host, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    start.ArgumentList.Add cli.Value
    for a in args do start.ArgumentList.Add a
    use p = Process.Start start
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit 120_000) then
        p.Kill true
        failtestf "funcdiff %A did not finish" args
    { Code = p.ExitCode; Out = out.Result; Err = err.Result }

let private describe (r: Run) = sprintf "exit %d\nstdout:\n%s\nstderr:\n%s" r.Code r.Out r.Err

/// The one JSON object on stdout; fails unless stdout is exactly that.
let private json (r: Run) =
    let text = r.Out.Trim()
    Expect.isFalse (text.Contains '\n') (sprintf "one JSON object on one line:\n%s" (describe r))
    (JsonDocument.Parse text).RootElement

/// Runs with --json, expecting success; the JSON object.
let private ok (args: string list) =
    let r = run (args @ [ "--json" ])
    Expect.equal r.Code 0 (sprintf "funcdiff %A should succeed:\n%s" args (describe r))
    Expect.equal r.Err "" "nothing on stderr"
    json r

let private noTrace (r: Run) =
    for marker in [ "   at "; "Exception"; "Unhandled" ] do
        Expect.isFalse (r.Err.Contains marker) (sprintf "no exception trace for a user error:\n%s" r.Err)

/// Runs with --json, expecting a user error; (kind, message, position as (line, column) or None).
let private userError (args: string list) =
    let r = run (args @ [ "--json" ])
    Expect.equal r.Code 1 (sprintf "funcdiff %A is a user error:\n%s" args (describe r))
    noTrace r
    let error = (json r).GetProperty "error"
    let message = error.GetProperty("message").GetString()
    Expect.stringContains r.Err message "the message is on stderr too"
    let position =
        match error.GetProperty("position") with
        | p when p.ValueKind = JsonValueKind.Null -> None
        | p -> Some(p.GetProperty("line").GetInt32(), p.GetProperty("column").GetInt32())
    error.GetProperty("kind").GetString(), message, position

// ---- Reading tensors -----------------------------------------------------------------------------

type private T =
    { Shape: int list
      DType: string
      Data: float list }

let private number (e: JsonElement) =
    match e.ValueKind with
    | JsonValueKind.Number -> e.GetDouble()
    | JsonValueKind.String ->
        match e.GetString() with
        | "NaN" -> nan
        | "Infinity" -> infinity
        | "-Infinity" -> -infinity
        | s -> failtestf "%A is not one of the spellings NaN, Infinity, -Infinity" s
    | JsonValueKind.True -> 1.0
    | JsonValueKind.False -> 0.0
    | k -> failtestf "a tensor element cannot be %O" k

let private tensor (e: JsonElement) =
    let names = [ for p in e.EnumerateObject() -> p.Name ]
    Expect.equal names [ "shape"; "dtype"; "data" ] "a tensor is {shape, dtype, data}"
    let t =
        { Shape = [ for d in e.GetProperty("shape").EnumerateArray() -> d.GetInt32() ]
          DType = e.GetProperty("dtype").GetString()
          Data = [ for v in e.GetProperty("data").EnumerateArray() -> number v ] }
    Expect.equal t.Data.Length (List.fold (*) 1 t.Shape) "the data fills the shape"
    t

let private field (name: string) (e: JsonElement) = tensor (e.GetProperty name)

/// The derivatives object (gradients, jacobians, hessians) as (input, tensor) in the order written.
let private derivatives (name: string) (e: JsonElement) =
    [ for p in e.GetProperty(name).EnumerateObject() -> p.Name, tensor p.Value ]

let private close (actual: float list) (expected: float list) (message: string) =
    Expect.equal actual.Length expected.Length (message + ": length")
    List.iteri2 (fun i (a: float) (e: float) -> Expect.floatClose Accuracy.high a e (sprintf "%s: element %d of %A vs %A" message i actual expected)) actual expected

// ---- Tests -------------------------------------------------------------------------------------

let private subcommands =
    testList "subcommands" [
        test "eval prints the value with its shape and dtype" {
            let value = ok [ "eval"; "x * 2 + w"; "--at"; "x=[[1, 2], [3, 4]]; w=0.5" ] |> field "value"
            Expect.equal value { Shape = [ 2; 2 ]; DType = "float64"; Data = [ 2.5; 4.5; 6.5; 8.5 ] } "value"
        }

        test "grad of sum(x - mean(x)) is zeros" {
            let result = ok [ "grad"; "sum(x - mean(x))"; "--at"; "x=[1,2,3,4]" ]
            Expect.equal (field "value" result).Shape [] "a scalar value"
            close (field "value" result).Data [ 0.0 ] "value"
            match derivatives "gradients" result with
            | [ "x", g ] ->
                Expect.equal (g.Shape, g.DType) ([ 4 ], "float64") "the gradient has x's shape"
                close g.Data [ 0.0; 0.0; 0.0; 0.0 ] "zeros"
            | other -> failtestf "one gradient, for x; got %A" other
        }

        test "grad by default takes every floating-point input, in the order bound" {
            let result = ok [ "grad"; "sum(where(b, x ^ 2 * w, 0))"; "--at"; "x=[1, 2, 3]; b=[true, true, false]; w=2" ]
            let gs = derivatives "gradients" result
            Expect.equal (List.map fst gs) [ "x"; "w" ] "x and w, not the bool b"
            close (snd gs[0]).Data [ 4.0; 8.0; 0.0 ] "d/dx = 2xw where b"
            close (snd gs[1]).Data [ 5.0 ] "d/dw = sum of x² where b"
            close (field "value" result).Data [ 10.0 ] "value"
        }

        test "jacobian of x - mean(x) is I - 1/N, of shape output + input" {
            let result = ok [ "jacobian"; "x - mean(x)"; "--at"; "x=[1,2,3,4]" ]
            close (field "value" result).Data [ -1.5; -0.5; 0.5; 1.5 ] "value"
            match derivatives "jacobians" result with
            | [ "x", j ] ->
                Expect.equal j.Shape [ 4; 4 ] "shape [4] + [4]"
                close j.Data [ for i in 0..3 do for k in 0..3 -> (if i = k then 1.0 else 0.0) - 0.25 ] "I - 1/4"
            | other -> failtestf "one jacobian, for x; got %A" other
        }

        test "jacobian shapes of a matrix product" {
            let result = ok [ "jacobian"; "x @ w"; "--at"; "x=[[1, 2, 3], [4, 5, 6]]; w=[1, 0, -1]" ]
            let js = derivatives "jacobians" result |> Map.ofList
            Expect.equal js["w"].Shape [ 2; 3 ] "∂(xw)/∂w is x"
            close js["w"].Data [ 1.0; 2.0; 3.0; 4.0; 5.0; 6.0 ] "∂(xw)/∂w is x"
            Expect.equal js["x"].Shape [ 2; 2; 3 ] "output [2] + x [2, 3]"
            close js["x"].Data [ 1.0; 0.0; -1.0; 0.0; 0.0; 0.0; 0.0; 0.0; 0.0; 1.0; 0.0; -1.0 ] "row i of the output depends on row i of x"
        }

        test "hessian of sum(x^3) is diag(6x)" {
            let result = ok [ "hessian"; "sum(x^3)"; "--at"; "x=[1, -2, 0.5]" ]
            close (field "value" result).Data [ 1.0 - 8.0 + 0.125 ] "value"
            match derivatives "hessians" result with
            | [ "x", h ] ->
                Expect.equal h.Shape [ 3; 3 ] "shape x + x"
                close h.Data [ 6.0; 0.0; 0.0; 0.0; -12.0; 0.0; 0.0; 0.0; 3.0 ] "diag(6x)"
            | other -> failtestf "one hessian, for x; got %A" other
        }

        test "check passes for a smooth scalar function" {
            let result = ok [ "check"; "sum(tanh(x @ w)) + sum(exp(-(x ^ 2)))"; "--at"; "x=randn(2, 3); w=randn(3)" ]
            Expect.isTrue (result.GetProperty("ok").GetBoolean()) "ok"
            Expect.equal (result.GetProperty("derivative").GetString()) "gradient" "a scalar output checks the gradient"
            let inputs = result.GetProperty "inputs"
            for name, elements in [ "x", 6; "w", 3 ] do
                let r = inputs.GetProperty name
                Expect.isLessThan (r.GetProperty("maxAbsError").GetDouble()) 1e-6 (name + ": small absolute error")
                Expect.isLessThan (r.GetProperty("maxRelError").GetDouble()) 1e-5 (name + ": small relative error")
                Expect.isGreaterThan (r.GetProperty("maxAbsError").GetDouble()) 0.0 (name + ": finite differences are not exact, so the check really compared")
                Expect.equal (r.GetProperty("elements").GetInt32()) elements (name + ": every element compared")
                Expect.isTrue (r.GetProperty("ok").GetBoolean()) (name + ": ok")
        }

        test "check compares the jacobian of a non-scalar output" {
            let result = ok [ "check"; "sin(x) * w"; "--at"; "x=[0.3, -1.2]; w=[2, 3]" ]
            Expect.isTrue (result.GetProperty("ok").GetBoolean()) "ok"
            Expect.equal (result.GetProperty("derivative").GetString()) "jacobian" "the jacobian"
            Expect.equal (result.GetProperty("inputs").GetProperty("x").GetProperty("elements").GetInt32()) 4 "[2] + [2] elements"
        }

        test "check fails at a kink, with exit code 3 and the report" {
            let r = run [ "check"; "sum(relu(x))"; "--at"; "x=[0, 1, -2]"; "--json" ]
            Expect.equal r.Code 3 (sprintf "a failed check exits 3:\n%s" (describe r))
            let result = json r
            Expect.isFalse (result.GetProperty("ok").GetBoolean()) "not ok"
            let x = result.GetProperty("inputs").GetProperty "x"
            Expect.equal (x.GetProperty("failed").GetInt32()) 1 "only the element at 0 fails: relu' is 0 there, the central difference 0.5"
            Expect.floatClose Accuracy.medium (x.GetProperty("maxAbsError").GetDouble()) 0.5 "the error is 0.5"
            let text = run [ "check"; "sum(relu(x))"; "--at"; "x=[0, 1, -2]" ]
            Expect.equal text.Code 3 "exit 3 without --json too"
            Expect.stringContains text.Out "FAILED" "the verdict"
            Expect.stringContains text.Out "worst at [0]: analytic 0, finite difference 0.5" "where and by how much"
            Expect.stringContains text.Out "1e-6*(1 + |fd|)" "the tolerance is stated"
        }

        test "check runs in float64 and has no --dtype" {
            let r = run [ "check"; "sum(x)"; "--at"; "x=[1]"; "--dtype"; "float32" ]
            Expect.equal r.Code 2 "--dtype is not an option of check"
        }
    ]

let private values =
    testList "values" [
        test "NaN and infinities are the strings NaN, Infinity and -Infinity" {
            let result = ok [ "eval"; "x / y"; "--at"; "x=[1, -1, 0, 2]; y=0" ]
            let raw = [ for v in result.GetProperty("value").GetProperty("data").EnumerateArray() -> v ]
            Expect.equal [ for v in raw.[0..2] -> v.GetString() ] [ "Infinity"; "-Infinity"; "NaN" ] "as strings"
            let bound = ok [ "eval"; "x"; "--at"; "x=[nan, inf, -inf, 1e-3]" ] |> field "value"
            Expect.isTrue (Double.IsNaN bound.Data[0]) "nan binds NaN"
            Expect.equal bound.Data[1..] [ infinity; -infinity; 1e-3 ] "inf, -inf and exponents bind"
            let g = ok [ "grad"; "sum(sqrt(x))"; "--at"; "x=[0, 4]" ] |> derivatives "gradients"
            Expect.equal (snd g.Head).Data [ infinity; 0.25 ] "an infinite gradient is Infinity"
        }

        test "--dtype float32 makes the float inputs float32, and their derivatives" {
            let result = ok [ "grad"; "sum(x * x)"; "--at"; "x=[0.1, 2]"; "--dtype"; "float32" ]
            Expect.equal (field "value" result).DType "float32" "value"
            let g = snd (derivatives "gradients" result).Head
            Expect.equal g.DType "float32" "gradient"
            Expect.equal [ for v in g.Data -> float32 v ] [ 0.2f; 4.0f ] "float32 values, written with float32's shortest digits"
            let data = result.GetProperty("gradients").GetProperty("x").GetProperty("data")
            let raw = data[0].GetRawText()
            Expect.equal raw "0.2" "not 0.20000000298023224"
            let mixed = ok [ "eval"; "where(b, x, 0)"; "--at"; "x=ones(2); b=[true, false]"; "--dtype"; "float32" ] |> field "value"
            Expect.equal (mixed.DType, mixed.Data) ("float32", [ 1.0; 0.0 ]) "bool inputs stay bool; ones becomes float32"
            let fallback = ok [ "eval"; "x"; "--at"; "x=1" ] |> field "value"
            Expect.equal fallback.DType "float64" "float64 by default"
        }

        test "randn is reproducible with --seed, and differs by seed and by input" {
            let draw seed = ok [ "eval"; "x"; "--at"; "x=randn(3, 4); y=randn(3, 4)"; "--seed"; string seed ] |> field "value"
            let a, b, c = draw 7, draw 7, draw 8
            Expect.equal a.Shape [ 3; 4 ] "shape"
            Expect.equal a b "the same seed gives the same numbers"
            Expect.notEqual a.Data c.Data "another seed gives other numbers"
            Expect.isGreaterThan (List.distinct a.Data).Length 10 "samples, not a constant"
            let both = ok [ "eval"; "stack(x, y)"; "--at"; "x=randn(3); y=randn(3)"; "--seed"; "7" ] |> field "value"
            Expect.notEqual both.Data[0..2] both.Data[3..5] "two randn inputs differ"
            let swapped = ok [ "eval"; "stack(x, y)"; "--at"; "y=randn(3); x=randn(3)"; "--seed"; "7" ] |> field "value"
            Expect.equal swapped.Data both.Data "the order of the bindings changes nothing"
            let constant = ok [ "eval"; "1 + 2"; "--at"; "" ] |> field "value"
            Expect.equal constant.Data [ 3.0 ] "an expression with no inputs needs no bindings"
            let zo = ok [ "eval"; "x + y"; "--at"; "x=zeros(2, 2); y=ones(2)" ] |> field "value"
            Expect.equal (zo.Shape, zo.Data) ([ 2; 2 ], [ 1.0; 1.0; 1.0; 1.0 ]) "zeros and ones"
        }

        test "--wrt selects inputs, in the order named, comma-separated or repeated" {
            let args = [ "grad"; "sum(x * w + b)"; "--at"; "x=[1, 2]; w=[3, 4]; b=0.5" ]
            Expect.equal (ok (args @ [ "--wrt"; "w" ]) |> derivatives "gradients" |> List.map fst) [ "w" ] "only w"
            let two = ok (args @ [ "--wrt"; "b,x" ]) |> derivatives "gradients"
            Expect.equal (List.map fst two) [ "b"; "x" ] "in the order named"
            close (snd two[0]).Data [ 2.0 ] "d/db counts the broadcast"
            close (snd two[1]).Data [ 3.0; 4.0 ] "d/dx = w"
            Expect.equal (ok (args @ [ "--wrt"; "x"; "--wrt"; "w" ]) |> derivatives "gradients" |> List.map fst) [ "x"; "w" ] "repeated"
            let h = ok [ "hessian"; "sum(x ^ 2 * w)"; "--at"; "x=[1, 2]; w=[3, 4]"; "--wrt"; "w" ] |> derivatives "hessians"
            Expect.equal (List.map fst h) [ "w" ] "hessian takes --wrt too"
            close (snd h.Head).Data [ 0.0; 0.0; 0.0; 0.0 ] "linear in w"
        }
    ]

let private errors =
    testList "errors" [
        test "an unknown --wrt name is an input error naming the inputs" {
            let kind, message, position = userError [ "grad"; "sum(x)"; "--at"; "x=[1]; w=2"; "--wrt"; "x,q" ]
            Expect.equal (kind, position) ("input", None) "kind input, no position"
            Expect.stringContains message "'q'" "names it"
            Expect.stringContains message "x, w" "lists the inputs"
        }

        test "a parse error has kind parse, the position and a caret on stderr" {
            let kind, message, position = userError [ "eval"; "x +* 2"; "--at"; "x=1" ]
            Expect.equal (kind, position) ("parse", Some(1, 4)) "kind and position"
            Expect.stringContains message "expected an expression" "the reason"
            let r = run [ "eval"; "x +* 2"; "--at"; "x=1" ]
            Expect.equal r.Code 1 "exit 1 without --json"
            Expect.equal r.Out "" "nothing on stdout without --json"
            Expect.stringContains r.Err "x +* 2\n     ^" "the caret under the '*'"
            let multiline, _, at = userError [ "eval"; "let y = x in\n  y + )"; "--at"; "x=1" ]
            Expect.equal (multiline, at) ("parse", Some(2, 7)) "line and column in a multi-line EXPR"
        }

        test "a shape error has kind shape and the position of the operator" {
            let kind, message, position = userError [ "eval"; "x + y"; "--at"; "x=[1, 2, 3]; y=[1, 2]" ]
            Expect.equal (kind, position) ("shape", Some(1, 3)) "kind and position"
            Expect.stringContains message "[3]" "names one shape"
            Expect.stringContains message "[2]" "and the other"
        }

        test "grad of a non-scalar is a gradient error naming jacobian" {
            let kind, message, position = userError [ "grad"; "x - mean(x)"; "--at"; "x=[1,2,3,4]" ]
            Expect.equal (kind, position) ("gradient", None) "kind"
            Expect.stringContains message "jacobian" "names jacobian"
            Expect.stringContains message "[4]" "and the shape"
            let r = run [ "grad"; "x - mean(x)"; "--at"; "x=[1,2,3,4]" ]
            Expect.stringContains r.Err "funcdiff jacobian" "the hint names the subcommand"
            let hk, _, _ = userError [ "hessian"; "x * 2"; "--at"; "x=[1, 2]" ]
            Expect.equal hk "gradient" "hessian of a non-scalar too"
            let bk, bm, _ = userError [ "grad"; "sum(x)"; "--at"; "x=[1.5]; b=true"; "--wrt"; "b" ]
            Expect.equal bk "gradient" "with respect to a bool input"
            Expect.stringContains bm "'b'" "naming it"
        }

        test "an input EXPR uses but --at does not bind is an input error" {
            let kind, message, position = userError [ "eval"; "x + y"; "--at"; "x=1" ]
            Expect.equal (kind, position) ("input", Some(1, 5)) "kind and the position of y"
            Expect.stringContains message "'y'" "names y"
            Expect.stringContains message "x" "lists what is bound"
            let none, _, _ = userError [ "eval"; "x" ]
            Expect.equal none "input" "no --at at all"
        }

        test "evaluation errors have kind evaluation" {
            let kind, message, _ = userError [ "eval"; "gather(x, cast(i, dtype=int32))"; "--at"; "x=[1, 2]; i=[5]" ]
            Expect.equal kind "evaluation" "kind"
            Expect.stringContains message "out of range" "the reason"
        }

        test "bad --at text is a binding error naming the binding and the column" {
            let cases =
                [ "x=[1,2,", "binding 'x', column 8", "expected a number"
                  "x=[[1, 2], [3]]", "binding 'x', column 12", "ragged"
                  "x=[true, 1]", "binding 'x', column 10", "cannot mix"
                  "x=exp(1)", "binding 'x', column 3", "not an expression"
                  "x=1 2", "binding 'x', column 5", "expected ';'"
                  "x 1", "binding 'x', column 3", "expected '='"
                  "1x=3", "column 1", "the name of an input"
                  "x=randn(2, -1)", "binding 'x', column 12", "non-negative integer"
                  "x=1; y=2; x=3", "column 11", "'x' is bound twice"
                  "sum=1", "binding 'sum'", "name of a function" ]
            for at, where, reason in cases do
                let kind, message, position = userError [ "eval"; "1"; "--at"; at ]
                Expect.equal (kind, position) ("binding", None) (sprintf "%s: kind binding, no position in EXPR" at)
                Expect.stringContains message where (sprintf "%s: names the binding and column" at)
                Expect.stringContains message reason (sprintf "%s: says what is wrong" at)
        }

        test "bad usage exits 2, with a JSON usage error under --json" {
            let usage (args: string list) (expected: string) =
                let r = run args
                Expect.equal r.Code 2 (sprintf "funcdiff %A is bad usage:\n%s" args (describe r))
                Expect.stringContains r.Err expected (sprintf "funcdiff %A says why" args)
                Expect.stringContains r.Err "--help" "and points to --help"
                noTrace r
                r
            usage [ "frobnicate"; "x" ] "unknown command 'frobnicate'" |> ignore
            Expect.stringContains (usage [ "evl"; "x" ] "unknown command").Err "did you mean 'eval'?" "a typo correction"
            usage [ "eval"; "x"; "--at"; "x=1"; "--bogus" ] "--bogus" |> ignore
            usage [ "eval" ] "EXPR" |> ignore
            usage [] "command" |> ignore
            usage [ "eval"; "x"; "--at"; "x=1"; "--dtype"; "float16" ] "float16" |> ignore
            usage [ "eval"; "x"; "--at"; "x=1"; "extra" ] "extra" |> ignore
            let r = usage [ "frobnicate"; "--json" ] "frobnicate"
            let error = (json r).GetProperty "error"
            Expect.equal (error.GetProperty("kind").GetString()) "usage" "kind usage"
            Expect.equal (error.GetProperty("position").ValueKind) JsonValueKind.Null "no position"
        }
    ]

let private text =
    testList "text output" [
        test "grad prints shapes and NumPy-like values" {
            let r = run [ "grad"; "sum(x - mean(x))"; "--at"; "x=[1,2,3,4]" ]
            Expect.equal r.Code 0 (describe r)
            Expect.equal
                (r.Out.Replace("\r\n", "\n"))
                "value: shape [], float64\ntensor(0.)\n\ngradient with respect to x: shape [4], float64\ntensor([0., 0., 0., 0.])\n"
                "the whole output"
        }

        test "jacobian explains its shape and prints a matrix by rows" {
            let r = run [ "jacobian"; "x * 2"; "--at"; "x=[1, 2]" ]
            Expect.stringContains r.Out "jacobian with respect to x: shape [2, 2] (= output [2] + x [2]), float64" "the heading"
            Expect.stringContains r.Out "tensor([[2., 0.],\n        [0., 2.]])" "rows"
        }

        test "float32 values say so, and check states its tolerance" {
            let r = run [ "eval"; "x"; "--at"; "x=[1.5]"; "--dtype"; "float32" ]
            Expect.stringContains r.Out "dtype=float32" "the dtype note"
            let c = run [ "check"; "sum(x ^ 2)"; "--at"; "x=[1, 2]" ]
            Expect.equal c.Code 0 (describe c)
            Expect.stringContains c.Out "tolerance: |analytic - fd| <= 1e-6*(1 + |fd|)" "the tolerance"
            Expect.stringContains c.Out "x: 2 elements" "per input"
            Expect.isTrue (c.Out.TrimEnd().EndsWith "ok") "the verdict last"
        }

        test "--help lists the commands, the binding syntax and the exit codes" {
            let r = run [ "--help" ]
            Expect.equal r.Code 0 "exit 0"
            for expected in [ "eval"; "grad"; "jacobian"; "hessian"; "check"; "Bindings (--at)"; "Exit codes"; "3   check ran" ] do
                Expect.stringContains r.Out expected (sprintf "mentions %s" expected)
            let check = run [ "check"; "--help" ]
            Expect.stringContains check.Out "exit code is 3" "check's help says how it fails"
        }
    ]

let tests = testList "CLI" [ subcommands; values; errors; text ]
