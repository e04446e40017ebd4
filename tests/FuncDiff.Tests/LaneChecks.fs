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

let private bits64 (v: float) = BitConverter.DoubleToInt64Bits v
let private bits32 (v: float32) = int64 (BitConverter.SingleToInt32Bits v)

/// Every element of spans of length 0..70 at random offsets equals the scalar form, and a span cut at two
/// random places into three pieces run on their own gives the same bits.
let private samePlaces<'T> (kernel: SpanKernel) (scalar: 'T -> 'T) (bits: 'T -> int64) (mixed: Random -> int -> 'T[]) (rng: Random) (dtype: string) =
    for length in 0 .. 70 do
        for _ in 1 .. 4 do
            let offset = rng.Next 9
            let buffer = mixed rng (length + offset + rng.Next 9)
            let whole = Array.zeroCreate<'T> length
            kernel.Run(ReadOnlySpan(buffer, offset, length), Span whole)
            for i in 0 .. length - 1 do
                let alone = scalar buffer[offset + i]
                if bits whole[i] <> bits alone then
                    failtestf "%s length %d, element %d: %O gives %O in the span, %O alone" dtype length i buffer[offset + i] whole[i] alone
            let c1 = rng.Next(length + 1)
            let c2 = c1 + rng.Next(length - c1 + 1)
            let pieces = Array.zeroCreate<'T> length
            for start, stop in [ 0, c1; c1, c2; c2, length ] do
                kernel.Run(ReadOnlySpan(buffer, offset + start, stop - start), Span(pieces, start, stop - start))
            for i in 0 .. length - 1 do
                if bits whole[i] <> bits pieces[i] then failtestf "%s length %d cut at %d and %d: element %d differs" dtype length c1 c2 i

/// Runs check at every vector width the machine accelerates (Kernels/Vectors.fs), naming the width, and
/// with the vector forms turned off (the scalar path a machine without SIMD takes).
let atEveryWidth (check: string -> unit) =
    for bits in FuncDiff.Core.Kernels.Vectors.Width.Accelerated @ [ 64 ] do
        FuncDiff.Core.Kernels.Vectors.Width.UpTo(bits, fun () -> check (if bits < 128 then "no vectors" else sprintf "%d-bit vectors" bits))

/// samePlaces for float64 (against the float64 scalar form) and float32 (against the float32 one), at every
/// vector width the machine accelerates.
let sameAtAnyPosition (kernel: SpanKernel) (scalar: float -> float) (scalar32: float32 -> float32) (mixed: Random -> int -> float[]) (mixed32: Random -> int -> float32[]) (seed: int) =
    atEveryWidth (fun width ->
        let rng = Random seed
        samePlaces kernel scalar bits64 mixed rng ("float64, " + width)
        samePlaces kernel scalar32 bits32 mixed32 rng ("float32, " + width))

/// Spans drawn from kinds (a quarter of the elements), uniform in ±wide/2 (a quarter) and uniform in
/// ±narrow (the rest).
let private mix (ofFloat: float -> 'T) (kinds: 'T[], wide: float, narrow: float) (rng: Random) (n: int) =
    Array.init n (fun _ ->
        match rng.Next 4 with
        | 0 -> kinds[rng.Next kinds.Length]
        | 1 -> ofFloat (wide * (rng.NextDouble() - 0.5))
        | _ -> ofFloat (narrow * (2.0 * rng.NextDouble() - 1.0)))

/// A test that sameAtAnyPosition holds, each dtype's spans mixed from its own kinds and ranges.
let positionTest (kernel: SpanKernel) (scalar: float -> float) (scalar32: float32 -> float32) (domain: float[] * float * float) (domain32: float32[] * float * float) (seed: int) =
    testList "bit for bit" [
        test "every element equals the scalar rule, whatever the span's length, offset or split, in float64 and float32" {
            sameAtAnyPosition kernel scalar scalar32 (mix id domain) (mix float32 domain32) seed
        } ]
