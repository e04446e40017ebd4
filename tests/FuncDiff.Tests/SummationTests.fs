/// The sum and dot kernels: bit for bit against a scalar model of the order they promise (so the order
/// cannot drift with the address, the tier or the vector width), within the pairwise error bound of the
/// exact sum, and IEEE's edges.
module FuncDiff.Tests.SummationTests

open System
open System.Numerics
open System.Runtime.Intrinsics
open Expecto
open FuncDiff.Tests.Exact
open FuncDiff.Core.Kernels

// ---- The promised order, one addition at a time ---------------------------------------------------

/// One block: element i of each group of four vectors goes to accumulator lane i mod 4w, leftover
/// vectors to the first accumulators in turn, the last elements in order; then the fixed tree.
let private leaf<'T when 'T :> INumber<'T>> (products: bool) (x: 'T[]) (y: 'T[]) (start: int) (length: int) : 'T =
    let w = Vector256<'T>.Count
    let term (i: int) : 'T = if products then x[start + i] * y[start + i] else x[start + i]
    let acc: 'T[] = Array.create (4 * w) (-'T.Zero)
    let full = length / (4 * w) * (4 * w)
    for i in 0 .. full - 1 do
        let a: 'T = acc[i % (4 * w)]
        acc[i % (4 * w)] <- a + term i
    let mutable i = full
    let mutable k = 0
    while k < 3 && i + w <= length do
        for l in 0 .. w - 1 do
            let a: 'T = acc[k * w + l]
            acc[k * w + l] <- a + term (i + l)
        i <- i + w
        k <- k + 1
    let mutable rest = -'T.Zero
    while i < length do
        let r: 'T = rest
        rest <- r + term i
        i <- i + 1
    let v: 'T[] = Array.init w (fun l -> let p: 'T = acc[l] + acc[w + l] in let q: 'T = acc[2 * w + l] + acc[3 * w + l] in p + q)
    let h: 'T[] = Array.init (w / 2) (fun l -> let a: 'T = v[l] in a + v[l + w / 2])
    let lanes: 'T = if w / 2 = 2 then h[0] + h[1] else (let p: 'T = h[0] + h[2] in let q: 'T = h[1] + h[3] in p + q)
    lanes + rest

let rec private tree<'T when 'T :> INumber<'T>> (products: bool) (x: 'T[]) (y: 'T[]) (start: int) (length: int) : 'T =
    if length <= Summation.Block then leaf products x y start length
    else
        let half = (length + 2 * Summation.Block - 1) / (2 * Summation.Block) * Summation.Block
        let first: 'T = tree products x y start half
        first + tree products x y (start + half) (length - half)

let private model<'T when 'T :> INumber<'T>> (products: bool) (x: 'T[]) (y: 'T[]) : 'T =
    if x.Length = 0 then 'T.Zero else tree products x y 0 x.Length

let private sameBits (a: float) (b: float) = (Double.IsNaN a && Double.IsNaN b) || BitConverter.DoubleToInt64Bits a = BitConverter.DoubleToInt64Bits b

/// Lengths around every boundary of the order: vectors, groups of four, blocks, the tree's halves.
let private lengths = [ 0; 1; 3; 4; 7; 8; 15; 16; 17; 31; 32; 33; 63; 64; 65; 100; 4095; 4096; 4097; 8191; 8192; 8193; 12289; 20000; 65537 ]

let private values (rng: Random) (n: int) (specials: bool) =
    Array.init n (fun _ ->
        if specials && rng.Next 200 = 0 then [| 0.0; -0.0; infinity; -infinity; nan; Double.MaxValue; 5e-324 |][rng.Next 7]
        else (rng.NextDouble() - 0.5) * Math.Pow(2.0, float (rng.Next(-20, 20))))

let private kernel64 (products: bool) (x: float[]) (y: float[]) =
    if products then Summation.dot (ReadOnlySpan x) (ReadOnlySpan y) else Summation.sum (ReadOnlySpan x)

let private kernel32 (products: bool) (x: float32[]) (y: float32[]) =
    if products then Summation.dot (ReadOnlySpan x) (ReadOnlySpan y) else Summation.sum (ReadOnlySpan x)

/// The exact Σ of float64 values as fixed point with 1100 fraction bits (every finite double fits).
let private exactSum (xs: float[]) = xs |> Array.sumBy (toFixed 1100)

let tests =
    testList "sum and dot kernels" [
        test "bit for bit the promised order, float64 and float32, at every boundary length, specials included" {
            let rng = Random 17
            for n in lengths do
                for specials in [ false; true ] do
                    let x = values rng n specials
                    let y = values rng n specials
                    for products in [ false; true ] do
                        let got, want = kernel64 products x y, model products x y
                        if not (sameBits got want) then failtestf "float64 %s of %d: %g, the order gives %g" (if products then "dot" else "sum") n got want
                        let x32, y32 = Array.map float32 x, Array.map float32 y
                        let got32, want32 = kernel32 products x32 y32, model products x32 y32
                        if not (sameBits (float got32) (float want32)) then failtestf "float32 %s of %d: %g, the order gives %g" (if products then "dot" else "sum") n got32 want32
        }

        test "block totals added by ofBlocks give sum's bits (how fused plans sum block by block)" {
            let rng = Random 23
            for n in lengths |> List.filter (fun n -> n > 0) do
                let x = values rng n true
                let blocks = (n + Summation.Block - 1) / Summation.Block
                let totals = Array.init blocks (fun b -> Summation.block (ReadOnlySpan(x, b * Summation.Block, min Summation.Block (n - b * Summation.Block))))
                let got, want = Summation.ofBlocks (ReadOnlySpan totals), Summation.sum (ReadOnlySpan x)
                if not (sameBits got want) then failtestf "length %d: %g from the blocks, %g from sum" n got want
        }

        test "long sums split over two threads give sum's bits, also when many threads sum at once" {
            let rng = Random 29
            for n in [ Summation.parallelMinimum; Summation.parallelMinimum + 1; 300_007 ] do
                let x = values rng n true
                let want = Summation.sum (ReadOnlySpan x)
                if not (sameBits (Summation.sumOf x 0 n) want) then failtestf "length %d: %g, not %g" n (Summation.sumOf x 0 n) want
                let padded = Array.append [| 1.0; 2.0; 3.0 |] x
                if not (sameBits (Summation.sumOf padded 3 n) want) then failtestf "length %d at offset 3" n
                let x32 = Array.map float32 x
                if not (sameBits (float (Summation.sumOf x32 0 n)) (float (Summation.sum (ReadOnlySpan x32)))) then failtestf "float32, length %d" n
            let x = values rng 250_000 false
            let want = Summation.sum (ReadOnlySpan x)
            let got = Array.zeroCreate 64
            System.Threading.Tasks.Parallel.For(0, 64, fun i -> got[i] <- Summation.sumOf x 0 x.Length) |> ignore
            for g in got do
                if not (sameBits g want) then failtestf "a concurrent sum gave %g, not %g" g want
        }

        test "the same bits wherever the data sits" {
            let rng = Random 3
            let x = values rng 10007 false
            let want = kernel64 false x x
            for offset in 1 .. 9 do
                let moved = Array.zeroCreate (x.Length + 16)
                Array.blit x 0 moved offset x.Length
                let got = Summation.sum (ReadOnlySpan(moved, offset, x.Length))
                if not (sameBits got want) then failtestf "at offset %d: %g, not %g" offset got want
        }

        test "float64 within the pairwise bound of the exact sum: (n/16/blocks + tree depth + 4) ulps of Σ|x|" {
            let rng = Random 5
            for n in [ 1000; 100_000; 1_000_000 ] do
                let x = values rng n false
                let got = kernel64 false x x
                let exact = exactSum x
                let magnitude = x |> Array.sumBy abs
                let depth = ceil (Math.Log2(float (max 1 (n / Summation.Block))))
                let bound = (float Summation.Block / 16.0 + depth + 4.0) * Math.Pow(2.0, -53.0) * magnitude
                let error = abs (float ((toFixed 1100 got - exact) >>> 100) / Math.Pow(2.0, 1000.0))
                if not (error <= bound) then failtestf "n = %d: error %g above the bound %g" n error bound
        }

        test "float32: a million times 0.1f is summed pairwise, not drifting as a running sum does" {
            let x = Array.create 1_000_000 0.1f
            let exact = 1_000_000.0 * float 0.1f
            let got = float (kernel32 false x x)
            let bound = (float Summation.Block / 32.0 + 8.0 + 4.0) * Math.Pow(2.0, -24.0) * exact
            Expect.isLessThanOrEqual (abs (got - exact)) bound "within the pairwise bound"
            let mutable running = 0.0f
            for v in x do running <- running + v
            Expect.isGreaterThan (abs (float running - exact)) bound "a running float32 sum is not (the test can tell them apart)"
        }

        test "IEEE edges: −0s sum to −0, ±0 to +0, ∞ − ∞ and NaN give NaN, overflow gives ∞, empty gives +0" {
            let bits (v: float) = BitConverter.DoubleToInt64Bits v
            let s (xs: float[]) = kernel64 false xs xs
            Expect.equal (bits (s [| -0.0 |])) (bits -0.0) "−0"
            Expect.equal (bits (s (Array.create 100 -0.0))) (bits -0.0) "a hundred −0s"
            Expect.equal (bits (s [| 0.0; -0.0 |])) (bits 0.0) "+0 and −0"
            Expect.equal (bits (s [||])) (bits 0.0) "empty"
            Expect.isTrue (Double.IsNaN (s [| infinity; -infinity |])) "∞ − ∞"
            Expect.isTrue (Double.IsNaN (s (Array.init 50 (fun i -> if i = 37 then nan else 1.0)))) "NaN"
            Expect.equal (s [| Double.MaxValue; Double.MaxValue |]) infinity "overflow"
            Expect.equal (s (Array.init 40 (fun i -> if i = 39 then -infinity else 1.0))) -infinity "−∞ in the tail"
            Expect.equal (Summation.sum (ReadOnlySpan [| -0.0f; -0.0f |])) -0.0f "float32 −0"
            Expect.throwsT<ArgumentException> (fun () -> Summation.dot (ReadOnlySpan [| 1.0 |]) (ReadOnlySpan [| 1.0; 2.0 |]) |> ignore) "dot of unequal lengths"
        }

        test "int32 sums are exact where partial sums wrap and come back" {
            let x = [| Int32.MaxValue; 1; Int32.MinValue; -1 |] |> Array.replicate 25 |> Array.concat
            Expect.equal (Summation.sum (ReadOnlySpan x)) (int (Array.sumBy int64 x)) "wrapping partial sums"
        }
    ]
