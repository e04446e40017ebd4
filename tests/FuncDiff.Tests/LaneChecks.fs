/// The bit-for-bit property of the float64-lane kernels (Kernels/Lanes.fs): every element gets the bits
/// of the kernel's scalar rule, whatever its position, the span's length or where a span is split
/// (compiled plans run blocks), in float64 and in float32.
module FuncDiff.Tests.LaneChecks

open System
open Expecto
open FuncDiff.Core.Kernels.Elementwise

let private same (a: float) (b: float) = BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b
let private same32 (a: float32) (b: float32) = BitConverter.SingleToInt32Bits a = BitConverter.SingleToInt32Bits b

/// Spans of 0 to 70 elements from mixed, at random offsets, whole and cut in three.
let internal positionIndependent (kernel: FloatUnary) (scalar: float -> float) (mixed: Random -> int -> float[]) (seed: int) =
    test "every element equals the scalar rule, whatever the span's length, offset or split" {
        let rng = Random seed
        for length in 0 .. 70 do
            for _ in 1 .. 4 do
                let offset = rng.Next 9
                let buffer = mixed rng (length + offset + rng.Next 9)
                let whole = Array.zeroCreate length
                kernel.Run(ReadOnlySpan(buffer, offset, length), Span whole)
                for i in 0 .. length - 1 do
                    let alone = scalar buffer[offset + i]
                    if not (same whole[i] alone) then
                        failtestf "length %d, element %d: %.17g gives %.17g in the span, %.17g alone" length i buffer[offset + i] whole[i] alone
                // Two random cuts: three pieces, each run on its own.
                let c1 = rng.Next(length + 1)
                let c2 = c1 + rng.Next(length - c1 + 1)
                let pieces = Array.zeroCreate length
                for start, stop in [ 0, c1; c1, c2; c2, length ] do
                    kernel.Run(ReadOnlySpan(buffer, offset + start, stop - start), Span(pieces, start, stop - start))
                for i in 0 .. length - 1 do
                    if not (same whole[i] pieces[i]) then failtestf "length %d cut at %d and %d: element %d differs" length c1 c2 i
                let x32 = buffer[offset .. offset + length - 1] |> Array.map float32
                let whole32 = Array.zeroCreate length
                kernel.Run(ReadOnlySpan x32, Span whole32)
                for i in 0 .. length - 1 do
                    let alone = float32 (scalar (float x32[i]))
                    if not (same32 whole32[i] alone) then failtestf "float32 length %d, element %d: %.9g gives %.9g, %.9g alone" length i x32[i] whole32[i] alone
    }
