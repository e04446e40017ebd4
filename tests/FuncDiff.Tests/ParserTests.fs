/// The expression language: printing then parsing gives the same expression, for random expressions
/// over the whole catalogue; errors name the position; nesting has a limit instead of a stack overflow.
module FuncDiff.Tests.ParserTests

open System
open System.Threading
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives

// ---- Declared inputs ----------------------------------------------------------------------------

let private x = Expr.Input("x", [ 2; 3 ])
let private y = Expr.Input("y", [ 3 ])
let private s = Expr.Input("s", [])
let private m = Expr.Input("m", [ 3; 2 ])
let private v = Expr.Input("v", [ 2; 1 ])
let private w = Expr.Input("w", [ 2; 3 ], DType.Float32)
let private u = Expr.Input("u", [ 3 ], DType.Float32)
let private k = Expr.Input("k", [ 2 ], DType.Int32)
let private c = Expr.Input("c", [ 2; 3 ], DType.Bool)
let private e = Expr.Input("e", [ 0; 3 ])
let private declared = [ x; y; s; m; v; w; u; k; c; e ]
let private declaredNames = "x, y, s, m, v, w, u, k, c, e"

let private read (text: string) = parse declared text

/// The ParseException the text raises; fails the test when it parses.
let private failure (text: string) =
    try
        read text |> ignore
        failtestf "%A parsed, but an error was expected" text
    with :? ParseException as error -> error

let private expectError (text: string) (line: int, column: int) (reason: string) =
    let error = failure text
    Expect.equal (error.Line, error.Column, error.Reason) (line, column, reason) (sprintf "the error for %A" text)
    Expect.equal error.Message (sprintf "%d:%d: %s" line column reason) "the message starts with the position"

/// The message the catalogue gives when the same expression is built with the F# API.
let private apiError (build: unit -> Expr) =
    try
        build () |> ignore
        failtest "the API built it, but an error was expected"
    with :? ExprException as error -> error.Message

let private isConstant (x: Expr) = match x.Node.Op with Const _ -> true | _ -> false
let private primitiveOf (x: Expr) = match x.Node.Op with Apply (p, _) -> p.Name | Input _ -> "input" | Const _ -> "constant"

// ---- Random expressions -------------------------------------------------------------------------

/// Random well-shaped expressions, built bottom-up in a pool: each step applies a catalogue entry to
/// operands from the pool or the declared inputs (so subexpressions get shared), either through a
/// move that knows the entry's shape rule or, for any entry, by trying random operands and attributes
/// until the catalogue accepts them. Deterministic in the seed.
type private Builder(seed: int) =
    let rng = Random(seed)
    let pool = ResizeArray<Expr>()
    let chance n = rng.Next n = 0
    let pickOf (items: 'T[]) = items[rng.Next items.Length]
    /// Mostly something built already, recent ones more often, so expressions grow deep as well as wide.
    let pickWhere (ok: Expr -> bool) =
        let built = pool |> Seq.filter ok |> Array.ofSeq
        let inputs = declared |> List.filter ok |> Array.ofList
        if built.Length > 0 && not (chance 5) then
            Some (if chance 2 then built[max 0 (built.Length - 1 - rng.Next 3)] else pickOf built)
        elif inputs.Length > 0 then Some (pickOf inputs)
        else None
    let pick () = (pickWhere (fun _ -> true)).Value
    let attempt (build: unit -> Expr) = try Some (build ()) with :? ExprException -> None

    let specials = [| 0.0; -0.0; 1.0; -1.0; 2.0; -2.0; 0.5; -2.5; 1e-3; 0.1; 1.0 / 3.0; 123456.789; 1e21; 1.5e300; -1e-300; 5e-324; nan; infinity; -infinity |]
    let number () = if chance 2 then pickOf specials else (rng.NextDouble() - 0.5) * Math.Pow(10.0, float (rng.Next(-5, 6)))
    let shapes = [| []; []; []; [ 3 ]; [ 2; 3 ]; [ 2; 1 ]; [ 1; 3 ]; [ 3; 2 ]; [ 0 ]; [ 2; 0 ]; [ 0; 3 ]; [ 2; 3; 2 ] |]

    /// A constant of any dtype: negative numbers, -0, nan, ±inf, extremes, tensors and empty tensors.
    let constant () =
        let shape = pickOf shapes
        let n = List.fold (*) 1 shape
        match rng.Next 8 with
        | 0 | 1 -> Tensor.ofData shape (Array.init n (fun _ -> float32 (number ())))
        | 2 -> Tensor.ofData shape (Array.init n (fun _ -> if chance 5 then pickOf [| Int32.MinValue; Int32.MaxValue |] else rng.Next(-5, 6)))
        | 3 -> Tensor.ofData shape (Array.init n (fun _ -> chance 2))
        | _ -> Tensor.ofData shape (Array.init n (fun _ -> number ()))
        |> Expr.Constant

    let randomParam (kind: ParamKind) =
        let ints () = List.init (rng.Next 4) (fun _ -> rng.Next(-2, 4))
        match kind with
        | ParamKind.Int -> Param.Int (rng.Next(-3, 5))
        | ParamKind.Ints -> Param.Ints (ints ())
        | ParamKind.Axes -> if chance 2 then Param.Int (rng.Next(-2, 3)) else Param.Ints (ints ())
        | ParamKind.Bool -> Param.Bool (chance 2)
        | ParamKind.DType -> Param.DType (pickOf (Array.ofList DType.all))

    /// Any catalogue entry, with random operands from the pool and random attributes, until it is accepted.
    let generic () =
        let entries = Array.ofList Registry.all
        let p = pickOf entries
        let once () =
            let arity = p.Inputs.Length + (if p.Variadic then rng.Next 3 else 0)
            let args = [ for _ in 1 .. arity -> (pick ()).Node ]
            let attrs =
                [ for spec in p.Attributes do
                      let required = match spec.Default with Required -> true | _ -> false
                      if required || chance 2 then spec.Name, randomParam spec.Kind ]
            attempt (fun () -> Expr(Rules.apply p attrs args))
        Seq.init 30 (fun _ -> once ()) |> Seq.tryPick id

    /// Any one-input entry that needs no attributes (exp, relu, stopGradient, …), on an operand it accepts.
    let unary () =
        let entries =
            Registry.all
            |> List.filter (fun p ->
                p.Inputs.Length = 1 && not p.Variadic
                && p.Attributes |> List.forall (fun a -> match a.Default with Required -> false | _ -> true))
            |> Array.ofList
        let p = pickOf entries
        Seq.init 10 (fun _ -> attempt (fun () -> Expr(Rules.apply p [] [ (pick ()).Node ]))) |> Seq.tryPick id

    /// A number next to an operand of its dtype, sometimes negated: x * -2, (-2) ^ x, x ^ (-0.5),
    /// -(2 ^ x) (printed -2 ^ x), maximum(x, nan).
    let literalArithmetic () =
        pickWhere (fun a -> a.DType.IsFloat) |> Option.bind (fun a ->
            let literal = Expr.Scalar(number (), a.DType)
            let op: Expr -> Expr -> Expr =
                pickOf [| (fun a b -> a + b); (fun a b -> a - b); (fun a b -> a * b); (fun a b -> a / b); (fun a b -> Expr.Pow(a, b)); maximum; minimum |]
            let negate = chance 3
            attempt (fun () ->
                let applied = if chance 2 then op a literal else op literal a
                if negate then -applied else applied))

    let negated () = attempt (fun () -> -(if chance 2 then constant () else pick ()))

    let reshaped () =
        let a = pick ()
        let size = a.Shape.Size
        let dims =
            if size = 0 then pickOf [| [ 0 ]; [ 0; 2 ]; [ 3; 0 ]; [ 1; 0; 1 ] |]
            else
                let rank = rng.Next(1, 4)
                let dims = Array.create rank 1
                let mutable rest = size
                let mutable f = 2
                while rest > 1 do
                    if rest % f = 0 then
                        let i = rng.Next rank
                        dims[i] <- dims[i] * f
                        rest <- rest / f
                    else f <- f + 1
                if chance 4 then dims[rng.Next rank] <- -1
                List.ofArray dims
        attempt (fun () -> reshape dims a)

    let broadcast () =
        let a = pick ()
        let target = (if chance 2 then [ 2 ] else []) @ [ for d in a.Shape.ToList() -> if d = 1 then rng.Next(1, 4) else d ]
        attempt (fun () -> broadcastTo target a)

    let sliced () =
        let a = pick ()
        let n = rng.Next(a.Rank + 1)
        let list lo hi = List.init n (fun _ -> rng.Next(lo, hi))
        attempt (fun () -> a.Slice(list -4 5, list -4 5, list 1 4))

    let padded () =
        let a = pick ()
        let list () = List.init a.Rank (fun _ -> rng.Next 3)
        attempt (fun () -> a.Pad(list (), list (), list ()))

    let joined () =
        pickWhere (fun a -> a.Rank > 0) |> Option.bind (fun a ->
            let b = pickWhere (fun b -> b.Shape = a.Shape && b.DType = a.DType) |> Option.defaultValue a
            if chance 2 then attempt (fun () -> concat (rng.Next(-a.Rank, a.Rank)) [ a; b; a ])
            else attempt (fun () -> stack (rng.Next(-a.Rank - 1, a.Rank + 1)) [ a; b ]))

    let multiplied () =
        pickWhere (fun a -> a.DType.IsFloat && a.Rank > 0) |> Option.bind (fun a ->
            if a.Rank = 1 && chance 2 then
                let b = pickWhere (fun b -> b.DType = a.DType && b.Rank = 1) |> Option.defaultValue a
                if chance 2 then attempt (fun () -> dot a (if b.Shape = a.Shape then b else a)) else attempt (fun () -> outer a b)
            else
                match pickWhere (fun b -> (attempt (fun () -> matmul a b)).IsSome) with
                | Some b -> Some (matmul a b)
                | None -> attempt (fun () -> matmul a (transpose a)))

    let indices (size: int) =
        if size > 0 && chance 2 then
            let n = rng.Next(1, 4)
            Expr.Constant(Tensor.ofData [ n ] (Array.init n (fun _ -> rng.Next(-size, size))))
        else k

    let indexed () =
        pickWhere (fun a -> a.Rank > 0) |> Option.bind (fun a ->
            let axis = rng.Next(-a.Rank, a.Rank)
            let size = a.Shape[(axis + a.Rank) % a.Rank]
            match rng.Next 3 with
            | 0 -> attempt (fun () -> a.Gather(indices size, axis))
            | 1 -> attempt (fun () -> oneHot (rng.Next 4) (indices 3))
            | _ -> attempt (fun () -> Expr(Rules.apply Structural.scatterAddP [ "axis", Param.Int axis; "size", Param.Int size ] [ k.Node; a.Node ])))

    let casted () =
        let a = if chance 3 then constant () else pick ()
        let target = DType.all |> List.filter (fun d -> d <> a.DType) |> Array.ofList |> pickOf
        attempt (fun () -> a.Cast target)

    let selected () =
        pickWhere (fun a -> a.DType.IsNumeric) |> Option.bind (fun a ->
            let b = pickWhere (fun b -> b.DType = a.DType) |> Option.defaultValue a
            let compare = pickOf [| (.<); (.<=); (.>); (.>=); (.=); (.<>) |]
            attempt (fun () -> where (compare a (Expr.Scalar(number (), a.DType))) a b))

    let logic () =
        let condition () =
            match pickWhere (fun a -> a.DType = DType.Bool) with
            | Some b when chance 2 -> b
            | _ -> (pickWhere (fun a -> a.DType.IsNumeric)).Value .> 0.0
        match rng.Next 3 with
        | 0 -> attempt (fun () -> logicalAnd (condition ()) (condition ()))
        | 1 -> attempt (fun () -> logicalOr (condition ()) (condition ()))
        | _ -> attempt (fun () -> logicalNot (condition ()))

    let reduced () =
        pickWhere (fun a -> a.DType.IsNumeric && a.Rank > 0) |> Option.bind (fun a ->
            let axes = [ for i in 0 .. a.Rank - 1 do if chance 2 then (if chance 2 then i else i - a.Rank) ]
            let keep = chance 2
            match rng.Next 8 with
            | 0 -> attempt (fun () -> a.Sum(axes = axes, keepDims = keep))
            | 1 -> attempt (fun () -> a.Mean(axes = axes, keepDims = keep))
            | 2 -> attempt (fun () -> a.Max(axes = axes, keepDims = keep))
            | 3 -> attempt (fun () -> a.Min(axes = axes, keepDims = keep))
            | 4 -> attempt (fun () -> a.Prod(axes = axes, keepDims = keep))
            | 5 -> attempt (fun () -> a.LogSumExp(axes = axes, keepDims = keep))
            | 6 -> attempt (fun () -> a.ArgMax(axis = rng.Next(-a.Rank, a.Rank), keepDims = keep))
            | _ -> attempt (fun () -> a.ArgMin()))

    let normalised () =
        pickWhere (fun a -> a.DType.IsFloat && a.Rank > 0) |> Option.bind (fun a ->
            let axis = rng.Next(-a.Rank, a.Rank)
            attempt (fun () -> if chance 2 then a.Softmax axis else a.LogSoftmax axis))

    let permuted () =
        let a = pick ()
        if chance 2 then attempt (fun () -> a.Transpose())
        else
            let perm = [ 0 .. a.Rank - 1 ] |> List.sortBy (fun _ -> rng.Next())
            attempt (fun () -> a.Transpose perm)

    let squeezed () =
        let a = pick ()
        if chance 2 then attempt (fun () -> a.Squeeze()) else attempt (fun () -> a.Unsqueeze(rng.Next(-a.Rank - 1, a.Rank + 1)))

    let moves =
        [| generic; generic; generic; unary; unary; (fun () -> Some (constant ())); literalArithmetic; literalArithmetic; negated
           reshaped; broadcast; sliced; padded; joined; multiplied; indexed; casted; selected; logic; reduced; normalised; permuted; squeezed |]

    /// The largest expression built in this many steps (the others are mostly parts of it).
    member _.Build(steps: int) =
        for _ in 1 .. steps do
            match (pickOf moves) () with
            | Some built -> pool.Add built
            | None -> ()
        if pool.Count = 0 then pick () else pool |> Seq.maxBy (fun b -> (Graph.reachable [ b.Node ]).Length)

/// A generated expression that shows its seed and its text when a property fails.
[<Sealed>]
type private Case(seed: int, steps: int, expr: Expr) =
    member _.Expr = expr
    override _.ToString() = sprintf "Builder(%d).Build(%d):\n%O" seed steps expr

let private cases =
    Gen.sized (fun size -> Gen.choose (0, Int32.MaxValue) |> Gen.map (fun seed -> Case(seed, size, Builder(seed).Build size)))
    |> Arb.fromGen

let private roundTrip (case: Case) =
    let text = string case.Expr
    let back = read text
    Expect.equal back case.Expr (sprintf "parse (print e) = e for\n%s" text)
    Expect.equal (string back) text "printing the parsed expression gives the same text"

// ---- Tests --------------------------------------------------------------------------------------

let private config = { FsCheckConfig.defaultConfig with maxTest = 500; endSize = 100 }

let private deepNesting = sprintf "expression nested too deeply (more than %d levels)" Syntax.maxNesting

/// Runs f on a thread with a small stack, returning its exception if any.
let private onThread (stackBytes: int) (f: unit -> unit) =
    let mutable error = None
    let t = Thread((fun () -> try f () with ex -> error <- Some ex), stackBytes)
    t.Start()
    t.Join()
    error

/// Texts that nest by repeating a piece, with the levels each piece costs the parser.
let private nestings: (string * int * (int -> string)) list =
    [ "parentheses", 1, fun n -> String.replicate n "(" + "x" + String.replicate n ")"
      "negations of parentheses", 2, fun n -> String.replicate n "-(" + "x" + String.replicate n ")"
      "unary minus", 1, fun n -> String.replicate n "- " + "x"
      "calls", 1, fun n -> String.replicate n "exp(" + "x" + String.replicate n ")"
      "powers", 1, fun n -> String.replicate n "x ^ " + "x"
      "tensor literal", 1, fun n -> String.replicate n "[" + "1" + String.replicate n "]"
      "let values", 1, fun n -> String.replicate n "let t = " + "x" + String.replicate n " in t" ]

let tests =
    testList "Parser" [
        testPropertyWithConfig config "printing then parsing gives an equal expression" (Prop.forAll cases roundTrip)

        test "the random expressions cover every catalogue entry" {
            let seen =
                set [ for seed in 0 .. 299 do
                          for n in Graph.reachable [ (Builder(seed).Build 40).Node ] -> primitiveOf (Expr n) ]
            let missing = [ for p in Registry.all do if not (seen.Contains p.Name) then p.Name ]
            Expect.equal missing [] "entries the generator never produced (give them a move in Builder)"
            Expect.containsAll seen [ "input"; "constant" ] "leaves too"
        }

        testList "grammar" [
            let same (text: string) (expected: Expr) =
                test text { Expect.equal (read text) expected (sprintf "%A" text) }
            same "x + y * 2" (x + y * 2.0)
            same "x - y - 1" ((x - y) - 1.0)
            same "x / 2 * y" ((x / 2.0) * y)
            same "x ^ y ^ 2" (Expr.Pow(x, Expr.Pow(y, 2.0)))
            same "-x ^ 2" (-(Expr.Pow(x, 2.0)))
            same "x ^ -2" (Expr.Pow(x, -2.0))
            same "x ^ -y" (Expr.Pow(x, -y))
            same "-x * y" ((-x) * y)
            same "--x" (-(-x))
            same "x @ m @ x" (matmul (matmul x m) x)
            same "x * 2 @ m" (matmul (x * 2.0) m)
            same "x + y > 0" ((x + y) .> 0.0)
            same "(x + y) * 2" ((x + y) * 2.0)
            same "x != y" (x .<> y)
            same "sum(x, axis=0)" (x.Sum(axis = 0))
            same "sum(x, axis=[0, -1], keepdims=true)" (x.Sum(axes = [ 0; 1 ], keepDims = true))
            same "mean(x, keepdims=false)" (x.Mean())
            same "softmax(x, axis=0)" (x.Softmax 0)
            same "concat(x, x, axis=1)" (concat 1 [ x; x ])
            same "where(x > 0, x, 0)" (where (x .> 0.0) x (scalar 0.0))
            same "cast(x, dtype=int32)" (x.Cast DType.Int32)
            same "argmax(x)" (x.ArgMax())
            same "transpose(x)" (transpose x)
            same "add(x, 1)" (x + 1.0)
            same "  x\n  +\t1  " (x + 1.0)
            same "1e-3" (scalar 1e-3)
            same "2.5E+3" (scalar 2500.0)
            same ".5" (scalar 0.5)
            same "nan" (scalar nan)
            same "inf" (scalar infinity)
            same "-inf" (scalar -infinity)
            same "true" (Expr.Constant(Tensor.ofData [] [| true |]))
            same "[[1, 2], [3, 4]]" (Expr.Constant(Tensor.ofData [ 2; 2 ] [| 1.0; 2.0; 3.0; 4.0 |]))
            same "[-1, nan, -inf]" (Expr.Constant(Tensor.ofData [ 3 ] [| -1.0; nan; -infinity |]))
            same "[]" (Expr.Constant(Tensor.ofData [ 0 ] ([||]: float[])))
            same "[[], []]" (Expr.Constant(Tensor.ofData [ 2; 0 ] ([||]: float[])))
            same "[[true], [false]]" (Expr.Constant(Tensor.ofData [ 2; 1 ] [| true; false |]))

            test "every catalogue entry is a function by its name" {
                for p in Registry.all do
                    let error = failure (p.Name + "()")
                    Expect.stringStarts error.Reason (p.Name + " expects") "the catalogue's own arity message"
                    Expect.equal (error.Line, error.Column) (1, 1) "at the call"
            }

            test "every infix and prefix notation of the catalogue is an operator" {
                for p in Registry.all do
                    let text =
                        match p.Notation with
                        | Infix (symbol, _) -> Some (sprintf "x %s x" symbol)
                        | Prefix (symbol, _) -> Some (sprintf "%s(x)" symbol)
                        | Call -> None
                    match text with
                    | Some text ->
                        try Expect.equal (primitiveOf (read text)) p.Name text
                        with :? ParseException as error -> Expect.stringStarts error.Reason (p.Name + ":") text
                    | None -> ()
            }
        ]

        testList "negative literals" [
            test "-2 is a constant, -(2) is neg(2)" {
                Expect.equal (read "-2") (scalar -2.0) "-2"
                Expect.isTrue (isConstant (read "-2")) "-2 is one constant"
                Expect.equal (read "-(2)") (-(scalar 2.0)) "-(2)"
                Expect.notEqual (read "-(2)") (read "-2") "different expressions"
            }
            test "only a minus written directly before the number is a sign" {
                Expect.equal (read "- 2") (-(scalar 2.0)) "- 2 is neg(2)"
                Expect.equal (read "x -2") (x - 2.0) "after an operand, - is subtraction"
                Expect.equal (read "x - -2") (x - scalar -2.0) "x - -2"
                Expect.equal (read "x * -2") (x * scalar -2.0) "x * -2"
            }
            test "a negative literal binds like unary minus" {
                Expect.equal (read "-2 ^ x") (-(Expr.Pow(scalar 2.0, x))) "-2 ^ x is -(2 ^ x)"
                Expect.equal (read "(-2) ^ x") (Expr.Pow(scalar -2.0, x)) "(-2) ^ x"
                Expect.equal (read "-2 * x") (scalar -2.0 * x) "-2 * x"
            }
            test "-0 keeps its sign" {
                let t = Expr.Constant(Tensor.ofData [] [| -0.0 |])
                Expect.equal (read "-0") t "-0 is negative zero (constants compare bit for bit)"
                Expect.notEqual (read "-0") (scalar 0.0) "-0 is not 0"
            }
            test "printing keeps them apart" {
                Expect.equal (string (scalar -2.0)) "-2" "constant"
                Expect.equal (string (-(scalar 2.0))) "-(2)" "neg"
                Expect.equal (string (Expr.Pow(x, -2.0))) "x ^ (-2)" "exponent"
            }
        ]

        testList "weak typing of literals" [
            test "a number takes the dtype of a float32 operand" {
                Expect.equal (read "w + 2") (w + 2.0) "w + 2"
                Expect.equal (read "2 - w") (2.0 - w) "2 - w"
                Expect.equal (read "w * 0.1") (w * 0.1) "w * 0.1"
                Expect.equal (read "w ^ (-2)") (Expr.Pow(w, -2.0)) "in parentheses too"
                Expect.equal (read "w + [1, 2, 3]") (w + Expr.Constant(Tensor.ofData [ 3 ] [| 1.0f; 2.0f; 3.0f |])) "tensor literals too"
                Expect.equal (read "where(w > 0, w, 0)") (where (w .> 0.0) w (Expr.Scalar(0.0, DType.Float32))) "the first numeric operand decides"
            }
            test "integers take int32" {
                Expect.equal (read "k + 1") (k + 1.0) "k + 1"
                Expect.equal (read "where(c, 1, -3)") (where c (scalar 1.0) (scalar -3.0)) "all literals: float64"
            }
            test "a literal that int32 cannot hold, or a typed operand, is an error" {
                expectError "k + 1.5" (1, 3) (apiError (fun () -> k + scalar 1.5))
                expectError "x + w" (1, 3) (apiError (fun () -> x + w))
                expectError "cast(2, dtype=float64) + w" (1, 24) "add: dtypes differ: float64 and float32 (cast one of them)"
                expectError "w * -(2)" (1, 3) "mul: dtypes differ: float32 and float64 (cast one of them)"
            }
        ]

        testList "folding cast and reshape of literals" [
            test "cast of a literal is one constant" {
                let folded = read "cast(2, dtype=float32)"
                Expect.equal folded (Expr.Scalar(2.0, DType.Float32)) "value and dtype"
                Expect.isTrue (isConstant folded) "a constant"
                Expect.equal (read "cast([1, -2], dtype=int32)") (Expr.Constant(Tensor.ofData [ 2 ] [| 1; -2 |])) "int32"
                Expect.equal (read "cast([], dtype=bool)") (Expr.Constant(Tensor.ofData [ 0 ] ([||]: bool[]))) "empty bool"
            }
            test "float32 literals are read as float32, not rounded through float64" {
                // The long one is just above the midpoint of 1 and the next float32: read directly it
                // rounds up, but through float64 it first becomes the midpoint and then rounds to even, 1.
                for text in [ "0.1"; "3.4028235e+38"; "1e-45"; "-0"; "1.00000005960464477539062500000000001" ] do
                    let expected = Single.Parse(text, Globalization.CultureInfo.InvariantCulture)
                    Expect.equal (read (sprintf "cast(%s, dtype=float32)" text)) (Expr.Constant(Tensor.ofData [] [| expected |])) text
            }
            test "reshape of a literal is one constant" {
                Expect.equal (read "reshape([], shape=[2, 0])") (Expr.Constant(Tensor.ofData [ 2; 0 ] ([||]: float[]))) "empty"
                Expect.equal (read "reshape([1, 2, 3, 4], shape=[2, -1])") (Expr.Constant(Tensor.ofData [ 2; 2 ] [| 1.0; 2.0; 3.0; 4.0 |])) "with -1"
                Expect.equal (read "cast(reshape([], shape=[0, 3]), dtype=bool)") (Expr.Constant(Tensor.ofData [ 0; 3 ] ([||]: bool[]))) "then cast"
            }
            test "in parentheses, or around a typed constant, they are applications" {
                let two = scalar 2.0
                Expect.equal (read "cast((2), dtype=float32)") (two.Cast DType.Float32) "cast"
                Expect.isFalse (isConstant (read "cast((2), dtype=float32)")) "not folded"
                Expect.equal (read "reshape(([]), shape=[2, 0])") (reshape [ 2; 0 ] (Expr.Constant(Tensor.ofData [ 0 ] ([||]: float[])))) "reshape"
                let ints = Expr.Constant(Tensor.ofData [ 2 ] [| 1; 2 |])
                Expect.equal (read "reshape(cast([1, 2], dtype=int32), shape=[2, 1])") (reshape [ 2; 1 ] ints) "reshape of a cast constant"
                Expect.equal (read "cast(cast(2, dtype=float32), dtype=float64)") ((Expr.Scalar(2.0, DType.Float32)).Cast DType.Float64) "cast of a cast constant"
            }
            test "the printer parenthesises the constant of a real cast or reshape" {
                let real = (scalar 2.0).Cast DType.Float32
                Expect.equal (string real) "cast((2), dtype=float32)" "cast"
                Expect.equal (read (string real)) real "round trip"
                Expect.equal (string (Expr.Scalar(2.0, DType.Float32))) "cast(2, dtype=float32)" "a float32 constant"
            }
            test "their errors are the catalogue's" {
                expectError "reshape([1, 2, 3], shape=[2, 2])" (1, 1) "reshape: cannot reshape [3] (3 elements) to [2, 2] (4 elements)"
                expectError "cast(2)" (1, 1) "cast: attribute 'dtype' is required (the target dtype)"
            }
        ]

        testList "let" [
            test "a name bound once is one node used twice" {
                let parsed = read "let t = exp(x) in t * t"
                Expect.equal parsed (exp x * exp x) "value"
                Expect.isTrue (obj.ReferenceEquals(parsed.Node.Inputs[0], parsed.Node.Inputs[1])) "shared"
            }
            test "chains, shadowing and parentheses" {
                Expect.equal (read "let a = x + 1 in let b = a * a in b - a") ((x + 1.0) * (x + 1.0) - (x + 1.0)) "chain"
                Expect.equal (read "let x = x * 2 in x + 1") (x * 2.0 + 1.0) "shadowing an input"
                Expect.equal (read "(let t = y in t) + 1") (y + 1.0) "in parentheses"
                Expect.equal (read "exp(let t = y in t)") (exp y) "as an argument"
            }
            test "the printer's lets parse back" {
                let t = exp x
                let shared = (t * t + t).Sum()
                Expect.stringStarts (string shared) "let t1 = exp(x) in\n" "printed with let"
                Expect.equal (read (string shared)) shared "round trip"
            }
            test "equal expressions print the same lets, whatever order they were built in" {
                let first =
                    let a = exp x
                    let b = sin x
                    b * b + a * a
                let second =
                    let b = sin x
                    let a = exp x
                    b * b + a * a
                Expect.equal first second "equal"
                Expect.equal (string first) (string second) "same text"
                Expect.equal (string first) "let t1 = sin(x) in\nlet t2 = exp(x) in\nt1 * t1 + t2 * t2" "named in reading order"
            }
            test "errors" {
                expectError "(let t = x in t) + t" (1, 20) (sprintf "unknown input 't'; declared inputs: %s" declaredNames)
                expectError "let exp = x in exp" (1, 5) "'exp' is the name of a function; choose another name"
                expectError "let in = x in x" (1, 5) "'in' is a reserved word and cannot be bound with let"
                expectError "let t = x t" (1, 11) "expected 'in' after the value of 't', found 't'"
                expectError "let t x" (1, 7) "expected '=' after 'let t', found 'x'"
                expectError "x + let t = x in t" (1, 5) "'let' cannot start an operand; put the let expression in parentheses"
            }
        ]

        testList "errors name the position" [
            test "unknown function, with a suggestion" {
                expectError "x * 2 + lgo(x)" (1, 9) "unknown function 'lgo' (did you mean 'log'?)"
                expectError "softMax(x)" (1, 1) "unknown function 'softMax' (did you mean 'softmax'?)"
                expectError "frobnicate(x)" (1, 1) "unknown function 'frobnicate'"
            }
            test "unknown input, listing the declared ones" {
                expectError "x + q" (1, 5) (sprintf "unknown input 'q'; declared inputs: %s" declaredNames)
                expectError "x + xx" (1, 5) (sprintf "unknown input 'xx' (did you mean 'x'?); declared inputs: %s" declaredNames)
                Expect.equal (try (parse [] "x" |> ignore; "") with :? ParseException as error -> error.Reason) "unknown input 'x'; no inputs were declared" "none declared"
            }
            test "bad attributes point at the attribute" {
                expectError "sum(x, axis=true)" (1, 13) "sum: attribute 'axis' takes an axis or a list of axes, got true"
                expectError "sum(x, axes=0)" (1, 8) "sum: unknown attribute 'axes' (it takes: axis, keepdims)"
                expectError "sum(x, axis=0, axis=1)" (1, 16) "sum: attribute 'axis' is given twice"
                expectError "cast(x, dtype=float16)" (1, 15) "unknown dtype 'float16' (did you mean 'float64'?); the dtypes are float64, float32, bool, int32"
                expectError "sum(x, axis=99999999999)" (1, 13) "integer 99999999999 in attribute 'axis' is out of range"
                expectError "sum(x, axis=1.5)" (1, 13) "expected an integer in attribute 'axis', found 1.5"
                expectError "sum(x, axis=x)" (1, 13) "expected a value for attribute 'axis' (an int, a list of ints, true, false or a dtype), found 'x'"
                expectError "sum(axis=0, x)" (1, 13) "sum: a positional argument cannot follow keyword arguments"
            }
            test "shape and dtype errors are the catalogue's, at the operator or call" {
                expectError "x + m" (1, 3) (apiError (fun () -> x + m))
                expectError "exp(x) + matmul(x, x)" (1, 10) (apiError (fun () -> matmul x x))
                expectError "sum(x, axis=5)" (1, 1) (apiError (fun () -> x.Sum(axis = 5)))
                expectError "x - -c" (1, 5) (apiError (fun () -> -c))
                expectError "reshape(x)" (1, 1) "reshape: attribute 'shape' is required (the new shape; one entry may be -1)"
            }
            test "the cause is kept: the catalogue's error, the unknown input, nothing for a syntax error" {
                let shape = failure "x + m"
                Expect.isTrue (shape.InnerException :? ExprException) (sprintf "a shape error has the ExprException inside, got %O" shape.InnerException)
                Expect.equal shape.InnerException.Message shape.Reason "with the same message"
                let unknown = failure "x + q"
                match unknown.InnerException with
                | :? InputException as e -> Expect.equal e.InputName "q" "the InputException names the input"
                | other -> failtestf "an unknown input has an InputException inside, got %O" other
                Expect.isNull (failure "x + * 2").InnerException "a syntax error has no cause"
                Expect.isNull (failure "frobnicate(x)").InnerException "nor has an unknown function"
            }
            test "unbalanced brackets" {
                expectError "(x + 1" (1, 7) "expected ')' to close the '(' at 1:1, found the end of the input"
                expectError "x + 1)" (1, 6) "unexpected ')': nothing is open to close"
                expectError "exp(x" (1, 6) "expected ',' or ')' after an argument of exp (the '(' is at 1:4), found the end of the input"
                expectError "sum(x, axis=[0, 1)" (1, 18) "expected ',' or ']' in the list (the '[' is at 1:13), found ')'"
                expectError "[1, 2" (1, 6) "expected ',' or ']' in the tensor literal (the '[' is at 1:1), found the end of the input"
            }
            test "comparisons do not chain" {
                let reason = "comparisons do not chain: put one comparison in parentheses, or test a range with logicalAnd(a < b, b < c)"
                expectError "x < 1 < 2" (1, 7) reason
                expectError "0 <= x == c" (1, 8) reason
                Expect.equal (read "logicalAnd(0 < x, x < 1)") (logicalAnd (0.0 .< x) (x .< 1.0)) "the range test it suggests"
            }
            test "ragged and mixed tensor literals" {
                expectError "[[1, 2], [3]]" (1, 10) "ragged tensor literal: a list of shape [1] where the first element is a list of shape [2]"
                expectError "[1, [2]]" (1, 5) "ragged tensor literal: a list of shape [1] where the first element is a number"
                expectError "[[1], 2]" (1, 7) "ragged tensor literal: a number where the first element is a list of shape [1]"
                expectError "[true, 1]" (1, 8) "a tensor literal cannot mix true/false with numbers"
                expectError "[x, 1]" (1, 2) "expected a number, true or false in the tensor literal, found 'x' (a tensor literal holds constants; join expressions with stack)"
            }
            test "everything else" {
                expectError "" (1, 1) "expected an expression, found the end of the input"
                expectError "x $ 1" (1, 3) "unexpected character '$'"
                expectError "exp + 1" (1, 1) "'exp' is a function: call it as exp(…)"
                expectError "x(1)" (1, 1) "'x' is an input, not a function"
                expectError "x y" (1, 3) "expected an operator or the end of the input, found 'y'"
                expectError "x = 1" (1, 3) "unexpected '=': compare with ==, or name a value with let"
                expectError "x + in" (1, 5) "unexpected 'in'"
                expectError "x + * 2" (1, 5) "expected an expression, found '*'"
                expectError "x ** 2" (1, 4) "'**' is not an operator; write a power as x ^ y"
                expectError "exp(x,)" (1, 7) "expected an expression, found ')'"
                expectError "let t = exp(x) in\n  t + q" (2, 7) (sprintf "unknown input 'q'; declared inputs: %s" declaredNames)
            }
        ]

        testList "deep nesting" [
            for name, _, text in nestings do
                yield test (name + " 100000 deep is an error, not a stack overflow") {
                    Expect.equal (failure (text 100000)).Reason deepNesting name
                }
            yield test "the position is where the limit is crossed" {
                let error = failure (String.replicate 100000 "(" + "x" + String.replicate 100000 ")")
                Expect.equal (error.Line, error.Column) (1, Syntax.maxNesting + 1) "the first '(' beyond the limit"
            }
            yield test "the deepest accepted nesting fits in a 1 MB stack" {
                // The outermost level is the whole expression; each piece adds its levels.
                for name, levels, text in nestings do
                    let n = (Syntax.maxNesting - 1) / levels
                    match onThread (1024 * 1024) (fun () -> read (text n) |> ignore) with
                    | None -> ()
                    | Some ex -> failtestf "%s %d deep: %s" name n ex.Message
                    if levels = 1 then Expect.equal (failure (text (n + 1))).Reason deepNesting (name + ": one more is refused")
            }
            yield test "left-associative chains do not nest" {
                let text = String.Join(" + ", Array.create 100000 "x")
                let expected = Seq.fold (fun acc _ -> acc + x) x (seq { 2 .. 100000 })
                Expect.equal (read text) expected "x + x + … (100000 terms)"
            }
            yield test "a deep expression prints as lets and parses back" {
                let mutable chain = x
                for i in 1 .. 100000 do chain <- (if i % 2 = 0 then exp chain else -chain)
                let text = string chain
                Expect.stringContains text "let t1 = " "cut into lets"
                Expect.equal (read text) chain "round trip"
            }
        ]

        testList "Expr.Parse" [
            test "parse and Expr.Parse agree" {
                Expect.equal (Expr.Parse("sum(x * y, axis=1)", [ x; y ])) (parse [ x; y ] "sum(x * y, axis=1)") "same expression"
                Expect.equal (Expr.Parse("x", [ x; x ])) x "an input declared twice is the same input"
            }
            test "the declared inputs are the nodes used" {
                Expect.isTrue (obj.ReferenceEquals((Expr.Parse("x", [ x ])).Node, x.Node)) "same node"
            }
            test "bad arguments" {
                Expect.throwsT<ArgumentNullException> (fun () -> Expr.Parse(null, [ x ]) |> ignore) "null text"
                Expect.throwsT<ArgumentNullException> (fun () -> Expr.Parse("x", null) |> ignore) "null inputs"
                Expect.throwsT<ArgumentException> (fun () -> Expr.Parse("x", [ x + 1.0 ]) |> ignore) "not an input"
                Expect.throwsT<ArgumentException> (fun () -> Expr.Parse("x", [ x; Expr.Input("x", [ 3 ]) ]) |> ignore) "one name, two shapes"
            }
        ]
    ]
