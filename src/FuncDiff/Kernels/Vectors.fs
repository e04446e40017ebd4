namespace FuncDiff.Core.Kernels

open System
open System.ComponentModel
open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open System.Runtime.Intrinsics

/// The overloads behind Kernels/Vectors.fs's functions, one per vector type. Public only because F#
/// resolves the member constraints of `inline` functions against public members alone; not part of the API.
[<AbstractClass; Sealed; EditorBrowsable(EditorBrowsableState.Never)>]
type Ops =
    static member inline Fma(a: Vector256<float>, b: Vector256<float>, c: Vector256<float>) = Vector256.FusedMultiplyAdd(a, b, c)
    static member inline Fma(a: Vector128<float>, b: Vector128<float>, c: Vector128<float>) = Vector128.FusedMultiplyAdd(a, b, c)
    static member inline Fma(a: Vector512<float>, b: Vector512<float>, c: Vector512<float>) = Vector512.FusedMultiplyAdd(a, b, c)
    static member inline Fma(a: Vector256<float32>, b: Vector256<float32>, c: Vector256<float32>) = Vector256.FusedMultiplyAdd(a, b, c)
    static member inline Fma(a: Vector128<float32>, b: Vector128<float32>, c: Vector128<float32>) = Vector128.FusedMultiplyAdd(a, b, c)
    static member inline Fma(a: Vector512<float32>, b: Vector512<float32>, c: Vector512<float32>) = Vector512.FusedMultiplyAdd(a, b, c)

    static member inline Splat(_: Vector256<float>, c: float) = Vector256.Create c
    static member inline Splat(_: Vector128<float>, c: float) = Vector128.Create c
    static member inline Splat(_: Vector512<float>, c: float) = Vector512.Create c
    static member inline Splat(_: Vector256<float32>, c: float32) = Vector256.Create c
    static member inline Splat(_: Vector128<float32>, c: float32) = Vector128.Create c
    static member inline Splat(_: Vector512<float32>, c: float32) = Vector512.Create c
    static member inline Splat(_: Vector256<int64>, c: int64) = Vector256.Create c
    static member inline Splat(_: Vector128<int64>, c: int64) = Vector128.Create c
    static member inline Splat(_: Vector512<int64>, c: int64) = Vector512.Create c
    static member inline Splat(_: Vector256<int>, c: int) = Vector256.Create c
    static member inline Splat(_: Vector128<int>, c: int) = Vector128.Create c
    static member inline Splat(_: Vector512<int>, c: int) = Vector512.Create c

    static member inline Select(m: Vector256<float>, a: Vector256<float>, b: Vector256<float>) = Vector256.ConditionalSelect(m, a, b)
    static member inline Select(m: Vector128<float>, a: Vector128<float>, b: Vector128<float>) = Vector128.ConditionalSelect(m, a, b)
    static member inline Select(m: Vector512<float>, a: Vector512<float>, b: Vector512<float>) = Vector512.ConditionalSelect(m, a, b)
    static member inline Select(m: Vector256<float32>, a: Vector256<float32>, b: Vector256<float32>) = Vector256.ConditionalSelect(m, a, b)
    static member inline Select(m: Vector128<float32>, a: Vector128<float32>, b: Vector128<float32>) = Vector128.ConditionalSelect(m, a, b)
    static member inline Select(m: Vector512<float32>, a: Vector512<float32>, b: Vector512<float32>) = Vector512.ConditionalSelect(m, a, b)

    static member inline Less(a: Vector256<float>, b: Vector256<float>) = Vector256.LessThan(a, b)
    static member inline Less(a: Vector128<float>, b: Vector128<float>) = Vector128.LessThan(a, b)
    static member inline Less(a: Vector512<float>, b: Vector512<float>) = Vector512.LessThan(a, b)
    static member inline Less(a: Vector256<float32>, b: Vector256<float32>) = Vector256.LessThan(a, b)
    static member inline Less(a: Vector128<float32>, b: Vector128<float32>) = Vector128.LessThan(a, b)
    static member inline Less(a: Vector512<float32>, b: Vector512<float32>) = Vector512.LessThan(a, b)

    static member inline Greater(a: Vector256<float>, b: Vector256<float>) = Vector256.GreaterThan(a, b)
    static member inline Greater(a: Vector128<float>, b: Vector128<float>) = Vector128.GreaterThan(a, b)
    static member inline Greater(a: Vector512<float>, b: Vector512<float>) = Vector512.GreaterThan(a, b)
    static member inline Greater(a: Vector256<float32>, b: Vector256<float32>) = Vector256.GreaterThan(a, b)
    static member inline Greater(a: Vector128<float32>, b: Vector128<float32>) = Vector128.GreaterThan(a, b)
    static member inline Greater(a: Vector512<float32>, b: Vector512<float32>) = Vector512.GreaterThan(a, b)

    static member inline AtLeast(a: Vector256<float>, b: Vector256<float>) = Vector256.GreaterThanOrEqual(a, b)
    static member inline AtLeast(a: Vector128<float>, b: Vector128<float>) = Vector128.GreaterThanOrEqual(a, b)
    static member inline AtLeast(a: Vector512<float>, b: Vector512<float>) = Vector512.GreaterThanOrEqual(a, b)
    static member inline AtLeast(a: Vector256<float32>, b: Vector256<float32>) = Vector256.GreaterThanOrEqual(a, b)
    static member inline AtLeast(a: Vector128<float32>, b: Vector128<float32>) = Vector128.GreaterThanOrEqual(a, b)
    static member inline AtLeast(a: Vector512<float32>, b: Vector512<float32>) = Vector512.GreaterThanOrEqual(a, b)

    static member inline Equal(a: Vector256<float>, b: Vector256<float>) = Vector256.Equals(a, b)
    static member inline Equal(a: Vector128<float>, b: Vector128<float>) = Vector128.Equals(a, b)
    static member inline Equal(a: Vector512<float>, b: Vector512<float>) = Vector512.Equals(a, b)
    static member inline Equal(a: Vector256<float32>, b: Vector256<float32>) = Vector256.Equals(a, b)
    static member inline Equal(a: Vector128<float32>, b: Vector128<float32>) = Vector128.Equals(a, b)
    static member inline Equal(a: Vector512<float32>, b: Vector512<float32>) = Vector512.Equals(a, b)
    static member inline Equal(a: Vector256<int64>, b: Vector256<int64>) = Vector256.Equals(a, b)
    static member inline Equal(a: Vector128<int64>, b: Vector128<int64>) = Vector128.Equals(a, b)
    static member inline Equal(a: Vector512<int64>, b: Vector512<int64>) = Vector512.Equals(a, b)
    static member inline Equal(a: Vector256<int>, b: Vector256<int>) = Vector256.Equals(a, b)
    static member inline Equal(a: Vector128<int>, b: Vector128<int>) = Vector128.Equals(a, b)
    static member inline Equal(a: Vector512<int>, b: Vector512<int>) = Vector512.Equals(a, b)

    static member inline Magnitude(a: Vector256<float>) = Vector256.Abs a
    static member inline Magnitude(a: Vector128<float>) = Vector128.Abs a
    static member inline Magnitude(a: Vector512<float>) = Vector512.Abs a
    static member inline Magnitude(a: Vector256<float32>) = Vector256.Abs a
    static member inline Magnitude(a: Vector128<float32>) = Vector128.Abs a
    static member inline Magnitude(a: Vector512<float32>) = Vector512.Abs a

    /// A float vector's bits as integers of the same size.
    static member inline Bits(a: Vector256<float>) = a.AsInt64()
    static member inline Bits(a: Vector128<float>) = a.AsInt64()
    static member inline Bits(a: Vector512<float>) = a.AsInt64()
    static member inline Bits(a: Vector256<float32>) = a.AsInt32()
    static member inline Bits(a: Vector128<float32>) = a.AsInt32()
    static member inline Bits(a: Vector512<float32>) = a.AsInt32()

    /// Integer lanes' bits as floats of the same size.
    static member inline OfBits(a: Vector256<int64>) = a.AsDouble()
    static member inline OfBits(a: Vector128<int64>) = a.AsDouble()
    static member inline OfBits(a: Vector512<int64>) = a.AsDouble()
    static member inline OfBits(a: Vector256<int>) = a.AsSingle()
    static member inline OfBits(a: Vector128<int>) = a.AsSingle()
    static member inline OfBits(a: Vector512<int>) = a.AsSingle()

    static member inline ShiftLeft(a: Vector256<int64>, n: int) = Vector256.ShiftLeft(a, n)
    static member inline ShiftLeft(a: Vector128<int64>, n: int) = Vector128.ShiftLeft(a, n)
    static member inline ShiftLeft(a: Vector512<int64>, n: int) = Vector512.ShiftLeft(a, n)
    static member inline ShiftLeft(a: Vector256<int>, n: int) = Vector256.ShiftLeft(a, n)
    static member inline ShiftLeft(a: Vector128<int>, n: int) = Vector128.ShiftLeft(a, n)
    static member inline ShiftLeft(a: Vector512<int>, n: int) = Vector512.ShiftLeft(a, n)

    static member inline ShiftRight(a: Vector256<int64>, n: int) = Vector256.ShiftRightArithmetic(a, n)
    static member inline ShiftRight(a: Vector128<int64>, n: int) = Vector128.ShiftRightArithmetic(a, n)
    static member inline ShiftRight(a: Vector512<int64>, n: int) = Vector512.ShiftRightArithmetic(a, n)
    static member inline ShiftRight(a: Vector256<int>, n: int) = Vector256.ShiftRightArithmetic(a, n)
    static member inline ShiftRight(a: Vector128<int>, n: int) = Vector128.ShiftRightArithmetic(a, n)
    static member inline ShiftRight(a: Vector512<int>, n: int) = Vector512.ShiftRightArithmetic(a, n)

    static member inline ShiftRightLogical(a: Vector256<int64>, n: int) = Vector256.ShiftRightLogical(a, n)
    static member inline ShiftRightLogical(a: Vector128<int64>, n: int) = Vector128.ShiftRightLogical(a, n)
    static member inline ShiftRightLogical(a: Vector512<int64>, n: int) = Vector512.ShiftRightLogical(a, n)

    /// a with b's bits cleared.
    static member inline AndNot(a: Vector256<int64>, b: Vector256<int64>) = Vector256.AndNot(a, b)
    static member inline AndNot(a: Vector128<int64>, b: Vector128<int64>) = Vector128.AndNot(a, b)
    static member inline AndNot(a: Vector512<int64>, b: Vector512<int64>) = Vector512.AndNot(a, b)
    static member inline AndNot(a: Vector256<int>, b: Vector256<int>) = Vector256.AndNot(a, b)
    static member inline AndNot(a: Vector128<int>, b: Vector128<int>) = Vector128.AndNot(a, b)
    static member inline AndNot(a: Vector512<int>, b: Vector512<int>) = Vector512.AndNot(a, b)

    static member inline ToFloat(a: Vector256<int>) = Vector256.ConvertToSingle a
    static member inline ToFloat(a: Vector128<int>) = Vector128.ConvertToSingle a
    static member inline ToFloat(a: Vector512<int>) = Vector512.ConvertToSingle a

    /// Whether every lane of a mask is set (lanes are all ones or all zeros).
    static member inline All(m: Vector256<float>) = Vector256.ExtractMostSignificantBits m = (1u <<< Vector256<float>.Count) - 1u
    static member inline All(m: Vector128<float>) = Vector128.ExtractMostSignificantBits m = (1u <<< Vector128<float>.Count) - 1u
    static member inline All(m: Vector512<float>) = Vector512.ExtractMostSignificantBits m = (1UL <<< Vector512<float>.Count) - 1UL
    static member inline All(m: Vector256<float32>) = Vector256.ExtractMostSignificantBits m = (1u <<< Vector256<float32>.Count) - 1u
    static member inline All(m: Vector128<float32>) = Vector128.ExtractMostSignificantBits m = (1u <<< Vector128<float32>.Count) - 1u
    static member inline All(m: Vector512<float32>) = Vector512.ExtractMostSignificantBits m = (1UL <<< Vector512<float32>.Count) - 1UL

    /// Whether no lane of a mask is set.
    static member inline None(m: Vector256<float>) = Vector256.ExtractMostSignificantBits m = 0u
    static member inline None(m: Vector128<float>) = Vector128.ExtractMostSignificantBits m = 0u
    static member inline None(m: Vector512<float>) = Vector512.ExtractMostSignificantBits m = 0UL
    static member inline None(m: Vector256<float32>) = Vector256.ExtractMostSignificantBits m = 0u
    static member inline None(m: Vector128<float32>) = Vector128.ExtractMostSignificantBits m = 0u
    static member inline None(m: Vector512<float32>) = Vector512.ExtractMostSignificantBits m = 0UL

    static member inline Lane(a: Vector256<float>, i: int) = a.GetElement i
    static member inline Lane(a: Vector128<float>, i: int) = a.GetElement i
    static member inline Lane(a: Vector512<float>, i: int) = a.GetElement i
    static member inline Lane(a: Vector256<float32>, i: int) = a.GetElement i
    static member inline Lane(a: Vector128<float32>, i: int) = a.GetElement i
    static member inline Lane(a: Vector512<float32>, i: int) = a.GetElement i

    /// Unchecked: the callers keep i + the vector's lane count within the span.
    static member inline Load(_: Vector256<float>, s: ReadOnlySpan<float>, i: int) = Vector256.LoadUnsafe(&MemoryMarshal.GetReference s, unativeint i)
    static member inline Load(_: Vector128<float>, s: ReadOnlySpan<float>, i: int) = Vector128.LoadUnsafe(&MemoryMarshal.GetReference s, unativeint i)
    static member inline Load(_: Vector256<float32>, s: ReadOnlySpan<float32>, i: int) = Vector256.LoadUnsafe(&MemoryMarshal.GetReference s, unativeint i)
    static member inline Load(_: Vector128<float32>, s: ReadOnlySpan<float32>, i: int) = Vector128.LoadUnsafe(&MemoryMarshal.GetReference s, unativeint i)
    static member inline Load(_: Vector512<float>, s: ReadOnlySpan<float>, i: int) = Vector512.LoadUnsafe(&MemoryMarshal.GetReference s, unativeint i)
    static member inline Load(_: Vector512<float32>, s: ReadOnlySpan<float32>, i: int) = Vector512.LoadUnsafe(&MemoryMarshal.GetReference s, unativeint i)

    static member inline Store(a: Vector256<float>, s: Span<float>, i: int) = Vector256.StoreUnsafe(a, &MemoryMarshal.GetReference s, unativeint i)
    static member inline Store(a: Vector128<float>, s: Span<float>, i: int) = Vector128.StoreUnsafe(a, &MemoryMarshal.GetReference s, unativeint i)
    static member inline Store(a: Vector256<float32>, s: Span<float32>, i: int) = Vector256.StoreUnsafe(a, &MemoryMarshal.GetReference s, unativeint i)
    static member inline Store(a: Vector128<float32>, s: Span<float32>, i: int) = Vector128.StoreUnsafe(a, &MemoryMarshal.GetReference s, unativeint i)
    static member inline Store(a: Vector512<float>, s: Span<float>, i: int) = Vector512.StoreUnsafe(a, &MemoryMarshal.GetReference s, unativeint i)
    static member inline Store(a: Vector512<float32>, s: Span<float32>, i: int) = Vector512.StoreUnsafe(a, &MemoryMarshal.GetReference s, unativeint i)

    static member inline Count(_: Vector256<float>) = Vector256<float>.Count
    static member inline Count(_: Vector128<float>) = Vector128<float>.Count
    static member inline Count(_: Vector512<float>) = Vector512<float>.Count
    static member inline Count(_: Vector256<float32>) = Vector256<float32>.Count
    static member inline Count(_: Vector128<float32>) = Vector128<float32>.Count
    static member inline Count(_: Vector512<float32>) = Vector512<float32>.Count

/// Vector operations at any hardware width, 128, 256 or 512 bits, so a lane kernel is written once and
/// compiled for each: its vector form is an `inline` function generic in the vector type, whose operations
/// (fma, splat, select, comparisons, bit casts, shifts) resolve here at compile time by overload, and
/// arithmetic and bitwise operators come from the vector types themselves. A lane computes the same IEEE
/// operations at every width, so a kernel's results do not depend on the width it runs at.
/// .NET keeps `Vector<T>` at 256 bits on AVX-512 machines unless told otherwise; these kernels take the
/// widest form the machine accelerates (Width below).
module internal Vectors =
    let inline fmaW (_: ^W) (a: ^V) (b: ^V) (c: ^V) : ^V = ((^W or ^V): (static member Fma: ^V * ^V * ^V -> ^V) (a, b, c))
    let inline splatW (_: ^W) (like: ^V) (c: ^E) : ^V = ((^W or ^V): (static member Splat: ^V * ^E -> ^V) (like, c))
    let inline selectW (_: ^W) (m: ^V) (a: ^V) (b: ^V) : ^V = ((^W or ^V): (static member Select: ^V * ^V * ^V -> ^V) (m, a, b))
    let inline lessW (_: ^W) (a: ^V) (b: ^V) : ^V = ((^W or ^V): (static member Less: ^V * ^V -> ^V) (a, b))
    let inline greaterW (_: ^W) (a: ^V) (b: ^V) : ^V = ((^W or ^V): (static member Greater: ^V * ^V -> ^V) (a, b))
    let inline atLeastW (_: ^W) (a: ^V) (b: ^V) : ^V = ((^W or ^V): (static member AtLeast: ^V * ^V -> ^V) (a, b))
    let inline equalW (_: ^W) (a: ^V) (b: ^V) : ^V = ((^W or ^V): (static member Equal: ^V * ^V -> ^V) (a, b))
    let inline absW (_: ^W) (a: ^V) : ^V = ((^W or ^V): (static member Magnitude: ^V -> ^V) a)
    let inline bitsW (_: ^W) (a: ^V) : ^I = ((^W or ^V): (static member Bits: ^V -> ^I) a)
    let inline ofBitsW (_: ^W) (a: ^I) : ^V = ((^W or ^I): (static member OfBits: ^I -> ^V) a)
    let inline shiftLeftW (_: ^W) (a: ^I) (n: int) : ^I = ((^W or ^I): (static member ShiftLeft: ^I * int -> ^I) (a, n))
    let inline shiftRightW (_: ^W) (a: ^I) (n: int) : ^I = ((^W or ^I): (static member ShiftRight: ^I * int -> ^I) (a, n))
    let inline shiftRightLogicalW (_: ^W) (a: ^I) (n: int) : ^I = ((^W or ^I): (static member ShiftRightLogical: ^I * int -> ^I) (a, n))
    let inline andNotW (_: ^W) (a: ^I) (b: ^I) : ^I = ((^W or ^I): (static member AndNot: ^I * ^I -> ^I) (a, b))
    let inline toFloatW (_: ^W) (a: ^I) : ^V = ((^W or ^I): (static member ToFloat: ^I -> ^V) a)
    let inline allW (_: ^W) (m: ^V) : bool = ((^W or ^V): (static member All: ^V -> bool) m)
    let inline noneW (_: ^W) (m: ^V) : bool = ((^W or ^V): (static member None: ^V -> bool) m)
    let inline laneW (_: ^W) (a: ^V) (i: int) : ^E = ((^W or ^V): (static member Lane: ^V * int -> ^E) (a, i))
    let inline loadW (_: ^W) (like: ^V) (s: ReadOnlySpan< ^E >) (i: int) : ^V = ((^W or ^V): (static member Load: ^V * ReadOnlySpan< ^E > * int -> ^V) (like, s, i))
    let inline storeW (_: ^W) (a: ^V) (s: Span< ^E >) (i: int) : unit = ((^W or ^V): (static member Store: ^V * Span< ^E > * int -> unit) (a, s, i))
    let inline countW (_: ^W) (a: ^V) : int = ((^W or ^V): (static member Count: ^V -> int) a)

    /// a·b + c, rounded once.
    let inline fma a b c = fmaW Unchecked.defaultof<Ops> a b c
    /// c in every lane of a vector of like's type.
    let inline splat like c = splatW Unchecked.defaultof<Ops> like c
    /// a where the mask m is set, else b.
    let inline select m a b = selectW Unchecked.defaultof<Ops> m a b
    /// Masks: a < b, a > b, a ≥ b, a = b (IEEE: false at NaN).
    let inline less a b = lessW Unchecked.defaultof<Ops> a b
    let inline greater a b = greaterW Unchecked.defaultof<Ops> a b
    let inline atLeast a b = atLeastW Unchecked.defaultof<Ops> a b
    let inline equal a b = equalW Unchecked.defaultof<Ops> a b
    let inline abs a = absW Unchecked.defaultof<Ops> a
    /// A float vector's bits as integer lanes of the same size, and back.
    let inline bits a = bitsW Unchecked.defaultof<Ops> a
    let inline ofBits a = ofBitsW Unchecked.defaultof<Ops> a
    let inline shiftLeft a n = shiftLeftW Unchecked.defaultof<Ops> a n
    /// Arithmetic (sign-propagating) and logical right shifts of integer lanes.
    let inline shiftRight a n = shiftRightW Unchecked.defaultof<Ops> a n
    let inline shiftRightLogical a n = shiftRightLogicalW Unchecked.defaultof<Ops> a n
    /// a with b's bits cleared.
    let inline andNot a b = andNotW Unchecked.defaultof<Ops> a b
    /// int32 lanes converted to float32 values.
    let inline toFloat a = toFloatW Unchecked.defaultof<Ops> a
    /// Whether every lane, or none, of a mask is set.
    let inline all m = allW Unchecked.defaultof<Ops> m
    let inline none m = noneW Unchecked.defaultof<Ops> m
    /// Lane i's value.
    let inline lane a i = laneW Unchecked.defaultof<Ops> a i
    /// A vector of like's type from s[i..], and a vector stored into s[i..]; unchecked, so the caller keeps
    /// i + the lane count within the span.
    let inline load like s i = loadW Unchecked.defaultof<Ops> like s i
    let inline store a s i = storeW Unchecked.defaultof<Ops> a s i
    /// The lanes in a vector of a's type.
    let inline count a = countW Unchecked.defaultof<Ops> a

    /// Whether 'T is 'U: a constant the JIT folds for each instantiation (Type.op_Equality of two typeofs),
    /// where F#'s `=` on types is a call to generic equality on every use.
    let inline is<'T, 'U> = Type.op_Equality(typeof<'T>, typeof<'U>)

    /// A span of 'T seen as a span of 'U of the same element size (float or float32, tested by the caller).
    let readAs<'T, 'U> (x: ReadOnlySpan<'T>) : ReadOnlySpan<'U> =
        let r = &MemoryMarshal.GetReference x
        MemoryMarshal.CreateReadOnlySpan<'U>(&Unsafe.As<'T, 'U>(&Unsafe.AsRef<'T>(&r)), x.Length)

    let writeAs<'T, 'U> (x: Span<'T>) : Span<'U> =
        MemoryMarshal.CreateSpan<'U>(&Unsafe.As<'T, 'U>(&MemoryMarshal.GetReference x), x.Length)

    /// The widths the lane kernels run at on the current thread: the widest the machine accelerates, unless a
    /// test limits them (to check every width's forms on one machine). Elements get the same bits at any width.
    [<Sealed; AbstractClass>]
    type Width =
        [<ThreadStatic; Microsoft.FSharp.Core.DefaultValue>]
        static val mutable private limit: int

        static member private Allows(bits: int) = Width.limit = 0 || bits <= Width.limit

        /// Whether the 512-bit forms run: AVX-512 accelerated, and not limited on this thread.
        static member Wide = Vector512.IsHardwareAccelerated && Width.Allows 512

        /// Whether the 256-bit forms run where the 512-bit ones do not.
        static member Narrow = Vector256.IsHardwareAccelerated && Width.Allows 256

        /// Whether the 128-bit forms run where the wider ones do not (otherwise the scalar forms do; sin and
        /// cos, which have none, run their 128-bit form in software).
        static member Least = Vector128.IsHardwareAccelerated && Width.Allows 128

        /// The widths this machine accelerates, widest first.
        static member Accelerated =
            [ if Vector512.IsHardwareAccelerated then 512
              if Vector256.IsHardwareAccelerated then 256
              if Vector128.IsHardwareAccelerated then 128 ]

        /// Runs f with the forms wider than `bits` turned off on this thread (below 128: every vector form
        /// but sin and cos's; the partner thread of a two-thread split keeps the widest).
        static member UpTo(bits: int, f: unit -> 'R) =
            let before = Width.limit
            Width.limit <- bits
            try f () finally Width.limit <- before
