/// Walking the rows of a NumPy broadcast. Every elementwise kernel with more than one input goes
/// through here: adjacent axes that broadcast alike are merged, so the innermost row is as long as
/// possible and each row is handed to a span kernel (SIMD) in one call.
module internal FuncDiff.Core.Kernels.Broadcast

open System
open FuncDiff

let private pick (k: int) (a: 'T) (b: 'T) (c: 'T) = if k = 0 then a elif k = 1 then b else c

/// The rows of out's shape and the offsets of up to three broadcast inputs in each. Reused across
/// calls, so walking allocates nothing: take one with Rows.Rent and give it back with Rows.Return.
/// Usage: Start, then RowCount times read OutOffset, Offset k and Inner k and call Advance.
[<Sealed; AllowNullLiteral>]
type Rows private () =
    // One thread's spare walker: a kernel running inside another's walk (none does today) gets a new one.
    [<ThreadStatic; DefaultValue>]
    static val mutable private spare: Rows

    let mutable capacity = 0
    let mutable n = 0
    let mutable r = 0
    // dims[axis]; steps[k * capacity + axis]: input k's stride along the merged axis (0 where broadcast).
    let mutable dims: int[] = [||]
    let mutable steps: int[] = [||]
    let mutable index: int[] = [||]
    let offsets: int[] = Array.zeroCreate 3
    let inner: int[] = Array.zeroCreate 3
    let mutable rowLength = 0
    let mutable rowCount = 0
    let mutable outOffset = 0

    static member Rent() =
        let w = Rows.spare
        if isNull w then Rows()
        else
            Rows.spare <- null
            w

    static member Return(w: Rows) = Rows.spare <- w

    /// Plans the walk of outDims for the inputs' dims (c may be null: two inputs; b and c null: one).
    member w.Start(outDims: int[], a: int[], b: int[], c: int[]) =
        let len (x: int[]) = if isNull x then 0 else x.Length
        w.Plan(outDims, outDims.Length, a, len a, b, len b, c, len c)

    /// Start over the first outRank axes of outDims and the first aRank, bRank axes of a and b.
    member w.StartPrefix(outDims: int[], outRank: int, a: int[], aRank: int, b: int[], bRank: int) =
        w.Plan(outDims, outRank, a, aRank, b, bRank, null, 0)

    member private _.Plan(outDims: int[], rank: int, a: int[], aRank: int, b: int[], bRank: int, c: int[], cRank: int) =
        n <- (if isNull b then 1 elif isNull c then 2 else 3)
        if capacity < rank then
            capacity <- max rank 8
            dims <- Array.zeroCreate capacity
            steps <- Array.zeroCreate (3 * capacity)
            index <- Array.zeroCreate capacity
        r <- 0
        let mutable total = 1
        // The stride of input k along output axis i: its running size when it runs along i, else 0.
        let mutable acc0 = 1
        let mutable acc1 = 1
        let mutable acc2 = 1
        // Axes are visited innermost first and merged into the row being built, then reversed.
        for i in rank - 1 .. -1 .. 0 do
            let d = outDims[i]
            total <- total * d
            if d <> 1 then
                let mutable canMerge = r > 0
                for k in 0 .. n - 1 do
                    let x = pick k a b c
                    let j = i - (rank - pick k aRank bRank cRank)
                    let dk = if j >= 0 then x[j] else 1
                    let acc = if k = 0 then acc0 elif k = 1 then acc1 else acc2
                    let s = if dk = d then acc else 0
                    // Merge axis i into the outer end of the current group while every input stays
                    // contiguous across the pair (or broadcast across both).
                    if canMerge then
                        let prev = steps[k * capacity + r - 1]
                        let prevSize = dims[r - 1]
                        if s <> prev * prevSize && not (s = 0 && prev = 0) then canMerge <- false
                    if k = 0 then acc0 <- acc0 * dk elif k = 1 then acc1 <- acc1 * dk else acc2 <- acc2 * dk
                    // Scratch: the new axis's stride goes one past the group for now.
                    steps[k * capacity + r] <- s
                if canMerge then dims[r - 1] <- dims[r - 1] * d
                else
                    dims[r] <- d
                    r <- r + 1
            else
                for k in 0 .. n - 1 do
                    let x = pick k a b c
                    let j = i - (rank - pick k aRank bRank cRank)
                    let dk = if j >= 0 then x[j] else 1
                    if k = 0 then acc0 <- acc0 * dk elif k = 1 then acc1 <- acc1 * dk else acc2 <- acc2 * dk
        // Innermost group first so far: reverse into outermost-first order.
        for g in 0 .. r / 2 - 1 do
            let h = r - 1 - g
            let t = dims[g]
            dims[g] <- dims[h]
            dims[h] <- t
            for k in 0 .. n - 1 do
                let t = steps[k * capacity + g]
                steps[k * capacity + g] <- steps[k * capacity + h]
                steps[k * capacity + h] <- t
        outOffset <- 0
        Array.Clear offsets
        if total = 0 then
            rowCount <- 0
            rowLength <- 0
        elif r = 0 then
            rowCount <- 1
            rowLength <- 1
            Array.Clear inner
        else
            rowLength <- dims[r - 1]
            rowCount <- total / rowLength
            for k in 0 .. n - 1 do inner[k] <- if steps[k * capacity + r - 1] = 0 then 0 else 1
            Array.Clear(index, 0, r)

    member _.RowCount = rowCount
    member _.RowLength = rowLength
    member _.OutOffset = outOffset
    /// Input k's offset at the start of the current row.
    member _.Offset(k: int) = offsets[k]
    /// 1 when input k runs along the row, 0 when it is broadcast along it (the same for every row).
    member _.Inner(k: int) = inner[k]

    /// Moves to the next row: an odometer over the outer axes, updating every input offset incrementally.
    member _.Advance() =
        outOffset <- outOffset + rowLength
        let mutable axis = r - 2
        let mutable carry = true
        while carry && axis >= 0 do
            index[axis] <- index[axis] + 1
            for k in 0 .. n - 1 do offsets[k] <- offsets[k] + steps[k * capacity + axis]
            if index[axis] = dims[axis] then
                for k in 0 .. n - 1 do offsets[k] <- offsets[k] - steps[k * capacity + axis] * dims[axis]
                index[axis] <- 0
                axis <- axis - 1
            else carry <- false
