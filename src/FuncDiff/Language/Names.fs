/// "Did you mean …?": the one rule for suggesting a name in place of a misspelt one, used by the
/// parser (functions, inputs, dtypes), the C# facade and the command line.
module internal FuncDiff.Core.Names

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours
/// (lgo → log is one edit).
let private distance (a: string) (b: string) =
    let d = Array2D.zeroCreate (a.Length + 1) (b.Length + 1)
    for i in 0 .. a.Length do d[i, 0] <- i
    for j in 0 .. b.Length do d[0, j] <- j
    for i in 1 .. a.Length do
        for j in 1 .. b.Length do
            let cost = if a[i - 1] = b[j - 1] then 0 else 1
            let mutable v = min (min (d[i - 1, j] + 1) (d[i, j - 1] + 1)) (d[i - 1, j - 1] + cost)
            if i > 1 && j > 1 && a[i - 1] = b[j - 2] && a[i - 2] = b[j - 1] then v <- min v (d[i - 2, j - 2] + 1)
            d[i, j] <- v
    d[a.Length, b.Length]

/// The candidate closest to a misspelt name, when it is close enough to be what was meant: at most
/// 1 edit for names of up to 3 letters, 2 up to 6, 3 beyond, and fewer edits than letters (so a
/// one-letter name does not suggest every other one). Case is ignored, so logsoftmax finds logSoftmax;
/// ties go to the earlier candidate; names longer than 64 letters get no suggestion (the distance is
/// quadratic in the length).
let closest (name: string) (candidates: seq<string>) =
    if isNull name || name.Length > 64 then None
    else
        let limit = if name.Length <= 3 then 1 elif name.Length <= 6 then 2 else 3
        let lower = name.ToLowerInvariant()
        candidates
        |> Seq.filter (fun c -> not (isNull c) && c.Length <= 64)
        |> Seq.map (fun c -> c, distance lower (c.ToLowerInvariant()))
        |> Seq.filter (fun (_, d) -> d <= limit && d < name.Length)
        |> Seq.sortBy snd
        |> Seq.tryHead
        |> Option.map fst

/// " (did you mean 'x'?)" for a suggestion, "" for none: how every message appends one.
let didYouMean (suggestion: string option) =
    match suggestion with
    | Some s -> sprintf " (did you mean '%s'?)" s
    | None -> ""
