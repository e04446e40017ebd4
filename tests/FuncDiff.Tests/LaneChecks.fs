/// Checks shared by the kernels built on Kernels/Lanes.fs (a vector form and a scalar form).
module FuncDiff.Tests.LaneChecks

open System
open Expecto

/// A kernel over float64 and float32 spans.
type SpanKernel =
    abstract Run<'T> : ReadOnlySpan<'T> * Span<'T> -> unit

let same (a: float) (b: float) = BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b
let same32 (a: float32) (b: float32) = BitConverter.SingleToInt32Bits a = BitConverter.SingleToInt32Bits b

let run64 (kernel: SpanKernel) (xs: float[]) =
    let y = Array.zeroCreate xs.Length
    kernel.Run(ReadOnlySpan xs, Span y)
    y

let run32 (kernel: SpanKernel) (xs: float32[]) =
    let y = Array.zeroCreate xs.Length
    kernel.Run(ReadOnlySpan xs, Span y)
    y

/// Every element of spans of length 0..70 at random offsets equals the scalar rule (float32: rounded
/// once from it), and a span cut at two random places into three pieces run on their own gives the same bits.
let sameAtAnyPosition (kernel: SpanKernel) (scalar: float -> float) (mixed: Random -> int -> float[]) (seed: int) =
    let rng = Random seed
    for length in 0 .. 70 do
        for _ in 1 .. 4 do
            let offset = rng.Next 9
            let buffer = mixed rng (length + offset + rng.Next 9)
            let whole = Array.zeroCreate length
            kernel.Run(ReadOnlySpan(buffer, offset, length), Span whole)
            for i in 0 .. length - 1 do
                if not (same whole[i] (scalar buffer[offset + i])) then
                    failtestf "length %d, element %d: %.17g gives %.17g in the span, %.17g alone" length i buffer[offset + i] whole[i] (scalar buffer[offset + i])
            let c1 = rng.Next(length + 1)
            let c2 = c1 + rng.Next(length - c1 + 1)
            let pieces = Array.zeroCreate length
            for start, stop in [ 0, c1; c1, c2; c2, length ] do
                kernel.Run(ReadOnlySpan(buffer, offset + start, stop - start), Span(pieces, start, stop - start))
            for i in 0 .. length - 1 do
                if not (same whole[i] pieces[i]) then failtestf "length %d cut at %d and %d: element %d differs" length c1 c2 i
            let x32 = buffer |> Array.map float32
            let whole32 = run32 kernel x32[offset .. offset + length - 1]
            for i in 0 .. length - 1 do
                let alone = float32 (scalar (float x32[offset + i]))
                if not (same32 whole32[i] alone) then failtestf "float32 length %d, element %d: %.9g gives %.9g, %.9g alone" length i x32[offset + i] whole32[i] alone

/// A test that sameAtAnyPosition holds over spans drawn from kinds (a quarter of the elements), uniform
/// in ±wide/2 (a quarter) and uniform in ±narrow (the rest).
let positionTest (kernel: SpanKernel) (scalar: float -> float) (kinds: float[]) (wide: float) (narrow: float) (seed: int) =
    let mixed (rng: Random) (n: int) =
        Array.init n (fun _ ->
            match rng.Next 4 with
            | 0 -> kinds[rng.Next kinds.Length]
            | 1 -> wide * (rng.NextDouble() - 0.5)
            | _ -> narrow * (2.0 * rng.NextDouble() - 1.0))
    testList "bit for bit" [
        test "every element equals the scalar rule, whatever the span's length, offset or split" {
            sameAtAnyPosition kernel scalar mixed seed
        } ]
