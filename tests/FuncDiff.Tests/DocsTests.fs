/// The documentation states facts the code can check: they are checked here, so they stay true.
module FuncDiff.Tests.DocsTests

open System.IO
open Expecto
open FuncDiff

/// The repository root: the nearest folder above the test assembly holding FuncDiff.sln.
let repositoryRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "FuncDiff.sln not found above the test assembly"
        elif File.Exists(Path.Combine(dir.FullName, "FuncDiff.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo System.AppContext.BaseDirectory)

/// The rows of the primitive table in docs/language.md: name, inputs, attributes, differentiation.
let private primitiveRows () =
    let lines = File.ReadAllLines(Path.Combine(repositoryRoot, "docs", "language.md"))
    let start = lines |> Array.findIndex (fun l -> l.StartsWith "## Primitives")
    [ for l in lines[start..] do
          if l.StartsWith "| `" then
              let cells = l.Split(" | ") |> Array.map (fun c -> c.Trim([| '|'; ' ' |]))
              cells[0].Trim('`'), cells[2], cells[3], cells[4] ]

/// The first fenced block of a language in a markdown file.
let private fenced (file: string) (language: string) =
    let text = File.ReadAllText(Path.Combine(repositoryRoot, file))
    let start = text.IndexOf("```" + language + "\n") + language.Length + 4
    text.Substring(start, text.IndexOf("```", start) - start)

let tests =
    testList "Docs" [
        test "the C# example in README.md compiles, runs and prints what its comments say" {
            let output = CSharpCompiler.run (fenced "README.md" "csharp")
            let lines = output.Split('\n', System.StringSplitOptions.RemoveEmptyEntries)
            Expect.equal lines[0] "tensor([-3., -1.,  1.,  3.])" "the gradient of Σ(x - mean x)²"
            Expect.stringStarts lines[1] "tensor([[ 0.75, -0.25, -0.25, -0.25]," "the jacobian I - 1/4"
        }
        test "the C# example in docs/performance.md compiles, runs, prints its plan and the same loss on every run" {
            let output = CSharpCompiler.run (fenced "docs/performance.md" "csharp")
            let lines = output.Split('\n', System.StringSplitOptions.RemoveEmptyEntries)
            Expect.stringStarts lines[0] "plan: " "the plan's summary first"
            Expect.isTrue (lines |> Array.exists (fun l -> l.Contains "matmul")) "a step per matrix product"
            let losses = lines |> Array.filter (fun l -> l.StartsWith "loss ")
            Expect.equal losses.Length 3 "three runs"
            Expect.equal (Array.distinct losses).Length 1 "the same inputs give the same loss on every run"
        }
        test "docs/testing.md prints the report GradCheck gives for its wrong hand-written rule" {
            let x = input "x" [ 3 ]
            let report = GradCheck.check [ "x", Tensor.ofArray [| 0.5; -1.0; 2.0 |] ] [ x ] (sum (TestingKitTests.wrongClip.Apply [ x ]))
            Expect.equal ((fenced "docs/testing.md" "text").Trim()) ((string report).Replace("\r\n", "\n")) "the documented output"
        }
        test "docs/language.md lists exactly the catalogue's primitives with their inputs and attributes" {
            let rows = primitiveRows ()
            let documented = rows |> List.map (fun (n, _, _, _) -> n)
            let catalogue = Catalogue.all |> List.map (fun p -> p.Name)
            Expect.sequenceEqual documented catalogue "one row per primitive, in catalogue order"
            for (name, inputs, attributes, _) in rows do
                let p = (Catalogue.tryFind name).Value
                Expect.equal inputs (String.concat ", " p.Inputs + (if p.Variadic then ", …" else "")) (name + ": inputs")
                Expect.equal attributes (String.concat ", " p.Attributes) (name + ": attributes")
        }
        test "the primitive table states each primitive's differentiation class" {
            for (name, _, _, stated) in primitiveRows () do
                let expected =
                    match (Catalogue.tryFind name).Value.Differentiability with
                    | Differentiability.Smooth -> "smooth"
                    | Differentiability.PiecewiseConstant -> "piecewise constant"
                    | Differentiability.NonSmooth subgradient -> "non-smooth: " + subgradient
                    | Differentiability.StopsGradient -> "stops gradient"
                    | Differentiability.NonDifferentiable reason -> "not differentiable: " + reason
                Expect.equal stated expected name
        }
    ]
