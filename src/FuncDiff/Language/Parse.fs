/// Text to expressions, the inverse of Print: parsing a printed expression gives an equal expression.
/// Table-driven: operators come from the catalogue entries' notations, functions from the registry
/// by name, keyword attributes from each entry's attribute specs, and every application is built with
/// Rules.apply, so a shape or dtype error is the catalogue's own message, placed at the operator or
/// the call. Recursive descent with a depth limit: deep nesting is an error, never a stack overflow.
module internal FuncDiff.Core.Parse

open System
open System.Collections.Generic
open System.Globalization
open System.Runtime.CompilerServices
open FuncDiff
open FuncDiff.Core.Primitives

// ---- Tokens -------------------------------------------------------------------------------------

type private Kind =
    /// An unsigned number: 12, 1.5, 1e-3 (a sign is an operator or part of a negative literal).
    | Number
    /// An identifier or a reserved word.
    | Word
    /// An operator or a punctuation mark.
    | Symbol
    | End

type private Token =
    { Kind: Kind
      Text: string
      Offset: int
      Line: int
      Column: int }

let private describe (t: Token) =
    match t.Kind with
    | End -> "the end of the input"
    | Number -> "the number " + t.Text
    | Word | Symbol -> "'" + t.Text + "'"

/// Raises a ParseException at a token.
let private failAt (t: Token) format =
    Printf.ksprintf (fun message -> raise (ParseException(message, t.Line, t.Column))) format

/// Raises a ParseException at a token whose cause is an error of another kind (kept as InnerException),
/// so a caller can tell a text that does not fit its inputs from one that is malformed.
let private failWith (t: Token) (cause: exn) =
    raise (ParseException(cause.Message, t.Line, t.Column, cause))

/// symbol → entry (and precedence) for one notation; two entries with one symbol are a catalogue bug.
let private notationTable (pick: Notation -> (string * int) option) =
    let table = Dictionary<string, Primitive * int>()
    for p in Registry.all do
        match pick p.Notation with
        | Some (symbol, precedence) ->
            if table.ContainsKey symbol then invalidOp (sprintf "two catalogue entries are written '%s'" symbol)
            table[symbol] <- (p, precedence)
        | None -> ()
    table

let private infixTable = notationTable (function Infix (s, p) -> Some (s, p) | _ -> None)
let private prefixTable = notationTable (function Prefix (s, p) -> Some (s, p) | _ -> None)

let private lookup (table: Dictionary<string, Primitive * int>) (t: Token) =
    match t.Kind, table.TryGetValue t.Text with
    | Symbol, (true, entry) -> Some entry
    | _ -> None

/// Every symbol the lexer knows, longest first so that <= is read before <.
let private symbols =
    Seq.concat [ seq [ "("; ")"; "["; "]"; ","; "=" ]; infixTable.Keys :> seq<_>; prefixTable.Keys :> seq<_> ]
    |> Seq.distinct
    |> Seq.sortByDescending String.length
    |> Array.ofSeq

let private isDigit (c: char) = c >= '0' && c <= '9'

let private tokenize (text: string) : Token[] =
    let tokens = ResizeArray<Token>()
    let mutable i = 0
    let mutable line = 1
    let mutable lineStart = 0
    let add kind start =
        tokens.Add { Kind = kind; Text = text.Substring(start, i - start); Offset = start; Line = line; Column = start - lineStart + 1 }
    let skipDigits () = while i < text.Length && isDigit text[i] do i <- i + 1
    while i < text.Length do
        let c = text[i]
        let start = i
        if c = '\n' then
            i <- i + 1
            line <- line + 1
            lineStart <- i
        elif Char.IsWhiteSpace c then i <- i + 1
        elif isDigit c || (c = '.' && i + 1 < text.Length && isDigit text[i + 1]) then
            skipDigits ()
            if i < text.Length && text[i] = '.' then
                i <- i + 1
                skipDigits ()
            // An exponent only when digits follow, so 2e is the number 2 and the name e.
            if i < text.Length && (text[i] = 'e' || text[i] = 'E') then
                let mutable j = i + 1
                if j < text.Length && (text[j] = '+' || text[j] = '-') then j <- j + 1
                if j < text.Length && isDigit text[j] then
                    i <- j
                    skipDigits ()
            add Number start
        elif Syntax.isIdentifierStart c then
            while i < text.Length && Syntax.isIdentifierPart text[i] do i <- i + 1
            add Word start
        else
            match symbols |> Array.tryFind (fun s -> String.CompareOrdinal(text, i, s, 0, s.Length) = 0) with
            | Some s ->
                i <- i + s.Length
                add Symbol start
            | None ->
                let shown = if Char.IsControl c || Char.IsSurrogate c then sprintf "U+%04X" (int c) else sprintf "'%c'" c
                failAt { Kind = End; Text = ""; Offset = i; Line = line; Column = i - lineStart + 1 } "unexpected character %s" shown
    add End i
    tokens.ToArray()

// ---- Literals -----------------------------------------------------------------------------------

/// A literal as written: its elements' texts (with any minus sign), its shape, and whether it holds
/// true/false rather than numbers.
type private Literal = { Texts: string[]; Dims: int[]; IsBool: bool }

/// Whether a cast or reshape around an operand folds into one constant.
type private Fold =
    /// Not a literal, or a literal in parentheses: cast and reshape apply as usual.
    | NoFold
    /// A literal written directly: cast and reshape fold.
    | Bare
    /// reshape(literal, shape=…), already folded: a cast around it folds too.
    | Reshaped

/// A parsed operand: its node, and what is still known about the literal it was written as.
type private Operand =
    { Node: Node
      /// The literal, when the operand was written as one (parentheses keep it; a cast drops it).
      Literal: Literal option
      Fold: Fold }

/// One element's text (a number, nan or inf, with any minus sign) as a float of one width.
let inline private readFloat (parse: string -> ^T) (nan: ^T) (inf: ^T) (text: string) : ^T =
    let negative = text.StartsWith Syntax.minus
    let body = if negative then text.Substring Syntax.minus.Length else text
    let v =
        match body with
        | "nan" -> nan
        | "inf" -> inf
        | _ -> parse body
    if negative then -v else v

let private float64Of = readFloat (fun s -> Double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)) Double.NaN Double.PositiveInfinity
let private float32Of = readFloat (fun s -> Single.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)) Single.NaN Single.PositiveInfinity

/// The literal as a tensor of a dtype. Float32 elements are read from their text, not rounded through
/// float64 (the printer writes the shortest text that reads back as the same float32); other dtypes
/// convert the way the cast primitive does.
let private tensorOf (lit: Literal) (dtype: DType) =
    if lit.IsBool then Tensor.cast dtype (Tensor.ofData lit.Dims (lit.Texts |> Array.map (fun t -> t = "true")))
    elif dtype = DType.Float32 then Tensor.ofData lit.Dims (lit.Texts |> Array.map float32Of)
    else Tensor.cast dtype (Tensor.ofData lit.Dims (lit.Texts |> Array.map float64Of))

let private literalOperand (lit: Literal) =
    { Node = Rules.constant (tensorOf lit (if lit.IsBool then DType.Bool else DType.Float64))
      Literal = Some lit
      Fold = Bare }

let private scalarLiteral (text: string) (isBool: bool) = literalOperand { Texts = [| text |]; Dims = [||]; IsBool = isBool }

let private operandOf (n: Node) = { Node = n; Literal = None; Fold = NoFold }

/// A numeric literal written without a dtype takes the dtype of the other operands (weak typing).
let private isWeak (a: Operand) = match a.Literal with Some lit -> not lit.IsBool | None -> false

/// A weak literal in another numeric dtype: any float dtype, or int32 when every element is an integer in range.
let private weakly (lit: Literal) (dtype: DType) =
    let fitsInt32 (t: string) =
        let v = float64Of t
        Double.IsInteger v && v >= float Int32.MinValue && v <= float Int32.MaxValue
    match dtype with
    | DType.Float64 | DType.Float32 -> Some (tensorOf lit dtype)
    | DType.Int32 when Array.forall fitsInt32 lit.Texts -> Some (tensorOf lit dtype)
    | _ -> None

/// The arguments with their weak literals converted to the dtype of the first other numeric argument,
/// when that changes any of them and every conversion keeps the values.
let private retyped (args: Operand list) =
    match args |> List.tryFind (fun a -> not (isWeak a) && a.Node.DType.IsNumeric) with
    | None -> None
    | Some typed ->
        let dtype = typed.Node.DType
        let converts (a: Operand) = isWeak a && a.Node.DType <> dtype
        if not (List.exists converts args) then None
        else
            let nodes = args |> List.map (fun a -> if converts a then weakly a.Literal.Value dtype |> Option.map Rules.constant else Some a.Node)
            if List.forall Option.isSome nodes then Some (List.choose id nodes) else None

// ---- Suggestions --------------------------------------------------------------------------------

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

/// The candidate closest to a misspelt name, when it is close enough to be what was meant; case is
/// ignored, so logsoftmax finds logSoftmax. Ties go to the earlier candidate.
let private suggest (name: string) (candidates: seq<string>) =
    if name.Length > 64 then None
    else
        let limit = if name.Length <= 3 then 1 elif name.Length <= 6 then 2 else 3
        let lower = name.ToLowerInvariant()
        candidates
        |> Seq.map (fun c -> c, distance lower (c.ToLowerInvariant()))
        // Fewer edits than letters, so a one-letter name does not suggest every other one.
        |> Seq.filter (fun (_, d) -> d <= limit && d < name.Length)
        |> Seq.sortBy snd
        |> Seq.tryHead
        |> Option.map fst

let private didYouMean (suggestion: string option) =
    match suggestion with
    | Some s -> sprintf " (did you mean '%s'?)" s
    | None -> ""

let private functionNames = Registry.all |> List.map (fun p -> p.Name)

// ---- Parser -------------------------------------------------------------------------------------

/// Grammar (precedences from the catalogue; higher binds tighter):
///   expression := ('let' name '=' expression 'in')* binary
///   binary     := unary (infix binary)*       by precedence; ^ right-associative; comparisons do not chain
///   unary      := '-'number | prefix binary   a prefix operand binds at the prefix's precedence
///   primary    := number | nan | inf | true | false | tensor | '(' expression ')' | name '(' arguments ')' | name
///   arguments  := expressions, then name '=' value keywords, separated by ','
///   value      := int | '[' int, … ']' | true | false | dtype
///   tensor     := '[' (tensor | element), … ']'   rectangular;  element := ['-'] number | true | false
type private Parser(tokens: Token[], inputs: Dictionary<string, Node>, inputOrder: string list) =
    let mutable position = 0
    let mutable depth = 0
    let mutable scope: Map<string, Node> = Map.empty

    let peek () = tokens[position]
    let peekAt k = tokens[min (position + k) (tokens.Length - 1)]
    let advance () =
        let t = tokens[position]
        if t.Kind <> End then position <- position + 1
        t
    let isSymbol (s: string) (t: Token) = t.Kind = Symbol && t.Text = s
    let isWord (w: string) (t: Token) = t.Kind = Word && t.Text = w
    let isNumber (t: Token) = t.Kind = Number || isWord "nan" t || isWord "inf" t

    /// One more level of nesting: refused beyond the limit, or sooner if the stack runs low.
    member private _.Enter(at: Token) =
        depth <- depth + 1
        if depth > Syntax.maxNesting then failAt at "expression nested too deeply (more than %d levels)" Syntax.maxNesting
        if not (RuntimeHelpers.TryEnsureSufficientExecutionStack()) then
            failAt at "expression nested too deeply for the stack available (%d levels)" depth

    member private _.Leave() = depth <- depth - 1

    /// The whole input: one expression and nothing after it.
    member p.Top() =
        let e = p.Expression()
        let t = peek ()
        if t.Kind <> End then
            if isSymbol ")" t || isSymbol "]" t then failAt t "unexpected '%s': nothing is open to close" t.Text
            elif isSymbol "=" t then failAt t "unexpected '=': compare with ==, or name a value with let"
            else failAt t "expected an operator or the end of the input, found %s" (describe t)
        e.Node

    // Expression, Binary, Unary, Primary and Call are on the recursive path, one frame each per level
    // of nesting; what they do only on the way (bindings, keywords, errors) lives in other members,
    // which keeps those frames small.

    /// A chain of lets is read in a loop, each name in scope until the end of this expression, so the
    /// printer's long let chains cost no nesting.
    member p.Expression() : Operand =
        let outer = scope
        while isWord "let" (peek ()) do p.Binding()
        let body = p.Binary 0
        scope <- outer
        body

    /// let name = value in: brings name into scope.
    member p.Binding() =
        advance () |> ignore
        let name = advance ()
        if name.Kind <> Word then failAt name "expected a name after 'let', found %s" (describe name)
        if Syntax.reserved.Contains name.Text then failAt name "'%s' is a reserved word and cannot be bound with let" name.Text
        if (Registry.tryFind name.Text).IsSome then failAt name "'%s' is the name of a function; choose another name" name.Text
        let eq = peek ()
        if not (isSymbol "=" eq) then failAt eq "expected '=' after 'let %s', found %s" name.Text (describe eq)
        advance () |> ignore
        p.Enter name
        let value = p.Expression()
        p.Leave()
        let keyword = peek ()
        if not (isWord "in" keyword) then failAt keyword "expected 'in' after the value of '%s', found %s" name.Text (describe keyword)
        advance () |> ignore
        scope <- scope.Add(name.Text, value.Node)

    /// Precedence climbing over the catalogue's infix operators: a left-associative chain is a loop,
    /// so only right operands nest.
    member p.Binary(minimum: int) : Operand =
        p.Enter(peek ())
        let mutable left = p.Unary()
        let mutable reading = true
        while reading do
            match lookup infixTable (peek ()) with
            | Some (prim, precedence) when precedence >= minimum ->
                let op = advance ()
                let right = p.Binary(if Syntax.rightAssociative op.Text then precedence else precedence + 1)
                left <- p.Applied(prim, [], [ left; right ], op)
                if precedence = Syntax.comparisonPrecedence then p.NoChain precedence
            | _ -> reading <- false
        p.Leave()
        left

    member _.NoChain(precedence: int) =
        let next = peek ()
        match lookup infixTable next with
        | Some (_, q) when q = precedence ->
            failAt next "comparisons do not chain: put one comparison in parentheses, or test a range with %s(a < b, b < c)" Logic.logicalAndP.Name
        | _ -> ()

    member p.Unary() : Operand =
        if p.AtNegativeLiteral() then p.NegativeLiteral()
        else
            let t = peek ()
            match lookup prefixTable t with
            | Some (prim, precedence) ->
                advance () |> ignore
                let operand = p.Binary precedence
                p.Applied(prim, [], [ operand ], t)
            | None -> p.Primary()

    /// '-' written directly before a number, unless an operator that binds tighter than unary minus
    /// follows the number: -2 ^ x is -(2 ^ x).
    member _.AtNegativeLiteral() =
        let t = peek ()
        let number = peekAt 1
        isSymbol Syntax.minus t && isNumber number && number.Offset = t.Offset + t.Text.Length
        && (match lookup infixTable (peekAt 2) with Some (_, q) -> q < Syntax.unary | None -> true)

    member _.NegativeLiteral() =
        advance () |> ignore
        scalarLiteral (Syntax.minus + advance().Text) false

    member p.Primary() : Operand =
        let t = peek ()
        if t.Kind = Word && not (Syntax.reserved.Contains t.Text) then
            if isSymbol "(" (peekAt 1) then p.Call t else p.Variable(advance ())
        elif isSymbol "(" t then
            advance () |> ignore
            let inner = p.Expression()
            p.Close(")", t)
            { inner with Fold = NoFold }
        elif isSymbol "[" t then p.TensorLiteral()
        else p.Atom()

    /// A number, nan, inf, true or false; anything else here is an error.
    member p.Atom() : Operand =
        let t = peek ()
        if isNumber t then scalarLiteral (advance().Text) false
        elif isWord "true" t || isWord "false" t then scalarLiteral (advance().Text) true
        elif isWord "let" t then failAt t "'let' cannot start an operand; put the let expression in parentheses"
        elif t.Kind = Word then failAt t "unexpected '%s'" t.Text
        elif p.AfterStar t then
            // x ** 2, as F# and Python write a power.
            match Elementary.powP.Notation with
            | Infix (symbol, _) -> failAt t "'**' is not an operator; write a power as x %s y" symbol
            | _ -> failAt t "'**' is not an operator; write a power as %s(x, y)" Elementary.powP.Name
        else failAt t "expected an expression, found %s" (describe t)

    /// True for a '*' written directly after another '*'.
    member _.AfterStar(t: Token) =
        isSymbol "*" t && position > 0 && isSymbol "*" tokens[position - 1] && tokens[position - 1].Offset + 1 = t.Offset

    /// The closing bracket, or an error naming the bracket that is still open.
    member _.Close(closing: string, opening: Token) =
        let t = peek ()
        if isSymbol closing t then advance () |> ignore
        else failAt t "expected '%s' to close the '%s' at %d:%d, found %s" closing opening.Text opening.Line opening.Column (describe t)

    member _.Variable(t: Token) : Operand =
        match scope.TryFind t.Text with
        | Some n -> operandOf n
        | None ->
            match inputs.TryGetValue t.Text with
            | true, n -> operandOf (Sites.placed n t.Line t.Column)
            | _ ->
                if (Registry.tryFind t.Text).IsSome then failAt t "'%s' is a function: call it as %s(…)" t.Text t.Text
                let declared =
                    if inputOrder.IsEmpty then "no inputs were declared"
                    else "declared inputs: " + String.Join(", ", inputOrder)
                let hint = suggest t.Text (Seq.append (scope |> Seq.map (fun kv -> kv.Key)) inputOrder)
                failWith t (InputException(t.Text, sprintf "unknown input '%s'%s; %s" t.Text (didYouMean hint) declared))

    /// name(positional…, keyword=value…)
    member p.Call(name: Token) : Operand =
        let prim = p.Function name
        advance () |> ignore
        let opening = advance ()
        let args = ResizeArray<Operand>()
        let attrs = ResizeArray<string * Param>()
        let mutable reading = not (isSymbol ")" (peek ()))
        if not reading then advance () |> ignore
        while reading do
            if (peek ()).Kind = Word && isSymbol "=" (peekAt 1) then p.Keyword(prim, attrs)
            else
                if attrs.Count > 0 then p.PositionalAfterKeyword prim
                args.Add(p.Expression())
            reading <- p.Separator(")", "after an argument of " + prim.Name, opening)
        p.Application(prim, List.ofSeq attrs, List.ofSeq args, name)

    /// The catalogue entry a called name stands for.
    member _.Function(name: Token) : Primitive =
        match Registry.tryFind name.Text with
        | Some prim -> prim
        | None ->
            if scope.ContainsKey name.Text then failAt name "'%s' is bound by let, not a function" name.Text
            if inputs.ContainsKey name.Text then failAt name "'%s' is an input, not a function" name.Text
            failAt name "unknown function '%s'%s" name.Text (didYouMean (suggest name.Text functionNames))

    member _.PositionalAfterKeyword(prim: Primitive) =
        failAt (peek ()) "%s: a positional argument cannot follow keyword arguments" prim.Name

    /// After an item of a list: true at ',' (more follow), false at the closing bracket.
    member _.Separator(closing: string, what: string, opening: Token) : bool =
        let t = peek ()
        if isSymbol "," t then
            advance () |> ignore
            true
        elif isSymbol closing t then
            advance () |> ignore
            false
        else failAt t "expected ',' or '%s' %s (the '%s' is at %d:%d), found %s" closing what opening.Text opening.Line opening.Column (describe t)

    /// name=value, checked against the entry's attribute specs.
    member p.Keyword(prim: Primitive, attrs: ResizeArray<string * Param>) =
        let t = advance ()
        advance () |> ignore
        if attrs |> Seq.exists (fun (n, _) -> n = t.Text) then failAt t "%s: attribute '%s' is given twice" prim.Name t.Text
        let spec =
            match prim.Attributes |> List.tryFind (fun a -> a.Name = t.Text) with
            | Some spec -> spec
            | None -> failAt t "%s: %s" prim.Name (Rules.unknownAttribute prim t.Text)
        let valueToken = peek ()
        let value = p.AttributeValue(t.Text, spec)
        match Rules.checkAttribute prim t.Text value with
        | Ok v -> attrs.Add(t.Text, v)
        | Error message -> failAt valueToken "%s: %s" prim.Name message

    /// An attribute's value: an int, a list of ints, true, false or a dtype name. Which of them the
    /// attribute accepts is checked against its spec by Rules.checkAttribute.
    member p.AttributeValue(name: string, spec: AttributeSpec) : Param =
        let integer () =
            let sign = if isSymbol Syntax.minus (peek ()) then advance().Text else ""
            let t = peek ()
            if t.Kind <> Number then failAt t "expected an integer in attribute '%s', found %s" name (describe t)
            advance () |> ignore
            match Int32.TryParse(sign + t.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
            | true, v -> v
            | _ when Seq.forall isDigit t.Text -> failAt t "integer %s%s in attribute '%s' is out of range" sign t.Text name
            | _ -> failAt t "expected an integer in attribute '%s', found %s%s" name sign t.Text
        let t = peek ()
        if isSymbol "[" t then
            advance () |> ignore
            let items = ResizeArray<int>()
            let mutable reading = not (isSymbol "]" (peek ()))
            if not reading then advance () |> ignore
            while reading do
                items.Add(integer ())
                reading <- p.Separator("]", "in the list", t)
            Param.Ints (List.ofSeq items)
        elif isSymbol Syntax.minus t || t.Kind = Number then Param.Int (integer ())
        elif isWord "true" t || isWord "false" t then
            advance () |> ignore
            Param.Bool (t.Text = "true")
        elif t.Kind = Word && (spec.Kind = ParamKind.DType || (DType.tryParse t.Text).IsSome) then
            match DType.tryParse t.Text with
            | Some d ->
                advance () |> ignore
                Param.DType d
            | None ->
                let names = DType.all |> List.map (fun d -> d.Name)
                failAt t "unknown dtype '%s'%s; the dtypes are %s" t.Text (didYouMean (suggest t.Text names)) (String.Join(", ", names))
        else failAt t "expected a value for attribute '%s' (an int, a list of ints, true, false or a dtype), found %s" name (describe t)

    /// cast and reshape around a literal written directly fold into one constant; anything else is an application.
    member p.Application(prim: Primitive, attrs: (string * Param) list, args: Operand list, at: Token) : Operand =
        match args with
        | [ { Literal = Some lit; Fold = (Bare | Reshaped) } ] when obj.ReferenceEquals(prim, Syntax.literalCast) ->
            // Built once to check the attributes the catalogue's way; the constant replaces it.
            let cast = p.Build(prim, attrs, args, at)
            operandOf (Rules.constant (tensorOf lit cast.DType))
        | [ { Literal = Some lit; Fold = Bare } ] when obj.ReferenceEquals(prim, Syntax.literalReshape) ->
            let reshaped = p.Build(prim, attrs, args, at)
            let lit = { lit with Dims = reshaped.Shape.Dims }
            { Node = Rules.constant (tensorOf lit reshaped.DType); Literal = Some lit; Fold = Reshaped }
        | _ -> p.Applied(prim, attrs, args, at)

    member p.Applied(prim: Primitive, attrs: (string * Param) list, args: Operand list, at: Token) : Operand =
        operandOf (p.Build(prim, attrs, args, at))

    /// Rules.apply, its error placed at the operator or call; on failure with weak literals among the
    /// arguments, one retry with them in the dtype of the first other numeric argument (x + 2 for a
    /// float32 x). The first error is the one reported.
    member _.Build(prim: Primitive, attrs: (string * Param) list, args: Operand list, at: Token) : Node =
        let attempt (nodes: Node list) =
            try Ok (Rules.apply prim attrs nodes)
            with :? ExprException as e -> Error e
        match attempt [ for a in args -> a.Node ] with
        | Ok n -> Sites.placed n at.Line at.Column
        | Error first ->
            match retyped args |> Option.bind (fun nodes -> attempt nodes |> Result.toOption) with
            | Some n -> Sites.placed n at.Line at.Column
            | None -> failWith at first

    member p.TensorLiteral() : Operand =
        let texts = ResizeArray<string>()
        let kind = ref None
        let dims = p.Rows(texts, kind)
        literalOperand { Texts = texts.ToArray(); Dims = Array.ofList dims; IsBool = (kind.Value = Some true) }

    /// One bracketed level of a tensor literal; every element must have the shape of the first.
    member p.Rows(texts: ResizeArray<string>, kind: bool option ref) : int list =
        let opening = advance ()
        p.Enter opening
        let dims =
            if isSymbol "]" (peek ()) then
                advance () |> ignore
                [ 0 ]
            else
                let mutable first = None
                let mutable count = 0
                let mutable reading = true
                while reading do
                    let t = peek ()
                    let shape = if isSymbol "[" t then p.Rows(texts, kind) else (p.Element(texts, kind); [])
                    let text (dims: int list) = if dims.IsEmpty then "a number" else sprintf "a list of shape %O" (Param.Ints dims)
                    match first with
                    | None -> first <- Some shape
                    | Some f when f <> shape -> failAt t "ragged tensor literal: %s where the first element is %s" (text shape) (text f)
                    | Some _ -> ()
                    count <- count + 1
                    reading <- p.Separator("]", "in the tensor literal", opening)
                count :: first.Value
        p.Leave()
        dims

    member _.Element(texts: ResizeArray<string>, kind: bool option ref) =
        let t = peek ()
        let text, isBool =
            if isSymbol Syntax.minus t && isNumber (peekAt 1) then
                advance () |> ignore
                Syntax.minus + advance().Text, false
            elif isNumber t then advance().Text, false
            elif isWord "true" t || isWord "false" t then advance().Text, true
            else
                failAt t "expected a number, true or false in the tensor literal, found %s (a tensor literal holds constants; join expressions with %s)"
                    (describe t) Structural.stackP.Name
        match kind.Value with
        | None -> kind.Value <- Some isBool
        | Some b when b <> isBool -> failAt t "a tensor literal cannot mix true/false with numbers"
        | Some _ -> ()
        texts.Add text

/// Parses text over the declared inputs (input nodes with distinct names) into an expression.
/// Every failure in the text is a ParseException with its line and column.
let parse (inputs: Node list) (text: string) : Node =
    let declared = Dictionary<string, Node>()
    let order = ResizeArray<string>()
    for n in inputs do
        match n.Op with
        | Input name ->
            match declared.TryGetValue name with
            | true, other when other.DType <> n.DType || not (other.Shape.Equals n.Shape) ->
                raise (ArgumentException(sprintf "input '%s' is declared twice, as %s and as %s" name other.TypeText n.TypeText, "inputs"))
            | true, _ -> ()
            | _ ->
                declared[name] <- n
                order.Add name
        | _ -> raise (ArgumentException(sprintf "the declared inputs must be inputs (made with Expr.Input), got %O" n, "inputs"))
    Parser(tokenize text, declared, List.ofSeq order).Top()
