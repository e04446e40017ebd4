/// Element-level reading of tensors for diagnostics: indices, broadcasting back to an input, short texts.
module internal FuncDiff.Core.Clinic.Elements

open System
open FuncDiff
open FuncDiff.Core

/// The machine epsilon of a float dtype (2⁻⁵² for float64, 2⁻²³ for float32).
let epsilon (d: DType) = if d = DType.Float32 then Math.Pow(2.0, -23.0) else Math.Pow(2.0, -52.0)

/// "[1, 2]" for flat index 5 of shape [2, 3]; "[]" for a scalar.
let indexText (shape: Shape) (flat: int) =
    let dims = shape.ToArray()
    let idx = Array.zeroCreate dims.Length
    let mutable rest = flat
    for k in dims.Length - 1 .. -1 .. 0 do
        idx[k] <- rest % dims[k]
        rest <- rest / dims[k]
    "[" + String.Join(", ", idx) + "]"

/// The flat index in an input of shape `input` that element `flat` of a broadcast result of shape
/// `output` reads.
let broadcastIndex (output: Shape) (input: Shape) (flat: int) =
    let o = output.ToArray()
    let i = input.ToArray()
    let mutable rest = flat
    let mutable index = 0
    let mutable stride = 1
    for k in o.Length - 1 .. -1 .. 0 do
        let coordinate = rest % o[k]
        rest <- rest / o[k]
        let j = k - (o.Length - i.Length)
        if j >= 0 then
            if i[j] <> 1 then index <- index + coordinate * stride
            stride <- stride * i[j]
    index

/// A number for a message: four significant digits; nan, inf and -inf as the language writes them.
let number (v: float) =
    match Format.special v with
    | Some s -> s
    | None -> v.ToString("G4", Globalization.CultureInfo.InvariantCulture).Replace("E", "e")

/// One element for a message.
let element (t: Tensor) (i: int) =
    match t.Data with
    | :? (bool[]) as a -> if a[i] then "true" else "false"
    | :? (int[]) as a -> string a[i]
    | _ -> number (t.ToFloat64Array()[i])

/// A tensor as a short literal: all elements up to six, else the first five and "…".
let short (t: Tensor) =
    if t.Shape.Rank = 0 then element t 0
    else
        let shown = [ for i in 0 .. min t.Size 6 - 1 -> element t i ]
        let shown = if t.Size > 6 then shown[.. 4] @ [ "…" ] else shown
        "[" + String.Join(", ", shown) + "]"

/// "75%", "66.7%"; a share that is not zero but rounds to 0% is "<0.1%", one that is not all but rounds
/// to 100% is ">99.9%".
let percent (fraction: float) =
    let text = (100.0 * fraction).ToString("0.#", Globalization.CultureInfo.InvariantCulture)
    if fraction > 0.0 && text = "0" then "<0.1%"
    elif fraction < 1.0 && text = "100" then ">99.9%"
    else text + "%"

/// "3 of 4 elements (75%)".
let share (count: int) (size: int) =
    sprintf "%d of %d element%s (%s)" count size (if size = 1 then "" else "s") (percent (float count / float size))

let isNonFinite (v: float) = not (Double.IsFinite v)
