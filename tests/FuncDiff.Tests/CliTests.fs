/// The funcdiff command line, run as a user runs it: the built executable in its own process, its JSON
/// read back with System.Text.Json, its exit code and stderr checked on every path.
module FuncDiff.Tests.CliTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff

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

/// Runs funcdiff with these bytes on standard input.
let private runWithInput (input: byte[]) (args: string list) : Run =
    let start =
        ProcessStartInfo(host, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    start.ArgumentList.Add cli.Value
    for a in args do start.ArgumentList.Add a
    use p = Process.Start start
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    // Written on its own thread: a CLI that stops reading early must not block the test.
    let feed =
        Threading.Tasks.Task.Run(fun () ->
            try
                p.StandardInput.BaseStream.Write(input, 0, input.Length)
                p.StandardInput.Close()
            with :? IOException -> ())
    if not (p.WaitForExit 120_000) then
        p.Kill true
        failtestf "funcdiff %A did not finish" args
    feed.Wait()
    { Code = p.ExitCode; Out = out.Result; Err = err.Result }

let internal run (args: string list) = runWithInput [||] args

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

/// The fields bench prints without --ratio, in order: the peer harness's names, so the two read together.
let private peerFields = [ "name"; "dtype"; "median_ms"; "min_ms"; "reps"; "value"; "grad_norm"; "allocated_bytes_per_op" ]

let private subcommands =
    testList "subcommands" [
        test "bench times a peer workload and reports the peer harness's fields" {
            let r = ok [ "bench"; "ew1k"; "--reps"; "3"; "--warmup"; "0" ]
            Expect.equal [ for p in r.EnumerateObject() -> p.Name ] peerFields "exactly these fields, in this order"
            // The value of Σ tanh(x)·exp(-x²) + log(1 + x²) over linspace(-3, 3, 1000), by a plain loop.
            let expected = Seq.init 1000 (fun i -> -3.0 + 6.0 * float i / 999.0) |> Seq.sumBy (fun x -> tanh x * exp (-x * x) + log (1.0 + x * x))
            Expect.floatClose Accuracy.high (r.GetProperty("value").GetDouble()) expected "the value"
            Expect.isLessThanOrEqual (r.GetProperty("min_ms").GetDouble()) (r.GetProperty("median_ms").GetDouble()) "min ≤ median"
            let unknown = run [ "bench"; "nonsense" ]
            Expect.equal unknown.Code 2 "an unknown workload is bad usage"
        }
        test "bench refuses repetitions and warm-ups it cannot time as bad usage, in JSON too" {
            for option, value in [ "--reps", "0"; "--reps", "-1"; "--warmup", "nan"; "--warmup", "-5"; "--warmup", "1e308"; "--warmup", "inf" ] do
                let r = run [ "bench"; "ew1k"; option; value; "--json" ]
                Expect.equal r.Code 2 (sprintf "%s %s: %s" option value (describe r))
                Expect.stringContains r.Err (sprintf "%s takes" option) "the message names the option"
                noTrace r
                Expect.equal (((json r).GetProperty "error").GetProperty("kind").GetString()) "usage" "the JSON error on stdout"
        }
        test "bench --help says nothing of bindings or check's exit codes" {
            let r = run [ "bench"; "--help" ]
            Expect.equal r.Code 0 "exit 0"
            Expect.stringContains r.Out "Exit codes" "its exit codes"
            for absent in [ "Bindings (--at)"; "3   check ran"; "1   user error" ] do
                Expect.isFalse (r.Out.Contains absent) (sprintf "no '%s'" absent)
        }
        test "bench --compiled times runs of one plan in a workspace: the same value, nothing allocated" {
            let through (extra: string list) = ok ([ "bench"; "mlp"; "--reps"; "3"; "--warmup"; "0" ] @ extra)
            let r = through [ "--compiled" ]
            Expect.equal [ for p in r.EnumerateObject() -> p.Name ] (peerFields @ [ "compiled" ]) "the peer's fields, then the path"
            Expect.isTrue (r.GetProperty("compiled").GetBoolean()) "marked compiled"
            Expect.equal (r.GetProperty("allocated_bytes_per_op").GetInt64()) 0L "a workspace run allocates nothing"
            let e = through []
            for field in [ "value"; "grad_norm" ] do
                Expect.equal (r.GetProperty(field).GetDouble()) (e.GetProperty(field).GetDouble()) (field + ": the bits Expr.EvalMany gives")
            Expect.isGreaterThan (e.GetProperty("allocated_bytes_per_op").GetInt64()) 0L "EvalMany copies its results out"
        }
        test "bench --ratio times the function alone too and adds the ratio after the peer's fields" {
            let r = ok [ "bench"; "ew1k"; "--reps"; "3"; "--warmup"; "0"; "--ratio" ]
            let added = [ "function_median_ms"; "function_min_ms"; "function_allocated_bytes_per_op"; "grad_to_function_ratio" ]
            Expect.equal [ for p in r.EnumerateObject() -> p.Name ] (peerFields @ added) "the peer's fields unchanged, the new ones after them"
            let number (name: string) = r.GetProperty(name).GetDouble()
            let expected = Seq.init 1000 (fun i -> -3.0 + 6.0 * float i / 999.0) |> Seq.sumBy (fun x -> tanh x * exp (-x * x) + log (1.0 + x * x))
            Expect.floatClose Accuracy.high (number "value") expected "the value is still the gradient run's"
            let ratio = number "grad_to_function_ratio"
            Expect.isTrue (Double.IsFinite ratio && ratio > 0.0) (sprintf "the ratio is positive and finite: %g" ratio)
            Expect.isLessThanOrEqual (number "function_min_ms") (number "function_median_ms") "min ≤ median for the function"
            Expect.isGreaterThanOrEqual (r.GetProperty("function_allocated_bytes_per_op").GetInt64()) 0L "bytes are counted"
            // The ratio is gradient over function, of the medians printed (rounded to 1e-4 ms), not the other way round.
            let m, f = number "median_ms", number "function_median_ms"
            if f > 1e-3 then
                Expect.isTrue (ratio >= (m - 5e-5) / (f + 5e-5) && ratio <= (m + 5e-5) / (f - 5e-5)) (sprintf "ratio %g = %g / %g" ratio m f)
            // Text, one repetition (the median of one): the ratio is on its own line.
            let text = run [ "bench"; "rosenbrock1000"; "--reps"; "1"; "--warmup"; "0"; "--ratio" ]
            Expect.equal text.Code 0 (describe text)
            let lines = text.Out.Trim().Split('\n')
            Expect.equal lines.Length 2 "the gradient's line, then the function's"
            Expect.stringStarts lines[1] "function alone: median " "the function's line"
            let printed = lines[1].Substring(lines[1].LastIndexOf ' ' + 1)
            let parsed, value = Double.TryParse(printed, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture)
            Expect.isTrue (parsed && Double.IsFinite value && value > 0.0) (sprintf "a positive finite ratio ends the line: %s" lines[1])
        }
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

        test "check compares a non-scalar output through the vjp with a random cotangent, never a sum" {
            let result = ok [ "check"; "sin(x) * w"; "--at"; "x=[0.3, -1.2]; w=[2, 3]" ]
            Expect.isTrue (result.GetProperty("ok").GetBoolean()) "ok"
            Expect.equal (result.GetProperty("derivative").GetString()) "vjp" "the vjp"
            Expect.equal (result.GetProperty("inputs").GetProperty("x").GetProperty("elements").GetInt32()) 2 "x's elements"
            let wrong = run [ "check"; "x - mean(x)"; "--at"; "x=[1, 2, 3]"; "--json" ]
            Expect.equal wrong.Code 0 (sprintf "the exact jacobian I - 1/3 passes through any cotangent:\n%s" (describe wrong))
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
            Expect.stringContains text.Out "|analytic - fd| <= 1e-06 + 1e-06*|fd| + 100*eps*S/h" "the tolerance is stated"
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

        test "--at reads literals as EXPR does: as deep, and with the same numbers" {
            let deep = String.replicate 999 "[" + "-0" + String.replicate 999 "]"
            let t = ok [ "eval"; "x"; "--at"; "x=" + deep ] |> field "value"
            Expect.equal t.Shape (List.replicate 999 1) "999 levels, where EXPR reads 1000 in all"
            let bound = ok [ "eval"; "x"; "--at"; "x=[.5, 2.5E+3, -inf]" ] |> field "value"
            let written = ok [ "eval"; "[.5, 2.5E+3, -inf]" ] |> field "value"
            Expect.equal bound written "one text, one tensor"
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
                  "x=1 2", "binding 'x', column 5", "expected the end of the text after the tensor literal, found the number 2"
                  "x=[1, 1e400]", "binding 'x', column 7", "1e400 is out of range for float64"
                  "x=[+1]", "binding 'x', column 4", "found '+'"
                  "x=Infinity", "binding 'x', column 3", "found 'Infinity'"
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
            Expect.stringContains c.Out "tolerance: |analytic - fd| <= 1e-06 + 1e-06*|fd|" "the tolerance"
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

// ---- Files --------------------------------------------------------------------------------------

/// A tensor exactly as the JSON holds it: float32 data read at float32's width, NaN's sign kept.
let private exact (e: JsonElement) : Tensor =
    let shape = [ for d in e.GetProperty("shape").EnumerateArray() -> d.GetInt32() ]
    let data = [| for v in e.GetProperty("data").EnumerateArray() -> v |]
    let special (v: JsonElement) =
        match v.GetString() with
        | "NaN" -> nan
        | "-NaN" -> -nan
        | "Infinity" -> infinity
        | "-Infinity" -> -infinity
        | s -> failtestf "%A is not a spelling of a non-finite number" s
    let invariant = Globalization.CultureInfo.InvariantCulture
    match e.GetProperty("dtype").GetString() with
    | "float64" ->
        Tensor.ofData shape (data |> Array.map (fun v -> if v.ValueKind = JsonValueKind.String then special v else Double.Parse(v.GetRawText(), invariant)))
    | "float32" ->
        Tensor.ofData shape (data |> Array.map (fun v -> if v.ValueKind = JsonValueKind.String then float32 (special v) else Single.Parse(v.GetRawText(), invariant)))
    | "int32" -> Tensor.ofData shape (data |> Array.map (fun v -> v.GetInt32()))
    | _ -> Tensor.ofData shape (data |> Array.map (fun v -> v.GetBoolean()))

/// A .npy file as numpy.save writes it: magic, version, a header dict padded to 64 bytes, then the data.
let private npyFile (version: int) (descr: string) (fortran: bool) (shape: int list) (data: byte[]) =
    let dims = match shape with [ d ] -> sprintf "(%d,)" d | _ -> "(" + String.Join(", ", shape) + ")"
    let dict = sprintf "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" descr (if fortran then "True" else "False") dims
    let prefix = if version = 1 then 10 else 12
    let header = dict + String(' ', (64 - (prefix + dict.Length + 1) % 64) % 64) + "\n"
    let length = if version = 1 then BitConverter.GetBytes(uint16 header.Length) else BitConverter.GetBytes(uint32 header.Length)
    Array.concat [ [| 0x93uy |]; "NUMPY"B; [| byte version; 0uy |]; length; Text.Encoding.ASCII.GetBytes header; data ]

let private bytesOf (values: 'T[]) = Runtime.InteropServices.MemoryMarshal.AsBytes(ReadOnlySpan values).ToArray()

/// A tensor as a little-endian .npy file.
let private npy (t: Tensor) =
    let dims = List.ofArray t.Shape.Dims
    match t.DType with
    | DType.Float64 -> npyFile 1 "<f8" false dims (bytesOf (t.ToArray<float>()))
    | DType.Float32 -> npyFile 1 "<f4" false dims (bytesOf (t.ToArray<float32>()))
    | DType.Int32 -> npyFile 1 "<i4" false dims (bytesOf (t.ToArray<int>()))
    | DType.Bool -> npyFile 1 "|b1" false dims (t.ToArray<bool>() |> Array.map (fun b -> if b then 1uy else 0uy))

/// A tensor in the documented JSON format, written here independently of the CLI's writer.
let private tensorJson (t: Tensor) =
    let invariant = Globalization.CultureInfo.InvariantCulture
    let float (v: float) (text: string) =
        if Double.IsNaN v then (if Double.IsNegative v = Double.IsNegative nan then "\"NaN\"" else "\"-NaN\"")
        elif Double.IsInfinity v then (if v > 0.0 then "\"Infinity\"" else "\"-Infinity\"")
        else text
    let data =
        match t.DType with
        | DType.Float64 -> t.ToArray<float>() |> Array.map (fun v -> float v (v.ToString("R", invariant)))
        | DType.Float32 -> t.ToArray<float32>() |> Array.map (fun v -> float (double v) (v.ToString("R", invariant)))
        | DType.Int32 -> t.ToArray<int>() |> Array.map string
        | DType.Bool -> t.ToArray<bool>() |> Array.map (fun b -> if b then "true" else "false")
    sprintf "{\"shape\": [%s], \"dtype\": \"%s\", \"data\": [%s]}" (String.Join(", ", t.Shape.Dims)) t.DType.Name (String.Join(", ", data))

/// Runs f with a temporary file holding these bytes, deleted afterwards.
let private withFile (bytes: byte[]) (f: string -> 'T) =
    let path = Path.Combine(Path.GetTempPath(), sprintf "funcdiff-%O.dat" (Guid.NewGuid()))
    File.WriteAllBytes(path, bytes)
    try f path finally File.Delete path

let private evalFile (bytes: byte[]) =
    withFile bytes (fun path -> ok [ "eval"; "x"; "--at"; "x=@" + path ] |> fun r -> exact (r.GetProperty "value"))

let private fileError (bytes: byte[]) (at: string -> string) =
    withFile bytes (fun path -> userError [ "eval"; "1"; "--at"; at path ])

/// Small tensors of every dtype and kind of value: each case runs the CLI once.
let private fileCases =
    Generators.anyTensor
    |> Gen.filter (fun t -> t.Size <= 24)
    |> Gen.map (fun t -> { new obj() with member _.ToString() = string (Expr.Constant t) } |> fun shown -> t, shown)
    |> Arb.fromGen

let private fileConfig = { FsCheckConfig.defaultConfig with maxTest = 12 }

let private files =
    testList "files" [
        testPropertyWithConfig fileConfig "a .npy file binds the same tensor, bit for bit" (Prop.forAll fileCases (fun (t, _) ->
            Expect.equal (evalFile (npy t)) t "eval x --at x=@file.npy prints the file's tensor"))

        testPropertyWithConfig fileConfig "a JSON tensor binds the same tensor, and the output reads back as it was" (Prop.forAll fileCases (fun (t, _) ->
            let text = tensorJson t
            let printed = withFile (Text.Encoding.UTF8.GetBytes text) (fun path -> run [ "eval"; "x"; "--at"; "x=@" + path; "--json" ])
            Expect.equal printed.Code 0 (describe printed)
            Expect.equal (exact ((json printed).GetProperty "value")) t "the same tensor"
            // What --json printed is a bindings file: {"value": T} binds the input value.
            let again = withFile (Text.Encoding.UTF8.GetBytes printed.Out) (fun path -> run [ "eval"; "value"; "--at"; "@" + path; "--json" ])
            Expect.equal again.Out printed.Out "the same output"))

        test "real data: 40,000 elements from a file, where an argument cannot hold them" {
            let x = Array.init 40_000 (fun i -> float i / 1000.0)
            let g = withFile (npy (Tensor.ofData [ 40_000 ] x)) (fun path -> ok [ "grad"; "sum(x ^ 2)"; "--at"; "x=@" + path ] |> derivatives "gradients")
            Expect.equal (snd g.Head).Data [ for v in x -> 2.0 * v ] "2x"
        }

        test "standard input: one tensor, or a JSON object of them, read once" {
            let t = Tensor.ofData [ 2 ] [| 1.5f; -2.0f |]
            let r = runWithInput (npy t) [ "eval"; "x * 2"; "--at"; "x=@-"; "--json" ]
            Expect.equal r.Code 0 (describe r)
            Expect.equal (exact ((json r).GetProperty "value")) (Tensor.ofData [ 2 ] [| 3.0f; -4.0f |]) "float32 from stdin"
            let both = Text.Encoding.UTF8.GetBytes(sprintf "{\"a\": %s, \"b\": %s}" (tensorJson t) (tensorJson (Tensor.ofData [] [| true |])))
            let r = runWithInput both [ "eval"; "where(b, a, 0)"; "--at"; "@-"; "--json" ]
            Expect.equal r.Code 0 (describe r)
            Expect.equal (exact ((json r).GetProperty "value")) t "every name of the object is bound"
            let twice = runWithInput (npy t) [ "eval"; "x"; "--at"; "x=@-; y=@-"; "--json" ]
            Expect.equal twice.Code 1 (describe twice)
            Expect.stringContains twice.Out "can be read only once" "stdin twice"
        }

        test "a .npy file in any byte order and header version, and int32 and bool arrays" {
            let big = Array.concat [ for v in [ 1.0; -0.5 ] -> Array.rev (BitConverter.GetBytes v) ]
            Expect.equal (evalFile (npyFile 1 ">f8" false [ 2 ] big)) (Tensor.ofData [ 2 ] [| 1.0; -0.5 |]) "big-endian"
            Expect.equal (evalFile (npyFile 2 "<i4" false [ 2; 1 ] (bytesOf [| 7; -3 |]))) (Tensor.ofData [ 2; 1 ] [| 7; -3 |]) "version 2, int32"
            Expect.equal (evalFile (npyFile 3 "|b1" false [] [| 1uy |])) (Tensor.ofData [] [| true |]) "version 3, a bool scalar"
            Expect.equal (evalFile (npyFile 1 "<f8" false [ 0; 3 ] [||])) (Tensor.ofData [ 0; 3 ] ([||]: float[])) "an empty array"
            let widened = withFile (npy (Tensor.ofData [ 2 ] [| 0.5f; 2.0f |])) (fun path -> ok [ "check"; "sum(x ^ 3)"; "--at"; "x=@" + path ])
            Expect.isTrue (widened.GetProperty("ok").GetBoolean()) "check widens a float32 file to float64"
        }

        test "a .npy file funcdiff does not read is refused, saying why and what to do" {
            let doubles = bytesOf [| 1.0; 2.0 |]
            let refused (bytes: byte[]) (expected: string) =
                let kind, message, position = fileError bytes (fun path -> "x=@" + path)
                Expect.equal (kind, position) ("binding", None) expected
                Expect.stringContains message "binding 'x'" "names the binding"
                Expect.stringContains message expected "says why"
            refused (npyFile 1 "<f8" true [ 2; 1 ] doubles) "Fortran (column-major) order"
            refused (npyFile 1 "<i8" false [ 2 ] doubles) "dtype '<i8' is not supported"
            refused (npyFile 1 "<i8" false [ 2 ] doubles) "astype(numpy.int32)"
            refused (npyFile 1 "<f2" false [ 2 ] doubles) "astype(numpy.float64)"
            refused (npyFile 1 "|O" false [ 2 ] doubles) "pickled Python objects"
            refused (npyFile 1 "<f8" false [ 3 ] doubles) "cut short: shape [3] of float64 needs 24 bytes of data, the file has 16"
            refused (npyFile 1 "<f8" false [ 1 ] doubles) "8 bytes after the data of shape [1]"
            refused (npyFile 1 "|b1" false [ 2 ] [| 1uy; 2uy |]) "element 1 of a bool array is the byte 2"
            refused (npyFile 4 "<f8" false [ 2 ] doubles) "version 4.0 is not supported"
            refused (Array.append "PK\003\004"B doubles) "zip archive"
            refused [| 0x80uy; 4uy; 0x95uy |] "Python pickle"
            let (_, message, _) = withFile (npy (Tensor.ofData [ 1 ] [| 1.0 |])) (fun path -> userError [ "eval"; "1"; "--at"; "@" + path ])
            Expect.stringContains message "bind it to one input with name=@file" "a .npy file has no names"
            let (_, missing, _) = userError [ "eval"; "1"; "--at"; "x=@no-such-file.npy" ]
            Expect.stringContains missing "cannot read 'no-such-file.npy'" "a missing file"
        }

        test "a JSON file funcdiff does not read is refused, naming the property or element" {
            let refused (text: string) (expected: string) =
                let kind, message, _ = fileError (Text.Encoding.UTF8.GetBytes text) (fun path -> "x=@" + path)
                Expect.equal kind "binding" text
                Expect.stringContains message expected text
            refused """{"shap": [1], "dtype": "float64", "data": [1]}""" "the property 'shap' (did you mean 'shape'?)"
            refused """{"shape": [1], "dtype": "float", "data": [1]}""" "the dtype of the file is 'float' (did you mean 'float64'?)"
            refused """{"shape": [2], "dtype": "float64", "data": [1, 1e400]}""" "data[1] of the file: 1e400 is out of range for float64"
            refused """{"shape": [1], "dtype": "float32", "data": [1e39]}""" "data[0] of the file: 1e39 is out of range for float32"
            refused """{"shape": [1], "dtype": "int32", "data": [2.5]}""" "data[0] of the file: 2.5 is not an int32"
            refused """{"shape": [3], "dtype": "float64", "data": [1, 2]}""" "2 data elements, but shape [3] holds 3"
            refused """{"shape": [1], "dtype": "bool", "data": [1]}""" "data[0] of the file is 1, but a bool tensor holds true or false"
            refused """{"shape": [1], "dtype": "float64", "data": ["nan"]}""" "\"NaN\", \"-NaN\", \"Infinity\", \"-Infinity\""
            refused """{"shape": [-1], "dtype": "float64", "data": []}""" "not a non-negative integer"
            refused """[1, 2]""" "the file is not a tensor"
            refused """{"shape": [1], """ "nor valid JSON"
        }
    ]

// ---- check: samples and progress ---------------------------------------------------------------

let private sampling =
    testList "check samples" [
        test "by default a seeded sample of each input's elements is checked" {
            let result = ok [ "check"; "sum(x ^ 2)"; "--at"; "x=randn(5000)" ]
            let x = result.GetProperty("inputs").GetProperty "x"
            Expect.equal (x.GetProperty("elements").GetInt32(), x.GetProperty("checked").GetInt32()) (5000, 100) "100 of 5000"
            let sample = result.GetProperty "sample"
            Expect.equal (sample.GetProperty("size").GetInt32(), sample.GetProperty("seed").GetInt32()) (100, 0) "the sample and its seed"
            let text = run [ "check"; "sum(x ^ 2)"; "--at"; "x=randn(5000)" ]
            Expect.stringContains text.Out "x: 100 of 5000 elements" "the text says how many were checked"
            Expect.stringContains text.Out "--all checks every one" "and how to check them all"
        }

        test "--all checks every element, --sample N that many" {
            let all = ok [ "check"; "sum(sin(x))"; "--at"; "x=randn(300)"; "--all" ]
            Expect.equal (all.GetProperty("inputs").GetProperty("x").GetProperty("checked").GetInt32()) 300 "all 300"
            Expect.equal (all.GetProperty("sample").ValueKind) JsonValueKind.Null "no sample"
            let some = ok [ "check"; "x * 2"; "--at"; "x=randn(50)"; "--sample"; "7" ]
            let x = some.GetProperty("inputs").GetProperty "x"
            Expect.equal (x.GetProperty("elements").GetInt32(), x.GetProperty("checked").GetInt32()) (50, 7) "7 of the 50 input elements"
        }

        test "the sample follows --seed: the same seed checks the same elements" {
            // relu fails at its kink, so every element of zeros fails and the worst is the first one checked.
            let worst seed = (run [ "check"; "sum(relu(x))"; "--at"; "x=zeros(10000)"; "--seed"; string seed ]).Out.Split('\n') |> Array.find (fun l -> l.Contains "worst at")
            Expect.equal (worst 1) (worst 1) "the same seed, the same elements"
            Expect.notEqual (worst 1) (worst 2) "another seed, other elements"
            let failed = run [ "check"; "sum(relu(x))"; "--at"; "x=zeros(10000)"; "--json" ]
            Expect.equal failed.Code 3 "a failed sample fails the check"
            Expect.equal ((json failed).GetProperty("inputs").GetProperty("x").GetProperty("failed").GetInt32()) 100 "all 100 checked fail"
        }

        test "bad sample options are usage errors in plain words" {
            for args, expected in [ [ "--sample"; "0" ], "--sample takes a whole number from 1 to 2147483647, not '0'"
                                    [ "--sample"; "many" ], "--sample takes a whole number from 1 to 2147483647, not 'many'"
                                    [ "--all"; "--sample"; "5" ], "give one or the other" ] do
                let r = run ([ "check"; "sum(x)"; "--at"; "x=[1]" ] @ args)
                Expect.equal r.Code 2 (describe r)
                Expect.stringContains r.Err expected "says why"
        }
    ]

// ---- Messages ----------------------------------------------------------------------------------

let private messages =
    testList "messages" [
        test "a typo of a command gets one message with its suggestion" {
            let r = run [ "evl"; "x"; "--json" ]
            let message = (json r).GetProperty("error").GetProperty("message").GetString()
            Expect.equal message "unknown command 'evl' (did you mean 'eval'?); the commands are eval, grad, jacobian, hessian, check, explain, graph, demo, bench" "the JSON message"
            Expect.stringContains r.Err "funcdiff: unknown command 'evl' (did you mean 'eval'?); the commands are" "stderr"
        }

        test "--seed that is not an integer says so in plain words" {
            for value in [ "1e3"; "2147483648"; "x" ] do
                let r = run [ "eval"; "x"; "--at"; "x=1"; "--seed"; value; "--json" ]
                Expect.equal r.Code 2 (describe r)
                Expect.stringContains r.Err (sprintf "--seed takes a whole number from -2147483648 to 2147483647, not '%s'" value) value
                Expect.isFalse (r.Err.Contains "System.") "no .NET type names"
                Expect.equal ((json r).GetProperty("error").GetProperty("kind").GetString()) "usage" "a usage error object"
        }

        test "a long line of EXPR is cut around the error on stderr" {
            let expr = String.replicate 1000 "x + " + "y + " + String.replicate 1000 "x + " + "x"
            let r = run [ "eval"; expr; "--at"; "x=1" ]
            Expect.equal r.Code 1 (describe r)
            let lines = r.Err.Split('\n')
            Expect.all lines (fun l -> l.Length < 120) (sprintf "every line of stderr is short, got lengths %A" [ for l in lines -> l.Length ])
            let caret = lines |> Array.findIndex (fun l -> l.Trim() = "^")
            let column = lines[caret].IndexOf '^'
            let shown = lines[caret - 1]
            Expect.equal shown[column] 'y' "the caret is under the unknown input"
            Expect.stringContains shown "…" "the cut is shown"
            Expect.stringContains r.Err "at 1:4001" "the message keeps the real column"
        }

        test "a binding error shows the --at text with a caret" {
            let r = run [ "eval"; "x"; "--at"; "x=[1, 2,, 3]" ]
            Expect.stringContains r.Err "column 9: expected a number" "the column in --at"
            Expect.stringContains r.Err "  x=[1, 2,, 3]\n          ^" "the caret under the second ','"
        }

        test "an internal error still prints the JSON error object, with exit code 70" {
            // The CLI in this process, its standard input broken in a way no user error explains.
            let program = Reflection.Assembly.LoadFrom(cli.Value).GetType("FuncDiff.Cli.Program")
            let runCli = program.GetMethod("Run", Reflection.BindingFlags.Public ||| Reflection.BindingFlags.Static)
            use out = new StringWriter()
            use err = new StringWriter()
            let broken = Func<Stream>(fun () -> raise (InvalidOperationException "standard input broke"))
            let args: string[] = [| "eval"; "x"; "--at"; "x=@-"; "--json" |]
            let code = runCli.Invoke(null, [| box args; box out; box err; box broken |]) :?> int
            Expect.equal code 70 "exit 70"
            let error = (JsonDocument.Parse(out.ToString().Trim())).RootElement.GetProperty "error"
            Expect.equal (error.GetProperty("kind").GetString()) "internal" "kind internal"
            Expect.stringContains (error.GetProperty("message").GetString()) "standard input broke" "the cause"
            Expect.stringContains (err.ToString()) "internal error, please report it" "the trace on stderr"
        }
    ]

let tests = testList "CLI" [ subcommands; values; errors; text; files; sampling; messages ]
