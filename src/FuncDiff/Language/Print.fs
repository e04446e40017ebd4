/// Expressions as readable infix text that parses back to an equal expression. Subexpressions used
/// more than once are bound once with `let name = … in`, so shared DAGs print in linear size; so are
/// subexpressions that would nest deeper than the parser reads. The text is written with an explicit
/// work stack, so a million-node chain prints without deep recursion and parses back.
module internal FuncDiff.Core.Print

open System
open System.Collections.Generic
open System.Text
open FuncDiff
open FuncDiff.Core.Primitives

/// The literal of a constant, wrapped in the reshape or cast that the parser folds back into a
/// constant when the bare literal would read as another shape or dtype.
let constant (t: Tensor) =
    let dims = t.Shape.Dims
    let text =
        // [] reads as shape [0]; any other empty shape needs a reshape.
        if t.Size = 0 && dims.Length <> 1 then sprintf "%s([], shape=%O)" Syntax.literalReshape.Name (Param.Ints (List.ofArray dims))
        else Literal.write t
    match t.DType with
    | DType.Float64 -> text
    | DType.Bool when t.Size > 0 -> text
    | d -> sprintf "%s(%s, dtype=%s)" Syntax.literalCast.Name text d.Name

/// How tightly a printed node binds, for deciding parentheses.
let private strength (n: Node) (bound: Dictionary<int64, string>) =
    if bound.ContainsKey n.Id then Syntax.atomic
    else
        match n.Op with
        | Apply (p, _) ->
            match p.Notation with
            | Infix (_, prec) | Prefix (_, prec) -> prec
            | Call -> Syntax.atomic
        | Const t when t.Shape.Rank = 0 && (constant t).StartsWith Syntax.minus -> Syntax.unary
        | _ -> Syntax.atomic

type private Item =
    | Text of string
    | Node of Node

/// The attributes that differ from their defaults, as "name=value".
let private shownAttributes (p: Primitive) (attrs: Map<string, Param>) (inputs: Node[]) =
    [ for spec in p.Attributes do
          match attrs.TryFind spec.Name with
          | None -> ()
          | Some value ->
              let isDefault =
                  match spec.Default with
                  | Fixed d -> d = value
                  | Derived f -> f inputs = value
                  | Required | Optional -> false
              if not isDefault then sprintf "%s=%O" spec.Name value ]

/// Writes one node (not its let-binding) to the builder, children through the work stack.
let private write (sb: StringBuilder) (bound: Dictionary<int64, string>) (root: Node) =
    let pending = Stack<Item>()
    let push (items: Item list) = for item in List.rev items do pending.Push item
    let wrapped (child: Node) (needsParens: bool) =
        if needsParens then [ Text "("; Node child; Text ")" ] else [ Node child ]
    let mutable first = true
    pending.Push(Node root)
    while pending.Count > 0 do
        match pending.Pop() with
        | Text s -> sb.Append s |> ignore
        | Node n ->
            // The root itself is written in full even when it is bound (that is its definition).
            match bound.TryGetValue n.Id with
            | true, name when not (first && obj.ReferenceEquals(n, root)) -> sb.Append name |> ignore
            | _ ->
                first <- false
                match n.Op with
                | Input name -> sb.Append name |> ignore
                | Const t -> sb.Append(constant t) |> ignore
                | Apply (p, attrs) ->
                    match p.Notation with
                    | Infix (symbol, prec) ->
                        let l, r = n.Inputs[0], n.Inputs[1]
                        let ls, rs = strength l bound, strength r bound
                        let leftParens = ls < prec || (ls = prec && (Syntax.rightAssociative symbol || prec = Syntax.comparisonPrecedence))
                        let rightParens = rs < prec || (rs = prec && not (Syntax.rightAssociative symbol))
                        push (wrapped l leftParens @ [ Text(" " + symbol + " ") ] @ wrapped r rightParens)
                    | Prefix (symbol, prec) ->
                        let x = n.Inputs[0]
                        // -(2) keeps neg(2) apart from the literal -2.
                        let literalOperand = (match x.Op with Const t -> t.Shape.Rank = 0 && not (bound.ContainsKey x.Id) | _ -> false)
                        push (Text symbol :: wrapped x (literalOperand || strength x bound < prec))
                    | Call ->
                        // A real cast or reshape of a constant keeps its argument in parentheses:
                        // written directly, the parser would fold the two into one constant.
                        let argument (i: Node) =
                            match i.Op with
                            | Const _ when Syntax.foldsLiteral p -> [ Text "("; Node i; Text ")" ]
                            | _ -> [ Node i ]
                        let args = [ for i in n.Inputs -> argument i ] @ [ for a in shownAttributes p attrs n.Inputs -> [ Text a ] ]
                        let joined = args |> List.mapi (fun i a -> if i = 0 then a else Text ", " :: a) |> List.concat
                        push (Text(p.Name + "(") :: joined @ [ Text ")" ])

/// The nodes below root, each after its inputs, in the order a left-to-right reading first finishes
/// them. Unlike ids (construction order), this depends only on the structure, so equal expressions
/// print the same text, and printing a parsed expression gives back the text it was parsed from.
let private postOrder (root: Node) =
    let seen = HashSet<int64>()
    let found = ResizeArray<Node>()
    let pending = Stack<struct (Node * int)>()
    seen.Add root.Id |> ignore
    pending.Push(struct (root, 0))
    while pending.Count > 0 do
        let struct (n, next) = pending.Pop()
        if next < n.Inputs.Length then
            pending.Push(struct (n, next + 1))
            let input = n.Inputs[next]
            if seen.Add input.Id then pending.Push(struct (input, 0))
        else found.Add n
    found.ToArray()

/// The text of an expression. Shared subexpressions are named t1, t2, … (skipping input names).
let print (root: Node) =
    let root = (Graph.canonicalize [ root ]).Of root
    let order = postOrder root
    let uses = Graph.useCounts order
    let taken = HashSet<string>(order |> Seq.choose (fun n -> match n.Op with Input name -> Some name | _ -> None))
    let bound = Dictionary<int64, string>()
    let mutable counter = 0
    let fresh () =
        let mutable name = ""
        while name = "" || taken.Contains name do
            counter <- counter + 1
            name <- sprintf "t%d" counter
        name
    // Named with let: subexpressions used more than once, and any subexpression whose text would
    // nest deeper than the parser reads (counted from the nearest named one), so deep chains print as
    // a flat run of lets that parses back.
    let height = Dictionary<int64, int>()
    let shared =
        order |> Array.filter (fun n ->
            match n.Op with
            | Apply _ ->
                let h = 1 + (n.Inputs |> Array.fold (fun h i -> max h height[i.Id]) 0)
                let name =
                    (match uses.TryGetValue n.Id with | true, c -> c > 1 | _ -> false)
                    || (h >= Syntax.printedNesting && not (obj.ReferenceEquals(n, root)))
                height[n.Id] <- (if name then 0 else h)
                name
            | _ ->
                height[n.Id] <- 0
                false)
    for n in shared do bound[n.Id] <- fresh ()
    let sb = StringBuilder()
    for n in shared do
        sb.Append("let ").Append(bound[n.Id]).Append(" = ") |> ignore
        write sb bound n
        sb.Append(" in\n") |> ignore
    if bound.ContainsKey root.Id then sb.Append(bound[root.Id]) |> ignore
    else write sb bound root
    sb.ToString()
