/// Text to expressions, the inverse of Print: parsing a printed expression gives an equal expression.
/// Table-driven: operators come from the catalogue entries' notations, functions from the registry
/// by name, keyword attributes from each entry's attribute specs, and every application is built with
/// Rules.apply, so a shape or dtype error is the catalogue's own message, placed at the operator or
/// the call. Recursive descent with a depth limit: deep nesting is an error, never a stack overflow.
/// Tokens are read on demand, so an error near the start of a long text is reported without reading
/// the rest; tensor literals are read by Literal, the reader Tensor.Parse and the command line use too.
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

let private tooDeep () = sprintf "expression nested too deeply (more than %d levels)" Syntax.maxNesting

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

/// Reads tokens on demand, one at a time, tracking lines and columns.
type private Lexer(text: string) =
    let mutable i = 0
    let mutable line = 1
    let mutable lineStart = 0

    member _.Next() : Token =
        let mutable token = None
        while token.IsNone do
            let start = i
            let make kind = Some { Kind = kind; Text = text.Substring(start, i - start); Offset = start; Line = line; Column = start - lineStart + 1 }
            if i >= text.Length then token <- make End
            else
                let c = text[i]
                let number = Literal.scanNumber text i
                if c = '\n' then
                    i <- i + 1
                    line <- line + 1
                    lineStart <- i
                elif Char.IsWhiteSpace c then i <- i + 1
                elif number > i then
                    i <- number
                    token <- make Number
                elif Syntax.isIdentifierStart c then
                    while i < text.Length && Syntax.isIdentifierPart text[i] do i <- i + 1
                    token <- make Word
                else
                    match symbols |> Array.tryFind (fun s -> String.CompareOrdinal(text, i, s, 0, s.Length) = 0) with
                    | Some s ->
                        i <- i + s.Length
                        token <- make Symbol
                    | None ->
                        let shown = if Char.IsControl c || Char.IsSurrogate c then sprintf "U+%04X" (int c) else sprintf "'%c'" c
                        failAt { Kind = End; Text = ""; Offset = i; Line = line; Column = i - lineStart + 1 } "unexpected character %s" shown
        token.Value

    /// Goes on from offset stop, after a literal that Literal.read took directly from the text,
    /// starting at the token `from`.
    member _.Resume(from: Token, stop: int) =
        line <- from.Line
        lineStart <- from.Offset - from.Column + 1
        for k in from.Offset .. stop - 1 do
            if text[k] = '\n' then
                line <- line + 1
                lineStart <- k + 1
        i <- stop

// ---- Literals -----------------------------------------------------------------------------------

type private Literal = Literal.Literal

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

/// The literal as a tensor of a dtype. Float32 elements are read from their text, not rounded through
/// float64 (the printer writes the shortest text that reads back as the same float32); other dtypes
/// convert the way the cast primitive does. A number out of range of the float it is read as is an error.
let private tensorOf (lit: Literal) (dtype: DType) =
    if lit.IsBool then Tensor.cast dtype (Literal.toTensor DType.Bool lit)
    elif dtype = DType.Float32 then Literal.toTensor DType.Float32 lit
    else Tensor.cast dtype (Literal.toTensor DType.Float64 lit)

let private literalOperand (lit: Literal) =
    { Node = Rules.constant (tensorOf lit (if lit.IsBool then DType.Bool else DType.Float64))
      Literal = Some lit
      Fold = Bare }

let private scalarLiteral (text: string) (at: Token) (isBool: bool) = literalOperand (Literal.scalar text at.Offset isBool)

let private operandOf (n: Node) = { Node = n; Literal = None; Fold = NoFold }

/// A numeric literal written without a dtype takes the dtype of the other operands (weak typing).
let private isWeak (a: Operand) = match a.Literal with Some lit -> not lit.IsBool | None -> false

/// A weak literal in another numeric dtype: any float dtype, or int32 when every element is an integer in range.
let private weakly (lit: Literal) (dtype: DType) =
    let fitsInt32 k =
        let v = Literal.float64At lit.Offsets[k] lit.Texts[k]
        Double.IsInteger v && v >= float Int32.MinValue && v <= float Int32.MaxValue
    match dtype with
    | DType.Float64 | DType.Float32 -> Some (tensorOf lit dtype)
    | DType.Int32 when Seq.forall fitsInt32 (seq { 0 .. lit.Texts.Length - 1 }) -> Some (tensorOf lit dtype)
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

let private functionNames = Registry.all |> List.map (fun p -> p.Name)

// ---- Parser -------------------------------------------------------------------------------------

/// Grammar (precedences from the catalogue; higher binds tighter):
///   expression := ('let' name '=' expression 'in')* binary
///   binary     := unary (infix binary)*       by precedence; ^ right-associative; comparisons do not chain
///   unary      := '-'number | prefix binary   a prefix operand binds at the prefix's precedence
///   primary    := number | nan | inf | true | false | tensor | '(' expression ')' | name '(' arguments ')' | name
///   arguments  := expressions, then name '=' value keywords, separated by ','
///   value      := int | '[' int, … ']' | true | false | dtype
///   tensor     := a tensor literal, read by Literal (rectangular brackets of numbers or of true/false)
type private Parser(text: string, inputs: Dictionary<string, Node>, inputOrder: string list) =
    let lexer = Lexer text
    /// The tokens looked at but not yet taken, and the last one taken.
    let ahead = ResizeArray<Token>()
    let mutable previous = None
    let mutable depth = 0
    let mutable scope: Map<string, Node> = Map.empty

    let peekAt k =
        while ahead.Count <= k && (ahead.Count = 0 || ahead[ahead.Count - 1].Kind <> End) do ahead.Add(lexer.Next())
        ahead[min k (ahead.Count - 1)]
    let peek () = peekAt 0
    let advance () =
        let t = peek ()
        if t.Kind <> End then
            ahead.RemoveAt 0
            previous <- Some t
        t
    let isSymbol (s: string) (t: Token) = t.Kind = Symbol && t.Text = s
    let isWord (w: string) (t: Token) = t.Kind = Word && t.Text = w
    let isNumber (t: Token) = t.Kind = Number || isWord "nan" t || isWord "inf" t

    /// One more level of nesting: refused beyond the limit, or sooner if the stack runs low.
    member private _.Enter(at: Token) =
        depth <- depth + 1
        if depth > Syntax.maxNesting then failAt at "%s" (tooDeep ())
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
        let sign = advance ()
        scalarLiteral (Syntax.minus + advance().Text) sign false

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
        if isNumber t then scalarLiteral (advance().Text) t false
        elif isWord "true" t || isWord "false" t then scalarLiteral (advance().Text) t true
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
        match previous with
        | Some before -> isSymbol "*" t && isSymbol "*" before && before.Offset + 1 = t.Offset
        | None -> false

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
                let hint = Names.closest t.Text (Seq.append (scope |> Seq.map (fun kv -> kv.Key)) inputOrder)
                failWith t (InputException(t.Text, sprintf "unknown input '%s'%s; %s" t.Text (Names.didYouMean hint) declared))

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
            failAt name "unknown function '%s'%s" name.Text (Names.didYouMean (Names.closest name.Text functionNames))

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
            | _ when Seq.forall Char.IsAsciiDigit t.Text -> failAt t "integer %s%s in attribute '%s' is out of range" sign t.Text name
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
                failAt t "unknown dtype '%s'%s; the dtypes are %s" t.Text (Names.didYouMean (Names.closest t.Text names)) (String.Join(", ", names))
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

    /// A bracketed tensor literal, read by Literal straight from the text; its brackets count towards
    /// the nesting limit.
    member _.TensorLiteral() : Operand =
        let opening = peek ()
        let lit, stop = Literal.read text opening.Offset (Syntax.maxNesting - depth) (tooDeep ())
        ahead.Clear()
        lexer.Resume(opening, stop)
        previous <- Some opening
        literalOperand lit

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
    try Parser(text, declared, List.ofSeq order).Top()
    with Literal.LiteralError (offset, reason) ->
        let line, column = Literal.position text offset
        raise (ParseException(reason, line, column))
