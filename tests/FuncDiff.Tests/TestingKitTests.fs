/// The checking tools users get: GradCheck's report and its one rule, Tensor.allClose, and primitives
/// defined at run time whose derivative rules are checked.
module internal FuncDiff.Tests.TestingKitTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Testing

let private vector (xs: float list) = Tensor.ofArray (Array.ofList xs)

/// softclip(x) = x / (1 + |x|): smooth, with derivative 1 / (1 + |x|)².
let private softclip =
    Primitive.define "softclip" "x / (1 + |x|)" [ "x" ] Primitive.elementwise
        (fun xs -> eval [ "x", xs.Head ] (let x = input "x" (xs.Head.Shape.ToList()) in x / (1.0 + abs x)))
        (Derivative.Vjp (fun v -> let x = v.Inputs.Head in [ Some (v.Cotangent / square (1.0 + abs x)) ]))

/// The same function with a derivative rule that is wrong by a factor of 2 away from 0.
let internal wrongClip =
    Primitive.define "wrongClip" "x / (1 + |x|), with a wrong derivative" [ "x" ] Primitive.elementwise
        (fun xs -> eval [ "x", xs.Head ] (let x = input "x" (xs.Head.Shape.ToList()) in x / (1.0 + abs x)))
        (Derivative.Vjp (fun v -> let x = v.Inputs.Head in [ Some (v.Cotangent / (1.0 + abs x)) ]))

let private staircase =
    Primitive.define "staircase" "floor(2x) / 2" [ "x" ] Primitive.elementwise
        (fun xs -> eval [ "x", xs.Head ] (let x = input "x" (xs.Head.Shape.ToList()) in floor (2.0 * x) / 2.0))
        Derivative.PiecewiseConstant

let private hashed =
    Primitive.define "hashed" "a hash of the bits of x, in [0, 1)" [ "x" ] Primitive.elementwise
        (fun xs -> xs.Head.ToFloat64Array() |> Array.map (fun v -> float ((BitConverter.DoubleToInt64Bits v * 2654435761L) &&& 1023L) / 1024.0) |> Tensor.ofData (xs.Head.Shape.ToList()))
        (Derivative.NonDifferentiable "a hash has no useful derivative")

let private gradCheckTests =
    let w = input "w" [ 2; 3 ]
    let x = input "x" [ 3 ]
    let at = [ "w", Tensor.randn 1 [ 2; 3 ]; "x", Tensor.randn 2 [ 3 ] ]
    testList "GradCheck" [
        test "a correct gradient passes, with a line per input" {
            let report = GradCheck.check at [ w; x ] (sum (tanh (matmul w x)))
            Expect.isTrue report.Ok (string report)
            Expect.equal (report.Inputs |> List.map (fun i -> i.Name, i.Checked, i.Elements)) [ "w", 6, 6; "x", 3, 3 ] "every element"
            Expect.stringStarts (string report) "gradient check passed (gradient)" "the summary line"
        }
        test "a vector output is checked through a seeded random cotangent, never summed" {
            let report = GradCheck.check at [ x ] (tanh (matmul w x))
            Expect.isTrue report.Ok (string report)
            Expect.stringContains report.Method "random cotangent (seed 0)" "says how"
        }
        test "a wrong derivative fails with the worst element, both values and the rule" {
            let report = GradCheck.check [ "x", vector [ 0.5; -1.0; 2.0 ] ] [ x ] (sum (wrongClip.Apply [ x ]))
            Expect.isFalse report.Ok "caught"
            let input = report.Inputs.Head
            Expect.equal input.Failed 3 "every element"
            let worst = input.Worst.Value
            Expect.equal worst.Index [| 1 |] "the element where the rule is furthest off"
            Expect.floatClose Accuracy.high worst.Analytic 0.5 "the analytic value"
            Expect.floatClose Accuracy.medium worst.FiniteDifference 0.25 "the finite difference"
            let text = string report
            for fragment in [ "FAILED"; "x: 3 of 3"; "worst at [1]"; "rule: |analytic - fd|" ] do Expect.stringContains text fragment "the text"
            Expect.throwsT<GradCheckException> (fun () -> GradCheck.expect [ "x", vector [ 0.5; -1.0; 2.0 ] ] [ x ] (sum (wrongClip.Apply [ x ]))) "expect raises"
        }
        test "NaN never passes" {
            let report = GradCheck.check [ "x", vector [ 0.0; 1.0; 4.0 ] ] [ x ] (sum (sqrt x * 0.0 + sqrt x))
            Expect.isFalse report.Ok "the derivative of √x at 0 is ∞; the difference quotient there is NaN"
        }
        test "a sample of elements, seeded and reproducible" {
            let big = input "big" [ 1000 ]
            let options = { GradCheckOptions.Default with Sample = Some 10; Seed = 3 }
            let run () = GradCheck.checkWith options [ "big", Tensor.randn 4 [ 1000 ] ] [ big ] (sum (sin big))
            let a, b = run (), run ()
            Expect.equal a.Inputs.Head.Checked 10 "ten elements"
            Expect.equal a.Inputs.Head.Elements 1000 "of a thousand"
            Expect.equal a.Inputs b.Inputs "the same sample twice"
            let all = GradCheck.checkWith { options with Sample = None } [ "big", Tensor.randn 4 [ 1000 ] ] [ big ] (sum (sin big))
            Expect.equal all.Inputs.Head.Checked 1000 "or all of them"
        }
        test "progress is reported per element" {
            let seen = ResizeArray()
            let options = { GradCheckOptions.Default with Progress = Some (fun d t -> seen.Add((d, t))) }
            GradCheck.checkWith options at [ w; x ] (sum (matmul w x)) |> ignore
            Expect.equal (List.ofSeq seen) [ for d in 1 .. 9 -> d, 9 ] "1 … 9 of 9"
        }
        test "second order catches a wrong derivative of a derivative rule" {
            // wrongClip's first derivative is wrong, so the second-order check of a correct outer function fails too.
            let report = GradCheck.secondOrder [ "x", vector [ 0.5; -1.0; 2.0 ] ] [ x ] (sum (square x * softclip.Apply [ x ]))
            Expect.isTrue report.Ok (string report)
            Expect.stringStarts report.Method "second order" "says what it compared"
        }
        test "a check that would compare nothing is refused, and one that cannot tell says so" {
            let throws (f: unit -> obj) (fragment: string) =
                let ex = Expect.throwsC (fun () -> f () |> ignore) id
                Expect.isTrue (ex :? FuncDiffException) (sprintf "a FuncDiff error, got %s" (ex.GetType().Name))
                Expect.stringContains ex.Message fragment fragment
            throws (fun () -> box (GradCheck.check at [] (sum x))) "at least one input"
            throws (fun () -> box (GradCheck.checkWith { GradCheckOptions.Default with Sample = Some 0 } at [ x ] (sum x))) "Sample must be at least 1"
            throws (fun () -> box (GradCheck.checkWith { GradCheckOptions.Default with Step = 0.0 } at [ x ] (sum x))) "Step"
            throws (fun () -> box (GradCheck.checkWith { GradCheckOptions.Default with RelativeTolerance = nan } at [ x ] (sum x))) "RelativeTolerance"
            throws (fun () -> box (GradCheck.checkWith { GradCheckOptions.Default with AbsoluteTolerance = -1.0 } at [ x ] (sum x))) "AbsoluteTolerance"
            throws (fun () -> box (GradCheck.check at [ input "other" [ 2 ] ] (sum x))) "'other'"
            throws (fun () -> box (GradCheck.primitiveWith GradCheckOptions.Default 0 Domain.Any [ [ 2 ] ] softclip)) "cases"
            // A mean over many elements: every derivative is about 1e-7, below the default atol.
            let big = input "big" [ 1000 ]
            let report = GradCheck.check [ "big", Tensor.randn 3 [ 1000 ] ] [ big ] (mean (wrongClip.Apply [ big ]) * 1e-4)
            Expect.stringContains (string report) "cannot tell a right derivative from a wrong one" "the report warns"
            let strict = GradCheck.checkWith { GradCheckOptions.Default with AbsoluteTolerance = 0.0 } [ "big", Tensor.randn 3 [ 1000 ] ] [ big ] (mean (wrongClip.Apply [ big ]) * 1e-4)
            Expect.isFalse strict.Ok "with no absolute tolerance the wrong rule is caught"
        }
        test "a derivative rule that gives the wrong shape is a GradientException naming the primitive" {
            let flat = Primitive.define "flatRule" "x" [ "x" ] Primitive.elementwise (fun xs -> xs.Head) (Derivative.Vjp (fun v -> [ Some (sum v.Cotangent) ]))
            let ex = Expect.throwsC (fun () -> grad [ x ] (sum (flat.Apply [ x ])) |> ignore) id
            Expect.isTrue (ex :? GradientException) (ex.GetType().Name)
            Expect.stringContains ex.Message "flatRule" "names it"
        }
        test "float32 and non-inputs are refused with a reason" {
            let f = inputOf DType.Float32 "f" [ 2 ]
            let ex = Expect.throwsC (fun () -> GradCheck.check [ "f", Tensor.ofArray [| 1.0f; 2.0f |] ] [ f ] (sum f) |> ignore) id
            Expect.stringContains ex.Message "float64" "why"
            let ex = Expect.throwsC (fun () -> GradCheck.check at [ sin x ] (sum (sin x)) |> ignore) id
            Expect.stringContains ex.Message "not one" "only inputs"
        }
    ]

let private allCloseTests =
    testList "Tensor.allClose" [
        test "NumPy's rule: |a - b| <= atol + rtol·|b|" {
            Expect.isTrue (Tensor.allClose 1e-5 1e-8 (vector [ 1.0; 1e6 ]) (vector [ 1.0 + 1e-6; 1e6 + 1.0 ])) "within"
            Expect.isFalse (Tensor.allClose 1e-5 1e-8 (vector [ 1.0 ]) (vector [ 1.0 + 1e-4 ])) "outside"
            Expect.isTrue (Tensor.allClose 0.0 0.0 (vector [ infinity; -infinity ]) (vector [ infinity; -infinity ])) "equal infinities"
            for a, b in [ 1.0, infinity; 1e300, infinity; -infinity, infinity; infinity, 1.0 ] do
                Expect.isFalse (Tensor.allClose 1e-5 1e-8 (vector [ a ]) (vector [ b ])) (sprintf "%g is not close to %g" a b)
            Expect.isFalse (Tensor.allClose 1.0 1.0 (vector [ nan ]) (vector [ nan ])) "NaN is close to nothing"
            Expect.isTrue (Tensor.allClose 1e-6 0.0 (Tensor.ofArray [| 1.0f |]) (vector [ 1.0 ])) "across dtypes, in float64"
        }
        test "different shapes are an error, not false" {
            Expect.throwsT<FuncDiffException> (fun () -> Tensor.allClose 0.0 0.0 (Tensor.zeros [ 2 ]) (Tensor.zeros [ 1; 2 ]) |> ignore) "shapes"
        }
    ]

let private userPrimitiveTests =
    let x = input "x" [ 3 ]
    let at = [ "x", vector [ 0.5; -1.0; 2.0 ] ]
    testList "user-defined primitives" [
        test "apply, evaluate, differentiate, and differentiate again" {
            let y = softclip.Apply [ x ]
            Expect.equal (eval at y |> Tensor.toArray) [| 0.5 / 1.5; -0.5; 2.0 / 3.0 |] "the forward kernel"
            let g = sum y |> grad [ x ] |> List.head
            Expect.isTrue (Tensor.allClose 1e-15 0.0 (eval at g) (vector [ 1.0 / 2.25; 0.25; 1.0 / 9.0 ])) "the rule"
            Expect.isTrue (GradCheck.secondOrder at [ x ] (sum y)).Ok "the rule's own derivative"
        }
        test "print and parse by name, like built-ins" {
            let y = softclip.Apply [ x ]
            Expect.equal (string y) "softclip(x)" "prints"
            Expect.equal (Expr.Parse("softclip(x) * 2", [ x ])) (y * 2.0) "parses"
            Expect.equal (Catalogue.tryFind "softclip" |> Option.map (fun p -> p.Family)) (Some Family.UserDefined) "in the catalogue"
            Expect.contains (Catalogue.userDefined () |> List.map (fun p -> p.Name)) "softclip" "listed"
        }
        test "GradCheck.primitive passes a right rule and catches a wrong one" {
            let ok = GradCheck.primitive Domain.NonZero [ [ 2; 3 ] ] softclip
            Expect.isTrue ok.Ok (string ok)
            let wrong = GradCheck.primitive Domain.NonZero [ [ 4 ] ] wrongClip
            Expect.isFalse wrong.Ok "caught"
            Expect.equal (wrong.Inputs |> List.map (fun i -> i.Name)) [ "x" ] "the primitive's own input name"
            Expect.stringContains (string wrong) "wrongClip, case 1 of 20" "names the primitive and the case"
        }
        test "piecewise constant and non-differentiable primitives have an explicit zero gradient" {
            let z = sum (staircase.Apply [ x ] + hashed.Apply [ x ]) |> grad [ x ] |> List.head
            Expect.equal (eval at z |> Tensor.toArray) [| 0.0; 0.0; 0.0 |] "zero, never missing"
            Expect.equal hashed.Differentiability (Differentiability.NonDifferentiable "a hash has no useful derivative") "the reason is kept"
            Expect.isTrue (GradCheck.primitive Domain.OffIntegers [ [ 5 ] ] staircase).Ok "zero agrees with finite differences between the steps"
            Expect.isEmpty (GradCheck.primitive Domain.Any [ [ 5 ] ] hashed).Inputs "nothing to check"
        }
        test "clear errors: a taken name, a bad name, a refused shape, a kernel that returns the wrong shape" {
            let throws (f: unit -> obj) (fragment: string) =
                let ex = Expect.throwsC (fun () -> f () |> ignore) id
                Expect.stringContains ex.Message fragment fragment
            let same = fun (xs: Tensor list) -> xs.Head
            throws (fun () -> box (Primitive.define "exp" "" [ "x" ] Primitive.elementwise same Derivative.PiecewiseConstant)) "built-in"
            throws (fun () -> box (Primitive.define "softclip" "" [ "x" ] Primitive.elementwise same Derivative.PiecewiseConstant)) "already defined"
            throws (fun () -> box (Primitive.define "2x" "" [ "x" ] Primitive.elementwise same Derivative.PiecewiseConstant)) "identifier"
            throws (fun () -> box (softclip.Apply [ inputOf DType.Int32 "i" [ 2 ] ])) "softclip: inputs must be floating point"
            let shrink = Primitive.define "badKernel" "" [ "x" ] Primitive.elementwise (fun _ -> Tensor.zeros [ 1 ]) Derivative.PiecewiseConstant
            let ex = Expect.throwsC (fun () -> eval at (shrink.Apply [ x ]) |> ignore) id
            Expect.isTrue (ex :? EvaluationException) "an evaluation error"
            Expect.stringContains ex.Message "badKernel: the forward kernel returned float64[1]" "names the primitive and both shapes"
        }
    ]

let private csharpTests =
    testList "from C#" [
        test "GradCheck, AllClose and a user-defined primitive, as a C# program uses them" {
            let output =
                CSharpCompiler.run """
using FuncDiff;

var x = Expr.Input("x", 3);
var at = new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray([0.5, -1.0, 2.0]) };
var cube = Primitive.Define("csCube", "x³", ["x"], Primitive.Elementwise,
    ts => Tensor.FromArray(ts[0].ToDoubleArray().Select(v => v * v * v).ToArray(), ts[0].Shape),
    v => [v.Cotangent * 3.0 * v.Inputs[0].Square()]);
var wrong = Primitive.Define("csWrongCube", "x³ with a wrong rule", ["x"], Primitive.Elementwise,
    ts => Tensor.FromArray(ts[0].ToDoubleArray().Select(v => v * v * v).ToArray(), ts[0].Shape),
    v => [v.Cotangent * 2.0 * v.Inputs[0].Square()]);
Console.WriteLine(GradCheck.Check(cube.Apply(x).Sum(), at, x).Ok);
var report = GradCheck.Check(wrong.Apply(x).Sum(), at, x);
Console.WriteLine(report.Ok);
Console.WriteLine(report.Inputs[0].Failed);
Console.WriteLine(GradCheck.Primitive(cube, Domain.Any, [[2, 2]]).Ok);
Console.WriteLine(GradCheck.Primitive(wrong, Domain.NonZero, [[3]]).Ok);
try { report.ThrowIfFailed(); } catch (GradCheckException e) { Console.WriteLine(e.Message.Split('\n')[0]); }
Console.WriteLine(cube.Apply(x).Eval(("x", at["x"])).AllClose(Tensor.FromArray([0.125, -1.0, 8.0])));
Console.WriteLine(Expr.Parse("csCube(x)", [x]).Equals(cube.Apply(x)));
var big = Expr.Input("big", 500);
var sampled = GradCheck.Check(big.Sin().Sum(), new Dictionary<string, Tensor> { ["big"] = Tensor.RandomNormal(1, 500) }, [big], new GradCheckOptions { Sample = 7 });
Console.WriteLine($"{sampled.Inputs[0].Checked} of {sampled.Inputs[0].Elements}");
"""
            Expect.equal (output.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> List.ofArray)
                [ "True"; "False"; "3"; "True"; "False"; "gradient check FAILED for 1 of 1 input (gradient)"; "True"; "True"; "7 of 500" ] "what the program printed"
        }
    ]

let private fscheckTests =
    let logits = input "logits" [ 5 ]
    let target = constant (Tensor.ofArray [| 0.0; 0.0; 1.0; 0.0; 0.0 |])
    let crossEntropy = logsumexp logits - sum (target * logits)
    /// The property's outcome: None when it held for 100 cases, else the failure text FsCheck gives.
    let outcome (property: Property) =
        try
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(100).WithQuietOnSuccess(true), property)
            None
        with e -> Some e.Message
    testList "FuncDiff.Testing" [
        test "a model's gradients checked in three lines" {
            Expect.isNone (outcome (Gradients.matchFiniteDifferences Domain.Any [ logits ] crossEntropy)) "softmax cross-entropy"
            Expect.isNone (outcome (Gradients.matchFiniteDifferences Domain.Any [ logits ] (logsumexp logits))) "log-sum-exp"
        }
        test "a wrong hand-written gradient is caught, shrunk, and explained" {
            let x = input "x" [ 3 ]
            match outcome (Gradients.matchFiniteDifferences Domain.NonZero [ x ] (sum (wrongClip.Apply [ x ]))) with
            | None -> failtest "the wrong rule passed"
            | Some text ->
                Expect.stringContains text "gradient check FAILED" "the report"
                Expect.stringContains text "worst at" "the element"
                // Shrinking toward simpler values ends at ±1 or ±0.5 wherever it can.
                Expect.stringContains text "Shrunk" "FsCheck shrank the inputs"
        }
        test "generators keep their promises: shapes, broadcasting partners, domains, bindings" {
            let cases (g: Gen<'T>) = Gen.sampleWithSize 10 200 g
            for dims in cases (Generate.shape 1 3) do
                Expect.isTrue (dims.Length >= 1 && dims.Length <= 3 && List.forall (fun d -> d >= 1) dims) (sprintf "%A" dims)
            for a, b in cases (Generate.broadcastPair 3) do
                Expect.isTrue (ShapeMath.tryBroadcast (Shape.Of a) (Shape.Of b) |> Result.isOk) (sprintf "%A and %A broadcast" a b)
            for t in cases (Generate.tensor Domain.Positive [ 4 ]) do
                Expect.isTrue (t.ToFloat64Array() |> Array.forall (fun v -> v >= 0.25 && v <= 3.0)) "positive"
            for t in cases (Generate.tensor Domain.Distinct [ 6 ]) do
                Expect.equal (t.ToFloat64Array() |> Array.distinct |> Array.length) 6 "distinct"
            let w, i = input "w" [ 2; 3 ], inputOf DType.Int32 "i" [ 2 ]
            for bound in cases (Generate.bindings Domain.Any (sum (gather 0 i w))) do
                Expect.equal (bound |> List.map (fun (n, t) -> n, t.Shape.ToList(), t.DType)) [ "w", [ 2; 3 ], DType.Float64; "i", [ 2 ], DType.Int32 ] "every input, its shape and dtype"
        }
        test "shrinking goes toward simpler values inside the domain, and ends" {
            let t = Tensor.ofArray [| 1.37; -0.62 |]
            let simpler = Shrink.tensor Domain.NonZero t |> List.ofSeq
            Expect.isNonEmpty simpler "there are simpler candidates"
            for s in simpler do
                Expect.isTrue (s.ToFloat64Array() |> Array.forall (fun v -> abs v >= 0.25 && abs v <= 2.0)) "still non-zero"
            // Repeatedly taking the first candidate terminates.
            let mutable current, steps = t, 0
            while steps < 1000 && not (Seq.isEmpty (Shrink.tensor Domain.NonZero current)) do
                current <- Seq.head (Shrink.tensor Domain.NonZero current)
                steps <- steps + 1
            Expect.isLessThan steps 1000 "shrinking ends"
            Expect.equal (current.ToFloat64Array()) [| 1.0; -1.0 |] "at the simplest values"
        }
    ]

let tests = testList "Testing kit" [ gradCheckTests; allCloseTests; userPrimitiveTests; csharpTests; fscheckTests ]
