/// Sums and dot products of float spans, SIMD, in an order fixed by the length alone: the span is cut
/// into blocks of Block elements, each block is summed in four 256-bit accumulators that take
/// consecutive vectors in turn (the leftover vectors in the same rotation, the last few elements in
/// order), the accumulators and then their lanes combine in a fixed tree, and blocks add pairwise.
/// Every step is one IEEE addition (or a product then an addition: the JIT does not contract them),
/// so the result does not depend on the address, the JIT tier, the machine's Vector<T> width or which
/// core summed which half; and the pairwise tree keeps the rounding error growing with log n, not n.
/// A sum of −0s is −0, as in sequential summation; an empty sum is +0. A long sum of an array splits at
/// the tree's first fork, one half on the partner thread (Kernels/Partner.fs): the same additions.
module internal FuncDiff.Core.Kernels.Summation

open System
open System.Numerics
open System.Runtime.InteropServices
open System.Runtime.Intrinsics

/// Elements per block, the leaves of the pairwise tree.
[<Literal>]
let Block = 4096

/// The lanes of v combined in a fixed tree: halves first, then the pairs of the last 128 bits.
let private across<'T when 'T :> INumber<'T>> (v: Vector256<'T>) : 'T =
    let h = Vector128.Add(Vector256.GetLower v, Vector256.GetUpper v)
    let e0: 'T = Vector128.GetElement(h, 0)
    let e1: 'T = Vector128.GetElement(h, 1)
    if Vector128<'T>.Count = 2 then e0 + e1
    else
        let e2: 'T = Vector128.GetElement(h, 2)
        let e3: 'T = Vector128.GetElement(h, 3)
        let low: 'T = e0 + e2
        let high: 'T = e1 + e3
        low + high

/// The vector at x[i..] (products false) or x[i..]·y[i..]; i + the vector's width is within the spans.
let inline private term<'T when 'T :> INumber<'T>> (products: bool) (x: ReadOnlySpan<'T>) (y: ReadOnlySpan<'T>) (i: int) =
    let v = Vector256.LoadUnsafe(&MemoryMarshal.GetReference x, unativeint i)
    if products then Vector256.Multiply(v, Vector256.LoadUnsafe(&MemoryMarshal.GetReference y, unativeint i)) else v

/// Σ x[i] (products false; y is not read) or Σ x[i]·y[i] over one block.
let private leaf<'T when 'T :> INumber<'T>> (products: bool) (x: ReadOnlySpan<'T>) (y: ReadOnlySpan<'T>) : 'T =
    let w = Vector256<'T>.Count
    let zero = Vector256.Create(-'T.Zero)
    let mutable a0 = zero
    let mutable a1 = zero
    let mutable a2 = zero
    let mutable a3 = zero
    let mutable i = 0
    while i + 4 * w <= x.Length do
        a0 <- Vector256.Add(a0, term products x y i)
        a1 <- Vector256.Add(a1, term products x y (i + w))
        a2 <- Vector256.Add(a2, term products x y (i + 2 * w))
        a3 <- Vector256.Add(a3, term products x y (i + 3 * w))
        i <- i + 4 * w
    if i + w <= x.Length then
        a0 <- Vector256.Add(a0, term products x y i)
        i <- i + w
    if i + w <= x.Length then
        a1 <- Vector256.Add(a1, term products x y i)
        i <- i + w
    if i + w <= x.Length then
        a2 <- Vector256.Add(a2, term products x y i)
        i <- i + w
    let mutable rest = -'T.Zero
    while i < x.Length do
        rest <- rest + (if products then x[i] * y[i] else x[i])
        i <- i + 1
    let lanes: 'T = across (Vector256.Add(Vector256.Add(a0, a1), Vector256.Add(a2, a3)))
    lanes + rest

/// Where the tree forks a span of more than Block elements: after the first half of its blocks, rounded up.
let private fork (length: int) = (length + 2 * Block - 1) / (2 * Block) * Block

/// The pairwise tree over the blocks of x (and y): the first half of the blocks, rounded up, then the rest.
let rec private tree<'T when 'T :> INumber<'T>> (products: bool) (x: ReadOnlySpan<'T>) (y: ReadOnlySpan<'T>) : 'T =
    if x.Length <= Block then leaf products x y
    else
        let half = fork x.Length
        let first: 'T = tree products (x.Slice(0, half)) (y.Slice(0, half))
        let second: 'T = tree products (x.Slice half) (y.Slice half)
        first + second

/// Σ x over one block (at most Block elements): the leaf of `sum`'s tree.
let block<'T when 'T :> INumber<'T>> (x: ReadOnlySpan<'T>) : 'T = leaf false x x

/// The sum of block totals in `sum`'s tree: with the totals of x's consecutive blocks (`block`, the last
/// one possibly short), it gives sum x bit for bit. A fused plan sums a tensor block by block this way.
let rec ofBlocks<'T when 'T :> INumber<'T>> (totals: ReadOnlySpan<'T>) : 'T =
    if totals.IsEmpty then 'T.Zero
    elif totals.Length = 1 then totals[0]
    else
        let half = (totals.Length + 1) / 2
        let first: 'T = ofBlocks (totals.Slice(0, half))
        first + ofBlocks (totals.Slice half)

/// Σ x for a float64 or float32 span; +0 when it is empty.
let sum<'T when 'T :> INumber<'T>> (x: ReadOnlySpan<'T>) : 'T =
    if x.IsEmpty then 'T.Zero else tree false x x

/// Σ x[i]·y[i] for float64 or float32 spans of one length; +0 when they are empty.
let dot<'T when 'T :> INumber<'T>> (x: ReadOnlySpan<'T>) (y: ReadOnlySpan<'T>) : 'T =
    if x.Length <> y.Length then invalidArg "y" (sprintf "dot kernel: %d elements against %d" x.Length y.Length)
    if x.IsEmpty then 'T.Zero else tree true x y

/// Sums at least this long take two threads.
let parallelMinimum = 1 <<< 17

/// The two halves of a split sum: set by the calling thread before the split, cleared after it. One per
/// calling thread and element type, so a sum allocates nothing.
[<Sealed; AllowNullLiteral>]
type private Halves<'T when 'T :> INumber<'T>>() =
    inherit Partner.Halves()
    [<ThreadStatic; DefaultValue>]
    static val mutable private mine: Halves<'T>
    member val Data: 'T[] = null with get, set
    member val Offset = 0 with get, set
    member val Length = 0 with get, set
    member val Half = 0 with get, set
    member val First = 'T.Zero with get, set
    member val Second = 'T.Zero with get, set

    override h.RunPart(part) =
        let offset, length = if part = 0 then h.Offset, h.Half else h.Offset + h.Half, h.Length - h.Half
        let span = ReadOnlySpan(h.Data, offset, length)
        let total: 'T = tree false span span
        if part = 0 then h.First <- total else h.Second <- total

    static member Mine =
        if isNull Halves<'T>.mine then Halves<'T>.mine <- Halves<'T>()
        Halves<'T>.mine

    /// The sum of data[offset .. offset + length), length above Block: tree's first fork on two threads.
    member h.Sum(data: 'T[], offset: int, length: int) : 'T =
        h.Data <- data
        h.Offset <- offset
        h.Length <- length
        h.Half <- fork length
        try
            h.Split()
            let total: 'T = h.First + h.Second
            total
        finally
            h.Data <- null

/// Σ x[offset .. offset + length) for a float64 or float32 array, as `sum` gives it; from parallelMinimum
/// elements on, the halves of the tree's first fork run on two threads.
let sumOf<'T when 'T :> INumber<'T>> (x: 'T[]) (offset: int) (length: int) : 'T =
    if length >= parallelMinimum && Partner.available then Halves<'T>.Mine.Sum(x, offset, length)
    else sum (ReadOnlySpan(x, offset, length))
