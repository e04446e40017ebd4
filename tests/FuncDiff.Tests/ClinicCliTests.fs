/// The clinic on the command line: explain's JSON, graph, demo, --check-finite, and the commands of
/// docs/gradient-clinic.md, whose printed outputs are compared with what the commands print now.
module internal FuncDiff.Tests.ClinicCliTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open FuncDiff.Tests.CliTests

let private json (r: Run) = (JsonDocument.Parse(r.Out.Trim())).RootElement

/// Splits a command line as a POSIX shell does for double-quoted words.
let private words (line: string) =
    let result = ResizeArray<string>()
    let current = Text.StringBuilder()
    let mutable quoted = false
    let mutable started = false
    for c in line do
        if c = '"' then
            quoted <- not quoted
            started <- true
        elif c = ' ' && not quoted then
            if started then result.Add(current.ToString())
            current.Clear() |> ignore
            started <- false
        else
            current.Append c |> ignore
            started <- true
    if started then result.Add(current.ToString())
    List.ofSeq result

/// (command line, printed output) for each "$ funcdiff …" in the fenced blocks of a markdown file.
let private documentedRuns (file: string) =
    let lines = File.ReadAllLines(Path.Combine(DocsTests.repositoryRoot, "docs", file))
    let runs = ResizeArray<string * string>()
    let mutable inBlock = false
    let mutable command: string option = None
    let output = Text.StringBuilder()
    let finish () =
        match command with
        | Some c -> runs.Add(c, output.ToString().TrimEnd('\n'))
        | None -> ()
        command <- None
        output.Clear() |> ignore
    for line in lines do
        if line.StartsWith "```" then
            if inBlock then finish ()
            inBlock <- not inBlock
        elif inBlock && line.StartsWith "$ funcdiff " then
            finish ()
            command <- Some (line.Substring "$ funcdiff ".Length)
        elif inBlock && command.IsSome then
            output.Append(line).Append('\n') |> ignore
    List.ofSeq runs

let tests =
    testList "Clinic CLI" [
        test "C#: Explain, ToDot, GradChecked and EvalChecked through the facade" {
            let output =
                CSharpCompiler.run """
using FuncDiff;
var x = Expr.Input("x", 3);
var loss = (x - 100.0).Relu().Sum();
var e = loss.Explain([("x", Tensor.FromArray([1.0, 2.0, 3.0]))], x);
var d = e.Diagnostics[0];
Console.WriteLine($"{d.StatusName} {d.Causes[0].KindName} {d.Causes[0].Fraction} {e.Gradients[x]}");
Console.WriteLine(loss.ToDot(gradient: true).StartsWith("digraph"));
var at = new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([4.0, 0.0, 1.0]) };
try { Expr.Parse("sum(sqrt(x))", x).GradChecked(at, x); }
catch (NonFiniteException ex) { Console.WriteLine($"{ex.Pass} {ex.ForwardNode} {ex.Index} {ex.SiteText}"); }
Console.WriteLine((x * x).Sum().GradChecked(at, x).Gradients[x]);
var all = (x * Expr.Input("w", 3)).Sum().Explain([("x", Tensor.FromArray([1.0, 0.0, 2.0])), ("w", Tensor.FromArray([3.0, 4.0, 5.0]))]);
Console.WriteLine(string.Join(" ", all.Diagnostics.Select(g => $"{g.Wrt}:{g.StatusName}")) + " " + all.Gradients[x]);
"""
            let lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            Expect.equal lines[0] "zero masked 1 tensor([0., 0., 0.])" "status, cause, fraction, gradient"
            Expect.equal lines[1] "True" "DOT"
            Expect.equal lines[2] "backward `sqrt(x)` [1] 1:5" "the backward origin, its forward node and position"
            Expect.equal lines[3] "tensor([8., 0., 2.])" "finite: the gradient"
            Expect.equal lines[4] "x:ok w:partly-zero tensor([3., 4., 5.])" "no wrt: every float input, gradients by node"
        }
        test "docs/gradient-clinic.md shows what its commands print" {
            let runs = documentedRuns "gradient-clinic.md"
            Expect.isGreaterThanOrEqual runs.Length 10 "a command per seed question"
            for command, printed in runs do
                let r = run (words command)
                Expect.equal (r.Out.TrimEnd('\n')) printed (sprintf "funcdiff %s" command)
        }
        test "explain --json: value, gradients and diagnostics with kind, node, message, fraction and site" {
            let r = run [ "explain"; "sum(relu(w @ x + b))"; "--at"; "w=[[0.5,-1],[2,1]]; x=[1,2]; b=-100"; "--wrt"; "w"; "--json" ]
            Expect.equal r.Code 0 r.Err
            let root = json r
            Expect.equal (root.GetProperty("gradients").GetProperty("w").GetProperty("shape").GetArrayLength()) 2 "dw has w's shape"
            let d = (root.GetProperty "diagnostics")[0]
            Expect.equal (d.GetProperty("wrt").GetString()) "w" "wrt"
            Expect.equal (d.GetProperty("status").GetString()) "zero" "status"
            let c = (d.GetProperty "causes")[0]
            Expect.equal (c.GetProperty("kind").GetString()) "masked" "kind"
            Expect.equal (c.GetProperty("node").GetString()) "relu(w @ x + b)" "node"
            Expect.equal (c.GetProperty("fraction").GetDouble()) 1.0 "fraction"
            Expect.equal (c.GetProperty("site").GetProperty("column").GetInt32()) 5 "site"
        }
        test "explain of a vector is a gradient error that points to explain of its sum" {
            let r = run [ "explain"; "x - mean(x)"; "--at"; "x=[1,2]"; "--json" ]
            Expect.equal r.Code 1 r.Err
            Expect.equal ((json r).GetProperty("error").GetProperty("kind").GetString()) "gradient" "kind"
            Expect.stringContains r.Err "hint: explain diagnoses the gradient of a scalar" "hint"
        }
        test "eval --check-finite stops at log(0) with its position" {
            let r = run [ "eval"; "sum(x * log(x))"; "--at"; "x=[1,0]"; "--check-finite"; "--json" ]
            Expect.equal r.Code 1 r.Err
            let message = (json r).GetProperty("error").GetProperty("message").GetString()
            Expect.stringContains message "`log(x)` is -inf at [1] (`x` = 0) (created at 1:9)" "node, element, input, site"
            let fine = run [ "grad"; "sum(x * x)"; "--at"; "x=[1,2]"; "--check-finite"; "--json" ]
            Expect.equal fine.Code 0 "finite: the usual result"
        }
        test "graph --format dot, with the gradient and the diagnosis" {
            let r = run [ "graph"; "sum(relu(x))"; "--at"; "x=[-1,-2]"; "--grad"; "--explain" ]
            Expect.equal r.Code 0 r.Err
            Expect.stringStarts r.Out "digraph funcdiff {" "DOT"
            Expect.stringContains r.Out "masked 100%" "the cause"
        }
        test "graph --format svg draws with Graphviz, or says it is missing" {
            let hasDot =
                (Environment.GetEnvironmentVariable "PATH").Split(Path.PathSeparator)
                |> Array.exists (fun d -> File.Exists(Path.Combine(d, "dot")))
            if hasDot then
                let r = run [ "graph"; "sum(exp(x))"; "--at"; "x=[1,2]"; "--format"; "svg" ]
                Expect.equal r.Code 0 r.Err
                Expect.stringContains r.Out "<svg" "an SVG document"
            // Without dot on the PATH: a clear message, no trace.
            let start = ProcessStartInfo(host, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
            start.ArgumentList.Add cli.Value
            for a in [ "graph"; "sum(exp(x))"; "--at"; "x=[1,2]"; "--format"; "svg" ] do start.ArgumentList.Add a
            start.Environment["PATH"] <- Path.GetTempPath()
            use p = Process.Start start
            let err = p.StandardError.ReadToEnd()
            p.WaitForExit()
            Expect.equal p.ExitCode 1 err
            Expect.stringContains err "needs Graphviz's `dot` on the PATH" "says what is missing"
            Expect.isFalse (err.Contains "   at ") "no trace"
        }
        test "graph --format svg stops a dot that takes longer than --timeout" {
            if not (OperatingSystem.IsWindows()) then
                let dir = Directory.CreateTempSubdirectory()
                try
                    let fake = Path.Combine(dir.FullName, "dot")
                    File.WriteAllText(fake, "#!/bin/sh\nsleep 30\n")
                    File.SetUnixFileMode(fake, UnixFileMode.UserRead ||| UnixFileMode.UserWrite ||| UnixFileMode.UserExecute)
                    let start = ProcessStartInfo(host, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
                    start.ArgumentList.Add cli.Value
                    for a in [ "graph"; "sum(exp(x))"; "--at"; "x=[1,2]"; "--format"; "svg"; "--timeout"; "1" ] do start.ArgumentList.Add a
                    start.Environment["PATH"] <- dir.FullName + string Path.PathSeparator + Environment.GetEnvironmentVariable "PATH"
                    use p = Process.Start start
                    let err = p.StandardError.ReadToEnd()
                    p.WaitForExit()
                    Expect.equal p.ExitCode 1 err
                    Expect.stringContains err "did not finish drawing in 1 s" "says what happened"
                    Expect.isFalse (err.Contains "   at ") "no trace"
                finally
                    dir.Delete true
        }
        test "demo: every seed scenario with its diagnosis, as a table and as JSON" {
            let r = run [ "demo"; "--json" ]
            Expect.equal r.Code 0 r.Err
            let scenarios = [ for s in (json r).GetProperty("scenarios").EnumerateArray() -> s ]
            let seeds = [ for s in scenarios -> s.GetProperty("seed").GetString() ]
            Expect.equal seeds (List.sortWith (fun a b -> String.CompareOrdinal(a, b)) seeds) "by seed"
            let status (expression: string) =
                let s = scenarios |> List.find (fun s -> s.GetProperty("expression").GetString() = expression)
                [ for d in s.GetProperty("diagnostics").EnumerateArray() -> d.GetProperty("status").GetString(), [ for c in d.GetProperty("causes").EnumerateArray() -> c.GetProperty("kind").GetString() ] ]
            Expect.equal (status "sum(x - mean(x))") [ "zero", [ "cancellation" ] ] "seed 000"
            Expect.equal (status "sum(relu(w @ x + b))") [ "zero", [ "masked" ]; "zero", [ "masked" ] ] "dead relu"
            Expect.equal (status "sum(stopGradient(x) * 3)") [ "zero", [ "stop-gradient" ] ] "stop-gradient"
            Expect.equal (status "sum(round(x))") [ "zero", [ "piecewise-constant" ] ] "round"
            Expect.equal (status "sum(x * x)") [ "zero", [ "disconnected" ] ] "disconnected"
            Expect.equal (status "sum(exp(-1000 * x))") [ "partly-zero", [ "underflow" ] ] "underflow"
            Expect.equal (fst (status "sum(log(exp(-1000 * x)))").Head) "nan" "strong zeros do not hide it"
            let vector = scenarios |> List.find (fun s -> s.GetProperty("expression").GetString() = "x - mean(x)")
            Expect.equal (vector.GetProperty("error").GetProperty("kind").GetString()) "gradient" "grad refuses a vector"
            Expect.equal ((vector.GetProperty("jacobians").GetProperty("x").GetProperty("data")[0]).GetDouble()) 0.75 "and the jacobian is I - 1/4"
            let text = run [ "demo" ]
            Expect.equal text.Code 0 text.Err
            Expect.stringContains text.Out "╭" "a table"
            for s in scenarios do
                Expect.stringContains text.Out (s.GetProperty("seed").GetString()) "each seed"
        }
    ]
