/// Walking the rows of a NumPy broadcast. Every elementwise kernel with more than one input goes
/// through here: adjacent axes that broadcast alike are merged, so the innermost row is as long as
/// possible and each row is handed to a span kernel (SIMD) in one call.
module internal FuncDiff.Core.Kernels.Broadcast

open FuncDiff

/// Calls body outOffset inOffsets rowLength innerStrides once per output row. innerStrides[k] is 1
/// when input k runs along the row and 0 when it is broadcast along it (the same for every row).
let rows (outDims: int[]) (inDims: int[][]) (body: int -> int[] -> int -> int[] -> unit) =
    let rank = outDims.Length
    let n = inDims.Length
    // Strides of each input aligned to the output's axes; 0 where the input is broadcast.
    let strides =
        inDims |> Array.map (fun dims ->
            let s = Array.zeroCreate rank
            let mutable acc = 1
            for i in rank - 1 .. -1 .. 0 do
                let j = i - (rank - dims.Length)
                let d = if j >= 0 then dims[j] else 1
                if d = outDims[i] && d <> 1 then s[i] <- acc
                acc <- acc * d
            s)
    // Merge axis i into i+1 while every input is contiguous across the pair (or broadcast across both).
    let dims = ResizeArray<int>()
    let merged = Array.init n (fun _ -> ResizeArray<int>())
    for i in 0 .. rank - 1 do
        let d = outDims[i]
        if d <> 1 then
            let mutable canMerge = dims.Count > 0
            if canMerge then
                for k in 0 .. n - 1 do
                    if merged[k][merged[k].Count - 1] <> strides[k][i] * d then canMerge <- false
            if canMerge then
                dims[dims.Count - 1] <- dims[dims.Count - 1] * d
                for k in 0 .. n - 1 do merged[k][merged[k].Count - 1] <- strides[k][i]
            else
                dims.Add d
                for k in 0 .. n - 1 do merged[k].Add(strides[k][i])
    let total = Array.fold (*) 1 outDims
    if total = 0 then ()
    elif dims.Count = 0 then body 0 (Array.zeroCreate n) 1 (Array.zeroCreate n)
    else
        let r = dims.Count
        let rowLength = dims[r - 1]
        let inner = Array.init n (fun k -> if merged[k][r - 1] = 0 then 0 else 1)
        let offsets = Array.zeroCreate n
        let index = Array.zeroCreate (r - 1)
        let rowCount = total / rowLength
        let mutable outOffset = 0
        for _ in 1 .. rowCount do
            body outOffset offsets rowLength inner
            outOffset <- outOffset + rowLength
            // Odometer over the outer axes, updating every input offset incrementally.
            let mutable axis = r - 2
            let mutable carry = true
            while carry && axis >= 0 do
                index[axis] <- index[axis] + 1
                for k in 0 .. n - 1 do offsets[k] <- offsets[k] + merged[k][axis]
                if index[axis] = dims[axis] then
                    for k in 0 .. n - 1 do offsets[k] <- offsets[k] - merged[k][axis] * dims[axis]
                    index[axis] <- 0
                    axis <- axis - 1
                else carry <- false
