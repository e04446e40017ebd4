/// The edges where numerical code goes silently wrong: shapes too large to hold, exact-zero cotangents
/// against ±∞ and NaN, pow at 0, NaN in max and min, int32 overflow, and exceptions from inside kernels.
/// Each class of failure is covered for the whole catalogue where it can occur, not one op at a time.
module internal FuncDiff.Tests.EdgeCaseTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives
open FuncDiff.Tests.Specs

let private values (t: Tensor) = t.ToFloat64Array() |> List.ofArray
let private vector (xs: float list) = Tensor.ofArray (Array.ofList xs)

/// The gradient of output with respect to each of wrt, at the bindings.
let private gradients (bindings: (string * Tensor) list) (wrt: Expr list) (output: Expr) =
    output |> grad wrt |> List.map (eval bindings >> values)

let private node (name: string) (dims: int list) (dtype: DType) = Rules.input name (Shape.Of dims) dtype

// ---- Shapes too large to hold -------------------------------------------------------------------

let private big = 65536

/// An application of the primitive whose result would have more elements than a tensor can hold
/// (65536² = 2³²), built from input nodes alone: no tensor of that size is ever allocated. None for
/// primitives whose result never has more elements than their largest input (or one).
let private oversized (p: Primitive) : (Node list * (string * Param) list) option =
    let f64 = DType.Float64
    match p.Name with
    | "broadcastTo" -> Some ([ node "a" [ 1 ] f64 ], [ "shape", Param.Ints [ big; big ] ])
    | "sum" | "mean" | "prod" | "logsumexp" -> Some ([ node "a" [ 0; big; big ] f64 ], [ "axis", Param.Ints [ 0 ] ])
    | "pad" -> Some ([ node "a" [ big; 1 ] f64 ], [ "lo", Param.Ints [ 0; big ]; "hi", Param.Ints [ 0; 0 ] ])
    | "concat" -> Some ([ node "a" [ 1_500_000_000 ] f64; node "b" [ 1_500_000_000 ] f64 ], [])
    | "stack" -> Some ([ node "a" [ 1_500_000_000 ] f64; node "b" [ 1_500_000_000 ] f64 ], [])
    | "gather" -> Some ([ node "a" [ 2; big ] f64; node "i" [ big ] DType.Int32 ], [])
    | "scatterAdd" -> Some ([ node "i" [ 1 ] DType.Int32; node "u" [ 1; big ] f64 ], [ "size", Param.Int big ])
    | "oneHot" -> Some ([ node "i" [ big ] DType.Int32 ], [ "depth", Param.Int big ])
    | "matmul" | "matmulNoNan" -> Some ([ node "a" [ big; 1 ] f64; node "b" [ 1; big ] f64 ], [])
    | "outer" -> Some ([ node "a" [ big ] f64; node "b" [ big ] f64 ], [])
    | "where" -> Some ([ node "c" [ big; 1 ] DType.Bool; node "a" [ 1; big ] f64; node "b" [ 1 ] f64 ], [])
    | _ when p.Family = Family.Elementwise && p.Inputs.Length = 2 ->
        let dtype = if p.Name.StartsWith "logical" then DType.Bool else f64
        Some ([ node "a" [ big; 1 ] dtype; node "b" [ 1; big ] dtype ], [])
    | _ -> None

let private shapeTests =
    testList "shapes too large to hold" [
        test "every primitive that can enlarge its result refuses a result too large, naming itself and the shape" {
            let mutable checkedCount = 0
            for p in Registry.all do
                match oversized p with
                | None -> ()
                | Some (inputs, attrs) ->
                    let ex = Expect.throwsC (fun () -> Rules.apply p attrs inputs |> ignore) id
                    Expect.isTrue (ex :? ExprException) (sprintf "%s: an ExprException, got %s: %s" p.Name (ex.GetType().Name) ex.Message)
                    Expect.stringStarts ex.Message (p.Name + ":") "names the op"
                    Expect.stringContains ex.Message "more than a tensor can hold" (p.Name + ": says why")
                    checkedCount <- checkedCount + 1
            Expect.isGreaterThan checkedCount 30 "most of the catalogue can enlarge its result"
        }
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 30 } "the others never give more elements than their largest input"
            (Prop.forAll (Arb.fromGen (Gen.elements Specs.all |> Gen.bind (fun s -> s.Case |> Gen.map (fun c -> s, c)))) (fun (spec, case) ->
                let p = (Registry.tryFind spec.Name).Value
                if (oversized p).IsNone then
                    let inputs = case.Inputs |> List.mapi (fun i t -> Rules.input (sprintf "a%d" i) t.Shape t.DType)
                    let out = Rules.apply p case.Attributes inputs
                    let largest = case.Inputs |> List.map (fun t -> t.Size) |> List.fold max 1
                    if out.Shape.Size > largest then failwithf "%s gives %O from inputs of at most %d elements, but has no oversized case" spec.Name out.Shape largest))
        test "the element count is a 64-bit product: 65536 × 65536 does not wrap to 0" {
            let x, y = input "x" [ big ], input "y" [ big ]
            let ex = Expect.throwsC (fun () -> outer x y |> ignore) id
            Expect.stringContains ex.Message "[65536, 65536] has 4294967296 elements" "the true count"
            let ex = Expect.throwsC (fun () -> input "x" [ 46341; 46341 ] |> ignore) id
            Expect.stringContains ex.Message "2147488281 elements" "past 2³¹ without going negative"
            let ex = Expect.throwsC (fun () -> input "x" [ 99999; 99999; 99999; 99999; 99999 ] |> ignore) id
            Expect.stringContains ex.Message "more than a tensor can hold" "even past 2⁶³"
        }
        test "shapes of exactly the limit and size-0 shapes with huge axes are fine" {
            Expect.equal (Shape.Of [ int Shape.MaxElements ]).Size (int Shape.MaxElements) "the limit itself"
            Expect.equal (Shape.Of [ 0; Int32.MaxValue; Int32.MaxValue ]).Size 0 "no elements"
            let e = input "e" [ 0; 99999 ]
            Expect.equal (eval [ "e", Tensor.zeros [ 0; 99999 ] ] (e.Sum(axis = 1))).Shape.Dims [| 0 |] "summing an empty axis"
        }
        test "reshape of a huge size is refused without wrapping" {
            let x = input "x" [ 4 ]
            let ex = Expect.throwsC (fun () -> reshape [ big; big; 0; 1 ] x |> ignore) id
            Expect.stringStarts ex.Message "reshape:" "names the op"
            let ex = Expect.throwsC (fun () -> reshape [ big; big; -1 ] x |> ignore) id
            Expect.stringStarts ex.Message "reshape:" "names the op with -1 too"
        }
    ]

// ---- Exact-zero cotangents ------------------------------------------------------------------------

/// The case's float inputs with some elements replaced by +∞, -∞ or NaN.
let private poisoned (case: Case) =
    gen {
        let! inputs =
            case.Inputs
            |> List.map (fun t ->
                if not t.DType.IsFloat then Gen.constant t
                else
                    t.ToFloat64Array()
                    |> Array.map (fun v -> Gen.frequency [ 2, Gen.constant v; 1, Gen.elements [ infinity; -infinity; nan ] ])
                    |> Gen.sequenceToArray
                    |> Gen.map (Tensor.ofData (t.Shape.ToArray())))
            |> Gen.sequenceToList
        return { case with Inputs = inputs }
    }

/// The vjp of the primitive at the case with the given cotangent, for each float input.
let private vjpAt (spec: Spec) (case: Case) (cotangent: Tensor) =
    let p = (Registry.tryFind spec.Name).Value
    let inputs = case.Inputs |> List.mapi (fun i t -> Rules.input (sprintf "a%d" i) t.Shape t.DType)
    let out = Rules.apply p case.Attributes inputs
    let wrt = [ for i, t in List.indexed case.Inputs do if t.DType.IsFloat then inputs[i] ]
    let bindings = readOnlyDict [ for i, t in List.indexed case.Inputs -> sprintf "a%d" i, t ]
    if not out.DType.IsFloat || wrt.IsEmpty then []
    else Interpreter.evaluate bindings (Reverse.vjp [ out ] [ Rules.constant (Tensor.cast out.DType cotangent) ] wrt)

let private strongZeroTests =
    testList "exact-zero cotangents" [
        testList "an all-zero cotangent gives exactly zero, whatever ±∞ and NaN the inputs hold" [
            for spec in Specs.all ->
                testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 100 } spec.Label
                    (Prop.forAll (Arb.fromGen (spec.Case |> Gen.bind poisoned)) (fun case ->
                        let p = (Registry.tryFind spec.Name).Value
                        let shape = (Rules.apply p case.Attributes (case.Inputs |> List.mapi (fun i t -> Rules.input (sprintf "a%d" i) t.Shape t.DType))).Shape
                        for g in vjpAt spec case (Tensor.zeros (shape.ToList())) do
                            let bad = g.ToFloat64Array() |> Array.tryFindIndex (fun v -> v <> 0.0)
                            if bad.IsSome then failwithf "%s: cotangent element %d is %g, not 0, for inputs\n%O" spec.Name bad.Value (g.ToFloat64Array()[bad.Value]) case))
        ]
        testList "elementwise: a zero cotangent element contributes zero where the other elements do not" [
            for spec in Specs.all do
                if (Registry.tryFind spec.Name).Value.Family = Family.Elementwise then
                    testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 100 } spec.Label
                        (Prop.forAll (Arb.fromGen (spec.Case |> Gen.bind poisoned)) (fun case ->
                            let p = (Registry.tryFind spec.Name).Value
                            let out = Rules.apply p case.Attributes (case.Inputs |> List.mapi (fun i t -> Rules.input (sprintf "a%d" i) t.Shape t.DType))
                            // Only where no input broadcasts: then element i of each cotangent comes from element i alone.
                            if case.Inputs |> List.forall (fun t -> t.Shape.Equals out.Shape) then
                                let r = (Tensor.randn 5 (out.Shape.ToArray())).ToFloat64Array() |> Array.mapi (fun i v -> if i % 2 = 0 then 0.0 else v)
                                for g in vjpAt spec case (Tensor.ofData (out.Shape.ToArray()) r) do
                                    g.ToFloat64Array() |> Array.iteri (fun i v ->
                                        if r[i] = 0.0 && v <> 0.0 then failwithf "%s: element %d has a zero cotangent but gets %g for inputs\n%O" spec.Name i v case)))
        ]
        test "matmul: a zero cotangent element contributes zero against ±∞ and NaN in the other factor" {
            let a = Tensor.create [ [ 1.0; infinity; 2.0 ]; [ nan; 3.0; -1.0 ] ]
            let b = Tensor.create [ [ 2.0; -infinity ]; [ 1.0; 0.5 ]; [ nan; 4.0 ] ]
            let g = Tensor.create [ [ 0.0; 1.0 ]; [ 2.0; 0.0 ] ]
            let x, y = input "a" [ 2; 3 ], input "b" [ 3; 2 ]
            let da, db = match vjp [ x; y ] [ constant g ] [ matmul x y ] |> List.map (eval [ "a", a; "b", b ]) with [ p; q ] -> p, q | _ -> failwith "two"
            // da[i,k] = Σⱼ g[i,j]·b[k,j] and db[k,j] = Σᵢ a[i,k]·g[i,j], skipping the terms whose g is 0.
            let reference (terms: seq<float * float>) = terms |> Seq.filter (fun (gv, _) -> gv <> 0.0) |> Seq.sumBy (fun (gv, v) -> gv * v)
            let expectedA = [ for i in 0 .. 1 do for k in 0 .. 2 -> reference [ for j in 0 .. 1 -> g[[| i; j |]], b[[| k; j |]] ] ]
            let expectedB = [ for k in 0 .. 2 do for j in 0 .. 1 -> reference [ for i in 0 .. 1 -> g[[| i; j |]], a[[| i; k |]] ] ]
            Expect.equal (Tensor.ofData [ 2; 3 ] (Array.ofList expectedA)) da "da"
            Expect.equal (Tensor.ofData [ 3; 2 ] (Array.ofList expectedB)) db "db"
        }
        test "matmul accumulates with fused multiply-adds: a product that overflows alone does not" {
            let x, y = input "x" [ 3 ], input "y" [ 3 ]
            let at = [ "x", vector [ -infinity; 1.3364; 1e300 ]; "y", vector [ -0.399; 0.448; -1e300 ] ]
            // fma(1e300, -1e300, ∞) is ∞: the exact product -1e600 never rounds to -∞ on its own.
            Expect.equal (eval at (matmul x y) |> values) [ infinity ] "∞, where multiply-then-add gives ∞ - ∞ = NaN"
        }
        test "the reported case: where([false, true], x @ w, 0) gives [1, 1] as with * and sum" {
            let x, w = input "x" [ 2 ], input "w" [ 2; 2 ]
            let at = [ "x", vector [ 1.0; 2.0 ]; "w", Tensor.create [ [ infinity; 1.0 ]; [ 1.0; 1.0 ] ] ]
            let mask = constant (Tensor.ofArray [| false; true |])
            Expect.equal (gradients at [ x ] (sum (where mask (matmul x w) (scalar 0.0)))) [ [ 1.0; 1.0 ] ] "matmul"
            let y = input "y" [ 2 ]
            let at = [ "x", vector [ 1.0; 2.0 ]; "y", vector [ infinity; 1.0 ] ]
            let m = constant (Tensor.create [ [ false; true ]; [ false; false ] ])
            Expect.equal (gradients at [ x; y ] (sum (where m (outer x y) (scalar 0.0)))) [ [ 1.0; 0.0 ]; [ 0.0; 1.0 ] ] "outer"
        }
        test "a zero local derivative does not hide a non-finite cotangent: log(exp(-1000x))" {
            let x = input "x" [ 4 ]
            let g = gradients [ "x", vector [ 1.0; 0.001; 0.0; -1.0 ] ] [ x ] (sum (log (exp (-1000.0 * x)))) |> List.head
            // At x = 1 exp underflows to 0, so log passes ∞ back and exp's zero derivative meets it: NaN.
            Expect.isTrue (Double.IsNaN g[0]) "0 · ∞ is NaN, not a silent 0"
            Expect.equal g[1..2] [ -1000.0; -1000.0 ] "elsewhere the exact -1000"
            // At x = -1 exp overflows and log'(∞) is exactly 0: that zero cotangent is exact, and wins as any other.
            Expect.equal g[3] 0.0 "the value there is +∞ already"
        }
        test "mulNoNan is one-sided" {
            let x, y = input "x" [ 4 ], input "y" [ 4 ]
            let at = [ "x", vector [ infinity; nan; 0.0; 0.0 ]; "y", vector [ 0.0; 0.0; infinity; nan ] ]
            let v = eval at (mulNoNan x y) |> values
            Expect.equal v[0..1] [ 0.0; 0.0 ] "a zero y wins over ±∞ and NaN in x"
            Expect.isTrue (v[2..3] |> List.forall Double.IsNaN) "a zero x times ±∞ or NaN in y is IEEE's NaN"
        }
    ]

// ---- pow at 0 -------------------------------------------------------------------------------------

let private powTests =
    let x, y = input "x" [], input "y" []
    let at0 = [ "x", Tensor.scalar 0.0; "y", Tensor.scalar 0.0 ]
    testList "pow at 0" [
        test "d/dx and d/dy of xʸ at x = y = 0 are 0" { Expect.equal (gradients at0 [ x; y ] (pow x y)) [ [ 0.0 ]; [ 0.0 ] ] "as PyTorch and JAX" }
        test "x ^ 0 at 0 has derivative 0" { Expect.equal (gradients [ "x", Tensor.scalar 0.0 ] [ x ] (x ** 0.0)) [ [ 0.0 ] ] "x⁰ is constant" }
        test "polynomial features x ^ [0, 1, 2] at 0" {
            let v = input "v" [ 3 ]
            let features = pow (broadcastTo [ 3 ] x) (constant (vector [ 0.0; 1.0; 2.0 ]))
            let j = jacobian [ x ] features |> List.head |> eval [ "x", Tensor.scalar 0.0 ] |> values
            Expect.equal j [ 0.0; 1.0; 0.0 ] "d/dx [1, x, x²] at 0"
            ignore v
        }
        test "every derivative of xⁿ at 0 is exact: n! at order n, 0 elsewhere" {
            for n in 1 .. 4 do
                let mutable f = x ** float n
                let mutable factorial = 1.0
                for order in 1 .. 5 do
                    f <- grad [ x ] f |> List.head
                    if order <= n then factorial <- factorial * float order
                    let expected = if order = n then factorial else 0.0
                    Expect.equal (eval [ "x", Tensor.scalar 0.0 ] f |> values) [ expected ] (sprintf "order %d of x^%d at 0" order n)
        }
        test "the hessian of x ^ 1 at 0 is 0" {
            Expect.equal (hessian [ x ] (x ** 1.0) |> List.head |> eval [ "x", Tensor.scalar 0.0 ] |> values) [ 0.0 ] "not 0·∞"
        }
    ]

// ---- NaN in max, min, maximum, minimum, argmax ----------------------------------------------------

let private nanTests =
    let x, y = input "x" [ 2 ], input "y" [ 2 ]
    let isNan (v: float) = Double.IsNaN v
    testList "NaN propagates and is the selected element" [
        test "max and min: the value is NaN and the NaN element receives the cotangent" {
            let at = [ "x", vector [ nan; 1.0 ] ]
            for f in [ amax; amin ] do
                Expect.isTrue (eval at (f x) |> values |> List.forall isNan) "the value"
                Expect.equal (gradients at [ x ] (f x)) [ [ 1.0; 0.0 ] ] "the gradient"
            Expect.equal (gradients [ "x", vector [ nan; nan ] ] [ x ] (amax x)) [ [ 0.5; 0.5 ] ] "two NaNs share it"
        }
        test "maximum and minimum: the NaN side receives the cotangent" {
            let at = [ "x", vector [ nan; 2.0 ]; "y", vector [ 1.0; 3.0 ] ]
            for f in [ maximum; minimum ] do
                Expect.isTrue (eval at (f x y) |> values |> List.head |> isNan) "the value"
                let gx, gy = match gradients at [ x; y ] (sum (f x y)) with [ a; b ] -> a, b | _ -> failwith "two"
                Expect.equal gx[0] 1.0 "the NaN element of x"
                Expect.equal gy[0] 0.0 "not the number it met"
                Expect.equal (gx[1] + gy[1]) 1.0 "the ordinary element"
            let both = [ "x", vector [ nan; 2.0 ]; "y", vector [ nan; 3.0 ] ]
            Expect.equal (gradients both [ x; y ] (sum (maximum x y)) |> List.map List.head) [ 0.5; 0.5 ] "two NaNs tie"
        }
        test "relu: the NaN element receives the cotangent, as in maximum(x, 0)" {
            let at = [ "x", vector [ nan; 2.0 ] ]
            Expect.equal (gradients at [ x ] (sum (relu x))) (gradients at [ x ] (sum (maximum x (constant (Tensor.zeros [ 2 ]))))) "relu = maximum(x, 0)"
            Expect.equal (gradients at [ x ] (sum (relu x))) [ [ 1.0; 1.0 ] ] "both elements pass"
        }
        test "argmax and argmin: the first NaN" {
            let t = [ "x", vector [ 1.0; nan ] ]
            Expect.equal (eval t (argmax x) |> values) [ 1.0 ] "argmax"
            Expect.equal (eval t (argmin x) |> values) [ 1.0 ] "argmin"
        }
    ]

// ---- int32 limits ---------------------------------------------------------------------------------

let private int32Tests =
    let i = inputOf DType.Int32 "i" [ 2 ]
    let ints (xs: int list) = [ "i", Tensor.ofArray (Array.ofList xs) ]
    let overflows (at: (string * Tensor) list) (e: Expr) (op: string) =
        let ex = Expect.throwsC (fun () -> eval at e |> ignore) id
        Expect.isTrue (ex :? EvaluationException) (sprintf "%s: an EvaluationException, got %s" op (ex.GetType().Name))
        Expect.stringStarts ex.Message (op + ":") "names the op"
        Expect.stringContains ex.Message "int32 overflow" "says what happened"
    testList "int32 overflow is an error, never a wrapped value" [
        test "sum and prod" {
            overflows (ints [ Int32.MaxValue; 1 ]) (sum i) "sum"
            overflows (ints [ 65536; 65536 ]) (prod i) "prod"
            let ex = Expect.throwsC (fun () -> eval (ints [ Int32.MinValue; 2 ]) (prod i) |> ignore) id
            Expect.stringContains ex.Message "about -4.29497e+09" "the value it would have, with its sign"
            overflows (ints [ 65536; 65536 ]) (prod (concat 0 [ i; i ])) "prod" // 2⁶⁴ wraps to 0 in int64
            Expect.equal (eval (ints [ Int32.MaxValue; Int32.MinValue ]) (sum i) |> values) [ -1.0 ] "a sum that fits"
            Expect.equal (eval (ints [ 65536; 0 ]) (prod (concat 0 [ i; i; i ])) |> values) [ 0.0 ] "a zero factor among large ones"
            Expect.equal (eval (ints [ -46341; 46340 ]) (prod i) |> values) [ float (-46341 * 46340) ] "a product that fits"
        }
        test "elementwise arithmetic" {
            overflows (ints [ Int32.MaxValue; 0 ]) (i + i) "add"
            overflows (ints [ Int32.MinValue; 0 ]) (i - constant (Tensor.ofArray [| 1; 0 |])) "sub"
            overflows (ints [ 65536; 1 ]) (i * i) "mul"
            overflows (ints [ Int32.MinValue; 1 ]) (-i) "neg"
            overflows (ints [ 0; Int32.MinValue ]) (abs i) "abs"
            overflows (ints [ 46341; 0 ]) (square i) "square"
            // The plan's simplifications must not lose an overflow: neg(neg i) is i only for floats.
            overflows (ints [ Int32.MinValue; 1 ]) (-(-i)) "neg"
            overflows (ints [ Int32.MinValue; 1 ]) (-(-(-i)) + i) "neg"
            Expect.equal (eval (ints [ Int32.MaxValue; Int32.MinValue + 1 ]) (abs i) |> values) [ float Int32.MaxValue; float Int32.MaxValue ] "abs that fits"
        }
        test "the message names the element" {
            let m = inputOf DType.Int32 "m" [ 2; 2 ]
            let ex = Expect.throwsC (fun () -> eval [ "m", Tensor.ofData [ 2; 2 ] [| 0; 0; 0; Int32.MinValue |] ] (abs m) |> ignore) id
            Expect.stringContains ex.Message "[1, 1]" "the index"
            Expect.stringContains ex.Message "2147483648" "the value it would have"
        }
        test "scatterAdd accumulates without wrapping" {
            let idx = constant (Tensor.ofArray [| 0; 0 |])
            let u = inputOf DType.Int32 "u" [ 2 ]
            let ex = Expect.throwsC (fun () -> eval [ "u", Tensor.ofArray [| Int32.MaxValue; 1 |] ] (scatterAdd 0 1 idx u) |> ignore) id
            Expect.stringStarts ex.Message "scatterAdd:" "names the op"
        }
        test "casting out-of-range floats to int32 saturates, NaN gives 0, and abs of the result is an error, not a crash" {
            let x = input "x" [ 4 ]
            let c = cast DType.Int32 x
            Expect.equal (eval [ "x", vector [ -3e9; 3e9; nan; -2.7 ] ] c |> values) [ float Int32.MinValue; float Int32.MaxValue; 0.0; -2.0 ] "saturating"
            overflows [ "x", vector [ -3e9; 0.0; 0.0; 0.0 ] ] (abs c) "abs"
        }
    ]

// ---- Exceptions from inside kernels ---------------------------------------------------------------

let private kernelTests =
    testList "errors from inside kernels" [
        test "logsumexp's gradient is exactly the softmax at [1000, 1000]" {
            let x = input "x" [ 2 ]
            Expect.equal (gradients [ "x", vector [ 1000.0; 1000.0 ] ] [ x ] (logsumexp x)) [ [ 0.5; 0.5 ] ] "float64"
            let x32 = inputOf DType.Float32 "x" [ 2 ]
            let g = x32 |> logsumexp |> grad [ x32 ] |> List.head |> eval [ "x", Tensor.ofArray [| 1000.0f; 1000.0f |] ]
            Expect.equal (g.ToArray<float32>()) [| 0.5f; 0.5f |] "float32"
        }
        test "a failure inside a kernel is an EvaluationException naming the op and keeping the cause" {
            let oom = EvaluationException("x", OutOfMemoryException())
            Expect.isNotNull oom.InnerException "the cause is kept"
            let i = inputOf DType.Int32 "i" [ 1 ]
            let ex = Expect.throwsC (fun () -> eval [ "i", Tensor.ofArray [| Int32.MinValue |] ] (abs i) |> ignore) id
            Expect.isTrue (ex.InnerException :? OverflowException) "the kernel's own exception is the cause"
        }
    ]

// ---- Reproducibility -----------------------------------------------------------------------------

let private reproducibilityTests =
    testList "the same inputs give bit-identical results" [
        test "on every call, while the JIT recompiles the kernels" {
            // Thousands of calls take the kernels through the JIT's tiers; a kernel whose rounding depends on
            // the tier (TensorPrimitives.Sin and Cos in float64 did) gives a second value.
            let x = input "x" [ 1000 ]
            let f = sum (sin x * cos x + tan x + exp (-(square x)) + tanh x + tanh (x * 8.0) + sigmoid x + log1p (square x) + sqrt (abs x))
            let at = [ "x", Tensor.randn 4 [ 1000 ] ]
            let g = grad [ x ] f |> List.head
            let first = evalMany at [ f; g ]
            for _ in 1 .. 2000 do
                Expect.equal (evalMany at [ f; g ]) first "bit-identical"
        }
    ]

let tests = testList "Edge cases" [ reproducibilityTests;  shapeTests; strongZeroTests; powTests; nanTests; int32Tests; kernelTests ]
