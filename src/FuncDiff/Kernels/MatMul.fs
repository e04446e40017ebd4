/// Matrix products. Every element of C is one chain of fused multiply-adds in a fixed order,
/// c ← fma(a_ip, b_pj, c) for p = 0 … k-1 starting from +0, whichever path computes it: the packed
/// SIMD micro-kernels (AVX-512 or AVX2 width), the scalar loop, cache blocking over k, the strong-zero
/// loop. A fused multiply-add rounds once, exactly, on every machine and at every JIT tier, so a
/// product is bit-identical on every call and on machines with and without AVX-512; splitting the
/// work over C's blocks would not change it either (k is never split).
module internal FuncDiff.Core.Kernels.MatMul

// The micro-kernels read packed panels and write C through native pointers into pinned arrays:
// without bounds checks and address recomputation the inner loop is only loads and FMAs.
#nowarn "9"

open System
open System.Buffers
open System.Numerics
open System.Numerics.Tensors
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open Microsoft.FSharp.NativeInterop
open FuncDiff
open FuncDiff.Core

/// Which factor of each product term is the strong zero: a term whose factor on that side is
/// exactly zero contributes exactly zero, even where the other factor is ±∞ or NaN.
[<RequireQualifiedAccess>]
type StrongZero =
    | Neither
    | Left
    | Right

/// A matrix inside a storage array: element (r, c) at Offset + r·RowStride + c·ColStride. A transposed
/// operand is the same storage with the strides swapped.
[<Struct>]
type private View<'T> = { Data: 'T[]; Offset: int; RowStride: int; ColStride: int }

// ---- Micro-kernels --------------------------------------------------------------------------------
// Inlined into the blocked loop: the JIT then sees one method whose loops run long enough in the
// first call to be recompiled optimised on the stack (OSR); called separately, a micro-kernel ran
// unoptimised (every vector load a call) until tiering replaced it, and the first few 512³ products
// took 70–140 ms instead of 4.

/// fma for float64 and float32 vectors; the JIT resolves the type test per instantiation.
[<MethodImpl(MethodImplOptions.AggressiveInlining)>]
let private fma512<'T> (a: Vector512<'T>) (b: Vector512<'T>) (c: Vector512<'T>) : Vector512<'T> =
    if Type.op_Equality(typeof<'T>, typeof<float>) then
        Vector512.FusedMultiplyAdd(a.As<'T, float>(), b.As<'T, float>(), c.As<'T, float>()).As<float, 'T>()
    else
        Vector512.FusedMultiplyAdd(a.As<'T, float32>(), b.As<'T, float32>(), c.As<'T, float32>()).As<float32, 'T>()

[<MethodImpl(MethodImplOptions.AggressiveInlining)>]
let private fma256<'T> (a: Vector256<'T>) (b: Vector256<'T>) (c: Vector256<'T>) : Vector256<'T> =
    if Type.op_Equality(typeof<'T>, typeof<float>) then
        Vector256.FusedMultiplyAdd(a.As<'T, float>(), b.As<'T, float>(), c.As<'T, float>()).As<float, 'T>()
    else
        Vector256.FusedMultiplyAdd(a.As<'T, float32>(), b.As<'T, float32>(), c.As<'T, float32>()).As<float32, 'T>()

/// The AVX-512 tile: 8 rows by 3 vectors (24 float64 or 48 float32 columns), 24 accumulators of 32
/// registers. c[r, j] (+)= Σ_p a[r·ars + p·acs] · b[p·24W + j] over kc steps; the tile's rows are ldc apart.
let inline private kernel512<'T when 'T: unmanaged> (kc: int) (a: nativeptr<'T>) (ars: int) (acs: int) (b: nativeptr<'T>) (c: nativeptr<'T>) (ldc: int) (accumulate: bool) =
    let w = Vector512<'T>.Count
    let inline ld (p: nativeptr<'T>) (i: int) = Vector512.Load(NativePtr.add p i)
    let mutable c00, c01, c02 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    let mutable c10, c11, c12 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    let mutable c20, c21, c22 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    let mutable c30, c31, c32 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    let mutable c40, c41, c42 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    let mutable c50, c51, c52 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    let mutable c60, c61, c62 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    let mutable c70, c71, c72 = Vector512<'T>.Zero, Vector512<'T>.Zero, Vector512<'T>.Zero
    if accumulate then
        c00 <- ld c 0; c01 <- ld c w; c02 <- ld c (2 * w)
        c10 <- ld c ldc; c11 <- ld c (ldc + w); c12 <- ld c (ldc + 2 * w)
        c20 <- ld c (2 * ldc); c21 <- ld c (2 * ldc + w); c22 <- ld c (2 * ldc + 2 * w)
        c30 <- ld c (3 * ldc); c31 <- ld c (3 * ldc + w); c32 <- ld c (3 * ldc + 2 * w)
        c40 <- ld c (4 * ldc); c41 <- ld c (4 * ldc + w); c42 <- ld c (4 * ldc + 2 * w)
        c50 <- ld c (5 * ldc); c51 <- ld c (5 * ldc + w); c52 <- ld c (5 * ldc + 2 * w)
        c60 <- ld c (6 * ldc); c61 <- ld c (6 * ldc + w); c62 <- ld c (6 * ldc + 2 * w)
        c70 <- ld c (7 * ldc); c71 <- ld c (7 * ldc + w); c72 <- ld c (7 * ldc + 2 * w)
    let mutable pa = a
    let mutable pb = b
    for _ in 1 .. kc do
        let b0, b1, b2 = ld pb 0, ld pb w, ld pb (2 * w)
        let x = Vector512.Create(NativePtr.read pa)
        c00 <- fma512 x b0 c00; c01 <- fma512 x b1 c01; c02 <- fma512 x b2 c02
        let x = Vector512.Create(NativePtr.get pa ars)
        c10 <- fma512 x b0 c10; c11 <- fma512 x b1 c11; c12 <- fma512 x b2 c12
        let x = Vector512.Create(NativePtr.get pa (2 * ars))
        c20 <- fma512 x b0 c20; c21 <- fma512 x b1 c21; c22 <- fma512 x b2 c22
        let x = Vector512.Create(NativePtr.get pa (3 * ars))
        c30 <- fma512 x b0 c30; c31 <- fma512 x b1 c31; c32 <- fma512 x b2 c32
        let x = Vector512.Create(NativePtr.get pa (4 * ars))
        c40 <- fma512 x b0 c40; c41 <- fma512 x b1 c41; c42 <- fma512 x b2 c42
        let x = Vector512.Create(NativePtr.get pa (5 * ars))
        c50 <- fma512 x b0 c50; c51 <- fma512 x b1 c51; c52 <- fma512 x b2 c52
        let x = Vector512.Create(NativePtr.get pa (6 * ars))
        c60 <- fma512 x b0 c60; c61 <- fma512 x b1 c61; c62 <- fma512 x b2 c62
        let x = Vector512.Create(NativePtr.get pa (7 * ars))
        c70 <- fma512 x b0 c70; c71 <- fma512 x b1 c71; c72 <- fma512 x b2 c72
        pa <- NativePtr.add pa acs
        pb <- NativePtr.add pb (3 * w)
    let inline st (v: Vector512<'T>) (i: int) = Vector512.Store(v, NativePtr.add c i)
    st c00 0; st c01 w; st c02 (2 * w)
    st c10 ldc; st c11 (ldc + w); st c12 (ldc + 2 * w)
    st c20 (2 * ldc); st c21 (2 * ldc + w); st c22 (2 * ldc + 2 * w)
    st c30 (3 * ldc); st c31 (3 * ldc + w); st c32 (3 * ldc + 2 * w)
    st c40 (4 * ldc); st c41 (4 * ldc + w); st c42 (4 * ldc + 2 * w)
    st c50 (5 * ldc); st c51 (5 * ldc + w); st c52 (5 * ldc + 2 * w)
    st c60 (6 * ldc); st c61 (6 * ldc + w); st c62 (6 * ldc + 2 * w)
    st c70 (7 * ldc); st c71 (7 * ldc + w); st c72 (7 * ldc + 2 * w)

/// The AVX2 tile: 6 rows by 2 vectors (8 float64 or 16 float32 columns), 12 accumulators of 16
/// registers; otherwise as kernel512.
let inline private kernel256<'T when 'T: unmanaged> (kc: int) (a: nativeptr<'T>) (ars: int) (acs: int) (b: nativeptr<'T>) (c: nativeptr<'T>) (ldc: int) (accumulate: bool) =
    let w = Vector256<'T>.Count
    let inline ld (p: nativeptr<'T>) (i: int) = Vector256.Load(NativePtr.add p i)
    let mutable c00, c01 = Vector256<'T>.Zero, Vector256<'T>.Zero
    let mutable c10, c11 = Vector256<'T>.Zero, Vector256<'T>.Zero
    let mutable c20, c21 = Vector256<'T>.Zero, Vector256<'T>.Zero
    let mutable c30, c31 = Vector256<'T>.Zero, Vector256<'T>.Zero
    let mutable c40, c41 = Vector256<'T>.Zero, Vector256<'T>.Zero
    let mutable c50, c51 = Vector256<'T>.Zero, Vector256<'T>.Zero
    if accumulate then
        c00 <- ld c 0; c01 <- ld c w
        c10 <- ld c ldc; c11 <- ld c (ldc + w)
        c20 <- ld c (2 * ldc); c21 <- ld c (2 * ldc + w)
        c30 <- ld c (3 * ldc); c31 <- ld c (3 * ldc + w)
        c40 <- ld c (4 * ldc); c41 <- ld c (4 * ldc + w)
        c50 <- ld c (5 * ldc); c51 <- ld c (5 * ldc + w)
    let mutable pa = a
    let mutable pb = b
    for _ in 1 .. kc do
        let b0, b1 = ld pb 0, ld pb w
        let x = Vector256.Create(NativePtr.read pa)
        c00 <- fma256 x b0 c00; c01 <- fma256 x b1 c01
        let x = Vector256.Create(NativePtr.get pa ars)
        c10 <- fma256 x b0 c10; c11 <- fma256 x b1 c11
        let x = Vector256.Create(NativePtr.get pa (2 * ars))
        c20 <- fma256 x b0 c20; c21 <- fma256 x b1 c21
        let x = Vector256.Create(NativePtr.get pa (3 * ars))
        c30 <- fma256 x b0 c30; c31 <- fma256 x b1 c31
        let x = Vector256.Create(NativePtr.get pa (4 * ars))
        c40 <- fma256 x b0 c40; c41 <- fma256 x b1 c41
        let x = Vector256.Create(NativePtr.get pa (5 * ars))
        c50 <- fma256 x b0 c50; c51 <- fma256 x b1 c51
        pa <- NativePtr.add pa acs
        pb <- NativePtr.add pb (2 * w)
    let inline st (v: Vector256<'T>) (i: int) = Vector256.Store(v, NativePtr.add c i)
    st c00 0; st c01 w
    st c10 ldc; st c11 (ldc + w)
    st c20 (2 * ldc); st c21 (2 * ldc + w)
    st c30 (3 * ldc); st c31 (3 * ldc + w)
    st c40 (4 * ldc); st c41 (4 * ldc + w)
    st c50 (5 * ldc); st c51 (5 * ldc + w)

// ---- Blocking -------------------------------------------------------------------------------------

/// The register tile and cache blocks of the widest micro-kernel the machine runs.
[<Struct>]
type private Blocking =
    { Wide: bool
      /// Tile rows and columns.
      MR: int
      NR: int
      /// Steps of k per packed panel of B.
      KC: int
      /// Rows of A per block (a multiple of MR), reused from L2 across the panels of B.
      MC: int
      /// Columns of B per packed block (a multiple of NR).
      NC: int }

/// Blocks measured on a 2-core AVX-512 machine (48 KiB L1, 2 MiB L2 per core): KC from 128 to 384
/// and MC from 64 to 256 rows were within noise of each other at 512³.
let private blocking<'T> (wide: bool) =
    let mr, nr = if wide then 8, 3 * Vector512<'T>.Count else 6, 2 * Vector256<'T>.Count
    { Wide = wide; MR = mr; NR = nr; KC = 256; MC = mr * 16; NC = nr * 128 }

/// dst[q·dstStride] = src[q·srcStride] for q < count, by pointer steps (index arithmetic in the
/// loop made the transposed packing three times slower).
let private stridedCopy<'T when 'T: unmanaged> (src: nativeptr<'T>) (srcStride: int) (dst: nativeptr<'T>) (dstStride: int) (count: int) =
    let mutable s = src
    let mutable d = dst
    for _ in 1 .. count do
        NativePtr.write d (NativePtr.read s)
        s <- NativePtr.add s srcStride
        d <- NativePtr.add d dstStride

/// Packs B[p0 .. p0+kc, j0 .. j0+nc) into panels of NR columns, each kc rows of NR contiguous
/// elements, columns past the matrix zero.
let private packB<'T when 'T: unmanaged> (bl: Blocking) (b: View<'T>) (p0: int) (kc: int) (j0: int) (nc: int) (dst: nativeptr<'T>) (src: nativeptr<'T>) =
    let nr = bl.NR
    for jp in 0 .. (nc + nr - 1) / nr - 1 do
        let jj = j0 + jp * nr
        let w = min nr (j0 + nc - jj)
        let panel = NativePtr.add dst (jp * kc * nr)
        let first = NativePtr.add src (b.Offset + p0 * b.RowStride + jj * b.ColStride)
        if b.ColStride = 1 && w = nr then
            // A whole panel row is the micro-kernel's three (AVX2: two) vectors: copied as such, since a
            // span copy per row of 24 doubles cost more in its call than in its bytes.
            for p in 0 .. kc - 1 do
                let from = NativePtr.add first (p * b.RowStride)
                let into = NativePtr.add panel (p * nr)
                if bl.Wide then
                    let v = Vector512<'T>.Count
                    Vector512.Store(Vector512.Load from, into)
                    Vector512.Store(Vector512.Load(NativePtr.add from v), NativePtr.add into v)
                    Vector512.Store(Vector512.Load(NativePtr.add from (2 * v)), NativePtr.add into (2 * v))
                else
                    let v = Vector256<'T>.Count
                    Vector256.Store(Vector256.Load from, into)
                    Vector256.Store(Vector256.Load(NativePtr.add from v), NativePtr.add into v)
        elif b.ColStride = 1 then
            for p in 0 .. kc - 1 do
                Span<'T>(NativePtr.toVoidPtr (NativePtr.add first (p * b.RowStride)), w).CopyTo(Span<'T>(NativePtr.toVoidPtr (NativePtr.add panel (p * nr)), w))
        else
            // A transposed B: each column is read along its storage row.
            for t in 0 .. w - 1 do stridedCopy (NativePtr.add first (t * b.ColStride)) b.RowStride (NativePtr.add panel t) nr kc
        if w < nr then
            for p in 0 .. kc - 1 do Span<'T>(NativePtr.toVoidPtr (NativePtr.add panel (p * nr + w)), nr - w).Clear()

/// Packs the rows i0 .. i0+h (h ≤ MR) of A[., p0 .. p0+kc) at dst as a panel of MR rows, kc steps of
/// MR contiguous elements, rows past the matrix zero.
let private packA<'T when 'T: unmanaged> (bl: Blocking) (a: View<'T>) (i0: int) (h: int) (p0: int) (kc: int) (dst: nativeptr<'T>) (src: nativeptr<'T>) =
    let mr = bl.MR
    let first = NativePtr.add src (a.Offset + i0 * a.RowStride + p0 * a.ColStride)
    if a.RowStride = 1 && h = mr && mr * sizeof<'T> = 64 then
        // A transposed A: each step's MR elements lie together, one vector (with AVX-512's MR of 8: 512 bits
        // of doubles, 256 of floats).
        for p in 0 .. kc - 1 do Vector512.Store(Vector512.Load(NativePtr.add first (p * a.ColStride)), NativePtr.add dst (p * mr))
    elif a.RowStride = 1 && h = mr && mr * sizeof<'T> = 32 then
        for p in 0 .. kc - 1 do Vector256.Store(Vector256.Load(NativePtr.add first (p * a.ColStride)), NativePtr.add dst (p * mr))
    elif a.RowStride = 1 then
        for p in 0 .. kc - 1 do stridedCopy (NativePtr.add first (p * a.ColStride)) 1 (NativePtr.add dst (p * mr)) 1 h
    else
        for r in 0 .. h - 1 do stridedCopy (NativePtr.add first (r * a.RowStride)) a.ColStride (NativePtr.add dst r) mr kc
    if h < mr then
        for p in 0 .. kc - 1 do Span<'T>(NativePtr.toVoidPtr (NativePtr.add dst (p * mr + h)), mr - h).Clear()

/// Scratch for the products of one call: a packed block of B, a packed block of A (or its ragged
/// last panel) and one tile, from the shared pool, sized for this product. Give it back with release.
[<Struct>]
type private Workspace<'T> = { A: 'T[]; B: 'T[]; Tile: 'T[] }

let private workspace<'T> (bl: Blocking) (n: int) (k: int) (m: int) =
    let pool = ArrayPool<'T>.Shared
    let kc = min bl.KC k
    { A = pool.Rent(kc * min bl.MC ((n + bl.MR - 1) / bl.MR * bl.MR))
      // 64 bytes more than needed, for aligning the vector loads of packed B and of the tile.
      B = pool.Rent(kc * min bl.NC ((m + bl.NR - 1) / bl.NR * bl.NR) + 64)
      Tile = pool.Rent(bl.MR * bl.NR + 64) }

let private release<'T> (ws: Workspace<'T>) =
    let pool = ArrayPool<'T>.Shared
    if not (isNull ws.A) then
        pool.Return ws.A
        pool.Return ws.B
        pool.Return ws.Tile

/// p advanced to the next multiple of 64 bytes: an unaligned 512-bit load straddles two cache lines.
let private aligned<'T when 'T: unmanaged> (p: nativeptr<'T>) =
    let misaligned = int (NativePtr.toNativeInt p &&& 63n)
    if misaligned = 0 then p else NativePtr.add p ((64 - misaligned) / sizeof<'T>)

/// c[cOff ..] = A[n, k] · B[k, m], row i of C starting ldc elements after row i-1, by packed blocks
/// (BLIS order: columns of B, then k, then rows of A, then tiles). k > 0. A tile past the matrix edge is
/// computed whole in the tile buffer and only its valid part copied, so the micro-kernels never see a
/// ragged edge.
let private blocked<'T when 'T: unmanaged> (bl: Blocking) (ws: Workspace<'T>) (a: View<'T>) (b: View<'T>) (c: 'T[]) (cOff: int) (ldc: int) (n: int) (k: int) (m: int) =
    let mr, nr = bl.MR, bl.NR
    // Whole panels of a row-major A are read where they lie (the rows stream through the prefetcher);
    // a transposed A is packed when more than one panel of B reuses it, as the kc steps of one of its
    // panels lie a row of A apart, and at power-of-two widths all in one L1 set.
    let packAll = a.ColStride <> 1 && m > nr
    use pPackedA = fixed ws.A
    use pPackedB = fixed ws.B
    use pTileArray = fixed ws.Tile
    let pPacked, pTile = aligned pPackedB, aligned pTileArray
    use pa = fixed a.Data
    use pb = fixed b.Data
    use pc = fixed c
    let mutable jc = 0
    while jc < m do
        let nc = min bl.NC (m - jc)
        let mutable p0 = 0
        while p0 < k do
            let kc = min bl.KC (k - p0)
            let accumulate = p0 > 0
            packB bl b p0 kc jc nc pPacked pb
            let mutable ic = 0
            while ic < n do
                let mc = min bl.MC (n - ic)
                let rowPanels = (mc + mr - 1) / mr
                let ragged = mc % mr
                if packAll then
                    for ip in 0 .. rowPanels - 1 do packA bl a (ic + ip * mr) (min mr (mc - ip * mr)) p0 kc (NativePtr.add pPackedA (ip * kc * mr)) pa
                elif ragged <> 0 then packA bl a (ic + mc - ragged) ragged p0 kc pPackedA pa
                for jp in 0 .. (nc + nr - 1) / nr - 1 do
                    let j0 = jc + jp * nr
                    let w = min nr (m - j0)
                    let panelB = NativePtr.add pPacked (jp * kc * nr)
                    for ip in 0 .. rowPanels - 1 do
                        let i0 = ic + ip * mr
                        let h = min mr (n - i0)
                        let panelA, ars, acs =
                            if packAll then NativePtr.add pPackedA (ip * kc * mr), 1, mr
                            elif h = mr then NativePtr.add pa (a.Offset + i0 * a.RowStride + p0 * a.ColStride), a.RowStride, a.ColStride
                            else pPackedA, 1, mr
                        let full = h = mr && w = nr
                        let out, ldOut = if full then NativePtr.add pc (cOff + i0 * ldc + j0), ldc else pTile, nr
                        if not full && accumulate then
                            for r in 0 .. h - 1 do Span(c, cOff + (i0 + r) * ldc + j0, w).CopyTo(Span<'T>(NativePtr.toVoidPtr (NativePtr.add pTile (r * nr)), w))
                        if bl.Wide then kernel512 kc panelA ars acs panelB out ldOut accumulate
                        else kernel256 kc panelA ars acs panelB out ldOut accumulate
                        if not full then
                            for r in 0 .. h - 1 do Span<'T>(NativePtr.toVoidPtr (NativePtr.add pTile (r * nr)), w).CopyTo(Span(c, cOff + (i0 + r) * ldc + j0, w))
                ic <- ic + bl.MC
            p0 <- p0 + bl.KC
        jc <- jc + bl.NC

// ---- Two threads ----------------------------------------------------------------------------------

/// Products of at least this many multiply-adds split C between two threads.
let parallelMinimum = 1L <<< 21

/// Where to cut a side of `total` elements into two parts on tile boundaries, or 0 when it has only one tile.
let private cut (total: int) (tile: int) =
    let first = (total / 2 + tile - 1) / tile * tile
    if first > 0 && first < total then first else 0

/// The two parts of a split product: set by the calling thread before the split, cleared after it (so
/// that the operands are not kept alive). One per calling thread and element type, so products on several
/// threads at once each have their own, and a repeated call allocates nothing (the halves' delegates are
/// made once).
[<Sealed; AllowNullLiteral>]
type private Halves<'T when 'T: unmanaged>() =
    inherit Partner.Halves()
    [<ThreadStatic; DefaultValue>] static val mutable private mine: Halves<'T>
    member val Blocking = Unchecked.defaultof<Blocking> with get, set
    member val Workspaces: Workspace<'T>[] = Array.zeroCreate 2
    member val A: View<'T>[] = Array.zeroCreate 2
    member val B: View<'T>[] = Array.zeroCreate 2
    member val C: 'T[] = null with get, set
    member val COff: int[] = Array.zeroCreate 2
    member val Ldc = 0 with get, set
    member val N: int[] = Array.zeroCreate 2
    member val K = 0 with get, set
    member val M: int[] = Array.zeroCreate 2

    override h.RunPart(part) = blocked h.Blocking h.Workspaces[part] h.A[part] h.B[part] h.C h.COff[part] h.Ldc h.N[part] h.K h.M[part]

    /// Runs both parts, the second on the partner thread when it is free, then lets go of the operands.
    member h.Run() =
        try h.Split()
        finally
            Array.Clear h.A
            Array.Clear h.B
            Array.Clear h.Workspaces
            h.C <- null

    /// The calling thread's.
    static member Mine =
        if isNull Halves<'T>.mine then Halves<'T>.mine <- Halves<'T>()
        Halves<'T>.mine

/// blocked, with C cut in two on tile boundaries (the longer side, so that each thread packs only its
/// part of the operand along it), each part with its own workspace. Every element is the same fma chain
/// whichever thread computes it, so the values equal blocked's. Zero when C has one tile along its longer
/// side; the caller then runs blocked alone.
let private splitCut (bl: Blocking) (n: int) (m: int) = if m >= n then cut m bl.NR else cut n bl.MR

let private split<'T when 'T: unmanaged> (bl: Blocking) (ws: Workspace<'T>) (ws2: Workspace<'T>) (a: View<'T>) (b: View<'T>) (c: 'T[]) (cOff: int) (n: int) (k: int) (m: int) =
    let h = Halves<'T>.Mine
    let at = splitCut bl n m
    h.Blocking <- bl
    h.Workspaces[0] <- ws
    h.Workspaces[1] <- ws2
    h.C <- c
    h.Ldc <- m
    h.K <- k
    h.A[0] <- a
    h.B[0] <- b
    h.COff[0] <- cOff
    if m >= n then
        h.N[0] <- n
        h.M[0] <- at
        h.A[1] <- a
        h.B[1] <- { b with Offset = b.Offset + at * b.ColStride }
        h.COff[1] <- cOff + at
        h.N[1] <- n
        h.M[1] <- m - at
    else
        h.N[0] <- at
        h.M[0] <- m
        h.A[1] <- { a with Offset = a.Offset + at * a.RowStride }
        h.B[1] <- b
        h.COff[1] <- cOff + at * m
        h.N[1] <- n - at
        h.M[1] <- m
    h.Run()

/// c[cOff ..] = A[n, k] · B[k, m] one element at a time in the same order as the micro-kernels, for
/// products too small to pack, machines without 256-bit SIMD, and strong zeros against non-finite
/// factors: with skipA (skipB) a term whose a (b) factor is exactly zero is left out.
let private direct<'T when 'T :> IFloatingPointIeee754<'T>> (skipA: bool) (skipB: bool) (a: View<'T>) (b: View<'T>) (c: 'T[]) (cOff: int) (n: int) (k: int) (m: int) =
    for i in 0 .. n - 1 do
        let row = cOff + i * m
        Span(c, row, m).Clear()
        for p in 0 .. k - 1 do
            let aip = a.Data[a.Offset + i * a.RowStride + p * a.ColStride]
            if not (skipA && 'T.IsZero aip) then
                let bRow = b.Offset + p * b.RowStride
                for j in 0 .. m - 1 do
                    let bpj = b.Data[bRow + j * b.ColStride]
                    if not (skipB && 'T.IsZero bpj) then c[row + j] <- 'T.FusedMultiplyAdd(aip, bpj, c[row + j])

/// The code paths of a product. Best takes the widest micro-kernel the machine accelerates, or the
/// scalar loop for products too small to pack; the others force one path (tests compare them).
[<RequireQualifiedAccess>]
type Path =
    | Best
    | Simd512
    | Simd256
    | Scalar

/// Below this many multiply-adds the packing costs more than it saves.
let private smallProduct = 4096L

/// C[batch] = op(A[batch]) · op(B[batch]) for every batch index of cDims' first cRank axes, A's and B's
/// batch axes (their first aRank and bRank) broadcast against it.
let private batched<'T when 'T: unmanaged and 'T :> IFloatingPointIeee754<'T>> (path: Path) (twoThreads: bool) (strongZero: StrongZero) (a: 'T[]) (aDims: int[]) (aRank: int) (transA: bool) (b: 'T[]) (bDims: int[]) (bRank: int) (transB: bool) (c: 'T[]) (cDims: int[]) (cRank: int) (n: int) (k: int) (m: int) =
    // Where the other factor is all finite, IEEE arithmetic already makes a zero factor contribute zero.
    let skipA = strongZero = StrongZero.Left && not (TensorPrimitives.IsFiniteAll(ReadOnlySpan b))
    let skipB = strongZero = StrongZero.Right && not (TensorPrimitives.IsFiniteAll(ReadOnlySpan a))
    let wide =
        match path with
        | Path.Best -> Vector512.IsHardwareAccelerated
        | p -> p = Path.Simd512
    let simd =
        not skipA && not skipB && k > 0
        && match path with
           | Path.Best -> Vector256.IsHardwareAccelerated && int64 n * int64 k * int64 m >= smallProduct
           | p -> p <> Path.Scalar
    if c.Length > 0 then
        let bl = blocking<'T> wide
        let halves = simd && twoThreads && Partner.available && int64 n * int64 k * int64 m >= parallelMinimum && splitCut bl n m > 0
        let ws = if simd then workspace<'T> bl n k m else Unchecked.defaultof<_>
        let ws2 = if halves then workspace<'T> bl n k m else Unchecked.defaultof<_>
        let rows = Broadcast.Rows.Rent()
        try
            rows.StartPrefix(cDims, cRank, aDims, aRank, bDims, bRank)
            let len = rows.RowLength
            let ia, ib = rows.Inner 0, rows.Inner 1
            for _ in 1 .. rows.RowCount do
                let o, oa, ob = rows.OutOffset, rows.Offset 0, rows.Offset 1
                for t in 0 .. len - 1 do
                    let av =
                        { Data = a; Offset = (oa + t * ia) * n * k
                          RowStride = (if transA then 1 else k); ColStride = (if transA then n else 1) }
                    let bv =
                        { Data = b; Offset = (ob + t * ib) * k * m
                          RowStride = (if transB then 1 else m); ColStride = (if transB then k else 1) }
                    let cOff = (o + t) * n * m
                    if halves then split bl ws ws2 av bv c cOff n k m
                    elif simd then blocked bl ws av bv c cOff m n k m
                    else direct skipA skipB av bv c cOff n k m
                rows.Advance()
        finally
            Broadcast.Rows.Return rows
            release ws
            release ws2

/// A 1-D left operand is a row [1, k] and a 1-D right operand a column [k, 1] (stored alike whether
/// or not they are marked transposed); out's shape is the broadcast batch, then n and m unless dropped.
let private product (path: Path) (twoThreads: bool) (strongZero: StrongZero) (transA: bool) (a: Tensor) (aDims: int[]) (transB: bool) (b: Tensor) (bDims: int[]) (out: Tensor) =
    let ra, rb = aDims.Length, bDims.Length
    let n, k =
        if ra = 1 then 1, aDims[0]
        elif transA then aDims[ra - 1], aDims[ra - 2]
        else aDims[ra - 2], aDims[ra - 1]
    let m = if rb = 1 then 1 elif transB then bDims[rb - 2] else bDims[rb - 1]
    let aBatch, bBatch = max 0 (ra - 2), max 0 (rb - 2)
    // out's shape starts with the broadcast batch axes, whether or not it keeps n and m.
    let cDims, cRank = out.Shape.Dims, max aBatch bBatch
    match a.Data, b.Data, out.Data with
    | (:? (float[]) as x), (:? (float[]) as y), (:? (float[]) as z) -> batched path twoThreads strongZero x aDims aBatch transA y bDims bBatch transB z cDims cRank n k m
    | (:? (float32[]) as x), (:? (float32[]) as y), (:? (float32[]) as z) -> batched path twoThreads strongZero x aDims aBatch transA y bDims bBatch transB z cDims cRank n k m
    | _ -> invalidOp (sprintf "matmul of %O is not supported" a.DType)

/// out = a @ b for float tensors [...batch, n, k] and [...batch, k, m]; a 1-D a is a row [1, k] and a
/// 1-D b a column [k, 1] (as given or viewed so); batch dimensions broadcast.
let matmul a aDims b bDims out = product Path.Best true StrongZero.Neither false a aDims false b bDims out

/// matmul, except that a product term whose b factor is exactly zero contributes exactly zero even
/// where its a factor is ±∞ or NaN: derivative rules put the cotangent in b.
let matmulNoNan a aDims b bDims out = product Path.Best true StrongZero.Right false a aDims false b bDims out

/// out = op(a) @ op(b) on a chosen path, without materialising a transpose: op(x) swaps x's last two
/// axes when its flag is set, so a is stored as [...batch, k, n] when transA (else [...batch, n, k])
/// and b as [...batch, m, k] when transB (else [...batch, k, m]); batch dimensions broadcast.
/// strongZero names the factor whose exact zeros contribute exactly zero against ±∞ and NaN (the
/// cotangent of a derivative rule: on the left in g @ bᵀ, on the right in aᵀ @ g). Every path gives
/// the same bits, equal to matmul of the materialised transposes. With twoThreads, a packed product of
/// at least parallelMinimum multiply-adds computes part of each C on the partner thread (Kernels/Partner.fs) (the same bits again).
let matmulVia (path: Path) (twoThreads: bool) (strongZero: StrongZero) (transA: bool) (a: Tensor) (aDims: int[]) (transB: bool) (b: Tensor) (bDims: int[]) (out: Tensor) =
    product path twoThreads strongZero transA a aDims transB b bDims out

/// matmulVia on the best path: the products of derivative rules (g @ bᵀ, aᵀ @ g) without transposes.
let matmulTransposed strongZero transA a aDims transB b bDims out = matmulVia Path.Best true strongZero transA a aDims transB b bDims out
