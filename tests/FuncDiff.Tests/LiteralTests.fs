/// Tensor literals, the one grammar for constants as text: every tensor the printer writes reads back
/// bit for bit, numbers out of a dtype's range are errors at their position, and the parser, Tensor.Parse
/// and the command line (see CliTests) read one text as one tensor.
module FuncDiff.Tests.LiteralTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Tests.Generators

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

/// The ParseException of an action; fails the test when it succeeds.
let private failure (action: unit -> 'T) =
    try
        action () |> ignore
        failtest "read without an error, but an error was expected"
    with :? ParseException as error -> error

let private expectError (action: unit -> 'T) (line: int, column: int) (reason: string) =
    let error = failure action
    Expect.equal (error.Line, error.Column, error.Reason) (line, column, reason) "position and reason"

/// A tensor with its text in the failure report.
[<Sealed>]
type private Shown(t: Tensor) =
    member _.Tensor = t
    override _.ToString() = sprintf "%s %O: %s" t.DType.Name t.Shape (Literal.write t)

let private tensors = anyTensor |> Gen.map Shown |> Arb.fromGen

/// True when the literal alone gives the shape back: a zero only as the last dimension ([0], [2, 0]).
let private literalShape (t: Tensor) =
    let dims = t.Shape.Dims
    dims.Length = 0 || Array.forall (fun d -> d > 0) dims[.. dims.Length - 2]

let private ofBits (bits: int64) = BitConverter.Int64BitsToDouble bits

let tests =
    testList "Literals" [
        testPropertyWithConfig config "every constant prints as text that parses back bit for bit" (Prop.forAll tensors (fun shown ->
            let e = Expr.Constant shown.Tensor
            let text = string e
            let back = parse [] text
            Expect.equal back e (sprintf "parse (print c) = c for %s" text)
            Expect.equal (string back) text "and prints the same text"))

        testPropertyWithConfig config "a literal reads back through Tensor.Parse as the same tensor" (Prop.forAll tensors (fun shown ->
            let t = shown.Tensor
            if literalShape t then
                Expect.equal (parseTensorOf t.DType (Literal.write t)) t "parseTensorOf dtype (write t) = t"))

        test "nan and -nan keep their sign through printing and parsing" {
            let nanText (v: float) = string (Expr.Scalar v)
            Expect.equal (nanText nan) "nan" "Double.NaN prints as nan"
            Expect.equal (nanText -nan) "-nan" "its negation prints as -nan"
            for text in [ "nan"; "-nan"; "cast(-nan, dtype=float32)"; "[nan, -nan]"; "-(nan)" ] do
                Expect.equal (string (parse [] text)) text (sprintf "%s prints back as written" text)
            let bits (e: Expr) = BitConverter.DoubleToInt64Bits((eval [] e).ToScalar())
            Expect.equal (bits (parse [] "-nan")) (BitConverter.DoubleToInt64Bits -nan) "-nan is the negation of nan"
            Expect.notEqual (parse [] "-nan") (parse [] "nan") "they are different constants"
        }

        test "the text of every kind of float is the shortest that reads back" {
            for v, text in [ -0.0, "-0"; 5e-324, "5e-324"; 1e-310, "1e-310"; Double.MaxValue, "1.7976931348623157e+308"; 0.1, "0.1"; -infinity, "-inf" ] do
                Expect.equal (Literal.float64Text v) text (sprintf "%g" v)
                Expect.equal (ofBits (BitConverter.DoubleToInt64Bits(Literal.float64At 0 text))) v text
            for v, text in [ 0.1f, "0.1"; 1e-45f, "1e-45"; Single.MaxValue, "3.4028235e+38"; -0.0f, "-0" ] do
                Expect.equal (Literal.float32Text v) text (sprintf "%g" v)
                Expect.equal (Literal.float32At 0 text) v text
        }

        testList "numbers out of range are errors at their position" [
            test "float64" {
                expectError (fun () -> parse [] "1e400") (1, 1) "1e400 is out of range for float64 (the largest float64 is 1.7976931348623157e+308)"
                expectError (fun () -> parse [] "2 * -1e400") (1, 5) "-1e400 is out of range for float64 (the largest float64 is 1.7976931348623157e+308)"
                expectError (fun () -> parse [] "[1,\n 1e-400]") (2, 2) "1e-400 is too small for float64, which would read it as 0 (the smallest positive float64 is 5e-324)"
                expectError (fun () -> parseTensor "[0, 2e308]") (1, 5) "2e308 is out of range for float64 (the largest float64 is 1.7976931348623157e+308)"
            }
            test "float32, read directly or by weak typing" {
                let w = Expr.Input("w", [ 2 ], DType.Float32)
                let tooLarge = "1e39 is out of range for float32 (the largest float32 is 3.4028235e+38)"
                expectError (fun () -> parse [] "cast(1e39, dtype=float32)") (1, 6) tooLarge
                expectError (fun () -> parse [ w ] "w + 1e39") (1, 5) tooLarge
                expectError (fun () -> parse [ w ] "w * [1, 1e-50]") (1, 9) "1e-50 is too small for float32, which would read it as 0 (the smallest positive float32 is 1e-45)"
                expectError (fun () -> parseTensorOf DType.Float32 "1e39") (1, 1) tooLarge
                Expect.equal (parse [ w ] "w + 3.4e38").DType DType.Float32 "3.4e38 fits"
            }
            test "int32 takes whole numbers in range only" {
                expectError (fun () -> parseTensorOf DType.Int32 "[1, 2.5]") (1, 5) "2.5 is not an int32 (a whole number from -2147483648 to 2147483647)"
                expectError (fun () -> parseTensorOf DType.Int32 "2147483648") (1, 1) "2147483648 is not an int32 (a whole number from -2147483648 to 2147483647)"
                Expect.equal (parseTensorOf DType.Int32 "[-2147483648, 1e3, -0]") (Tensor.ofData [ 3 ] [| Int32.MinValue; 1000; 0 |]) "limits and exponents"
            }
            test "every power of ten reads as a finite non-zero float, or is refused" {
                for k in -400 .. 400 do
                    let text = sprintf "1e%d" k
                    for dtype in [ DType.Float64; DType.Float32 ] do
                        match (try Ok (parseTensorOf dtype text) with :? ParseException as e -> Error e.Reason) with
                        | Ok t ->
                            let v = t.ToScalar()
                            Expect.isTrue (Double.IsFinite v && v <> 0.0) (sprintf "%s as %s reads as %g" text dtype.Name v)
                        | Error reason -> Expect.stringStarts reason (text + " is ") (sprintf "%s as %s: the error names it" text dtype.Name)
            }
            test "zero written any way is zero, and subnormals are kept" {
                Expect.equal (parseTensor "[0e999, -0.000e-999, 0.0]") (Tensor.ofData [ 3 ] [| 0.0; -0.0; 0.0 |]) "zeros"
                Expect.equal (parseTensor "[5e-324, 1e-310]") (Tensor.ofData [ 2 ] [| 5e-324; 1e-310 |]) "subnormals"
            }
        ]

        testList "the reader" [
            test "what it accepts" {
                Expect.equal (parseTensor "  [[1, 2],\n [3, 4]]  ") (Tensor.ofData [ 2; 2 ] [| 1.0; 2.0; 3.0; 4.0 |]) "white space and lines"
                Expect.equal (parseTensor "-inf") (Tensor.ofData [] [| -infinity |]) "a scalar"
                Expect.equal (parseTensor "[[true], [false]]") (Tensor.ofData [ 2; 1 ] [| true; false |]) "booleans"
                Expect.equal (parseTensor "[[], []]") (Tensor.ofData [ 2; 0 ] ([||]: float[])) "empty rows"
                Expect.equal (parseTensorOf DType.Bool "[]") (Tensor.ofData [ 0 ] ([||]: bool[])) "an empty bool tensor"
                Expect.equal (parseTensorOf DType.Float32 "[0.1, .5, 2.5E+3]") (Tensor.ofData [ 3 ] [| 0.1f; 0.5f; 2500.0f |]) "float32 from the text"
            }
            test "what it refuses, and where" {
                let stackHint = "(a tensor literal holds constants; join expressions with stack)"
                expectError (fun () -> parseTensor "") (1, 1) "expected a number, true, false or a tensor literal, found the end of the input"
                expectError (fun () -> parseTensor "exp(1)") (1, 1) "expected a number, true, false or a tensor literal, found 'exp'"
                expectError (fun () -> parseTensor "+1") (1, 1) "expected a number, true, false or a tensor literal, found '+'"
                expectError (fun () -> parseTensor "Infinity") (1, 1) "expected a number, true, false or a tensor literal, found 'Infinity'"
                expectError (fun () -> parseTensor "1 2") (1, 3) "expected the end of the text after the tensor literal, found the number 2"
                expectError (fun () -> parseTensor "[1, 2]]") (1, 7) "expected the end of the text after the tensor literal, found ']'"
                expectError (fun () -> parseTensor "[1,]") (1, 4) ("expected a number, true or false in the tensor literal, found ']' " + stackHint)
                expectError (fun () -> parseTensor "[- 2]") (1, 2) "write the '-' directly before its number, as in -2"
                expectError (fun () -> parseTensor "[1 2]") (1, 4) "expected ',' or ']' in the tensor literal (the '[' is at 1:1), found the number 2"
                expectError (fun () -> parseTensor "[[1], [2, 3]]") (1, 7) "ragged tensor literal: a list of shape [2] where the first element is a list of shape [1]"
                expectError (fun () -> parseTensor "[[true], false]") (1, 10) "ragged tensor literal: a boolean where the first element is a list of shape [1]"
                expectError (fun () -> parseTensor "[1, true]") (1, 5) "a tensor literal cannot mix true/false with numbers"
                expectError (fun () -> parseTensorOf DType.Float64 "true") (1, 1) "expected a number in a float64 tensor, found true"
                expectError (fun () -> parseTensorOf DType.Bool "[1]") (1, 2) "expected true or false in a bool tensor, found 1"
            }
            test "nesting has a limit, and no depth overflows the stack" {
                let deep n = String.replicate n "[" + "1" + String.replicate n "]"
                Expect.equal (parseTensor (deep Syntax.maxNesting)).Rank Syntax.maxNesting "the deepest accepted"
                let tooDeep = sprintf "tensor literal nested too deeply (more than %d levels)" Syntax.maxNesting
                expectError (fun () -> parseTensor (deep (Syntax.maxNesting + 1))) (1, Syntax.maxNesting + 1) tooDeep
                expectError (fun () -> parseTensor (deep 1_000_000)) (1, Syntax.maxNesting + 1) tooDeep
            }
        ]

        test "the parser reads tokens only as far as the first error" {
            // Every later '$' would be an error of the tokenizer: had the whole text been read first, one of
            // them would have been reported instead.
            let tail = String.replicate 2_000_000 " + $"
            expectError (fun () -> parse [ Expr.Input("x", []) ] ("x + (x x)" + tail)) (1, 8) "expected ')' to close the '(' at 1:5, found 'x'"
            expectError (fun () -> parse [] ("[1, 2" + tail)) (1, 7) "expected ',' or ']' in the tensor literal (the '[' is at 1:1), found '+'"
        }

        test "suggestions: one rule for every 'did you mean'" {
            Expect.equal (closestName "lgo" [ "exp"; "log" ]) (Some "log") "a swap is one edit"
            Expect.equal (closestName "evl" [ "eval"; "grad" ]) (Some "eval") "a missing letter"
            Expect.equal (closestName "LOGSOFTMAX" [ "logSoftmax" ]) (Some "logSoftmax") "case is ignored"
            Expect.equal (closestName "q" [ "x"; "y" ]) None "a one-letter name suggests nothing"
            Expect.equal (closestName "frobnicate" [ "exp"; "log" ]) None "nothing close"
            Expect.equal (closestName "sn" [ "sign"; "sin" ]) (Some "sin") "the closest wins"
            Expect.equal (closestName "cat" [ "cast"; "cot" ]) (Some "cast") "ties go to the earlier candidate"
            Expect.equal (closestName (String.replicate 65 "a") [ String.replicate 65 "a" ]) None "no suggestion for very long names"
        }
    ]
