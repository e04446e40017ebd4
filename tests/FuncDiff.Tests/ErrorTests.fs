/// Bad input gets an error that names what is wrong: the operation, both shapes or dtypes, the input.
module FuncDiff.Tests.ErrorTests

open Expecto
open FuncDiff

/// The exception f throws, which must be of type 'E, with every fragment in its message.
let private expectError<'E when 'E :> exn> (f: unit -> obj) (fragments: string list) =
    let ex = Expect.throwsC (fun () -> f () |> ignore) id
    Expect.isTrue (ex :? 'E) (sprintf "expected %s, got %s: %s" typeof<'E>.Name (ex.GetType().Name) ex.Message)
    for fragment in fragments do Expect.stringContains ex.Message fragment "the message names what is wrong"

let tests =
    let x = input "x" [ 3 ]
    let m = input "m" [ 2; 3 ]
    testList "Errors" [
        testList "at construction" [
            test "shapes that do not broadcast" { expectError<ExprException> (fun () -> box (x + input "y" [ 4 ])) [ "add:"; "[3]"; "[4]" ] }
            test "matmul inner dimensions" { expectError<ExprException> (fun () -> box (matmul m m)) [ "matmul:"; "[2, 3] @ [2, 3]"; "3 vs 2" ] }
            test "reshape to another size" { expectError<ExprException> (fun () -> box (reshape [ 4 ] m)) [ "reshape:"; "[2, 3]"; "[4]" ] }
            test "an axis out of range" { expectError<ExprException> (fun () -> box (m.Sum(axis = 2))) [ "sum:"; "axis 2"; "rank 2" ] }
            test "a repeated axis" { expectError<ExprException> (fun () -> box (m.Sum(axes = [ 1; -1 ]))) [ "sum:"; "axis 1"; "more than once" ] }
            test "mixed float dtypes" { expectError<ExprException> (fun () -> box (x + inputOf DType.Float32 "y" [ 3 ])) [ "add:"; "float64"; "float32"; "cast" ] }
            test "a float function of integers" { expectError<ExprException> (fun () -> box (log (inputOf DType.Int32 "i" [ 3 ]))) [ "log:"; "int32"; "floating point" ] }
            test "where with a non-bool condition" { expectError<ExprException> (fun () -> box (where x x x)) [ "where:"; "cond"; "bool" ] }
            test "concat of mismatched shapes" { expectError<ExprException> (fun () -> box (concat 0 [ m; input "n" [ 2; 2 ] ])) [ "concat:"; "[2, 2]"; "[2, 3]"; "axis 0" ] }
            test "max over an empty axis" { expectError<ExprException> (fun () -> box (amax (input "e" [ 0 ]))) [ "max:"; "size 0" ] }
            test "squeeze of a non-unit axis" { expectError<ExprException> (fun () -> box (m.Squeeze(axis = 0))) [ "squeeze:"; "axis 0"; "2" ] }
            test "gather with float indices" { expectError<ExprException> (fun () -> box (gather 0 x x)) [ "gather:"; "indices"; "int32" ] }
            test "a bad input name" { expectError<ExprException> (fun () -> box (input "2x" [ 1 ])) [ "\"2x\""; "identifier" ] }
            test "an input named like a function" { expectError<ExprException> (fun () -> box (input "exp" [ 1 ])) [ "'exp'"; "function" ] }
            test "a shape too large to hold" {
                expectError<ExprException> (fun () -> box (x.Pad([ 2_000_000_000 ], [ 2_000_000_000 ]))) [ "pad:"; "more than a tensor can hold" ]
                expectError<ExprException> (fun () -> box (oneHot 100_000 (inputOf DType.Int32 "i" [ 100_000 ]))) [ "elements" ]
            }
            test "a negative dimension" { expectError<ExprException> (fun () -> box (input "z" [ 2; -1 ])) [ "[2, -1]"; "negative" ] }
            test "the same input name with two shapes" {
                expectError<ExprException> (fun () -> box (eval [ "x", Tensor.zeros [ 3 ] ] (x + reshape [ 3 ] (input "x" [ 1; 3 ])))) [ "'x'"; "[3]"; "[1, 3]" ]
            }
        ]
        testList "at evaluation" [
            test "a missing input" { expectError<InputException> (fun () -> box (eval [ "w", Tensor.zeros [ 3 ] ] x)) [ "'x'"; "float64[3]"; "missing"; "bound: w" ] }
            test "an input of the wrong shape" { expectError<InputException> (fun () -> box (eval [ "x", Tensor.zeros [ 4 ] ] x)) [ "'x'"; "[3]"; "[4]" ] }
            test "an input of the wrong dtype" {
                expectError<InputException> (fun () -> box (eval [ "x", Tensor.zeros [ 3 ] |> Tensor.cast DType.Float32 ] x)) [ "'x'"; "float64"; "float32" ]
            }
            test "a gather index out of range" {
                let i = inputOf DType.Int32 "i" [ 2 ]
                expectError<EvaluationException> (fun () -> box (eval [ "x", Tensor.zeros [ 3 ]; "i", Tensor.ofArray [| 0; 3 |] ] (gather 0 i x))) [ "gather:"; "index 3"; "size 3" ]
            }
            test "binding a tensor to something that is not an input" {
                expectError<InputException> (fun () -> box (evalAt [ (x * 2.0, Tensor.zeros [ 3 ]) ] x)) [ "x * 2"; "not an input" ]
            }
            test "the input exception names the input" {
                let ex = Expect.throwsC (fun () -> eval [] x |> ignore) id
                Expect.equal (ex :?> InputException).InputName "x" "InputName"
            }
        ]
        testList "derivatives" [
            test "grad of a non-scalar" { expectError<GradientException> (fun () -> box (grad [ x ] x)) [ "shape [3]"; "jacobian"; "vjp" ] }
            test "grad with respect to an integer input" {
                let i = inputOf DType.Int32 "i" [ 3 ]
                expectError<GradientException> (fun () -> box (sum (cast DType.Float64 i) |> grad [ i ])) [ "'i'"; "int32" ]
            }
            test "a cotangent of the wrong shape" { expectError<GradientException> (fun () -> box (vjp [ x ] [ scalar 1.0 ] [ x ])) [ "cotangent 0"; "float64[]"; "float64[3]" ] }
            test "a hessian of a non-scalar" { expectError<GradientException> (fun () -> box (hessian [ x ] x)) [ "hessian"; "[3]" ] }
        ]
        testList "tensors" [
            test "ragged nesting" { expectError<FuncDiffException> (fun () -> box (Tensor.create [ [ 1.0; 2.0 ]; [ 3.0 ] ])) [ "ragged"; "[1]" ] }
            test "data that does not fill the shape" { expectError<FuncDiffException> (fun () -> box (Tensor.ofData [ 2; 2 ] [| 1.0; 2.0; 3.0 |])) [ "3 values"; "[2, 2]" ] }
            test "reading as the wrong element type" { expectError<FuncDiffException> (fun () -> box ((Tensor.zeros [ 2 ]).ToArray<int>())) [ "float64"; "Int32" ] }
        ]
    ]
