/// An Expecto suite that checks a model's gradients as a user's would: with the public packages only.
/// Run it: dotnet run --project docs/samples/TestingQuickstart
module TestingQuickstart

open Expecto
open FuncDiff
open FuncDiff.Testing

// The model: softmax cross-entropy of five logits against a one-hot target.
let logits = input "logits" [ 5 ]
let target = constant (Tensor.ofArray [| 0.0; 0.0; 1.0; 0.0; 0.0 |])
let loss = logsumexp logits - sum (target * logits)

// A hand-written primitive, softclip(x) = x / (1 + |x|), whose derivative rule is wrong:
// the true derivative is 1 / (1 + |x|)², the rule says 1 / (1 + |x|).
let softclip =
    Primitive.define "softclip" "x / (1 + |x|)" [ "x" ] Primitive.elementwise
        (fun xs -> let x = input "x" (xs.Head.Shape.ToList()) in eval [ "x", xs.Head ] (x / (1.0 + abs x)))
        (Derivative.Vjp (fun v -> [ Some (v.Cotangent / (1.0 + abs v.Inputs.Head)) ]))

let x = input "x" [ 3 ]

let tests =
    testList "gradients" [
        // Three lines: the property, for random logits, every derivative against finite differences.
        testProperty "softmax cross-entropy" (Gradients.matchFiniteDifferences Domain.Any [ logits ] loss)

        // The wrong rule is caught; the report says where and by how much.
        test "softclip's hand-written rule" {
            let report = GradCheck.check [ "x", Tensor.ofArray [| 0.5; -1.0; 2.0 |] ] [ x ] (sum (softclip.Apply [ x ]))
            printfn "%O" report
            Expect.isFalse report.Ok "the wrong rule fails the check"
        }
        test "and the property catches it too, at random inputs" {
            let property = Gradients.matchFiniteDifferences Domain.NonZero [ x ] (sum (softclip.Apply [ x ]))
            Expect.throws (fun () -> FsCheck.Check.One(FsCheck.Config.QuickThrowOnFailure, property)) "the property fails"
        }
    ]

[<EntryPoint>]
let main argv = runTestsWithCLIArgs [] argv tests
