/// The C# facade seen the way C# sees it: its public surface by reflection, its compile-time
/// guarantees through Roslyn, its coverage of the catalogue, and its behaviour through the public API only.
module FuncDiff.Tests.CSharpFacadeTests

open System
open System.Collections.Generic
open System.IO
open System.Reflection
open Expecto
open Microsoft.CodeAnalysis
open Microsoft.CodeAnalysis.CSharp

// The facade's types live directly in namespace FuncDiff; the core's are nested in F# modules, which
// `open FuncDiff` would bring in on top of them, so the facade is named in full here.
type private Expr = FuncDiff.Expr
type private Tensor = FuncDiff.Tensor
type private DType = FuncDiff.DType
type private Names = FuncDiff.Names

let private facade = typeof<Expr>.Assembly
let private core = typeof<FuncDiff.FuncDiffException>.Assembly

// ---- (1) No FSharp.Core type on the public surface -------------------------------------------------

let private isFSharpCore (t: Type) = t.Assembly.GetName().Name = "FSharp.Core"

/// Every FSharp.Core type reachable from the public surface of `roots`, with the path that reaches it.
/// Types of the facade and the core are walked member by member; other types (the BCL) are checked
/// as written, with their generic arguments and element types, but not walked into.
let private fsharpLeaks (roots: Type seq) =
    let leaks = ResizeArray<string>()
    let walked = HashSet<Type>()
    let pending = Queue<Type * string>()
    let rec check (t: Type) (path: string) =
        if t.HasElementType then check (t.GetElementType()) path
        elif t.IsGenericParameter then
            for c in t.GetGenericParameterConstraints() do check c (path + " (constraint)")
        else
            if isFSharpCore t then leaks.Add(sprintf "%s: %s" path (t.ToString()))
            elif t.IsGenericType && not t.IsGenericTypeDefinition then check (t.GetGenericTypeDefinition()) path
            if t.IsGenericType && not t.IsGenericTypeDefinition then
                for a in t.GetGenericArguments() do check a (path + " (generic argument)")
            if (t.Assembly = facade || t.Assembly = core) && walked.Add t then pending.Enqueue(t, path)
    let all = BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.Static
    let parameters (ps: ParameterInfo[]) (path: string) =
        for p in ps do check p.ParameterType (sprintf "%s parameter %s" path p.Name)
    for r in roots do check r r.FullName
    while pending.Count > 0 do
        let t, path = pending.Dequeue()
        let at (m: MemberInfo) = sprintf "%s.%s" t.FullName m.Name
        if not (isNull t.BaseType) then check t.BaseType (path + " base type")
        for i in t.GetInterfaces() do check i (path + " interface")
        if t.IsGenericTypeDefinition then
            for a in t.GetGenericArguments() do check a (path + " type parameter")
        for m in t.GetMethods all do
            check m.ReturnType (at m + " returns")
            parameters (m.GetParameters()) (at m)
            if m.IsGenericMethodDefinition then
                for a in m.GetGenericArguments() do check a (at m + " type parameter")
        for c in t.GetConstructors all do parameters (c.GetParameters()) (at c)
        for p in t.GetProperties all do
            check p.PropertyType (at p)
            parameters (p.GetIndexParameters()) (at p)
        for f in t.GetFields all do check f.FieldType (at f)
        for e in t.GetEvents all do check e.EventHandlerType (at e)
        for n in t.GetNestedTypes BindingFlags.Public do check n (path + " nested")
    List.ofSeq leaks

// ---- (2) Roslyn ------------------------------------------------------------------------------------

let private compile = CSharpCompiler.compile

let private snippet (body: string) =
    "using FuncDiff;\n\nstatic class Snippet\n{\n    static void Run()\n    {\n        var x = Expr.Input(\"x\", 3);\n" + body + "\n    }\n}\n"

let private show (ds: Diagnostic list) = ds |> List.map string |> String.concat "\n"

let private expectOnly (id: string) (body: string) =
    let errors = compile (snippet body) |> List.filter (fun d -> d.Severity = DiagnosticSeverity.Error)
    Expect.equal (errors |> List.map (fun d -> d.Id)) [ id ] (sprintf "exactly %s from:\n%s\ngot:\n%s" id body (show errors))
    errors.Head

// Everything a first program touches, with one using directive; it must compile without a warning.
let private validProgram = """
using FuncDiff;

static class Program
{
    static int Main()
    {
        var x = Expr.Input("x", 2, 3);
        var w = Expr.Input("w", 3);
        var b = Expr.Input("b");
        var z = x.MatMul(w) + b;
        var p = Expr.Where(z > 0, z, 0.0).Sigmoid();
        var loss = -(p.Log().Sum(axis: 0, keepDims: true) / 2.0).Mean() + 0.5 * w.Square().Sum();
        var g = loss.Grad(w, b);
        Expr gw = g[w];
        var (gw2, gb) = loss.Grad(w, b);
        bool same = gw == gw2 && gb != gw;
        Expr elementwise = x.Eq(0.0) & !(x.Ne(x)) | (x >= 1);
        var tx = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var tw = Tensor.FromSpan([0.1, 0.2, 0.3], [3]);
        var tb = Tensor.Scalar(0.5);
        Tensor value = loss.Eval(("x", tx), ("w", tw), ("b", tb));
        var values = Expr.EvalMany([loss, gw], new System.Collections.Generic.Dictionary<string, Tensor> { ["x"] = tx, ["w"] = tw, ["b"] = tb });
        var gradients = g.Eval(("x", tx), ("w", tw), ("b", tb));
        double[] dw = gradients[w].ToArray<double>();
        var jacobian = z.Jacobian(w)[w];
        var hessian = loss.Hessian(w)[w];
        var vjp = z.Vjp(Expr.Constant(Tensor.Ones(2)), w)[w];
        var stacked = Expr.Stack([w, w.StopGradient()], axis: 1).Reshape(-1).Transpose();
        Expr parsed = Expr.Parse("sum(tanh(x @ w) + b)", x, w, b);
        System.Console.WriteLine($"{value} {values.Count} {dw.Length} {jacobian.Shape} {hessian} {vjp} {stacked} {same} {elementwise} {parsed}");
        return value.ToScalar() > 0 ? 0 : 1;
    }
}
"""

let private roslyn =
    testList "Roslyn" [
        test "a program with one using directive compiles without warnings" {
            let diagnostics = compile validProgram
            Expect.isEmpty diagnostics (sprintf "the valid program should compile cleanly:\n%s" (show diagnostics))
        }

        test "if (x > 0) does not compile: a comparison is an expression, not a bool" {
            let e = expectOnly "CS0029" "        if (x > 0) { }"
            let message = e.GetMessage()
            Expect.stringContains message "FuncDiff.Expr" "names the expression type"
            Expect.stringContains message "bool" "names bool"
        }

        test "the same holds for a negation and for a comparison of two expressions" {
            expectOnly "CS0029" "        if (!(x > 0)) { }" |> ignore
            expectOnly "CS0029" "        while (x < x.Mean()) { }" |> ignore
            expectOnly "CS0029" "        bool b = x >= 1;" |> ignore
        }

        test "x == 0.0 does not compile: elementwise equality is Eq" {
            expectOnly "CS0019" "        var b = x == 0.0;" |> ignore
        }

        test "&& on expressions does not compile: use &" {
            expectOnly "CS0218" "        var b = (x > 0) && (x < 1);" |> ignore
        }
    ]

// ---- (4) Behaviour through the public API ----------------------------------------------------------

let private vector (xs: float list) = Tensor.FromArray(Array.ofList xs)
let private values (t: Tensor) = t.ToArray<float>() |> List.ofArray
let private close (actual: float list) (expected: float list) (message: string) =
    Expect.equal actual.Length expected.Length (message + ": length")
    for a, e in List.zip actual expected do
        Expect.floatClose Accuracy.high a e (sprintf "%s: %A vs %A" message actual expected)
let private gt (a: Expr) (b: float) = Expr.op_GreaterThan(a, b)

/// The exception of type 'E that f throws, to look at its message.
let private throws<'E when 'E :> exn> (f: unit -> unit) : 'E =
    let thrown = try f (); None with :? 'E as e -> Some e
    match thrown with
    | Some e -> e
    | None -> failtestf "expected %s, but nothing was thrown" typeof<'E>.Name

let private behaviour =
    testList "behaviour" [
        test "Tensor.Parse reads the language's literals" {
            Expect.equal (Tensor.Parse "[[1, 2], [3, 4]]") (Tensor.FromArray(array2D [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ])) "float64 by default"
            Expect.equal (Tensor.Parse "[true, false]") (Tensor.FromArray [| true; false |]) "bool"
            Expect.equal (Tensor.Parse("[0.1, -nan]", DType.Float32)) (Tensor.FromArray [| 0.1f; -nanf |]) "float32 from the text"
            Expect.equal (Tensor.Parse("[7, -1]", DType.Int32)) (Tensor.FromArray [| 7; -1 |]) "int32"
            let error = throws<FuncDiff.ParseException> (fun () -> Tensor.Parse "[1, 1e400]" |> ignore)
            Expect.equal (error.Line, error.Column) (1, 5) "the position of the number"
            Expect.stringContains error.Reason "out of range for float64" "the reason"
            throws<ArgumentNullException> (fun () -> Tensor.Parse null |> ignore) |> ignore
        }

        testProperty "Tensor.Parse reads every printed constant's literal back" (fun (seed: int) ->
            // A float64 constant prints as its bare literal, here with magnitudes from 1e-160 to 1e80.
            let t = Tensor.FromArray(Array.init 7 (fun i -> float (seed % 1000) * Math.Pow(10.0, float (i * 40 - 160))))
            let text = Expr.Constant(t).ToString()
            Expect.equal (Tensor.Parse text) t text)

        test "Names.Closest suggests by the parser's rule" {
            Expect.equal (Names.Closest("softMax", [ "softmax"; "logSoftmax" ])) "softmax" "case is ignored"
            Expect.equal (Names.Closest("evl", [ "eval"; "grad" ])) "eval" "one edit"
            Expect.isNull (Names.Closest("zzz", [ "exp" ])) "null when nothing is close"
            throws<ArgumentNullException> (fun () -> Names.Closest(null, [ "exp" ]) |> ignore) |> ignore
        }

        test "operators take doubles on either side" {
            let x = Expr.Input("x", 3)
            let y = (2.0 * x + 1.0) - x / 4.0 + (1.0 - x) * 3.0 + 6.0 / x - (-x) - x * 0.5
            let t = vector [ 1.0; 2.0; 3.0 ]
            let expected = [ for v in [ 1.0; 2.0; 3.0 ] -> (2.0 * v + 1.0) - v / 4.0 + (1.0 - v) * 3.0 + 6.0 / v - (-v) - v * 0.5 ]
            close (values (y.Eval(struct ("x", t)))) expected "value"
        }

        test "comparisons build bool expressions with doubles on either side" {
            let x = Expr.Input("x", 3)
            let t = vector [ -1.0; 0.0; 2.0 ]
            let eval (e: Expr) = e.Eval(struct ("x", t)).ToArray<bool>() |> List.ofArray
            Expect.equal (gt x 0.0).DType DType.Bool "dtype"
            Expect.equal (eval (gt x 0.0)) [ false; false; true ] ">"
            Expect.equal (eval (Expr.op_LessThan(0.0, x))) [ false; false; true ] "0 < x"
            Expect.equal (eval (Expr.op_LessThanOrEqual(x, 0.0))) [ true; true; false ] "<="
            Expect.equal (eval (Expr.op_GreaterThanOrEqual(x, x))) [ true; true; true ] ">="
            Expect.equal (eval (x.Eq(0.0))) [ false; true; false ] "Eq"
            Expect.equal (eval (x.Ne(0.0))) [ true; false; true ] "Ne"
            Expect.equal (eval (Expr.op_BitwiseAnd(gt x (-0.5), x.Ne(2.0)))) [ false; true; false ] "&"
            Expect.equal (eval (Expr.op_LogicalNot(gt x 0.0))) [ true; true; false ] "!"
        }

        test "== is expression equality, a bool; Eq is elementwise" {
            let x = Expr.Input("x", 3)
            let a, b = x * 2.0, x * 2.0
            Expect.isTrue (Expr.op_Equality(a, b)) "two separately built x * 2 are the same expression"
            Expect.isTrue (a.Equals(b) && a.GetHashCode() = b.GetHashCode()) "Equals and GetHashCode agree"
            Expect.isTrue (Expr.op_Inequality(a, x * 3.0)) "x * 2 is not x * 3"
            Expect.isFalse (Expr.op_Equality(a, null)) "nothing equals null"
            Expect.equal (a.Eq(b).DType) DType.Bool "Eq builds a bool expression"
        }

        test "the gradient of (x - mean x)² summed is 2(x - mean x)" {
            let x = Expr.Input("x", 4)
            let loss = (x - x.Mean()).Square().Sum()
            let g = loss.Grad(x)
            let xs = [ 1.0; 2.0; 4.0; 9.0 ]
            let m = List.average xs
            close (values (g[x].Eval(struct ("x", vector xs)))) [ for v in xs -> 2.0 * (v - m) ] "gradient"
        }

        test "gradients of a linear model, looked up by node and evaluated together" {
            let x = Expr.Input("x", 2, 3)
            let w = Expr.Input("w", 3)
            let b = Expr.Input("b")
            let loss = (x.MatMul(w) + b).Square().Sum()
            let g = loss.Grad(w, b)
            let tx = Tensor.FromArray(array2D [ [ 1.0; 2.0; 3.0 ]; [ 4.0; 5.0; 6.0 ] ])
            let tw = vector [ 0.5; -1.0; 0.25 ]
            let tb = Tensor.Scalar 2.0
            let inputs = readOnlyDict [ "x", tx; "w", tw; "b", tb ]
            let r = [ 1.0 * 0.5 - 2.0 + 3.0 * 0.25 + 2.0; 4.0 * 0.5 - 5.0 + 6.0 * 0.25 + 2.0 ]
            let gv = g.Eval inputs
            close (values gv[w]) [ for j in 0 .. 2 -> 2.0 * (r[0] * [ 1.0; 2.0; 3.0 ][j] + r[1] * [ 4.0; 5.0; 6.0 ][j]) ] "d/dw"
            close (values gv[b]) [ 2.0 * List.sum r ] "d/db"
            Expect.sequenceEqual g.Keys [ w; b ] "keys in order"
            let many = Expr.EvalMany([ loss; g[w]; g[b] ], inputs)
            close (values many[0]) [ List.sumBy (fun v -> v * v) r ] "loss from EvalMany"
            Expect.equal many[1] gv[w] "EvalMany agrees with Derivatives.Eval"
        }

        test "Compile gives EvalMany's values; a workspace binds by name and runs without new result objects" {
            let x = Expr.Input("x", 3)
            let w = Expr.Input("w", 3)
            let loss = (x * w).Tanh().Sum()
            let g = loss.Grad(w)
            let plan = Expr.Compile([ loss; g[w] ])
            let inputs = readOnlyDict [ "x", vector [ 1.0; -2.0; 0.5 ]; "w", vector [ 0.3; 0.1; -4.0 ] ]
            Expect.sequenceEqual (plan.Eval inputs) (Expr.EvalMany([ loss; g[w] ], inputs)) "the same values as EvalMany"
            Expect.sequenceEqual plan.InputNames [ "x"; "w" ] "inputs, as the plan reads them"
            Expect.equal [ for struct (name, t) in plan.Inputs -> name, List.ofSeq t.Shape, t.DType ] [ "x", [ 3 ], DType.Float64; "w", [ 3 ], DType.Float64 ] "with their shapes and dtypes"
            let workspace = plan.CreateWorkspace().Bind("x", inputs["x"]).Bind("w", inputs["w"])
            let first = plan.Run workspace
            Expect.sequenceEqual first (plan.Eval inputs) "a run in a workspace gives the same values"
            let firstGradient = first[1]
            let kept = firstGradient.Copy()
            Expect.isTrue (firstGradient.IsLent && not kept.IsLent) "a run's result is lent, its copy is not"
            let evaluated = plan.Eval inputs
            Expect.isFalse evaluated[1].IsLent "Eval's results are the caller's"
            let second = plan.Run(workspace.Bind("w", vector [ 1.0; 1.0; 1.0 ]))
            Expect.isTrue (obj.ReferenceEquals(second[1], firstGradient)) "the workspace's own tensor, overwritten by the next run"
            Expect.equal kept evaluated[1] "the copy keeps the first run's values"
            Expect.notEqual kept (second[1]) "which the next run overwrote"
            Expect.sequenceEqual second (plan.Eval(struct ("x", inputs["x"]), struct ("w", vector [ 1.0; 1.0; 1.0 ]))) "rebinding takes effect"
            let e = Expect.throwsC (fun () -> workspace.Bind("ww", vector [ 1.0 ]) |> ignore) id
            Expect.stringContains e.Message "did you mean 'w'?" "a name the plan does not read"
            Expect.throws (fun () -> Expr.Compile([ loss ]).Run(workspace) |> ignore) "a workspace belongs to its plan"
        }

        test "Grad of a non-scalar output names the shape and points to jacobian" {
            let x = Expr.Input("x", 2, 3)
            let e = throws<FuncDiff.GradientException> (fun () -> (x * 2.0).Grad(x) |> ignore)
            Expect.isTrue (e :> exn :? FuncDiff.FuncDiffException) "derives from FuncDiffException"
            Expect.stringContains e.Message "[2, 3]" "names the shape"
            Expect.stringContains e.Message "jacobian" "points to jacobian"
        }

        test "Jacobian of x² is diag(2x), with shape output ++ input" {
            let x = Expr.Input("x", 3)
            let j = (x * x).Jacobian(x)[x]
            Expect.sequenceEqual j.Shape [ 3; 3 ] "shape"
            let v = j.Eval(struct ("x", vector [ 1.0; 2.0; 3.0 ]))
            close (values v) [ 2.0; 0.0; 0.0; 0.0; 4.0; 0.0; 0.0; 0.0; 6.0 ] "values"
            Expect.equal (v.ToArray2D<float>()[1, 1]) 4.0 "as a 2-D array"
        }

        test "Hessian of Σx³ is diag(6x); of Σ(Ax)² it is 2AᵀA" {
            let x = Expr.Input("x", 2)
            let h = (x * x * x).Sum().Hessian(x)[x]
            Expect.sequenceEqual h.Shape [ 2; 2 ] "shape"
            close (values (h.Eval(struct ("x", vector [ 1.5; -2.0 ])))) [ 9.0; 0.0; 0.0; -12.0 ] "diag(6x)"
            let a = Expr.Constant(Tensor.FromArray(array2D [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ]))
            let h2 = a.MatMul(x).Square().Sum().Hessian(x)[x]
            close (values (h2.Eval(struct ("x", vector [ 0.3; 0.7 ])))) [ 20.0; 28.0; 28.0; 40.0 ] "2AᵀA"
        }

        test "Vjp of x² with cotangent c is 2xc" {
            let x = Expr.Input("x", 3)
            let c = Expr.Constant(vector [ 1.0; -1.0; 0.5 ])
            let v = (x * x).Vjp(c, x)[x]
            close (values (v.Eval(struct ("x", vector [ 1.0; 2.0; 3.0 ])))) [ 2.0; -4.0; 3.0 ] "vjp"
            let many = Expr.Vjp([| x * x; x.Sum() |], [| c; Expr.Scalar 2.0 |], [| x |])
            close (values (many[x].Eval(struct ("x", vector [ 1.0; 2.0; 3.0 ])))) [ 4.0; -2.0; 5.0 ] "summed over outputs"
        }

        test "Where branches in the graph and routes the gradient to the selected side" {
            let x = Expr.Input("x", 4)
            let relu = Expr.Where(gt x 0.0, x, 0.0)
            let t = vector [ -2.0; -0.5; 0.5; 3.0 ]
            close (values (relu.Eval(struct ("x", t)))) [ 0.0; 0.0; 0.5; 3.0 ] "value"
            let g = relu.Sum().Grad(x)[x]
            close (values (g.Eval(struct ("x", t)))) [ 0.0; 0.0; 1.0; 1.0 ] "gradient"
            close (values (relu.Eval(struct ("x", t)))) (values (x.Relu().Eval(struct ("x", t)))) "same as Relu"
        }

        test "looking up a node no derivative was taken for names the nodes there are" {
            let x = Expr.Input("x", 3)
            let w = Expr.Input("w", 3)
            let g = (x * w).Sum().Grad(w)
            let e = throws<KeyNotFoundException> (fun () -> g[x] |> ignore)
            Expect.stringContains e.Message "x" "names the missing node"
            Expect.stringContains e.Message "w" "names the nodes there are"
            Expect.isFalse (g.ContainsKey x) "ContainsKey"
        }

        test "tensors round-trip through 1-D arrays of every element type" {
            let d = Tensor.FromArray [| 1.0; 2.5; -3.0 |]
            Expect.equal (d.DType, d.ToArray<float>()) (DType.Float64, [| 1.0; 2.5; -3.0 |]) "double[]"
            let f = Tensor.FromArray [| 1.0f; 2.5f |]
            Expect.equal (f.DType, f.ToArray<float32>()) (DType.Float32, [| 1.0f; 2.5f |]) "float[]"
            let i = Tensor.FromArray [| 1; -2; 3 |]
            Expect.equal (i.DType, i.ToArray<int>()) (DType.Int32, [| 1; -2; 3 |]) "int[]"
            let b = Tensor.FromArray [| true; false |]
            Expect.equal (b.DType, b.ToArray<bool>()) (DType.Bool, [| true; false |]) "bool[]"
            Expect.equal (b.ToDoubleArray()) [| 1.0; 0.0 |] "bool as doubles"
            Expect.throwsT<FuncDiff.FuncDiffException> (fun () -> d.ToArray<int>() |> ignore) "reading as the wrong type"
        }

        test "tensors round-trip through 2-D arrays and shaped arrays" {
            let m = array2D [ [ 1.0; 2.0; 3.0 ]; [ 4.0; 5.0; 6.0 ] ]
            let t = Tensor.FromArray m
            Expect.sequenceEqual t.Shape [ 2; 3 ] "shape"
            Expect.equal (t.ToArray2D<float>()) m "double[,]"
            Expect.equal t[1, 2] 6.0 "indexer"
            let f = array2D [ [ 1.0f; 2.0f ]; [ 3.0f; 4.0f ] ]
            Expect.equal (Tensor.FromArray(f).ToArray2D<float32>()) f "float[,]"
            let shaped = Tensor.FromArray([| 1.0 .. 6.0 |], [| 3; 2 |])
            Expect.sequenceEqual shaped.Shape [ 3; 2 ] "shaped"
            Expect.equal shaped[2, 0] 5.0 "row-major"
            Expect.equal (Tensor.FromArray([| 7.0 |], [||]).Rank) 0 "an empty shape is a scalar"
            let e = throws<FuncDiff.FuncDiffException> (fun () -> Tensor.FromArray([| 1.0; 2.0 |], [| 3 |]) |> ignore)
            Expect.stringContains e.Message "[3]" "names the shape"
        }

        test "tensors round-trip through spans, and copies are independent" {
            let data = [| 1.0; 2.0; 3.0; 4.0 |]
            let t = Tensor.FromSpan(ReadOnlySpan<float>(data), ReadOnlySpan<int>([| 2; 2 |]))
            data[0] <- 100.0
            let out = Array.zeroCreate<float> 4
            t.CopyTo(Span<float>(out))
            Expect.equal out [| 1.0; 2.0; 3.0; 4.0 |] "double span, unaffected by later writes"
            let i = Tensor.FromSpan(ReadOnlySpan<int>([| 5; 6 |]), ReadOnlySpan<int>([| 2 |]))
            Expect.equal (i.ToArray<int>()) [| 5; 6 |] "int span"
            Expect.equal (Tensor.FromSpan(ReadOnlySpan<float32>([| 1.0f |]), ReadOnlySpan<int>([||])).DType) DType.Float32 "float span"
            Expect.equal (Tensor.FromSpan(ReadOnlySpan<bool>([| true |]), ReadOnlySpan<int>([| 1 |])).ToArray<bool>()) [| true |] "bool span"
            Expect.throwsT<FuncDiff.FuncDiffException> (fun () -> t.CopyTo(Span<float>(Array.zeroCreate 3))) "too short"
        }

        test "creation helpers and NumPy-like text" {
            Expect.equal (Tensor.Zeros(2, 3).ToDoubleArray()) (Array.zeroCreate 6) "zeros"
            Expect.equal (Tensor.Ones(2).ToDoubleArray()) [| 1.0; 1.0 |] "ones"
            Expect.equal (Tensor.Full([| 2 |], 7.5).ToDoubleArray()) [| 7.5; 7.5 |] "full"
            Expect.equal (Tensor.Arange(4.0).ToDoubleArray()) [| 0.0; 1.0; 2.0; 3.0 |] "arange(stop)"
            Expect.equal (Tensor.Arange(1.0, 2.0, 0.5).ToDoubleArray()) [| 1.0; 1.5 |] "arange"
            Expect.equal (Tensor.Linspace(0.0, 1.0, 3).ToDoubleArray()) [| 0.0; 0.5; 1.0 |] "linspace"
            Expect.equal (Tensor.RandomNormal(7, 3, 2)) (Tensor.RandomNormal(7, 3, 2)) "same seed, same tensor"
            Expect.notEqual (Tensor.RandomUniform(7, 5)) (Tensor.RandomUniform(8, 5)) "other seed, other tensor"
            Expect.isTrue (Tensor.RandomUniform(1, 100).ToDoubleArray() |> Array.forall (fun v -> v >= 0.0 && v < 1.0)) "uniform on [0, 1)"
            Expect.equal (Tensor.FromArray(array2D [ [ 1.0; 2.0 ]; [ 3.0; 4.0 ] ]).ToString()) "tensor([[1., 2.],\n        [3., 4.]])" "NumPy-like text"
            Expect.equal (Tensor.FromArray([| 1; 2 |]).Cast(DType.Float32).DType) DType.Float32 "cast"
        }

        test "evaluation with a missing input throws InputException naming it" {
            let x = Expr.Input("x", 3)
            let w = Expr.Input("w", 3)
            let y = (x * w).Sum()
            let e = throws<FuncDiff.InputException> (fun () -> y.Eval(struct ("x", vector [ 1.0; 2.0; 3.0 ])) |> ignore)
            Expect.equal e.InputName "w" "InputName"
            Expect.stringContains e.Message "'w'" "the message names the input"
            Expect.stringContains e.Message "[3]" "and its shape"
        }

        test "evaluation with a wrongly shaped or doubly bound input names it" {
            let x = Expr.Input("x", 3)
            let e = throws<FuncDiff.InputException> (fun () -> x.Eval(struct ("x", vector [ 1.0 ])) |> ignore)
            Expect.equal e.InputName "x" "wrong shape"
            Expect.stringContains e.Message "[1]" "names the bound shape"
            let t = vector [ 1.0; 2.0; 3.0 ]
            let twice = throws<FuncDiff.InputException> (fun () -> x.Eval(struct ("x", t), struct ("x", t)) |> ignore)
            Expect.equal twice.InputName "x" "bound twice"
        }

        test "a shape mismatch at construction throws ExprException naming both shapes" {
            let e = throws<FuncDiff.ExprException> (fun () -> Expr.Input("a", 2, 3) + Expr.Input("b", 4) |> ignore)
            Expect.stringContains e.Message "[2, 3]" "first shape"
            Expect.stringContains e.Message "[4]" "second shape"
        }

        test "Parse reads the language over declared inputs and round-trips ToString" {
            let x = Expr.Input("x", 4)
            let w = Expr.Input("w", DType.Float32, 2, 3)
            let parsed = Expr.Parse("sum((x - mean(x)) ^ 2)", x)
            let built = (x - x.Mean()).Square().Sum()
            let t = vector [ 1.0; 2.0; 4.0; 9.0 ]
            close (values (parsed.Eval(struct ("x", t)))) (values (built.Eval(struct ("x", t)))) "same value as the fluent API"
            let gradient = parsed.Grad(x)[x]
            close (values (gradient.Eval(struct ("x", t)))) [ for v in [ 1.0; 2.0; 4.0; 9.0 ] -> 2.0 * (v - 4.0) ] "differentiable"
            Expect.isTrue (Expr.op_Equality(Expr.Parse(built.ToString(), x), built)) "ToString parses back to an equal expression"
            let typed = Expr.Parse("w * 2", x, w)
            Expect.equal typed.DType DType.Float32 "a number takes the dtype of its float32 operand"
            Expect.sequenceEqual typed.Shape [ 2; 3 ] "shapes come from the declared inputs"
            Expect.equal (Expr.Parse("1 + 2").Eval().ToScalar()) 3.0 "no inputs needed for a constant expression"
        }

        test "Parse errors give the position, and the cause when the text is well formed" {
            let x = Expr.Input("x", 3)
            let y = Expr.Input("y", 2)
            let syntax = throws<FuncDiff.ParseException> (fun () -> Expr.Parse("x +* 2", x) |> ignore)
            Expect.equal (syntax.Line, syntax.Column) (1, 4) "points at the '*'"
            Expect.stringContains syntax.Reason "expected an expression" "says what is wrong"
            Expect.isNull syntax.InnerException "a syntax error has no cause"
            let shape = throws<FuncDiff.ParseException> (fun () -> Expr.Parse("x + y", x, y) |> ignore)
            Expect.equal (shape.Line, shape.Column) (1, 3) "points at the operator"
            Expect.isTrue (shape.InnerException :? FuncDiff.ExprException) "the cause is the shape error"
            Expect.stringContains shape.Reason "[3]" "naming both shapes"
            Expect.stringContains shape.Reason "[2]" "naming both shapes"
            let missing = throws<FuncDiff.ParseException> (fun () -> Expr.Parse("x + z", x) |> ignore)
            match missing.InnerException with
            | :? FuncDiff.InputException as e -> Expect.equal e.InputName "z" "the cause names the input"
            | other -> failtestf "expected an InputException inside, got %O" other
            let clash = throws<ArgumentException> (fun () -> Expr.Parse("x", x, Expr.Input("x", 4)) |> ignore)
            Expect.stringContains clash.Message "declared twice" "one name, two shapes"
            Expect.throwsT<ArgumentNullException> (fun () -> Expr.Parse(null, x) |> ignore) "null text"
            Expect.throwsT<ArgumentNullException> (fun () -> Expr.Parse("x", [| x; null |]) |> ignore) "a null input"
            Expect.throwsT<ArgumentException> (fun () -> Expr.Parse("x", x * 2.0) |> ignore) "a declared input must be an input"
        }

        test "reductions, shapes and indexing take C# style arguments" {
            let x = Expr.Input("x", 2, 3)
            Expect.sequenceEqual (x.Sum(axis = 1, keepDims = true).Shape) [ 2; 1 ] "Sum(axis, keepDims)"
            Expect.sequenceEqual (x.Mean([| 0; 1 |]).Shape) [] "Mean(axes)"
            Expect.sequenceEqual (x.Transpose().Shape) [ 3; 2 ] "Transpose()"
            Expect.sequenceEqual (x.Reshape(3, -1).Shape) [ 3; 2 ] "Reshape"
            Expect.sequenceEqual (x.Unsqueeze(0).Squeeze().Shape) [ 2; 3 ] "Unsqueeze, Squeeze"
            Expect.sequenceEqual (Expr.Concat([ x; x ], axis = 1).Shape) [ 2; 6 ] "Concat"
            Expect.sequenceEqual (x.Slice([| 0; 1 |], [| 1; 3 |]).Shape) [ 1; 2 ] "Slice"
            let idx = Expr.Constant(Tensor.FromArray [| 2; 0 |])
            let t = Tensor.FromArray(array2D [ [ 1.0; 2.0; 3.0 ]; [ 4.0; 5.0; 6.0 ] ])
            close (values (x.Gather(idx, axis = 1).Eval(struct ("x", t)))) [ 3.0; 1.0; 6.0; 4.0 ] "Gather"
            close (values (idx.OneHot(3).Eval())) [ 0.0; 0.0; 1.0; 1.0; 0.0; 0.0 ] "OneHot"
            Expect.equal (idx.OneHot(3, DType.Float32).DType) DType.Float32 "OneHot dtype"
            close (values (Expr.ScatterAdd(idx, Expr.Constant(vector [ 1.0; 2.0 ]), 4).Eval())) [ 2.0; 0.0; 1.0; 0.0 ] "ScatterAdd"
            Expect.equal (x.ArgMax(axis = 1).Eval(struct ("x", t)).ToArray<int>()) [| 2; 2 |] "ArgMax"
            close (values (x.Softmax().Sum(axis = -1).Eval(struct ("x", t)))) [ 1.0; 1.0 ] "Softmax"
        }
    ]

// ---- (3) Every primitive has a facade member -------------------------------------------------------

// Primitives C# spells as operators; every other primitive is a method named after it.
let private operators =
    dict [ "neg", "op_UnaryNegation"; "add", "op_Addition"; "sub", "op_Subtraction"; "mul", "op_Multiply"; "div", "op_Division"
           "lt", "op_LessThan"; "le", "op_LessThanOrEqual"; "gt", "op_GreaterThan"; "ge", "op_GreaterThanOrEqual" ]

let tests =
    testList "CSharp facade" [
        test "no FSharp.Core type anywhere on the public surface" {
            let exported = facade.GetExportedTypes()
            Expect.containsAll (exported |> Array.map (fun t -> t.Name)) [ "Expr"; "Tensor"; "DType"; "Derivatives" ] "the walk starts from the facade's types"
            let leaks = fsharpLeaks exported
            Expect.isEmpty leaks (sprintf "FSharp.Core types on the facade's public surface:\n%s" (String.concat "\n" leaks))
        }

        test "the surface check finds an F# type where there is one" {
            // The core's Shape exposes ToList(): FSharpList; the same walk must report it.
            let leaks = fsharpLeaks [ typeof<FuncDiff.Shapes.Shape> ]
            Expect.exists leaks (fun l -> l.Contains "FSharpList") (sprintf "expected an FSharpList leak, got %A" leaks)
        }

        test "every catalogue primitive has a PascalCase member or an operator" {
            let members =
                typeof<Expr>.GetMembers(BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.Static)
                |> Array.map (fun m -> m.Name)
                |> Set.ofArray
            let covered (name: string) =
                match operators.TryGetValue name with
                | true, op -> members.Contains op
                | _ -> members |> Set.exists (fun m -> Char.IsUpper m[0] && String.Equals(m, name, StringComparison.OrdinalIgnoreCase))
            let names = FuncDiff.PrimitiveCatalogue.Catalogue.all |> List.map (fun p -> p.Name)
            Expect.isGreaterThan names.Length 60 "the catalogue is read"
            let missing = names |> List.filter (covered >> not)
            Expect.isEmpty missing (sprintf "primitives without a facade member: %A" missing)
        }

        roslyn
        behaviour
    ]
