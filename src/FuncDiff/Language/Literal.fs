/// Tensor literals: the one grammar for constants written as text. The printer writes them
/// (`[[1, 2], [3, 4]]`, `-0`, `nan`, `-inf`, `true`) and this module reads them back, for the
/// expression parser, for Tensor.Parse and so for the command line, so one text means one tensor
/// everywhere. A literal is a number (`2`, `0.5`, `.5`, `1e-3`, `nan`, `inf`, with a `-` written
/// directly before it), `true`/`false`, or a rectangular nesting of brackets around them; numbers
/// and booleans do not mix, and `[]` has shape [0].
module internal FuncDiff.Core.Literal

open System
open System.Collections.Generic
open System.Globalization
open System.Text
open FuncDiff
open FuncDiff.Core.Primitives

let private inv = CultureInfo.InvariantCulture

/// A literal that cannot be read, at an offset of the text; readers turn it into a ParseException at
/// that line and column.
exception LiteralError of offset: int * reason: string

let private fail (offset: int) format = Printf.ksprintf (fun reason -> raise (LiteralError(offset, reason))) format

/// The 1-based line and column of an offset; columns count UTF-16 code units, as the parser's do.
let position (text: string) (offset: int) =
    let mutable line = 1
    let mutable lineStart = 0
    for i in 0 .. min offset text.Length - 1 do
        if text[i] = '\n' then
            line <- line + 1
            lineStart <- i + 1
    line, offset - lineStart + 1

// ---- Writing ------------------------------------------------------------------------------------

/// `nan` is the NaN that .NET's Double.NaN and Single.NaN hold (and that 0/0 gives on x86), `-nan`
/// its negation: they differ in the sign bit, and tensors compare bit for bit.
let private nanText (negated: bool) = if negated then Syntax.minus + "nan" else "nan"

let private finite (text: string) = text.Replace("E", "e")

/// The shortest text that reads back to the same float64: nan, -nan, inf, -inf, -0, 5e-324, 1e+21.
let float64Text (v: float) =
    if Double.IsNaN v then nanText (Double.IsNegative v <> Double.IsNegative Double.NaN)
    elif Double.IsPositiveInfinity v then "inf"
    elif Double.IsNegativeInfinity v then Syntax.minus + "inf"
    else finite (v.ToString("R", inv))

/// The shortest text that reads back to the same float32 when read as float32.
let float32Text (v: float32) =
    if Single.IsNaN v then nanText (Single.IsNegative v <> Single.IsNegative Single.NaN)
    elif Single.IsPositiveInfinity v then "inf"
    elif Single.IsNegativeInfinity v then Syntax.minus + "inf"
    else finite (v.ToString("R", inv))

/// Element i of a tensor's storage as literal text.
let private element (data: Array) (i: int) =
    match data with
    | :? (float[]) as a -> float64Text a[i]
    | :? (float32[]) as a -> float32Text a[i]
    | :? (int[]) as a -> a[i].ToString(inv)
    | :? (bool[]) as a -> if a[i] then "true" else "false"
    | _ -> invalidOp "unsupported tensor storage"

/// The literal of a tensor: a bare element for rank 0, nested brackets otherwise. It says nothing of
/// the dtype, and an empty tensor reads back as shape [0] (or [2, 0] for `[[], []]`); the printer
/// wraps constants that need it in cast or reshape.
let write (t: Tensor) =
    let dims = t.Shape.Dims
    if dims.Length = 0 then element t.Data 0
    else
        let sb = StringBuilder()
        let strides = ShapeMath.strides dims
        // Recursion as deep as the rank, which is small.
        let rec level axis offset =
            if axis = dims.Length then sb.Append(element t.Data offset) |> ignore
            else
                sb.Append('[') |> ignore
                for i in 0 .. dims[axis] - 1 do
                    if i > 0 then sb.Append(", ") |> ignore
                    level (axis + 1) (offset + i * strides[axis])
                sb.Append(']') |> ignore
        level 0 0
        sb.ToString()

// ---- Numbers ------------------------------------------------------------------------------------

let private isDigit (c: char) = c >= '0' && c <= '9'

/// The end of the unsigned number that starts at i (12, 1.5, 1., .5, 1e-3, 2.5E+3), or i when none
/// starts there. An exponent counts only when digits follow, so 2e is the number 2 and then the name e.
let scanNumber (text: string) (i: int) =
    let mutable j = i
    let digits () = while j < text.Length && isDigit text[j] do j <- j + 1
    if j < text.Length && (isDigit text[j] || (text[j] = '.' && j + 1 < text.Length && isDigit text[j + 1])) then
        digits ()
        if j < text.Length && text[j] = '.' then
            j <- j + 1
            digits ()
        if j < text.Length && (text[j] = 'e' || text[j] = 'E') then
            let mutable k = j + 1
            if k < text.Length && (text[k] = '+' || text[k] = '-') then k <- k + 1
            if k < text.Length && isDigit text[k] then
                j <- k
                digits ()
    j

let private wordEnd (text: string) (i: int) =
    let mutable j = i
    while j < text.Length && Syntax.isIdentifierPart text[j] do j <- j + 1
    j

/// True when a number's text has a non-zero digit before its exponent: it does not mean 0.
let private nonZero (body: string) =
    let mantissa = match body.IndexOfAny [| 'e'; 'E' |] with -1 -> body | k -> body.Substring(0, k)
    mantissa |> Seq.exists (fun c -> c >= '1' && c <= '9')

/// One element's text (a number, nan or inf, with any minus sign) read as a float of one width,
/// refusing a finite number the width would read as ±∞, or a non-zero one it would read as 0.
let inline private readFloat (dtype: DType) (parse: string -> ^T) (nan: ^T) (inf: ^T) (largest: string) (smallest: string) (offset: int) (text: string) : ^T =
    let negative = text.StartsWith Syntax.minus
    let body = if negative then text.Substring Syntax.minus.Length else text
    let v =
        match body with
        | "nan" -> nan
        | "inf" -> inf
        | _ ->
            let v = parse body
            if v = inf then fail offset "%s is out of range for %s (the largest %s is %s)" text dtype.Name dtype.Name largest
            if v = LanguagePrimitives.GenericZero && nonZero body then
                fail offset "%s is too small for %s, which would read it as 0 (the smallest positive %s is %s)" text dtype.Name dtype.Name smallest
            v
    if negative then -v else v

/// An element's text as float64; a LiteralError at offset when it is out of float64's range.
let float64At (offset: int) (text: string) : float =
    readFloat DType.Float64 (fun s -> Double.Parse(s, NumberStyles.Float, inv)) Double.NaN Double.PositiveInfinity
        (float64Text Double.MaxValue) (float64Text Double.Epsilon) offset text

/// An element's text read directly as float32 (not rounded through float64, which could round twice);
/// a LiteralError at offset when it is out of float32's range.
let float32At (offset: int) (text: string) : float32 =
    readFloat DType.Float32 (fun s -> Single.Parse(s, NumberStyles.Float, inv)) Single.NaN Single.PositiveInfinity
        (float32Text Single.MaxValue) (float32Text Single.Epsilon) offset text

/// An element's text as int32: a whole number in int32's range, else a LiteralError at offset.
let int32At (offset: int) (text: string) : int =
    let v = float64At offset text
    if Double.IsInteger v && v >= float Int32.MinValue && v <= float Int32.MaxValue then int v
    else fail offset "%s is not an int32 (a whole number from %d to %d)" text Int32.MinValue Int32.MaxValue

// ---- Reading ------------------------------------------------------------------------------------

/// A literal as written: each element's text (with any minus sign) and offset, the shape, and whether
/// it holds true/false rather than numbers. Texts are kept so that each dtype reads them directly.
type Literal =
    { Texts: string[]
      Offsets: int[]
      Dims: int[]
      IsBool: bool }

/// A rank-0 literal.
let scalar (text: string) (offset: int) (isBool: bool) = { Texts = [| text |]; Offsets = [| offset |]; Dims = [||]; IsBool = isBool }

/// What stands at an offset, for error messages: "the end of the input", "the number 12", "'x'", "']'".
let describe (text: string) (i: int) =
    if i >= text.Length then "the end of the input"
    else
        let n = scanNumber text i
        let c = text[i]
        if n > i then "the number " + text.Substring(i, n - i)
        elif Syntax.isIdentifierStart c then "'" + text.Substring(i, wordEnd text i - i) + "'"
        elif Char.IsControl c || Char.IsSurrogate c then sprintf "U+%04X" (int c)
        else sprintf "'%c'" c

/// The end of the element at i and whether it is true/false; the end is i when no element starts there.
let private scanElement (text: string) (i: int) =
    let unsigned j =
        let n = scanNumber text j
        if n > j then n
        elif j < text.Length && Syntax.isIdentifierStart text[j] then
            let e = wordEnd text j
            match text.Substring(j, e - j) with
            | "nan" | "inf" -> e
            | _ -> j
        else j
    if i < text.Length && text[i] = '-' then
        let e = unsigned (i + 1)
        (if e > i + 1 then e else i), false
    elif unsigned i > i then unsigned i, false
    elif i < text.Length && Syntax.isIdentifierStart text[i] then
        let e = wordEnd text i
        match text.Substring(i, e - i) with
        | "true" | "false" -> e, true
        | _ -> i, false
    else i, false

/// One open bracket of a literal being read.
type private Level =
    { Opening: int
      mutable Count: int
      mutable First: int[] option }

/// Reads the literal that starts at offset start (a number, true/false, or '['), with at most maxDepth
/// levels of brackets (the first bracket beyond them is a LiteralError saying tooDeep). Returns the
/// literal and the offset just after it. Brackets are tracked on an explicit stack, so no nesting
/// overflows the call stack.
let read (text: string) (start: int) (maxDepth: int) (tooDeep: string) : Literal * int =
    let texts = ResizeArray<string>()
    let offsets = ResizeArray<int>()
    let mutable isBool = None
    let levels = Stack<Level>()
    let mutable i = start
    let skipSpace () = while i < text.Length && Char.IsWhiteSpace text[i] do i <- i + 1
    let shapeText (dims: int[]) =
        if dims.Length > 0 then sprintf "a list of shape [%s]" (String.Join(", ", dims))
        elif isBool = Some true then "a boolean"
        else "a number"
    let element () =
        let stop, b = scanElement text i
        if stop = i then
            let found = describe text i
            if text.Length > i && text[i] = '-' && scanNumber text (i + 1) = i + 1 then
                let mutable j = i + 1
                while j < text.Length && Char.IsWhiteSpace text[j] do j <- j + 1
                if fst (scanElement text j) > j then fail i "write the '-' directly before its number, as in -2"
            if levels.Count = 0 then fail i "expected a number, true, false or a tensor literal, found %s" found
            else
                fail i "expected a number, true or false in the tensor literal, found %s (a tensor literal holds constants; join expressions with %s)"
                    found Structural.stackP.Name
        match isBool with
        | None -> isBool <- Some b
        | Some kind when kind <> b -> fail i "a tensor literal cannot mix true/false with numbers"
        | Some _ -> ()
        texts.Add(text.Substring(i, stop - i))
        offsets.Add i
        i <- stop
    // Read one item (an element, or a bracket and everything in it), then put each finished item into
    // the level around it, until the outermost one is finished.
    let mutable finished = None
    let mutable needItem = true
    let mutable child = [||]
    let mutable childStart = i
    while finished.IsNone do
        if needItem then
            childStart <- i
            if i < text.Length && text[i] = '[' then
                if levels.Count >= maxDepth then fail i "%s" tooDeep
                levels.Push { Opening = i; Count = 0; First = None }
                i <- i + 1
                skipSpace ()
                if i < text.Length && text[i] = ']' then
                    levels.Pop() |> ignore
                    i <- i + 1
                    child <- [| 0 |]
                    needItem <- false
            else
                element ()
                child <- [||]
                needItem <- false
        elif levels.Count = 0 then finished <- Some child
        else
            let level = levels.Peek()
            match level.First with
            | None -> level.First <- Some child
            | Some first when first <> child ->
                fail childStart "ragged tensor literal: %s where the first element is %s" (shapeText child) (shapeText first)
            | Some _ -> ()
            level.Count <- level.Count + 1
            skipSpace ()
            if i < text.Length && text[i] = ',' then
                i <- i + 1
                skipSpace ()
                needItem <- true
            elif i < text.Length && text[i] = ']' then
                i <- i + 1
                levels.Pop() |> ignore
                child <- Array.append [| level.Count |] level.First.Value
                childStart <- level.Opening
            else
                let line, column = position text level.Opening
                fail i "expected ',' or ']' in the tensor literal (the '[' is at %d:%d), found %s" line column (describe text i)
    { Texts = texts.ToArray(); Offsets = offsets.ToArray(); Dims = finished.Value; IsBool = (isBool = Some true) }, i

/// The literal as a tensor of exactly this dtype: floats read at their own width and refused out of
/// range, int32 only from whole numbers in range, bool only from true/false.
let toTensor (dtype: DType) (lit: Literal) : Tensor =
    let n = lit.Texts.Length
    if n > 0 && lit.IsBool <> (dtype = DType.Bool) then
        if lit.IsBool then fail lit.Offsets[0] "expected a number in a %s tensor, found %s" dtype.Name lit.Texts[0]
        else fail lit.Offsets[0] "expected true or false in a bool tensor, found %s" lit.Texts[0]
    let each (read: int -> string -> 'T) = Tensor.ofData lit.Dims (Array.init n (fun k -> read lit.Offsets[k] lit.Texts[k]))
    match dtype with
    | DType.Float64 -> each float64At
    | DType.Float32 -> each float32At
    | DType.Int32 -> each int32At
    | DType.Bool -> each (fun _ t -> t = "true")

/// A whole text as one tensor literal: numbers as the given dtype (float64 when none is given, with
/// true/false as bool). Every failure is a ParseException with its line and column.
let parse (dtype: DType option) (text: string) : Tensor =
    try
        let mutable i = 0
        while i < text.Length && Char.IsWhiteSpace text[i] do i <- i + 1
        let lit, stop = read text i Syntax.maxNesting (sprintf "tensor literal nested too deeply (more than %d levels)" Syntax.maxNesting)
        let mutable j = stop
        while j < text.Length && Char.IsWhiteSpace text[j] do j <- j + 1
        if j < text.Length then fail j "expected the end of the text after the tensor literal, found %s" (describe text j)
        let dtype = dtype |> Option.defaultValue (if lit.IsBool then DType.Bool else DType.Float64)
        toTensor dtype lit
    with LiteralError (offset, reason) ->
        let line, column = position text offset
        raise (ParseException(reason, line, column))
