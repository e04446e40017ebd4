/// NumPy-like text for tensors: nested brackets, aligned columns, long axes summarised with "...".
module internal FuncDiff.Core.Format

open System
open System.Globalization
open System.Text
open FuncDiff

let private inv = CultureInfo.InvariantCulture

/// nan, inf and -inf as the language writes them; None for a finite value.
let special (v: float) =
    if Double.IsNaN v then Some "nan" elif Double.IsPositiveInfinity v then Some "inf" elif Double.IsNegativeInfinity v then Some "-inf" else None

/// A number for a message, every digit kept (it reads back to the same float).
let number (v: float) = match special v with Some s -> s | None -> v.ToString("R", inv).Replace("E", "e")

/// Axes longer than this many elements are shown as their first and last `edge` entries.
let private summariseAbove = 1000
let private edge = 3

/// NumPy's display rule for the floats on show: at most 8 decimals, each value with as many as it
/// needs, aligned on the decimal point; scientific notation (digits shared by all) when values are
/// huge, tiny or far apart.
let private floatDisplay (shown: float seq) : float -> string =
    let finite = shown |> Seq.filter Double.IsFinite |> Seq.map abs |> Seq.toArray
    let maxAbs = if finite.Length = 0 then 0.0 else Array.max finite
    let nonzero = finite |> Array.filter (fun v -> v > 0.0)
    let minAbs = if nonzero.Length = 0 then 0.0 else Array.min nonzero
    let scientific = maxAbs >= 1e8 || (minAbs > 0.0 && (minAbs < 1e-4 || maxAbs / minAbs > 1e3))
    // The fewest digits (up to 8) that show v as precisely as 8 would.
    let needed (fmt: int -> string) =
        [ 0 .. 8 ] |> List.find (fun d -> Double.Parse(fmt d, inv) = Double.Parse(fmt 8, inv))
    if scientific then
        let digits = finite |> Array.map (fun v -> needed (fun d -> v.ToString("E" + string d, inv))) |> Array.fold max 0
        fun v ->
            match special v with
            | Some s -> s
            | None ->
                let text = v.ToString("E" + string digits, inv)
                let mantissa, exponent = text.Substring(0, text.IndexOf 'E'), int (text.Substring(text.IndexOf 'E' + 1))
                let mantissa = if digits = 0 then mantissa + "." else mantissa
                sprintf "%se%s%02d" mantissa (if exponent < 0 then "-" else "+") (abs exponent)
    else
        // Each value with the digits it needs, padded on the right so the decimal points line up.
        let decimals = finite |> Array.map (fun v -> needed (fun d -> v.ToString("F" + string d, inv))) |> Array.fold max 0
        fun v ->
            match special v with
            | Some s -> s
            | None ->
                let own = needed (fun d -> v.ToString("F" + string d, inv))
                let text = if own = 0 then v.ToString("F0", inv) + "." else v.ToString("F" + string own, inv)
                text.PadRight(text.Length + decimals - own)

/// The display text of each shown element.
let private displayer (data: Array) (shown: int seq) : int -> string =
    match data with
    | :? (float[]) as a ->
        let f = floatDisplay (shown |> Seq.map (fun i -> a[i]))
        fun i -> f a[i]
    | :? (float32[]) as a ->
        let f = floatDisplay (shown |> Seq.map (fun i -> float a[i]))
        fun i -> f (float a[i])
    | :? (int[]) as a -> fun i -> a[i].ToString(inv)
    | :? (bool[]) as a -> fun i -> if a[i] then "true" else "false"
    | _ -> invalidOp "unsupported tensor storage"

/// Writes a row-major array with the given dimensions as nested brackets after a prefix like "tensor(".
let nested (prefix: string) (dims: int[]) (data: Array) =
    let size = Array.fold (*) 1 dims
    let summarise = size > summariseAbove
    let strides = Array.zeroCreate dims.Length
    let mutable acc = 1
    for i in dims.Length - 1 .. -1 .. 0 do
        strides[i] <- acc
        acc <- acc * dims[i]
    // Indices shown along an axis; -1 marks the "..." gap.
    let shown (n: int) =
        if summarise && n > 2 * edge then Array.append [| 0 .. edge - 1 |] (Array.append [| -1 |] [| n - edge .. n - 1 |])
        else [| 0 .. n - 1 |]
    // The flat offsets that will be printed, to choose one format and one column width for all.
    let offsets = ResizeArray<int>()
    let rec collect axis offset =
        if axis = dims.Length then offsets.Add offset
        else
            for i in shown dims[axis] do
                if i >= 0 then collect (axis + 1) (offset + i * strides[axis])
    if size > 0 then collect 0 0
    let display = displayer data offsets
    let width = offsets |> Seq.fold (fun w o -> max w (display o).Length) 0
    let sb = StringBuilder(prefix)
    let indent = prefix.Length
    let rec write axis offset =
        if axis = dims.Length then
            sb.Append((display offset).PadLeft width) |> ignore
        else
            sb.Append('[') |> ignore
            let items = shown dims[axis]
            items |> Array.iteri (fun k i ->
                if k > 0 then
                    if axis = dims.Length - 1 then sb.Append(", ") |> ignore
                    else
                        sb.Append(',') |> ignore
                        // A blank line between blocks of rank >= 2, as NumPy does.
                        for _ in 1 .. dims.Length - axis - 1 do sb.Append('\n') |> ignore
                        sb.Append(' ', indent + axis + 1) |> ignore
                if i < 0 then sb.Append("...") |> ignore
                else write (axis + 1) (offset + i * strides[axis]))
            sb.Append(']') |> ignore
    write 0 0
    sb.ToString()

/// The text of a tensor: tensor([[1., 2.], [3., 4.]]) with a dtype note unless float64.
let tensor (dims: int[]) (dtypeName: string) (data: Array) =
    let size = Array.fold (*) 1 dims
    let body =
        if size = 0 then sprintf "tensor([], shape=%s" ("[" + String.Join(", ", dims) + "]")
        else nested "tensor(" dims data
    let dtypeNote = if dtypeName = "float64" then "" else ", dtype=" + dtypeName
    body + dtypeNote + ")"
