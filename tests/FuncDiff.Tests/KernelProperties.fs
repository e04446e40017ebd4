/// Kernels against their scalar definitions: the SIMD mulNoNan bit for bit.
module FuncDiff.Tests.KernelProperties

open System
open System.Numerics
open Expecto
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Kernels
open FuncDiff.Core.Primitives

let private forward (name: string) (inputs: Tensor list) =
    let p = (Registry.tryFind name).Value
    let node = Rules.apply p [] (inputs |> List.map Rules.constant)
    let out = Tensor.Empty(node.Shape, node.DType)
    match node.Op with
    | Apply (_, attrs) -> p.Forward attrs (Array.ofList inputs) out
    | _ -> failwith "not an application"
    out

let private specials = [| 0.0; -0.0; infinity; -infinity; nan; 1.0; -1.0; 5e-324; -2.5; 1e300; -1e-300 |]

let private randomValues (rng: Random) (n: int) =
    Array.init n (fun _ -> if rng.Next 3 = 0 then specials[rng.Next specials.Length] else (rng.NextDouble() - 0.5) * Math.Pow(10.0, float (rng.Next(-5, 6))))

let private bits (t: Tensor) =
    match t.Data with
    | :? (float[]) as d -> d |> Array.map BitConverter.DoubleToInt64Bits
    | :? (float32[]) as d -> d |> Array.map (fun v -> int64 (BitConverter.SingleToInt32Bits v))
    | _ -> failwith "float tensors only"

/// The scalar definition: +0 where y is ±0, else x·y.
let private mulNoNanOf (x: float) (y: float) = if y = 0.0 then 0.0 else x * y

let private mulNoNanTests =
    testList "mulNoNan" [
        for dtype in [ DType.Float64; DType.Float32 ] do
            test (sprintf "SIMD equals the scalar definition bit for bit (%O, all lengths and forms)" dtype) {
                let rng = Random(7)
                for length in [ 0; 1; 3; 4; 7; 8; 15; 16; 17; 33; 100; 1001 ] do
                    let xs, ys = randomValues rng length, randomValues rng length
                    let sx, sy = (randomValues rng 1)[0], (randomValues rng 1)[0]
                    let t (a: float[]) dims = Tensor.cast dtype (Tensor.ofData dims a)
                    let expect (f: int -> float) = Tensor.cast dtype (Tensor.ofData [| length |] (Array.init length f))
                    // float32 inputs are rounded first: the definition applies to the rounded values.
                    let r (v: float) = if dtype = DType.Float32 then float (float32 v) else v
                    let cases =
                        [ "span-span", [ t xs [| length |]; t ys [| length |] ], expect (fun i -> mulNoNanOf (r xs[i]) (r ys[i]))
                          "span-scalar", [ t xs [| length |]; t [| sy |] [||] ], expect (fun i -> mulNoNanOf (r xs[i]) (r sy))
                          "scalar-span", [ t [| sx |] [||]; t ys [| length |] ], expect (fun i -> mulNoNanOf (r sx) (r ys[i]))
                          "span-zero", [ t xs [| length |]; t [| -0.0 |] [||] ], expect (fun _ -> 0.0) ]
                    for form, inputs, expected in cases do
                            Expect.equal (bits (forward "mulNoNan" inputs)) (bits expected) (sprintf "%s, length %d" form length)
                // Broadcast rows: [3, length] against [length] and [3, 1].
                let xs, ys, zs = randomValues rng 51, randomValues rng 17, randomValues rng 3
                let got = forward "mulNoNan" [ Tensor.ofData [| 3; 17 |] xs |> Tensor.cast dtype; Tensor.ofData [| 17 |] ys |> Tensor.cast dtype ]
                let want = Tensor.ofData [| 3; 17 |] (Array.init 51 (fun i -> mulNoNanOf (float (Tensor.cast dtype (Tensor.scalar xs[i])).[[||]]) (float (Tensor.cast dtype (Tensor.scalar ys[i % 17])).[[||]]))) |> Tensor.cast dtype
                Expect.equal (bits got) (bits want) "broadcast along rows"
                let got = forward "mulNoNan" [ Tensor.ofData [| 3; 17 |] xs |> Tensor.cast dtype; Tensor.ofData [| 3; 1 |] zs |> Tensor.cast dtype ]
                let want = Tensor.ofData [| 3; 17 |] (Array.init 51 (fun i -> mulNoNanOf (float (Tensor.cast dtype (Tensor.scalar xs[i])).[[||]]) (float (Tensor.cast dtype (Tensor.scalar zs[i / 17])).[[||]]))) |> Tensor.cast dtype
                Expect.equal (bits got) (bits want) "broadcast along columns"
            } ]

let tests = testList "Kernel properties" [ mulNoNanTests ]
