/// The DAG itself: sharing, linear growth of derivatives, structural equality, printing, and graphs
/// of a million nodes, none of which may need recursion as deep as the graph.
module FuncDiff.Tests.GraphTests

open Expecto
open FuncDiff
open FuncDiff.Core

/// Distinct nodes reachable from an expression, after equal subexpressions are merged.
let private size (e: Expr) =
    let n = e.Node
    (Graph.canonicalize [ n ]).Order.Length

let tests =
    testList "Graph" [
        testList "sharing" [
            test "a node used twice is one node" {
                let x = input "x" [ 3 ]
                let y = exp x
                Expect.equal (size (y + y)) 3 "x, exp x, add"
            }
            test "equal subexpressions built separately become one node" {
                let x = input "x" [ 3 ]
                Expect.equal (size (exp x * 2.0 + exp x * 2.0)) 5 "x, 2, exp, mul, add"
            }
            test "60 levels of y = y*y + y: the gradient graph grows linearly" {
                let x = input "x" []
                let mutable y = x
                for _ in 1 .. 60 do y <- y * y + y
                let g = y |> grad [ x ] |> List.head
                // A tree copy would have 2^60 nodes.
                Expect.isLessThan (size y) 130 "the function has ~2 nodes per level"
                Expect.isLessThan (size g) (20 * size y) "its gradient stays within a constant factor"
                Expect.isLessThan (string g).Length 20_000 "and prints in linear size"
                // y_k+1 = y_k(y_k + 1), dy_k+1 = (2y_k + 1) dy_k: 1 at x = 0, -1 at x = -1.
                Expect.equal ((eval [ "x", Tensor.scalar 0.0 ] g).ToScalar()) 1.0 "at 0 every factor is 1"
                Expect.equal ((eval [ "x", Tensor.scalar -1.0 ] g).ToScalar()) -1.0 "at -1 only the first factor is -1"
            }
        ]
        testList "structural equality" [
            test "separately built equal expressions are equal and hash alike" {
                let build () = let x = input "x" [ 2; 3 ] in (x - mean x).Sum(axis = 1, keepDims = true)
                let a, b = build (), build ()
                Expect.isFalse (obj.ReferenceEquals(a, b)) "two objects"
                Expect.equal a b "one expression"
                Expect.equal (hash a) (hash b) "one hash"
            }
            test "a different constant, attribute, shape or dtype makes a different expression" {
                let x = input "x" [ 2; 3 ]
                let variants =
                    [ x * 2.0; x * 3.0; x.Sum(axis = 0); x.Sum(axis = 1); x.Sum(axis = 1, keepDims = true)
                      input "x" [ 3; 2 ] * 2.0; inputOf DType.Float32 "x" [ 2; 3 ] * 2.0; input "y" [ 2; 3 ] * 2.0 ]
                for i, a in List.indexed variants do
                    for j, b in List.indexed variants do
                        if i <> j then Expect.notEqual a b (sprintf "variant %d differs from %d" i j)
            }
            test "NaN constants are equal to themselves" {
                Expect.equal (scalar nan) (scalar nan) "constants compare bitwise"
            }
        ]
        testList "printing" [
            let x = input "x" [ 3 ]
            let w = input "w" [ 3 ]
            for expr, text in
                [ x - mean x, "x - mean(x)"
                  (x + w) * x, "(x + w) * x"
                  x - (w - x), "x - (w - x)"
                  x - w - x, "x - w - x"
                  -(x ** 2.0), "-x ^ 2"
                  (-x) ** 2.0, "(-x) ^ 2"
                  x ** (w ** 2.0), "x ^ w ^ 2"
                  (x ** w) ** 2.0, "(x ^ w) ^ 2"
                  x * -2.0, "x * -2"
                  x.Sum(axis = 0, keepDims = true), "sum(x, keepdims=true)"
                  (outer x w).Sum(axis = 1), "sum(outer(x, w), axis=[1])"
                  softmax (x * 1e-3), "softmax(x * 0.001)"
                  where (x .> 0.0) x (scalar 0.0), "where(x > 0, x, 0)"
                  exp x + exp x, "let t1 = exp(x) in\nt1 + t1" ] do
                test text { Expect.equal (string expr) text "infix text with minimal parentheses" }
        ]
        testList "a chain of a million nodes" [
            // y ← -y and y ← y + 1 alternately: the value and the derivative (±1) are known exactly.
            let depth = 1_000_000
            let build () =
                let x = input "x" []
                let mutable y = x
                for i in 1 .. depth do y <- if i % 2 = 0 then -y else y + 1.0
                x, y
            let x, y = build ()
            let expected =
                let mutable v = 0.5
                for i in 1 .. depth do v <- if i % 2 = 0 then -v else v + 1.0
                v
            test "builds, evaluates, differentiates, prints and compares without overflowing the stack" {
                Expect.equal ((eval [ "x", Tensor.scalar 0.5 ] y).ToScalar()) expected "value"
                let g = y |> grad [ x ] |> List.head
                Expect.equal ((eval [ "x", Tensor.scalar 0.5 ] g).ToScalar()) 1.0 "an even number of negations"
                let text = string y
                Expect.isGreaterThan text.Length depth "the whole chain is printed"
                Expect.stringStarts text "let t1 = -(-(-(" "deep nesting is cut into named steps the parser reads back"
                let _, again = build ()
                Expect.equal again y "an identically built chain is equal"
                Expect.equal (hash again) (hash y) "and hashes alike"
                Expect.notEqual (again + 1.0) (y + 2.0) "a different last step is a different expression"
                // A plan the caller holds is registered by expression and found again by an equal one.
                let held = compile [ y ]
                Expect.equal ((compile [ again ]).Run([ "x", Tensor.scalar 0.5 ]).Head.ToScalar()) expected "compiled, and found again"
                System.GC.KeepAlive held
            }
        ]
    ]
