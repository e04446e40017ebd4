/// TensorPrimitives' vector loops do not treat every element alike: the first and last vectors, the
/// loop aligned to the destination's address, and the leftover vectors are separately compiled code,
/// and for transcendental functions (tan, pow, …) and for products their roundings differ. A result
/// would then depend on where the array happens to sit in memory and where an element sits in its span,
/// so the same inputs could give other last bits in another array or in a plan's block. Here those calls
/// run through fixed-size chunks of a 64-byte-aligned scratch, so an element's path depends only on its
/// index modulo the chunk: whole tensors and blocks starting at a multiple of the chunk agree bit for bit.
module internal FuncDiff.Core.Kernels.Aligned

open System
open System.Numerics
open System.Numerics.Tensors
open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open FuncDiff.Core.Kernels.Elementwise

/// Elements per chunk; plan blocks are a multiple of it.
[<Literal>]
let Chunk = 256

/// Each thread's scratch for one element type: three aligned chunks in a pinned array.
[<AbstractClass; Sealed>]
type private Scratch<'T> private () =
    [<ThreadStatic; DefaultValue>]
    static val mutable private buffer: 'T[]
    [<ThreadStatic; DefaultValue>]
    static val mutable private offset: int

    static member Chunks() : Span<'T> =
        if isNull Scratch<'T>.buffer then
            let size = Unsafe.SizeOf<'T>()
            let b = GC.AllocateUninitializedArray<'T>(3 * Chunk + 64 / size, true)
            let handle = GCHandle.Alloc(b, GCHandleType.Pinned)
            let address = handle.AddrOfPinnedObject().ToInt64()
            handle.Free()
            Scratch<'T>.offset <- int ((64L - address % 64L) % 64L) / size
            Scratch<'T>.buffer <- b
        Span<'T>(Scratch<'T>.buffer, Scratch<'T>.offset, 3 * Chunk)

/// A unary float operation (a TensorPrimitives call) run chunk by chunk.
let unary<'T when 'T :> IFloatingPointIeee754<'T>> (op: FloatUnary) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    let chunks = Scratch<'T>.Chunks()
    let input = chunks.Slice(0, Chunk)
    let output = chunks.Slice(Chunk, Chunk)
    let mutable start = 0
    while start < x.Length do
        let length = min Chunk (x.Length - start)
        x.Slice(start, length).CopyTo input
        if length < Chunk then input.Slice(length).Clear()
        op.Run(Span.op_Implicit input, output)
        output.Slice(0, length).CopyTo(y.Slice(start, length))
        start <- start + Chunk

/// A unary float operation made chunked.
let chunked (op: FloatUnary) =
    { new FloatUnary with
        member _.Run(x, y) = unary op x y }

/// A binary float operation on two spans of one length, run chunk by chunk.
let binary<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged> (op: FloatBinary) (a: ReadOnlySpan<'T>) (b: ReadOnlySpan<'T>) (y: Span<'T>) =
    let chunks = Scratch<'T>.Chunks()
    let first = chunks.Slice(0, Chunk)
    let second = chunks.Slice(Chunk, Chunk)
    let output = chunks.Slice(2 * Chunk, Chunk)
    let mutable start = 0
    while start < a.Length do
        let length = min Chunk (a.Length - start)
        a.Slice(start, length).CopyTo first
        b.Slice(start, length).CopyTo second
        if length < Chunk then
            first.Slice(length).Clear()
            second.Slice(length).Clear()
        op.SS(Span.op_Implicit first, Span.op_Implicit second, output)
        output.Slice(0, length).CopyTo(y.Slice(start, length))
        start <- start + Chunk

/// A binary float operation with one scalar operand (first or second), run chunk by chunk over the span.
let private withScalar<'T when 'T :> IFloatingPointIeee754<'T> and 'T: unmanaged> (op: FloatBinary) (scalarFirst: bool) (s: 'T) (x: ReadOnlySpan<'T>) (y: Span<'T>) =
    let chunks = Scratch<'T>.Chunks()
    let input = chunks.Slice(0, Chunk)
    let output = chunks.Slice(Chunk, Chunk)
    let mutable start = 0
    while start < x.Length do
        let length = min Chunk (x.Length - start)
        x.Slice(start, length).CopyTo input
        if length < Chunk then input.Slice(length).Clear()
        if scalarFirst then op.TS(s, Span.op_Implicit input, output) else op.ST(Span.op_Implicit input, s, output)
        output.Slice(0, length).CopyTo(y.Slice(start, length))
        start <- start + Chunk

/// A binary float operation made chunked in each of its forms (span-span, span-scalar, scalar-span).
let chunkedBinary (op: FloatBinary) =
    { new FloatBinary with
        member _.SS(a, b, d) = binary op a b d
        member _.ST(a, b, d) = withScalar op false b a d
        member _.TS(a, b, d) = withScalar op true a b d }

/// The TensorPrimitives functions whose roundings depend on an element's position, chunked.
let tan = chunked { new FloatUnary with member _.Run(x, y) = TensorPrimitives.Tan(x, y) }

/// Π x as the in-order product of its chunks' TensorPrimitives products (the last padded with 1).
let product<'T when 'T :> INumber<'T>> (x: ReadOnlySpan<'T>) : 'T =
    let chunk = Scratch<'T>.Chunks().Slice(0, Chunk)
    let mutable total = 'T.One
    let mutable start = 0
    while start < x.Length do
        let length = min Chunk (x.Length - start)
        x.Slice(start, length).CopyTo chunk
        if length < Chunk then chunk.Slice(length).Fill('T.One)
        let c: ReadOnlySpan<'T> = Span.op_Implicit chunk
        total <- total * TensorPrimitives.Product c
        start <- start + Chunk
    total
